"""pythongoose on the emulated board (make qemu): flash, RAM and CPU figures; make bench prints them.

  .venv/bin/python bench/board.py

Flash: text+rodata of build/qemu/firmware.elf by origin (its link map), and the firmware against
the stock VIRT_RV32 firmware built from the same MicroPython source. RAM: C heap (mongoose.memory())
and GC heap (gc.mem_alloc()) per idle keep-alive HTTP connection, per request in flight, per
connected MQTT client, and the heap each request / received message leaves. CPU: instructions the
board executes per GET /api/... with Basic auth and per QoS 0 MQTT round trip (QEMU counting
instructions, -icount shift=0: the figures repeat within a few per cent, the rest being
how often the idle loop wakes), against plain C on the same
Mongoose in the same firmware (the `board` module's limit servers). The board scripts are in
bench/board/. Loopback only: QEMU user networking with restrict=on, a throwaway Mosquitto.
"""

import argparse
import http.client
import os
import re
import subprocess
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import AUTH_HEADER, BENCH_BUILD, MPY_DIR, ROOT, free_port, kept_code_by_part  # noqa: E402
from mqtt import Broker  # noqa: E402

FIRMWARE = os.path.join(ROOT, "build", "qemu", "firmware.elf")
# `make qemu-lean`: the module without its web-app features and TLS, and also without MQTT (flash
# figures only).
LEAN_BUILDS = (
    ("qemu-lean", "lean build (make qemu LEAN=1: HTTP API and MQTT; no static files, templates, WebSocket, SSE, TLS)"),
    ("qemu-lean-http", "lean HTTP-only build (make qemu LEAN=1 PYTHONGOOSE_MQTT=0: the HTTP API alone)"),
)
SCRIPTS = os.path.join(ROOT, "bench", "board")
IDLE_CONNECTIONS = 10
RUN_TIMEOUT_S = 600


