// The unix MicroPython variant pythongoose builds: the standard variant's settings (the file below
// pulls in the port's common variant settings), built without the features whose sources Debian's
// tarball leaves out (see mpconfigvariant.mk).
#include "variants/standard/mpconfigvariant.h"

// Ctrl-C raises KeyboardInterrupt through the scheduler (as on the ESP32), not by a longjmp from
// the signal handler: that longjmp could leave from inside the module's Rust and Mongoose frames
// (in the middle of mongoose.poll(), say), skipping their clean-up and leaving the event loop
// marked as running. The module refuses to build with the asynchronous setting.
#undef MICROPY_ASYNC_KBD_INTR
#define MICROPY_ASYNC_KBD_INTR (0)

// The GIL, as on the ESP32 (the unix port's standard variant has threads without one): calls into
// the module from several threads are serialised by it, as on a board, and poll() releases it
// while it waits for the network so other threads run meanwhile. Without a GIL MicroPython also
// takes a mutex around every GC allocation; with it, it does not.
#undef MICROPY_PY_THREAD_GIL
#define MICROPY_PY_THREAD_GIL (1)
// The unix port's thread code needs its recursive mutex either way (MicroPython turns it off with
// the GIL, for ports that have none).
#define MICROPY_PY_THREAD_RECURSIVE_MUTEX (1)
