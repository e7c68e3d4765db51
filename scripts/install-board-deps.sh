#!/usr/bin/env bash
# Installs what the emulated RISC-V board (make qemu, make qemu-run, tests/board) needs, only when missing:
#   the RISC-V cross compiler and C library (Debian's picolibc; Debian 12 has no RISC-V newlib),
#   QEMU for the `virt` machine, and the Rust target of the board (rv32imac).
set -euo pipefail
"$(dirname "$0")/apt-install-missing.sh" install-board-deps gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc
if command -v rustup >/dev/null 2>&1; then
  rustup target list --installed | grep -qx riscv32imac-unknown-none-elf || rustup target add riscv32imac-unknown-none-elf
else
  echo "install-board-deps: rustup not found; add the riscv32imac-unknown-none-elf target to your Rust toolchain" >&2
fi
