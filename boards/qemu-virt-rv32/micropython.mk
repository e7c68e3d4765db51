# The emulated board's glue as a MicroPython user C module (make qemu links build/qemu/usermods/board
# to this folder): start-up (entry.S), clock, waits, libc hooks (board.c), the `time` module.
BOARD_GLUE_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(BOARD_GLUE_DIR)/modtime.c
SRC_USERMOD_LIB_C += $(BOARD_GLUE_DIR)/board.c
SRC_USERMOD_LIB_ASM += $(BOARD_GLUE_DIR)/entry.S
