# Debian's MicroPython tarball has every git submodule empty (no micropython-lib, berkeley-db, mbedtls),
# so the variant leaves out what needs them and freezes only asyncio from the tree itself.
FROZEN_MANIFEST = $(VARIANT_DIR)/manifest.py
MICROPY_PY_BTREE = 0
MICROPY_PY_SSL = 0
MICROPY_SSL_MBEDTLS = 0
