# The sanitizer build (`make asan`): mpy/unix-variant's settings, plus sanitizer_options.c (every
# *.c in the variant directory is compiled in), which needs the path of the UBSan suppressions.
include $(VARIANT_DIR)/../unix-variant/mpconfigvariant.mk
FROZEN_MANIFEST = $(VARIANT_DIR)/../unix-variant/manifest.py
QSTR_GLOBAL_DEPENDENCIES += $(VARIANT_DIR)/../unix-variant/mpconfigvariant.h
CFLAGS += -DPG_UBSAN_SUPPRESSIONS='"$(abspath $(VARIANT_DIR))/ubsan.supp"'
