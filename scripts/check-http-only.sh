#!/usr/bin/env bash
# The module without MQTT (cargo feature `mqtt` off, the shim's PYTHONGOOSE_MQTT=0) still builds,
# links and serves: the unix port in build/unix-http (the build bench/run.py measures for the
# text-size difference), then one request to a script run on it. Prints "http-only: N passed,
# N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
passed=0
failed=0
check() {
  local name=$1
  shift
  if "$@"; then passed=$((passed + 1)); echo "ok: $name"; else failed=$((failed + 1)); echo "FAILED: $name"; fi
}
binary=$(.venv/bin/python -c 'import sys; sys.path.insert(0, "bench"); import run; print(run.build_http_only_micropython())' \
  | tail -n 1)
check "the HTTP-only unix port builds and links" test -x "$binary"
serves() {
  local port out
  port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  out=$("$binary" -c "
import time
import mongoose
print('mqtt', hasattr(mongoose, 'MQTTclient'))
served = []
def handler(data):
    served.append(data)
    return 'only http'
mongoose.init(handler, url='http://127.0.0.1:$port')
deadline = time.ticks_add(time.ticks_ms(), 5000)
while not served and time.ticks_diff(deadline, time.ticks_ms()) > 0:
    mongoose.poll(20)
mongoose.poll(50)
" & sleep 0.5; curl -s --max-time 5 -u u:p "http://127.0.0.1:$port/api/x"; wait)
  echo "$out"
  grep -q "mqtt False" <<< "$out" && grep -q "only http" <<< "$out"
}
check "it has no MQTTclient and answers a request" serves
echo "http-only: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
