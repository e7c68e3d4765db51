# Frozen into the unix binary: asyncio from MicroPython's own tree (microdot, the benchmark's
# comparison server, needs it).
include("$(MPY_DIR)/extmod/asyncio")
