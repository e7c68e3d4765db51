#!/usr/bin/env bash
# Runs MicroPython's own test suite (tests/run-tests.py) on the emulated board's firmware (make
# qemu), the way ports/qemu's `make test` runs it on the stock firmware: run-tests.py starts QEMU
# with the serial port on a pty and drives the raw REPL through it (needs pyserial). Same QEMU
# flags as scripts/qemu-run.sh, without the network card (no test uses it). Excluded: the tests
# that import micropython-lib's `unittest`, which Debian's source tarball does not carry (as for
# the unix port), and ports/qemu's three tests of the frozen modules the port's own test build
# freezes (native_frozen_align, frozen_viper, frozen_asm_rv32): this firmware is the one users
# run, and test modules are not frozen into it.
#   scripts/run-board-micropython-tests.sh MPY_DIR FIRMWARE [PYTHON]
# Last line: "board-micropython-tests: N passed, N failed".
set -euo pipefail
mpy_dir=$1
firmware=$(realpath "$2")
python=${3:-python3}
case $python in */*) python=$(realpath -s "$python") ;; esac
needs_micropython_lib='extmod/(machine1|marshal_micropython|ssl_noleak|vfs_rom)\.py'
needs_frozen_test_modules='ports/qemu/(asm|native|viper)_test\.py'
qemu="qemu-system-riscv32 -machine virt -bios none -nographic -monitor none -semihosting -serial pty"
qemu+=" -kernel $firmware"
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
cd "$mpy_dir/tests"
status=0
"$python" run-tests.py -t "execpty:$qemu" -r "$results" -e "$needs_micropython_lib" -e "$needs_frozen_test_modules" > "$results/log" 2>&1 || status=$?
grep -E '^(FAIL|fail) ' "$results/log" || true
tail -6 "$results/log"
# run-tests.py prints "N tests passed", "N tests failed"; restate them as one closing line.
passed=$(grep -oE '^[0-9]+ tests passed' "$results/log" | grep -oE '^[0-9]+' || echo 0)
failed=$(grep -oE '^[0-9]+ tests failed' "$results/log" | grep -oE '^[0-9]+' || echo 0)
echo "board-micropython-tests: $passed passed, $failed failed"
exit $status
