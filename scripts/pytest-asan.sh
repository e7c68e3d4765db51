#!/usr/bin/env bash
# Runs the whole pytest suite against the sanitizer build (make asan: ASan + UBSan in MicroPython,
# the shim and Mongoose) and fails on any sanitizer report, including reports from processes no
# test looks at closely (a server that died of a report after answering what the test checked, a
# script whose exit code and stderr are not read): every report goes to a file under a fresh
# directory (log_path), and the directory must be empty afterwards. The binary's own default options (mpy/unix-asan/sanitizer_options.c) make
# UBSan halt on its first report and apply the suppressions; only log_path is added here, and the
# exported variables reach every micropython the tests start.
#   scripts/pytest-asan.sh [MICROPYTHON [PYTEST ARGS...]]
#   (defaults: build/unix-asan/micropython, tests/ as the pytest suite runs it: without tests/board,
#   which runs the emulated board's firmware, not this binary)
# Ends with "pytest-asan: N sanitizer reports".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
micropython=${1:-build/unix-asan/micropython}
shift || true
[ "$#" -gt 0 ] || set -- --ignore=tests/board tests
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
export ASAN_OPTIONS="log_path=$reports/asan" UBSAN_OPTIONS="log_path=$reports/ubsan"
MICROPYTHON="$micropython" .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
status=$?
count=0
for report in "$reports"/*; do
  [ -e "$report" ] || continue
  count=$((count + 1))
  echo "=== sanitizer report $(basename "$report")"
  cat "$report"
done
echo "pytest-asan: $count sanitizer reports"
[ "$count" -eq 0 ] || status=1
exit $status
