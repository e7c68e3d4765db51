#!/usr/bin/env bash
# cargo clippy over every feature set the crate is built with, warnings as errors (so the crate's
# deny(clippy::unwrap_used, ...) in src/lib.rs and every default lint fail the check):
#   default features (mongoose + mqtt), all targets (lib, tests)
#   --no-default-features --features mongoose   the HTTP-only module, all targets
#   --no-default-features --features mqtt       the portable core, all targets on the host
#   the same portable core for riscv32imc-unknown-none-elf (the ESP32-C3 class target), lib only
#   the emulated board's target (riscv32imac-unknown-none-elf, default features, its cross
#   toolchain): `make clippy-board`, since the toolchain settings live in its make fragment
# Runs all five even when one fails; ends with "clippy: N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
configs=(
  "--all-targets"
  "--all-targets --no-default-features --features mongoose"
  "--all-targets --no-default-features --features mqtt"
  "--lib --no-default-features --features mqtt --target riscv32imc-unknown-none-elf"
)
passed=0
failed=0
for config in "${configs[@]}"; do
  echo "=== cargo clippy $config -- -D warnings"
  # shellcheck disable=SC2086 # the config is a word list
  if cargo clippy --quiet $config -- -D warnings; then
    passed=$((passed + 1))
  else
    echo "=== cargo clippy $config: FAILED"
    failed=$((failed + 1))
  fi
done
echo "=== make clippy-board (the emulated board's target)"
if make -s --no-print-directory clippy-board; then
  passed=$((passed + 1))
else
  echo "=== make clippy-board: FAILED"
  failed=$((failed + 1))
fi
echo "clippy: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
