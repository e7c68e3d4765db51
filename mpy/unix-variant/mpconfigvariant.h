// The unix MicroPython variant pythongoose builds: the standard variant's settings (the file below
// pulls in the port's common variant settings), built without the features whose sources Debian's
// tarball leaves out (see mpconfigvariant.mk).
#include "variants/standard/mpconfigvariant.h"
