// The sanitizer build (`make asan`, build/unix-asan/micropython): the same MicroPython as
// mpy/unix-variant (GIL on, as on the ESP32); only the compiler flags (Makefile) and
// sanitizer_options.c differ.
#include "../unix-variant/mpconfigvariant.h"
