// The sanitizer build (`make asan`, build/unix-asan/micropython): the same MicroPython as
// mpy/unix-variant; only the compiler flags (Makefile) and sanitizer_options.c differ, and the
// GIL: on, as on the ESP32 (the unix port builds without it), so that the whole suite runs with
// the shim's GIL release and re-acquire around poll()'s wait live, under the sanitizers.
#include "../unix-variant/mpconfigvariant.h"

#undef MICROPY_PY_THREAD_GIL
#define MICROPY_PY_THREAD_GIL (1)
// The unix port's thread code needs its recursive mutex either way (MicroPython turns it off with
// the GIL, for ports that have none).
#define MICROPY_PY_THREAD_RECURSIVE_MUTEX (1)
