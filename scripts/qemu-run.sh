#!/usr/bin/env bash
# Boots the emulated board's firmware (make qemu) in QEMU and runs each script in turn over the
# serial port (MicroPython's raw REPL), with a soft reset (Ctrl-D) between them; the board's output
# goes to stdout. Ends when the last script ends, or after QEMU_TIMEOUT seconds (0: no limit).
#   scripts/qemu-run.sh SCRIPT [SCRIPT...]
# Environment:
#   QEMU_FIRMWARE  the firmware (default build/qemu/firmware.elf)
#   HTTP_PORT      host port forwarded to the board's port 8000, on 127.0.0.1 only (default 8000)
#   QEMU_RTC_BASE  e.g. 2000-01-01: where the board's calendar clock starts (default: the host's time)
#   MQTT_URL       mqtt[s]://127.0.0.1:PORT, a broker on this host: the board reaches it at 10.0.2.100:1883
#                  and each script sees the board-side URL in the global MQTT_URL
#   QEMU_TIMEOUT   seconds before the run is stopped (default 0: none)
#   QEMU_ICOUNT    1: QEMU counts instructions (-icount shift=0) and board.instructions() is exact
# Networking is QEMU user mode with restrict=on: the board reaches nothing but the forwards above.
# Ctrl-C (SIGINT) is passed to the board once (KeyboardInterrupt in the running script); a second
# one stops the run.
# Exit status: 0 when every script ran without an uncaught exception, 1 when one raised, 2 on a
# timeout or when the board stopped (crash, abort) before the scripts were done.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
[ "$#" -ge 1 ] || { echo "usage: $0 SCRIPT [SCRIPT...]" >&2; exit 64; }
exec python3 "$here/scripts/qemu_run.py" "$@"
