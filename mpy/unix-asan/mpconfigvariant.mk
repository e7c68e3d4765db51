# The sanitizer build (`make asan`): mpy/unix-variant's settings, plus sanitizer_options.c (every
# *.c in the variant directory is compiled in), which needs the path of the UBSan suppressions.
include $(VARIANT_DIR)/../unix-variant/mpconfigvariant.mk
FROZEN_MANIFEST = $(VARIANT_DIR)/../unix-variant/manifest.py
QSTR_GLOBAL_DEPENDENCIES += $(VARIANT_DIR)/../unix-variant/mpconfigvariant.h
CFLAGS += -DPG_UBSAN_SUPPRESSIONS='"$(abspath $(VARIANT_DIR))/ubsan.supp"'
# -Os, not mpy/unix-variant's -O2: instrumented at -O2, MicroPython's own x64 NLR (its assembly
# exception unwinding, which the sanitizers do not know about) handed the shim a wrong exception
# pointer on the second raise from an MQTT on_publish callback (5 tests; reproduced with a plain
# script and a debug print of nlr.ret_val). The same -O2 build with setjmp-based NLR, which the
# sanitizers intercept, and the uninstrumented -O2 build pass the right pointer.
COPT = -Os
