# MicroPython user C module: the `mongoose` module for make-based ports (unix).
# The Rust staticlib (Rust code + Mongoose's C) is built by cargo before this runs (see Makefile).
PYTHONGOOSE_DIR := $(USERMOD_DIR)
PYTHONGOOSE_LIB ?= $(PYTHONGOOSE_DIR)/target/release/libpythongoose.a

# Only the shim is scanned for QSTRs, module registration and root pointers.
SRC_USERMOD_C += $(PYTHONGOOSE_DIR)/src/shim/modmongoose.c
CFLAGS_USERMOD += -I$(PYTHONGOOSE_DIR)/include
# 0: HTTP-only module (build the Rust library with --no-default-features --features mongoose).
PYTHONGOOSE_MQTT ?= 1
CFLAGS_USERMOD += -DPYTHONGOOSE_MQTT=$(PYTHONGOOSE_MQTT)

# The archive lands after the objects on the link line; relink when it changes.
LDFLAGS_USERMOD += $(PYTHONGOOSE_LIB)
$(BUILD)/$(PROG): $(PYTHONGOOSE_LIB)
