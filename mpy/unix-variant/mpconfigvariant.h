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
