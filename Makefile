# pythongoose: build the unix MicroPython with the Rust `mongoose` module, run it, test it, bench it.
#   make        set up (packages, pinned sources) and build build/unix/micropython
#   make run    build, start a throwaway local Mosquitto (unless MQTT_URL is set), run examples/main.py
#   make test   build and run every test suite
#   make bench  build and print the benchmark table
#   make qemu   build the emulated RISC-V board's firmware, build/qemu/firmware.elf
#   make qemu-run SCRIPT=examples/main.py   boot it in QEMU and run the script (boards/qemu-virt-rv32/board.mk)
#   make esp32 BOARD=ESP32_GENERIC_C3   ESP32 firmware in Docker; make deploy PORT=/dev/ttyUSB0 flashes it
#                                       (boards/esp32/esp32.mk)
#   LEAN=1 (qemu, qemu-run, esp32, deploy)   the lean module: no static files, templates, WebSocket,
#          SSE or TLS; with PYTHONGOOSE_MQTT=0 no MQTT either. make qemu-lean builds both lean firmwares
#   make asan   build build/unix-asan/micropython with AddressSanitizer + UBSan (make test runs pytest on it)
#   make ssl-micropython   build/unix-ssl/micropython: MicroPython's own ssl on the system mbedTLS, no
#                          module (the comparison interpreter of bench/tls_ram.py)
ROOT := $(abspath .)
MPY_DIR := $(ROOT)/third_party/micropython
MONGOOSE_DIR := $(ROOT)/third_party/mongoose
UNIX_BUILD := $(ROOT)/build/unix
MICROPYTHON := $(UNIX_BUILD)/micropython
USERMODS := $(ROOT)/build/usermods
RUST_LIB := $(ROOT)/target/unix/libpythongoose.a
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
JOBS ?= 2

# The module's parts for the board builds (board.mk, esp32.mk): PYTHONGOOSE_MQTT, PYTHONGOOSE_WEB,
# PYTHONGOOSE_TLS (0 or 1, default 1; LEAN=1 turns web and tls off). They give the Rust library's
# cargo features, the shim's flags (PG_SWITCHES) and the suffix of the build folders: none for the
# full module, -lean, -lean-http (no MQTT either), else the feature list.
comma := ,
PG_MQTT := $(if $(filter 0,$(PYTHONGOOSE_MQTT)),0,1)
PG_WEB := $(if $(filter 1,$(LEAN))$(filter 0,$(PYTHONGOOSE_WEB)),0,1)
PG_TLS := $(if $(filter 1,$(LEAN))$(filter 0,$(PYTHONGOOSE_TLS)),0,1)
PG_FEATURES := mongoose$(if $(filter 1,$(PG_MQTT)),$(comma)mqtt)$(if $(filter 1,$(PG_WEB)),$(comma)web)$(if $(filter 1,$(PG_TLS)),$(comma)tls)
PG_VARIANT := $(strip $(if $(filter mongoose$(comma)mqtt$(comma)web$(comma)tls,$(PG_FEATURES)),,\
	$(if $(filter mongoose$(comma)mqtt,$(PG_FEATURES)),-lean,\
	$(if $(filter mongoose,$(PG_FEATURES)),-lean-http,-$(subst $(comma),-,$(PG_FEATURES))))))
PG_SWITCHES := PYTHONGOOSE_MQTT=$(PG_MQTT) PYTHONGOOSE_WEB=$(PG_WEB) PYTHONGOOSE_TLS=$(PG_TLS)
MPY_MAKE_ARGS := VARIANT_DIR=$(ROOT)/mpy/unix-variant BUILD=$(UNIX_BUILD) USER_C_MODULES=$(USERMODS) \
	PYTHONGOOSE_LIB=$(RUST_LIB)

.PHONY: all build run test bench fuzz header deps sources rust micropython venv clean test-python asan clippy-board \
	ssl-micropython
all: build

deps: build/.deps-installed
build/.deps-installed: scripts/install-deps.sh
	scripts/install-deps.sh
	@mkdir -p build && touch $@

sources: deps
	scripts/fetch-sources.sh

rust: sources
	cargo build --profile unix --lib

micropython: rust
	@mkdir -p $(USERMODS) && ln -sfn $(ROOT) $(USERMODS)/pythongoose
	@test -x $(MPY_DIR)/mpy-cross/build/mpy-cross || $(MAKE) -C $(MPY_DIR)/mpy-cross -j$(JOBS) >/dev/null
	$(MAKE) -C $(MPY_DIR)/ports/unix -j$(JOBS) $(MPY_MAKE_ARGS)

build: micropython

