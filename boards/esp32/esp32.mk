# ESP32 firmware, built in Docker (no ESP-IDF on the host): included by the top Makefile.
#   make esp32 BOARD=ESP32_GENERIC_C3     build/esp32/ESP32_GENERIC_C3/firmware.bin
#        (also ESP32_GENERIC_C6, ESP32_GENERIC, ESP32_GENERIC_S3)
#   make deploy BOARD=... PORT=/dev/ttyUSB0   flash it with esptool (inside the same image)
#   LEAN=1 (with both)   the lean module: no static files, templates, WebSocket, SSE or TLS
#        (build/esp32/BOARD-lean; with PYTHONGOOSE_MQTT=0 no MQTT either: BOARD-lean-http;
#        README, "The lean build")
# The image (boards/esp32/Dockerfile) is ESP-IDF v5.2.2, the version MicroPython 1.25's CI uses,
# plus a pinned Rust: the stable toolchain for the RISC-V chips, Espressif's toolchain (espup) for
# the Xtensa ones. scripts/esp32-build.sh runs inside it. Nothing here runs in `make test`: what is
# checked without Docker is scripts/check-cmake.sh and scripts/check-layout.sh.
BOARD ?= ESP32_GENERIC_C3
ESP32_BOARDS := ESP32_GENERIC_C3 ESP32_GENERIC_C6 ESP32_GENERIC ESP32_GENERIC_S3
ESP32_IMAGE ?= pythongoose-esp32:idf5.2.2
# The module's parts: the top Makefile's PG_* (LEAN, PYTHONGOOSE_MQTT/WEB/TLS), handed to the build.
ESP32_NAME = $(BOARD)$(PG_VARIANT)
ESP32_BUILD = $(ROOT)/build/esp32/$(ESP32_NAME)
ESP32_PARTS_ENV = $(addprefix -e ,$(PG_SWITCHES)) -e PYTHONGOOSE_FEATURES=$(PG_FEATURES)
DOCKER ?= docker
PORT ?= /dev/ttyUSB0
BAUD ?= 460800

.PHONY: esp32 esp32-image deploy esp32-check-docker esp32-check-board
esp32-check-docker:
	@command -v $(DOCKER) >/dev/null 2>&1 || { \
	  echo "make esp32/deploy: '$(DOCKER)' not found. The ESP32 firmware is built inside Docker (ESP-IDF v5.2.2"; \
	  echo "and the Rust toolchains come in the image, boards/esp32/Dockerfile): install Docker, or build by hand"; \
	  echo "as README.md's 'ESP32' section shows. Checked without Docker: scripts/check-cmake.sh, scripts/check-layout.sh."; \
	  exit 1; }
	@$(DOCKER) info >/dev/null 2>&1 || { \
	  echo "make esp32/deploy: '$(DOCKER)' is installed but its daemon does not answer ('$(DOCKER) info' fails):"; \
	  echo "start the Docker engine (or join the docker group) and run again."; \
	  exit 1; }

esp32-check-board:
	@case " $(ESP32_BOARDS) " in *" $(BOARD) "*) ;; *) \
	  echo "make esp32: BOARD=$(BOARD) is not one of: $(ESP32_BOARDS)"; exit 1;; esac

esp32-image: esp32-check-docker
	$(DOCKER) build -t $(ESP32_IMAGE) -f boards/esp32/Dockerfile boards/esp32

# The project folder is mounted at /project; everything the build fetches or makes stays in build/esp32/
# (MicroPython v1.25.0 with its submodules, the cargo registry cache, each board's build folder).
ESP32_DOCKER_RUN = $(DOCKER) run --rm -v $(ROOT):/project -w /project \
	-e HOME=/project/build/esp32/home -e CARGO_HOME=/project/build/esp32/cargo-home \
	--user $(shell id -u):$(shell id -g)

esp32: esp32-check-board esp32-check-docker sources esp32-image
	@mkdir -p $(ROOT)/build/esp32/home
	$(ESP32_DOCKER_RUN) $(ESP32_PARTS_ENV) $(ESP32_IMAGE) scripts/esp32-build.sh $(BOARD) $(ESP32_NAME)
	@echo "firmware: $(ESP32_BUILD)/firmware.bin (make deploy with the same BOARD, LEAN and PYTHONGOOSE_* settings, PORT=$(PORT))"

# firmware.bin holds bootloader, partition table and application; it goes at 0x1000 on the ESP32
# and at 0x0 on the C3, C6 and S3 (MicroPython's own flashing instructions for these boards).
deploy: esp32-check-board esp32-check-docker
	@test -f $(ESP32_BUILD)/firmware.bin || { echo "no $(ESP32_BUILD)/firmware.bin: run make esp32 BOARD=$(BOARD) first"; exit 1; }
	@test -e $(PORT) || { echo "make deploy: $(PORT) does not exist (PORT=/dev/ttyUSB0 or /dev/ttyACM0)"; exit 1; }
	$(DOCKER) run --rm -v $(ROOT):/project -w /project --device=$(PORT) $(ESP32_IMAGE) \
	  python -m esptool --chip $(call esp32_chip,$(BOARD)) -p $(PORT) -b $(BAUD) \
	  --before default_reset --after hard_reset write_flash -z $(call esp32_offset,$(BOARD)) \
	  build/esp32/$(ESP32_NAME)/firmware.bin

esp32_chip = $(if $(filter ESP32_GENERIC_C3,$(1)),esp32c3,$(if $(filter ESP32_GENERIC_C6,$(1)),esp32c6,$(if $(filter ESP32_GENERIC_S3,$(1)),esp32s3,esp32)))
esp32_offset = $(if $(filter ESP32_GENERIC,$(1)),0x1000,0x0)
