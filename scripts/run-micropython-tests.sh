#!/usr/bin/env bash
# Runs MicroPython's own test suite (tests/run-tests.py) on the built binary with the module in,
# to show the module breaks nothing. Excluded: only the tests that import micropython-lib's
# `unittest`, which Debian's source tarball does not carry (its submodules are empty).
set -euo pipefail
mpy_dir=$1
micropython=$(realpath "$2")
needs_micropython_lib='extmod/(machine1|marshal_micropython|ssl_noleak|vfs_rom)\.py'
ulimit -n 1024
results=$(mktemp -d)
cd "$mpy_dir/tests"
status=0
MICROPY_MICROPYTHON="$micropython" python3 run-tests.py -j2 -r "$results" -e "$needs_micropython_lib" > "$results/log" 2>&1 || status=$?
grep -E '^(FAIL|fail) ' "$results/log" || true
tail -6 "$results/log"
# run-tests.py prints "N tests passed", "N tests failed"; restate them as one closing line.
passed=$(grep -oE '^[0-9]+ tests passed' "$results/log" | grep -oE '^[0-9]+' || echo 0)
failed=$(grep -oE '^[0-9]+ tests failed' "$results/log" | grep -oE '^[0-9]+' || echo 0)
echo "micropython-tests: $passed passed, $failed failed"
rm -rf "$results"
exit $status
