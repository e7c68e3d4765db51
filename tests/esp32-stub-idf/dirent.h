#pragma once
// The IDF (newlib) has a dirent.h; picolibc's refuses without a sys/dirent.h of the target.
typedef struct stub_dir DIR;
struct dirent { char d_name[256]; };
DIR *opendir(const char *);
struct dirent *readdir(DIR *);
int closedir(DIR *);