class BoardRun:
    """scripts/qemu-run.sh with the given board scripts, its output collected as it comes."""

    def __init__(self, scripts, mqtt_url=None):
        self.http_port = free_port()
        env = dict(os.environ, QEMU_ICOUNT="1", QEMU_TIMEOUT=str(RUN_TIMEOUT_S), HTTP_PORT=str(self.http_port))
        env.pop("MQTT_URL", None)
        if mqtt_url:
            env["MQTT_URL"] = mqtt_url
        self.proc = subprocess.Popen([os.path.join(ROOT, "scripts", "qemu-run.sh")]
                                     + [os.path.join(SCRIPTS, s) for s in scripts],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        self.text = ""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in iter(self.proc.stdout.readline, b""):
            self.text += line.decode(errors="replace")

    def wait_for(self, pattern, count=1, timeout=120.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.findall(pattern, self.text, re.M)
            if len(found) >= count:
                return found
            if self.proc.poll() is not None:
                self.reader.join(5)
                found = re.findall(pattern, self.text, re.M)
                if len(found) >= count:
                    return found
                break
            time.sleep(0.05)
        raise RuntimeError("the board did not print %r (x%d); output:\n%s" % (pattern, count, self.text[-3000:]))

    def finish(self):
        code = self.proc.wait(RUN_TIMEOUT_S)
        self.reader.join(5)
        if code != 0:
            raise RuntimeError("qemu-run exited %d; output:\n%s" % (code, self.text[-3000:]))
        return dict((name, int(value)) for name, value in re.findall(r"^FIGURE (\S+) (-?\d+)", self.text, re.M))


def connect(port, timeout=20.0, context=None):
    """A keep-alive connection to the board that has answered once: QEMU accepts on the host port
    before the board listens (those first connections get reset), so retry until one works.
    With an ssl `context`: HTTPS, the certificate checked for `localhost`."""
    deadline = time.monotonic() + timeout
    while True:
        if context is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        else:
            conn = http.client.HTTPSConnection("localhost", port, timeout=30, context=context)
        try:
            get(conn, "/api/epname")
            return conn
        except (OSError, http.client.HTTPException):
            conn.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def get(conn, path):
    conn.request("GET", path, headers={"Authorization": AUTH_HEADER})
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError("GET %s: %d %r" % (path, response.status, body))
    return body


def measure_http_cpu():
    """The module's two endpoints, then the C-only server, one board boot."""
    board = BoardRun(["http_module.py", "http_limit.py"])
    try:
        board.wait_for(r"^READY", 1)
        conn = connect(board.http_port)  # this first request is one of the warm-up
        for path in ("/api/epname", "/api/route"):
            for _ in range(20 + 2 * 200 - (1 if path == "/api/epname" else 0)):
                get(conn, path)
        conn.close()
        board.wait_for(r"^READY", 2)
        conn = connect(board.http_port)
        for _ in range(20 + 200 - 1):
            get(conn, "/api/epname")
        conn.close()
        return board.finish()
    finally:
        board.proc.kill()


def measure_http_ram():
    board = BoardRun(["ram.py"])
    try:
        board.wait_for(r"^READY")
        conn = connect(board.http_port)
        get(conn, "/m/base")
        idle = [connect(board.http_port) for _ in range(IDLE_CONNECTIONS)]
        time.sleep(1.5)  # quiet past the module's release of empty buffers (1 s)
        get(conn, "/m/idle")
        get(conn, "/m/inflight")
        board.wait_for(r"^MEM after")
        get(conn, "/m/done")
        for c in idle + [conn]:
            c.close()
        board.finish()
        mem = dict((tag, (int(c), int(g))) for tag, c, g in re.findall(r"^MEM (\S+) (\d+) (\d+)", board.text, re.M))
        return {
            "idle_connection_c_heap": (mem["idle"][0] - mem["base"][0]) // IDLE_CONNECTIONS,
            "idle_connection_gc_heap": (mem["idle"][1] - mem["base"][1]) // IDLE_CONNECTIONS,
            "request_in_flight_c_heap": mem["inflight"][0] - mem["after"][0],
            "request_in_flight_gc_heap": mem["inflight"][1] - mem["after"][1],
        }
    finally:
        board.proc.kill()


TLS_IDLE_CONNECTIONS = 4
TLS_HANDSHAKES = 10
TLS_KEEPALIVE_GETS = 50


def measure_tls():
    """HTTPS and MQTT over TLS on the board (bench/board/tls.py), one boot: RAM per idle TLS
    keep-alive connection and per handshake at its peak, instructions per handshake and per
    keep-alive GET, RAM and connect instructions of an MQTT-over-TLS client."""
    import ssl
    import tempfile
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from support.broker import Broker as TlsBroker
    from support.pki import make_pki
    work = tempfile.TemporaryDirectory()
    pki = make_pki(os.path.join(work.name, "pki"))
    with open(os.path.join(SCRIPTS, "tls.py")) as f:
        script = f.read()
    for name, path in (("@CERT@", pki.server), ("@KEY@", pki.server_key), ("@CA@", pki.ca)):
        with open(path) as f:
            script = script.replace(name, f.read())
    script_path = os.path.join(work.name, "tls.py")
    with open(script_path, "w") as f:
        f.write(script)
    broker = TlsBroker(os.path.join(work.name, "broker"), tls={"certfile": str(pki.server), "keyfile": str(pki.server_key)})
    broker.start()
    context = ssl.create_default_context(cafile=str(pki.ca))

    def tls_connect():
        return connect(board.http_port, context=context)

    try:
        board = BoardRun([script_path], mqtt_url=broker.url)
        try:
            board.wait_for(r"^READY")
            conn = tls_connect()
            # Handshakes first, one at a time: the C heap's peak (it never goes down) is then
            # that of one handshake beside the measuring connection.
            get(conn, "/m/before_hs")
            for _ in range(TLS_HANDSHAKES):
                tls_connect().close()
            get(conn, "/m/hs")
            time.sleep(0.5)
            get(conn, "/m/base")
            idle = [tls_connect() for _ in range(TLS_IDLE_CONNECTIONS)]
            time.sleep(1.5)  # past the module's idle-buffer release
            get(conn, "/m/idle")
            for c in idle:
                c.close()
            get(conn, "/m/ka_start")
            for _ in range(TLS_KEEPALIVE_GETS):
                get(conn, "/api/epname")
            get(conn, "/m/ka")
            get(conn, "/m/done")
            conn.close()
            figures = board.finish()
        finally:
            board.proc.kill()
    finally:
        broker.stop()
        work.cleanup()
    mem = dict((tag, tuple(int(v) for v in values))
               for tag, *values in re.findall(r"^MEM (\S+) (\d+) (\d+) (\d+) (\d+)", board.text, re.M))
    # Each MEM line's own GET counts once between two marks: take one measuring GET off.
    measuring_get = (mem["ka"][3] - mem["ka_start"][3]) / (TLS_KEEPALIVE_GETS + 1)
    figures.update({
        "https_idle_c_heap": (mem["idle"][0] - mem["base"][0]) // TLS_IDLE_CONNECTIONS,
        "https_idle_gc_heap": (mem["idle"][1] - mem["base"][1]) // TLS_IDLE_CONNECTIONS,
        "https_handshake_peak_c_heap": mem["hs"][2] - mem["before_hs"][0],
        "https_handshake_instructions": int((mem["hs"][3] - mem["before_hs"][3] - measuring_get) / TLS_HANDSHAKES),
        "https_keepalive_get_instructions": int(measuring_get),
    })
    return figures


def measure_mqtt():
    broker = Broker()
    try:
        board = BoardRun(["mqtt_module.py", "mqtt_limit.py"], mqtt_url="mqtt://127.0.0.1:%d" % broker.port)
        try:
            return board.finish()
        finally:
            board.proc.kill()
    finally:
        broker.stop()


# ---------------------------------------------------------------------------------------------
# Flash


def origin_of(path):
    """Which part of the firmware an input object of the link map belongs to."""
    if "libpythongoose.a(" in path:
        member = path.split("libpythongoose.a(", 1)[1]
        if member.endswith("mongoose.o)"):
            return "Mongoose"
        if member.startswith("compiler_builtins-"):
            return "Rust compiler_builtins"
        return "Rust"
    if "/pythongoose/src/shim/" in path:
        return "C shim"
    builds = ("qemu",) + tuple(build for build, _ in LEAN_BUILDS)
    if os.path.dirname(path) in (os.path.join(ROOT, "build", build, "board") for build in builds):
        # boards/qemu-virt-rv32
        name = os.path.basename(path)
        return "bench-only board module" if name in ("modboard.o", "c_limit.o") else "board glue"
    return "MicroPython and libc"


def flash_parts(map_file):
    return kept_code_by_part(map_file, origin_of)


def text_and_rodata(elf):
    out = subprocess.check_output(["riscv64-unknown-elf-size", "-A", elf], text=True)
    return sum(int(size) for name, size in re.findall(r"^(\.(?:text|s?rodata)\S*)\s+(\d+)", out, re.M))


def build_stock_firmware():
    """MicroPython's own VIRT_RV32 from the same source, without the module (a throwaway build)."""
    build = os.path.join(BENCH_BUILD, "qemu-stock")
    elf = os.path.join(build, "firmware.elf")
    if not os.path.exists(elf):
        subprocess.check_call(
            ["make", "-C", os.path.join(MPY_DIR, "ports", "qemu"), "-j2", "BOARD=VIRT_RV32", "BUILD=" + build,
             "CROSS_COMPILE=riscv64-unknown-elf-", "RV32_ARCH=rv32imac", "AFLAGS=-mabi=ilp32 -march=rv32imac_zicsr",
             "FROZEN_MANIFEST="], stdout=subprocess.DEVNULL)
    return elf


def measure_flash():
    parts = flash_parts(os.path.join(ROOT, "build", "qemu", "firmware.map"))
    return parts, text_and_rodata(FIRMWARE), text_and_rodata(build_stock_firmware())


def measure_lean_flash():
    """[(label, parts, text+rodata) or (label, None, None) when not built] for each lean firmware."""
    found = []
    for build, label in LEAN_BUILDS:
        elf = os.path.join(ROOT, "build", build, "firmware.elf")
        if os.path.exists(elf):
            found.append((label, flash_parts(os.path.join(ROOT, "build", build, "firmware.map")), text_and_rodata(elf)))
        else:
            found.append((label, None, None))
    return found


def main():
    if not os.path.exists(FIRMWARE):
        sys.exit("bench/board.py: %s missing: run `make qemu` first" % FIRMWARE)
    print("bench: the emulated board (QEMU virt rv32imac, -icount shift=0)", flush=True)
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = max(parser.parse_args().runs, 1)
    parts, firmware, stock = measure_flash()
    lean = measure_lean_flash()
    cpu_runs = [measure_http_cpu() for _ in range(runs)]
    mqtt_runs = [measure_mqtt() for _ in range(runs)]
    ram = measure_http_ram()
    tls = measure_tls()
    cpu, mqtt = cpu_runs[0], mqtt_runs[0]  # heap figures: the first run's

    def spread(runs_of, name):
        values = [r[name] for r in runs_of]
        return statistics.median(values), min(values), max(values)

    print()
    print("Flash on the emulated board (text+rodata, bytes)")
    print("  firmware %d, stock VIRT_RV32 %d: %+d" % (firmware, stock, firmware - stock))
    for name in ("Rust", "Rust compiler_builtins", "C shim", "Mongoose", "board glue", "bench-only board module"):
        print("  %-26s %7d" % (name, parts.get(name, 0)))
    print("  Rust + C shim: %d (compiler_builtins not counted: MicroPython's float code needs the same"
          " routines from libgcc otherwise)" % (parts.get("Rust", 0) + parts.get("C shim", 0)))
    for label, lean_parts, lean_firmware in lean:
        if lean_parts is None:
            print("  %s: not built (make qemu-lean)" % label)
            continue
        print("  %s: firmware %d, %+d over stock" % (label, lean_firmware, lean_firmware - stock))
        for name in ("Rust", "C shim", "Mongoose"):
            print("    %-24s %7d (full build %+d)" % (name, lean_parts.get(name, 0), lean_parts.get(name, 0) - parts.get(name, 0)))
        print("    Rust + C shim: %d" % (lean_parts.get("Rust", 0) + lean_parts.get("C shim", 0)))
    print()
    print("RAM on the emulated board (bytes: C heap + GC heap)")
    rows = (
        ("per idle keep-alive HTTP connection", ram["idle_connection_c_heap"], ram["idle_connection_gc_heap"]),
        ("per HTTP request in flight", ram["request_in_flight_c_heap"], ram["request_in_flight_gc_heap"]),
        ("per connected MQTT client", mqtt["mqtt_client_c_heap"], mqtt["mqtt_client_gc_heap"]),
        ("left per GET, init() handler", cpu["seed_c_heap_bytes_per_request"], cpu["seed_gc_bytes_per_request"]),
        ("left per GET, route() handler", cpu["route_c_heap_bytes_per_request"], cpu["route_gc_bytes_per_request"]),
        ("left per received QoS 0 message", mqtt["mqtt_c_heap_bytes_per_message"], mqtt["mqtt_gc_bytes_per_message"]),
    )
    for label, c_heap, gc_heap in rows:
        print("  %-36s %6d + %6d = %6d" % (label, c_heap, gc_heap, c_heap + gc_heap))
    print()
    print("TLS on the emulated board (Mongoose's built-in TLS 1.3, EC P-256 certificates)")
    print("  per idle HTTPS keep-alive connection   %6d + %6d = %6d bytes" % (
        tls["https_idle_c_heap"], tls["https_idle_gc_heap"], tls["https_idle_c_heap"] + tls["https_idle_gc_heap"]))
    print("  C heap peak of one HTTPS handshake     %6d bytes" % tls["https_handshake_peak_c_heap"])
    print("  per connected MQTT-over-TLS client     %6d + %6d = %6d bytes" % (
        tls["mqtt_tls_client_c_heap"], tls["mqtt_tls_client_gc_heap"],
        tls["mqtt_tls_client_c_heap"] + tls["mqtt_tls_client_gc_heap"]))
    print("  HTTPS handshake + first GET            %9d instructions (server side)" % tls["https_handshake_instructions"])
    print("  HTTPS keep-alive GET                   %9d instructions" % tls["https_keepalive_get_instructions"])
    print("  MQTT-over-TLS connect (handshake, chain and host name verified, CONNACK) %d instructions"
          % tls["mqtt_tls_connect_instructions"])
    print()
    print("CPU on the emulated board (instructions executed per event, waits left out; 200 events after"
          " 20 warm-up; median (min-max) of %d runs)" % runs)
    c_get, c_mqtt = spread(cpu_runs, "c_get_instructions"), spread(mqtt_runs, "c_mqtt_round_trip_instructions")
    for label, value, limit in (
            ("GET /api/epname, Basic auth, init() handler", spread(cpu_runs, "seed_get_instructions"), c_get),
            ("GET /api/route, Basic auth, route() handler", spread(cpu_runs, "route_get_instructions"), c_get),
            ("MQTT QoS 0 round trip", spread(mqtt_runs, "mqtt_round_trip_instructions"), c_mqtt)):
        print("  %-44s %6d (%d-%d)   C-only %6d (%d-%d)   ratio %.2f" % ((label,) + value + limit + (value[0] / limit[0],)))


if __name__ == "__main__":
    main()
