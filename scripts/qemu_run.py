"""Drives the emulated board for scripts/qemu-run.sh (see there for the interface).

QEMU's serial port is on this process's pipes. Each script goes through MicroPython's raw REPL:
Ctrl-A enters it, the script text and Ctrl-D run it, the board answers "OK", the script's output,
Ctrl-D, the error output, Ctrl-D, ">". Ctrl-D at the empty raw prompt is a soft reset.
"""

import os
import re
import selectors
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARD_BROKER = ("10.0.2.100", 1883)


class Timeout(Exception):
    pass


class BoardStopped(Exception):
    pass


class Board:
    def __init__(self, argv, deadline):
        # Its own session: the terminal's Ctrl-C reaches this process (which passes it on to the
        # board as a byte), not QEMU.
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.deadline = deadline
        self.buffer = b""
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)
        os.set_blocking(self.proc.stdout.fileno(), False)

    def write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def _fill(self):
        wait = None if self.deadline is None else self.deadline - time.monotonic()
        if wait is not None and wait <= 0:
            raise Timeout()
        if not self.selector.select(wait):
            raise Timeout()
        chunk = self.proc.stdout.read(65536)
        if not chunk:
            raise BoardStopped()
        self.buffer += chunk

    def read_until(self, marker, echo=None):
        """Bytes up to and without `marker`, which is consumed; with `echo`, bytes are passed on as
        they arrive (and leave the buffer, so that what is left is what was never shown)."""
        shown = b""
        while True:
            at = self.buffer.find(marker)
            if at >= 0:
                data, self.buffer = self.buffer[:at], self.buffer[at + len(marker):]
                if echo is not None:
                    echo(data)
                return shown + data
            if echo is not None:
                # Keep back what could be the start of the marker.
                safe = max(0, len(self.buffer) - len(marker) + 1)
                echo(self.buffer[:safe])
                shown, self.buffer = shown + self.buffer[:safe], self.buffer[safe:]
            self._fill()

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def out(data):
    if data:
        sys.stdout.buffer.write(data.replace(b"\r\n", b"\n"))
        sys.stdout.buffer.flush()


def qemu_argv():
    firmware = os.environ.get("QEMU_FIRMWARE", os.path.join(ROOT, "build", "qemu", "firmware.elf"))
    if not os.path.exists(firmware):
        sys.exit(f"qemu-run: {firmware} not found: run `make qemu` first")
    http_port = int(os.environ.get("HTTP_PORT", "8000"))
    netdev = f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{http_port}-:8000"
    mqtt_url = os.environ.get("MQTT_URL")
    if mqtt_url:
        found = re.fullmatch(r"mqtts?://127\.0\.0\.1:(\d+)/?", mqtt_url)
        if not found:
            sys.exit("qemu-run: MQTT_URL must be mqtt[s]://127.0.0.1:PORT (a broker on this host's loopback)")
        # One relay process per board connection (scripts/qemu_broker_relay.py): the broker sees
        # each of the board's connections, and sees it close.
        relay = f"{sys.executable} {os.path.join(ROOT, 'scripts', 'qemu_broker_relay.py')} {found.group(1)}"
        if "," in relay:
            sys.exit(f"qemu-run: a comma in the relay's command line: {relay}")
        netdev += f",guestfwd=tcp:{BOARD_BROKER[0]}:{BOARD_BROKER[1]}-cmd:{relay}"
    # QEMU_ICOUNT=1: one instruction per nanosecond of the board's clock, so that the
    # instruction counter (board.instructions(), make bench) counts instructions exactly.
    icount = ["-icount", "shift=0"] if os.environ.get("QEMU_ICOUNT") == "1" else []
    # QEMU_RTC_BASE=2000-01-01: the board's calendar clock starts there (a board whose clock was
    # never set); default: the host's time.
    rtc_base = os.environ.get("QEMU_RTC_BASE")
    if rtc_base:
        icount += ["-rtc", f"base={rtc_base}"]
    return [
        "qemu-system-riscv32", "-machine", "virt", "-bios", "none", "-nographic", "-monitor", "none", *icount,
        "-semihosting", "-serial", "stdio", "-global", "virtio-mmio.force-legacy=false",
        "-netdev", netdev, "-device", "virtio-net-device,netdev=n0",
        # Entropy for TLS (boards/qemu-virt-rv32/virtio_rng.c), from QEMU's own generator.
        "-device", "virtio-rng-device",
        "-kernel", firmware,
    ]


def prelude():
    mqtt_url = os.environ.get("MQTT_URL")
    if mqtt_url:
        # The same scheme: an mqtts:// broker is reached with TLS through the same plain relay.
        scheme = mqtt_url.split("://", 1)[0]
        return f'MQTT_URL = "{scheme}://{BOARD_BROKER[0]}:{BOARD_BROKER[1]}"\n'.encode()
    return b""


def run(scripts):
    timeout = float(os.environ.get("QEMU_TIMEOUT", "0") or 0)
    deadline = time.monotonic() + timeout if timeout > 0 else None
    board = Board(qemu_argv(), deadline)
    failed = False
    interrupts = []

    def on_sigint(*_):
        # The first Ctrl-C goes to the board (KeyboardInterrupt in the running script); the next
        # one stops the run.
        if interrupts:
            raise KeyboardInterrupt
        interrupts.append(True)
        board.write(b"\x03")

    signal.signal(signal.SIGINT, on_sigint)
    try:
        board.read_until(b">>> ")
        board.write(b"\r\x01")
        board.read_until(b"raw REPL; CTRL-B to exit\r\n>")
        for index, path in enumerate(scripts):
            if index > 0:
                board.write(b"\x04")  # soft reset at the empty raw prompt
                board.read_until(b"raw REPL; CTRL-B to exit\r\n>")
            with open(path, "rb") as f:
                source = prelude() + f.read()
            interrupts.clear()
            board.write(source + b"\x04")
            board.read_until(b"OK")
            board.read_until(b"\x04", echo=out)
            error = board.read_until(b"\x04", echo=out)
            board.read_until(b">")
            if error.strip():
                failed = True
        return 1 if failed else 0
    except Timeout:
        out(board.buffer)
        print(f"\nqemu-run: stopped after QEMU_TIMEOUT={timeout:g} s", file=sys.stderr)
        return 2
    except BoardStopped:
        out(board.buffer)
        print(f"\nqemu-run: the board stopped (QEMU exit status {board.proc.wait()})", file=sys.stderr)
        return 2
    finally:
        board.close()


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        sys.exit(run(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
