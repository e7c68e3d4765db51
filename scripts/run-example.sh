#!/usr/bin/env bash
# Runs a script on the built MicroPython. Unless MQTT_URL is set, a throwaway Mosquitto is started
# on 127.0.0.1 (own config, free port) for the run and MQTT_URL points at it.
set -euo pipefail
micropython=$1
script=$2
broker_pid=""
cleanup() { [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null || true; [ -n "${broker_dir:-}" ] && rm -rf "$broker_dir"; }
trap cleanup EXIT
trap "exit 130" INT
trap "exit 143" TERM
if [ -z "${MQTT_URL:-}" ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  broker_dir=$(mktemp -d)
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" > "$broker_dir/mosquitto.conf"
  mosquitto -c "$broker_dir/mosquitto.conf" > "$broker_dir/mosquitto.log" 2>&1 &
  broker_pid=$!
  for _ in $(seq 50); do  # up to 5 s for the broker to listen
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  export MQTT_URL="mqtt://127.0.0.1:$port"
  echo "run-example: local Mosquitto on $MQTT_URL"
fi
"$micropython" "$script" &
child=$!
trap 'kill -INT $child 2>/dev/null; wait $child; exit 130' INT
trap 'kill $child 2>/dev/null; exit 143' TERM
wait $child
