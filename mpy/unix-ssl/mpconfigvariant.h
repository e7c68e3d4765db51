// The interpreter settings of mpy/unix-variant (so the benchmark compares the two TLS stacks on the
// same interpreter); the ssl module is switched on in mpconfigvariant.mk.
#include "../unix-variant/mpconfigvariant.h"
