#!/usr/bin/env bash
# cargo clippy over every feature set and target the crate is built for, warnings as errors (so
# the crate's deny(clippy::unwrap_used, ...) in src/lib.rs and every default lint fail the check):
#   default features (mongoose + mqtt + web + tls), all targets (lib, tests)
#   --no-default-features --features mongoose,web,tls   the HTTP-only module, all targets
#   --no-default-features --features mongoose,mqtt      the lean module (no web-app features, no TLS)
#   --no-default-features --features mqtt       the portable core, all targets on the host
#   the same portable core for riscv32imc-unknown-none-elf (the ESP32-C3 class target), lib only
#   the ESP32-C3 firmware's crate: default features for riscv32imc with boards/esp32's Mongoose
#   configuration and no Mongoose C, as `make esp32` and scripts/check-layout.sh build it
#   the emulated board's target (riscv32imac-unknown-none-elf, default features, its cross
#   toolchain): `make clippy-board`, since the toolchain settings live in its make fragment
# Runs all seven even when one fails; ends with "clippy: N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
passed=0
failed=0
run() { # description command...
  local what=$1; shift
  echo "=== $what"
  if "$@"; then
    passed=$((passed + 1))
  else
    echo "=== $what: FAILED"
    failed=$((failed + 1))
  fi
}

configs=(
  "--all-targets"
  "--all-targets --no-default-features --features mongoose,web,tls"
  "--all-targets --no-default-features --features mongoose,mqtt"
  "--all-targets --no-default-features --features mqtt"
  "--lib --no-default-features --features mqtt --target riscv32imc-unknown-none-elf"
)
for config in "${configs[@]}"; do
  # shellcheck disable=SC2086 # the config is a word list
  run "cargo clippy $config -- -D warnings" cargo clippy --quiet $config -- -D warnings
done

clang_include=$(ls -d /usr/lib/llvm-*/lib/clang/*/include 2>/dev/null | sort -V | tail -1)
run "cargo clippy for the ESP32-C3 firmware (riscv32imc, boards/esp32) -- -D warnings" \
  env PYTHONGOOSE_BOARD_DIR="$root/boards/esp32" PYTHONGOOSE_SKIP_MONGOOSE_C=1 \
  BINDGEN_EXTRA_CLANG_ARGS_riscv32imc_unknown_none_elf="-isystem $clang_include -isystem /usr/lib/picolibc/riscv64-unknown-elf/include" \
  cargo clippy --quiet --lib --target riscv32imc-unknown-none-elf -- -D warnings
run "make clippy-board (the emulated board's target)" make -s --no-print-directory clippy-board

echo "clippy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
