# The emulated board's glue as a MicroPython user C module (make qemu links build/qemu/usermods/board
# to this folder): start-up (entry.S), clock, waits, libc hooks (board.c), the `time` module, and
# the `board` module of the board benchmark (modboard.c, with the C-only limit servers of c_limit.c).
BOARD_GLUE_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(BOARD_GLUE_DIR)/modtime.c $(BOARD_GLUE_DIR)/modboard.c
SRC_USERMOD_LIB_C += $(BOARD_GLUE_DIR)/board.c $(BOARD_GLUE_DIR)/virtio_mmio.c $(BOARD_GLUE_DIR)/virtio_net.c \
	$(BOARD_GLUE_DIR)/virtio_rng.c $(BOARD_GLUE_DIR)/c_limit.c
SRC_USERMOD_LIB_ASM += $(BOARD_GLUE_DIR)/entry.S

# The network driver includes mongoose.h: the same settings as build.rs gives Mongoose's own
# compile (MONGOOSE_DEFINES there, plus MG_ARCH_CUSTOM with this folder's mongoose_config.h).
PYTHONGOOSE_MONGOOSE_DIR ?= $(BOARD_GLUE_DIR)/../../third_party/mongoose
$(patsubst $(USER_C_MODULES)/%,$(BUILD)/%,$(BOARD_GLUE_DIR))/virtio_net.o \
$(patsubst $(USER_C_MODULES)/%,$(BUILD)/%,$(BOARD_GLUE_DIR))/c_limit.o: CFLAGS += -I$(PYTHONGOOSE_MONGOOSE_DIR) \
	-I$(BOARD_GLUE_DIR)/../../bench \
	-I$(BOARD_GLUE_DIR) -DMG_ARCH=MG_ARCH_CUSTOM -DMG_ENABLE_LOG=0 -DMG_ENABLE_CUSTOM_CALLOC=1 -DMG_TLS=MG_TLS_BUILTIN
# The layout check (pythongoose's micropython.mk) sees this board's Mongoose settings too.
$(BUILD)/pythongoose/src/shim/layout_check.o: CFLAGS += -I$(BOARD_GLUE_DIR) -DMG_ARCH=MG_ARCH_CUSTOM
