# Debian's MicroPython tarball has every git submodule empty (no micropython-lib, berkeley-db, mbedtls),
# so the variant leaves out what needs them and freezes only asyncio from the tree itself.
FROZEN_MANIFEST = $(VARIANT_DIR)/manifest.py
MICROPY_PY_BTREE = 0
MICROPY_PY_SSL = 0
MICROPY_SSL_MBEDTLS = 0
# -O2, not the unix port's default -Os: the ESP32 firmware compiles MicroPython with -O2 too
# (ports/esp32/boards/sdkconfig.base: CONFIG_COMPILER_OPTIMIZATION_PERF). The port's Makefile adds
# -DNDEBUG and the section flags to it. (mpy/unix-asan sets -Os again: see there.)
COPT = -O2
