# The emulated board (QEMU `virt`, rv32imac): included by the top Makefile.
#   make qemu                       build/qemu/firmware.elf (MicroPython's ports/qemu + the module)
#   make qemu-run SCRIPT=file.py    boot it in QEMU and run the script (scripts/qemu-run.sh)
#   make test-board                 the board suite, tests/board (pytest driving qemu-run.sh)
#   LEAN=1 (with qemu, qemu-run)    the lean build: no web-app features, no TLS (build/qemu-lean);
#                                   with PYTHONGOOSE_MQTT=0 also no MQTT client (build/qemu-lean-http)
# The parts follow PYTHONGOOSE_MQTT, PYTHONGOOSE_WEB, PYTHONGOOSE_TLS and LEAN (the top Makefile's
# PG_*): one build and cargo folder per set.
QEMU_BOARD_DIR := $(ROOT)/boards/qemu-virt-rv32
QEMU_RUST_TARGET := riscv32imac-unknown-none-elf
QEMU_BUILD := $(ROOT)/build/qemu$(PG_VARIANT)
QEMU_CARGO_DIR := $(ROOT)/target$(if $(PG_VARIANT),/$(PG_VARIANT:-%=%))
QEMU_FIRMWARE := $(QEMU_BUILD)/firmware.elf
QEMU_USERMODS := $(QEMU_BUILD)/usermods
QEMU_RUST_LIB := $(QEMU_CARGO_DIR)/$(QEMU_RUST_TARGET)/release/libpythongoose.a
QEMU_CROSS := riscv64-unknown-elf-
# The gcc multilib that exists for this CPU: rv32imac/ilp32 (rv32imac_zicsr would pick the 64-bit one).
QEMU_MARCH := rv32imac
PICOLIBC_INCLUDE := /usr/lib/picolibc/riscv64-unknown-elf/include
# bindgen runs libclang for the target: it needs clang's own headers (stddef.h...) and picolibc's.
CLANG_INCLUDE = $(lastword $(sort $(wildcard /usr/lib/llvm-*/lib/clang/*/include)))

QEMU_CARGO_ENV = PYTHONGOOSE_BOARD_DIR=$(QEMU_BOARD_DIR) \
	CC_riscv32imac_unknown_none_elf=$(QEMU_CROSS)gcc \
	AR_riscv32imac_unknown_none_elf=$(QEMU_CROSS)ar \
	CFLAGS_riscv32imac_unknown_none_elf="-march=$(QEMU_MARCH)_zicsr -mabi=ilp32 --specs=picolibc.specs" \
	BINDGEN_EXTRA_CLANG_ARGS_riscv32imac_unknown_none_elf="-isystem $(CLANG_INCLUDE) -isystem $(PICOLIBC_INCLUDE)"

QEMU_MPY_ARGS := BOARD=qemu-virt-rv32 BOARD_DIR=$(QEMU_BOARD_DIR) BUILD=$(QEMU_BUILD) \
	CROSS_COMPILE=$(QEMU_CROSS) RV32_ARCH=$(QEMU_MARCH) AFLAGS="-mabi=ilp32 -march=$(QEMU_MARCH)_zicsr" \
	FROZEN_MANIFEST= USER_C_MODULES=$(QEMU_USERMODS) PYTHONGOOSE_LIB=$(QEMU_RUST_LIB) \
	PYTHONGOOSE_MONGOOSE_DIR=$(MONGOOSE_DIR) $(PG_SWITCHES)

.PHONY: qemu qemu-lean qemu-deps qemu-rust qemu-run test-board test-board-mpy
qemu-deps: build/.board-deps-installed
build/.board-deps-installed: scripts/install-board-deps.sh
	scripts/install-board-deps.sh
	@mkdir -p build && touch $@

qemu-rust: sources qemu-deps
	$(QEMU_CARGO_ENV) cargo build --release --lib --target $(QEMU_RUST_TARGET) --target-dir $(QEMU_CARGO_DIR) \
	  --no-default-features --features $(PG_FEATURES)

qemu: qemu-rust
	@mkdir -p $(QEMU_USERMODS) && ln -sfn $(ROOT) $(QEMU_USERMODS)/pythongoose && ln -sfn $(QEMU_BOARD_DIR) $(QEMU_USERMODS)/board
	$(MAKE) -C $(MPY_DIR)/ports/qemu -j$(JOBS) $(QEMU_MPY_ARGS)

# The lean firmwares beside the full one (build/qemu-lean, build/qemu-lean-http), which the board
# suite tests and bench/board.py measures.
qemu-lean:
	$(MAKE) --no-print-directory qemu LEAN=1
	$(MAKE) --no-print-directory qemu LEAN=1 PYTHONGOOSE_MQTT=0

# SCRIPT: one or more scripts run in turn, a soft reset between them (HTTP_PORT, MQTT_URL, QEMU_TIMEOUT).
SCRIPT ?= examples/main.py
qemu-run: qemu
	QEMU_FIRMWARE=$(QEMU_FIRMWARE) scripts/qemu-run.sh $(SCRIPT)

# The board's pytest suite (tests/board).
test-board: qemu qemu-lean venv
	$(PY) -m pytest -q -p no:cacheprovider tests/board

# MicroPython's own test suite on the board's firmware (about 3 minutes; needs pyserial, in .venv).
test-board-mpy: qemu venv
	scripts/run-board-micropython-tests.sh $(MPY_DIR) $(QEMU_FIRMWARE) $(PY)
