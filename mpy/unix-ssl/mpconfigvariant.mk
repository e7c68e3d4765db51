# The benchmark's comparison interpreter (make ssl-micropython, build/unix-ssl/micropython): the same
# unix MicroPython as mpy/unix-variant (same settings, compiler flags and frozen asyncio) but without
# the mongoose module and with MicroPython's own `ssl` module on mbedTLS. Debian's tarball has
# lib/mbedtls empty; its extmod/extmod.mk (Debian-patched) links the system library instead
# (-lmbedx509 -lmbedtls -lmbedcrypto from libmbedtls-dev) and extmod/modtls_mbedtls.c builds against
# the system headers and their default configuration, so nothing more is needed here than turning
# the module on.
include $(VARIANT_DIR)/../unix-variant/mpconfigvariant.mk
FROZEN_MANIFEST = $(VARIANT_DIR)/../unix-variant/manifest.py
MICROPY_PY_SSL = 1
MICROPY_SSL_MBEDTLS = 1