# The sanitizer build: MicroPython, the shim and Mongoose's C compiled with ASan + UBSan, into its own
# build directory and with its own Rust library (cc, which build.rs uses for Mongoose, honours CFLAGS;
# the Rust code itself is not instrumented, but it allocates through malloc/free, so ASan tracks its
# blocks too). The variant mpy/unix-asan is mpy/unix-variant plus the sanitizers' default runtime
# options (mpy/unix-asan/sanitizer_options.c, which says which and why) and UBSan suppressions.
#   --param asan-use-after-return=0  no "fake stack" frames: MicroPython's GC finds its roots by
#       scanning the C stack conservatively, and locals moved to heap-allocated fake frames would be
#       invisible to it (objects freed while still in use). Compiled out rather than left to the
#       runtime flag detect_stack_use_after_return, so no environment can turn it back on.
#   -fno-omit-frame-pointer -g       whole, symbolized stacks in reports; STRIP= keeps the symbols.
#   -static-libubsan                 with GCC's shared libubsan beside libasan, UBSan ignores
#                                    log_path and always writes to stderr; linked in, it honours it.
ASAN_BUILD := $(ROOT)/build/unix-asan
ASAN_MICROPYTHON := $(ASAN_BUILD)/micropython
ASAN_TARGET_DIR := $(ROOT)/target/asan
ASAN_RUST_LIB := $(ASAN_TARGET_DIR)/unix/libpythongoose.a
SANITIZE := -fsanitize=address,undefined
SANITIZE_CFLAGS := $(SANITIZE) --param asan-use-after-return=0 -fno-omit-frame-pointer -g

asan: sources
	CARGO_TARGET_DIR=$(ASAN_TARGET_DIR) CFLAGS="$(SANITIZE_CFLAGS)" cargo build --profile unix --lib
	@mkdir -p $(USERMODS) && ln -sfn $(ROOT) $(USERMODS)/pythongoose
	@test -x $(MPY_DIR)/mpy-cross/build/mpy-cross || $(MAKE) -C $(MPY_DIR)/mpy-cross -j$(JOBS) >/dev/null
	$(MAKE) -C $(MPY_DIR)/ports/unix -j$(JOBS) VARIANT_DIR=$(ROOT)/mpy/unix-asan BUILD=$(ASAN_BUILD) \
		USER_C_MODULES=$(USERMODS) PYTHONGOOSE_LIB=$(ASAN_RUST_LIB) STRIP= \
		CFLAGS_EXTRA="$(SANITIZE_CFLAGS)" LDFLAGS_EXTRA="$(SANITIZE) -static-libubsan"

# MicroPython's own TLS for the benchmark's comparison: the interpreter of mpy/unix-variant without the
# module, with `ssl`/`tls` on Debian's libmbedtls-dev (installed by scripts/install-deps.sh; the
# tarball's lib/mbedtls is empty and its extmod.mk links the system library; mpy/unix-ssl says more).
SSL_BUILD := $(ROOT)/build/unix-ssl
SSL_MICROPYTHON := $(SSL_BUILD)/micropython

ssl-micropython: sources
	@test -x $(MPY_DIR)/mpy-cross/build/mpy-cross || $(MAKE) -C $(MPY_DIR)/mpy-cross -j$(JOBS) >/dev/null
	$(MAKE) -C $(MPY_DIR)/ports/unix -j$(JOBS) VARIANT_DIR=$(ROOT)/mpy/unix-ssl BUILD=$(SSL_BUILD)

run: build
	scripts/run-example.sh $(MICROPYTHON) examples/main.py

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt | deps
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

header:
	PYTHONGOOSE_BLESS=1 cargo test --lib header_drift

# Every suite, then one closing line "tests: N passed, N failed" (scripts/test-all.sh).
test: build qemu qemu-lean asan venv
	MICROPYTHON=$(MICROPYTHON) ASAN_MICROPYTHON=$(ASAN_MICROPYTHON) scripts/test-all.sh

test-python: build venv
	MICROPYTHON=$(MICROPYTHON) $(PY) -m pytest -q --ignore=tests/board tests

# Coverage-guided fuzzing of the protocol cores, FUZZ_SECONDS per target (corpus in fuzz/corpus/).
FUZZ_SECONDS ?= 300
fuzz:
	scripts/fuzz.sh run $(FUZZ_SECONDS)

bench: build venv qemu qemu-lean ssl-micropython
	MICROPYTHON=$(MICROPYTHON) $(PY) bench/run.py
	MICROPYTHON=$(MICROPYTHON) $(PY) bench/web.py
	MICROPYTHON=$(MICROPYTHON) SSL_MICROPYTHON=$(SSL_MICROPYTHON) $(PY) bench/tls_ram.py
	MICROPYTHON=$(MICROPYTHON) $(PY) bench/tls.py
	$(PY) bench/board.py

clean:
	rm -rf build target fuzz/target

include boards/qemu-virt-rv32/board.mk
include boards/esp32/esp32.mk

# clippy for the emulated board's target (the crate's target_os = "none" code), with the board's
# cross toolchain settings from board.mk; scripts/clippy.sh runs it after the other feature sets.
clippy-board: sources qemu-deps
	$(QEMU_CARGO_ENV) cargo clippy --quiet --lib --target $(QEMU_RUST_TARGET) -- -D warnings
