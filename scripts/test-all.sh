#!/usr/bin/env bash
# Runs every test suite (the Makefile's `test` target calls this after building), keeps going
# after a failing suite, and ends with one line: "tests: N passed, N failed".
#   cargo test (protocol core, HTTP logic, header drift), the riscv32 portability build, cargo
#   clippy over every feature set and target with warnings denied (scripts/clippy.sh), the ESP32
#   port's CMake wiring (scripts/check-cmake.sh: micropython.cmake through py/usermod.cmake), the
#   full crate for the ESP32-C3 target and the Mongoose layout checks (scripts/check-layout.sh), the
#   module built without MQTT and serving (scripts/check-http-only.sh), a fixed-
#   seed libFuzzer pass over the protocol cores (scripts/fuzz.sh check), pytest against the real
#   binary + Mosquitto, the same pytest suite against the ASan + UBSan build with any sanitizer
#   report failing it (scripts/pytest-asan.sh), MicroPython's own test suite, the emulated RISC-V
#   board's suite (tests/board: the firmware from `make qemu` in QEMU, driven from the host), and
#   MicroPython's own test suite on that firmware (about 3 minutes).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
micropython=${MICROPYTHON:-build/unix/micropython}
asan_micropython=${ASAN_MICROPYTHON:-build/unix-asan/micropython}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
total_passed=0
total_failed=0
failed_suites=()

count() { # file regex -> first number of the last match, or 0
  grep -oE "$2" "$1" | tail -1 | grep -oE '[0-9]+' | head -1 || true
}

run_suite() { # name command...
  local name=$1; shift
  echo "=== $name: $*"
  local log="$logs/$name.log"
  local started=$SECONDS
  "$@" 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  local passed=0 failed=0
  case $name in
    cargo-test)
      passed=$(grep -oE '[0-9]+ passed' "$log" | awk '{s += $1} END {print s + 0}')
      failed=$(grep -oE '[0-9]+ failed' "$log" | awk '{s += $1} END {print s + 0}') ;;
    riscv32-build|clippy)
      if [ "$status" -eq 0 ]; then passed=1; else failed=1; fi ;;
    fuzz)
      passed=$(count "$log" 'fuzz: [0-9]+ passed'); failed=$(grep -oE 'fuzz: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || echo 0) ;;
    pytest|pytest-asan|board)
      passed=$(count "$log" '[0-9]+ passed'); failed=$(count "$log" '[0-9]+ failed')
      errors=$(count "$log" '[0-9]+ errors?'); failed=$(( ${failed:-0} + ${errors:-0} ))
      # each sanitizer report is one more failure
      reports=$(count "$log" 'pytest-asan: [0-9]+ sanitizer reports'); failed=$(( failed + ${reports:-0} )) ;;
    cmake-check|layout-check|http-only)
      passed=$(count "$log" "$name: [0-9]+ passed"); failed=$(grep -oE "$name: [0-9]+ passed, [0-9]+ failed" "$log" | tail -1 | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || echo 0) ;;
    micropython-tests|board-micropython-tests)
      passed=$(count "$log" "$name: [0-9]+ passed"); failed=$(grep -oE '[0-9]+ failed$' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0) ;;
  esac
  passed=${passed:-0}; failed=${failed:-0}
  if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
  [ "$status" -ne 0 ] && failed_suites+=("$name")
  total_passed=$((total_passed + passed)); total_failed=$((total_failed + failed))
  echo "=== $name: $passed passed, $failed failed (exit $status, $((SECONDS - started)) s)"
}

run_suite cargo-test cargo test --lib
run_suite riscv32-build cargo build --lib --no-default-features --features mqtt --target riscv32imc-unknown-none-elf
run_suite clippy scripts/clippy.sh
run_suite cmake-check scripts/check-cmake.sh
run_suite layout-check scripts/check-layout.sh
run_suite http-only scripts/check-http-only.sh
run_suite fuzz scripts/fuzz.sh check
run_suite pytest env MICROPYTHON="$micropython" .venv/bin/python -m pytest -q -p no:cacheprovider --ignore=tests/board tests
run_suite pytest-asan scripts/pytest-asan.sh "$asan_micropython"
run_suite micropython-tests scripts/run-micropython-tests.sh third_party/micropython "$micropython"
run_suite board env PYTHONGOOSE_REQUIRE_BOARD=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/board
run_suite board-micropython-tests scripts/run-board-micropython-tests.sh third_party/micropython build/qemu/firmware.elf .venv/bin/python

[ "${#failed_suites[@]}" -gt 0 ] && echo "failing suites: ${failed_suites[*]}"
echo "tests: $total_passed passed, $total_failed failed"
[ "${#failed_suites[@]}" -eq 0 ]
