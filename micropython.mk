# MicroPython user C module: the `mongoose` module for make-based ports (unix).
# The Rust staticlib (Rust code + Mongoose's C) is built by cargo before this runs (see Makefile).
PYTHONGOOSE_DIR := $(USERMOD_DIR)
PYTHONGOOSE_LIB ?= $(PYTHONGOOSE_DIR)/target/unix/libpythongoose.a

# Only the shim is scanned for QSTRs, module registration and root pointers.
SRC_USERMOD_C += $(PYTHONGOOSE_DIR)/src/shim/modmongoose.c $(PYTHONGOOSE_DIR)/src/shim/files.c $(PYTHONGOOSE_DIR)/src/shim/push.c
CFLAGS_USERMOD += -I$(PYTHONGOOSE_DIR)/include
# What the module holds; each must match the Rust library's cargo features (its default: all):
#   PYTHONGOOSE_MQTT=0  no MQTT client (the library built without the `mqtt` feature)
#   PYTHONGOOSE_WEB=0   no static files, File/Template, WebSocket, SSE (without `web`)
#   PYTHONGOOSE_TLS=0   no https:// or mqtts:// (without `tls`: Mongoose built with MG_TLS_NONE)
PYTHONGOOSE_MQTT ?= 1
PYTHONGOOSE_WEB ?= 1
PYTHONGOOSE_TLS ?= 1
CFLAGS_USERMOD += -DPYTHONGOOSE_MQTT=$(PYTHONGOOSE_MQTT) -DPYTHONGOOSE_WEB=$(PYTHONGOOSE_WEB)
ifeq ($(PYTHONGOOSE_TLS),0)
PYTHONGOOSE_MG_TLS := MG_TLS_NONE
else
PYTHONGOOSE_MG_TLS := MG_TLS_BUILTIN
endif

# DESIGN rule 9: the C compiler checks the Mongoose layouts the archive was built against
# (pythongoose_layout.h, written by build.rs beside the archive). Not QSTR-scanned; compiled with
# the settings build.rs gives Mongoose's own C (MONGOOSE_DEFINES; a board adds MG_ARCH_CUSTOM).
PYTHONGOOSE_MONGOOSE_DIR ?= $(PYTHONGOOSE_DIR)/third_party/mongoose
SRC_USERMOD_LIB_C += $(PYTHONGOOSE_DIR)/src/shim/layout_check.c
PYTHONGOOSE_LAYOUT_OBJ := $(BUILD)/$(patsubst $(USER_C_MODULES)/%,%,$(PYTHONGOOSE_DIR))/src/shim/layout_check.o
$(PYTHONGOOSE_LAYOUT_OBJ): CFLAGS += -I$(PYTHONGOOSE_MONGOOSE_DIR) -I$(dir $(PYTHONGOOSE_LIB)) \
	-DMG_ENABLE_LOG=0 -DMG_ENABLE_CUSTOM_CALLOC=1 -DMG_TLS=$(PYTHONGOOSE_MG_TLS)
# A new archive may come with a new layout header.
$(PYTHONGOOSE_LAYOUT_OBJ): $(PYTHONGOOSE_LIB)

# The archive lands after the objects on the link line; relink when it changes.
LDFLAGS_USERMOD += $(PYTHONGOOSE_LIB)
$(BUILD)/$(PROG): $(PYTHONGOOSE_LIB)
