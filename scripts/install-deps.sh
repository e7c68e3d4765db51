#!/usr/bin/env bash
# Installs the Debian packages, Rust target and clippy the build, tests and benchmark need, only when missing.
set -euo pipefail
packages=(build-essential pkg-config libffi-dev libclang-dev dpkg-dev cmake mosquitto mosquitto-clients wrk curl python3-venv)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The portability check builds the crate for an ESP32-C3 class target; make test runs clippy.
if command -v rustup >/dev/null 2>&1; then
  rustup target list --installed | grep -qx riscv32imc-unknown-none-elf || rustup target add riscv32imc-unknown-none-elf
  rustup component list --installed | grep -q '^clippy' || rustup component add clippy
fi
