// LD_PRELOAD allocation counter for bench/tls_ram.py: keeps the number of bytes live in the libc
// heap (malloc, calloc, realloc, the aligned allocators, free) and, on SIGUSR1, writes
// "CHEAP <live bytes>\n" to stderr with write(2), which is async-signal-safe. Block sizes are what
// malloc_usable_size reports (the bytes the block really occupies, rounded up by glibc), read when
// the block is made and again before it is freed, so a block counts the same both ways.
// The wrappers call glibc's __libc_* entry points, so no dlsym (which may itself allocate) is needed.
#define _GNU_SOURCE
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void __libc_free(void *ptr);
extern void *__libc_memalign(size_t alignment, size_t size);

static long live_bytes;

static void *counted(void *p) {
    if (p != NULL) {
        __atomic_add_fetch(&live_bytes, (long)malloc_usable_size(p), __ATOMIC_RELAXED);
    }
    return p;
}

static void uncount(void *p) {
    if (p != NULL) {
        __atomic_sub_fetch(&live_bytes, (long)malloc_usable_size(p), __ATOMIC_RELAXED);
    }
}

void *malloc(size_t size) {
    return counted(__libc_malloc(size));
}

void *calloc(size_t count, size_t size) {
    return counted(__libc_calloc(count, size));
}

void *realloc(void *ptr, size_t size) {
    // The old block's size is taken before realloc may free it; if realloc fails, the old block
    // stays and is counted again.
    uncount(ptr);
    void *p = __libc_realloc(ptr, size);
    if (p == NULL && size != 0) {
        counted(ptr);
        return NULL;
    }
    return counted(p);
}

void free(void *ptr) {
    uncount(ptr);
    __libc_free(ptr);
}

void *memalign(size_t alignment, size_t size) {
    return counted(__libc_memalign(alignment, size));
}

void *aligned_alloc(size_t alignment, size_t size) {
    return counted(__libc_memalign(alignment, size));
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) {
        return 22; // EINVAL
    }
    void *p = counted(__libc_memalign(alignment, size));
    if (p == NULL) {
        return 12; // ENOMEM
    }
    *out = p;
    return 0;
}

void *valloc(size_t size) {
    return counted(__libc_memalign((size_t)sysconf(_SC_PAGESIZE), size));
}

static void report(int sig) {
    (void)sig;
    char line[32];
    char digits[24];
    long value = __atomic_load_n(&live_bytes, __ATOMIC_RELAXED);
    int negative = value < 0;
    unsigned long magnitude = negative ? (unsigned long)(-value) : (unsigned long)value;
    int n = 0;
    do {
        digits[n++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0 && n < (int)sizeof(digits));
    size_t len = 0;
    memcpy(line, "CHEAP ", 6);
    len = 6;
    if (negative) {
        line[len++] = '-';
    }
    while (n > 0) {
        line[len++] = digits[--n];
    }
    line[len++] = '\n';
    ssize_t written = write(2, line, len);
    (void)written;
}

__attribute__((constructor)) static void install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = report;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGUSR1, &action, NULL);
}
