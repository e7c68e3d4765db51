#!/usr/bin/env bash
# Installs the Debian packages, Rust target and clippy the build, tests and benchmark need, only when missing.
set -euo pipefail
"$(dirname "$0")/apt-install-missing.sh" install-deps build-essential patch pkg-config libffi-dev libclang-dev dpkg-dev cmake mosquitto mosquitto-clients wrk curl python3-venv chromium chromium-driver openssl libmbedtls-dev
# The portability check builds the crate for an ESP32-C3 class target; make test runs clippy.
if command -v rustup >/dev/null 2>&1; then
  rustup target list --installed | grep -qx riscv32imc-unknown-none-elf || rustup target add riscv32imc-unknown-none-elf
  rustup component list --installed | grep -q '^clippy' || rustup component add clippy
fi
