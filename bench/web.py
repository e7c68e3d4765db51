"""Web-app benchmarks: static files, WebSocket echo, SSE fan-out; make bench prints them.

  MICROPYTHON=build/unix/micropython .venv/bin/python bench/web.py [--runs N] [--duration S]

Servers: (a) this module (bench/servers/module_web.py: mongoose.static, websocket, sse), (b)
microdot 2.7.0 on the same interpreter (send_file, its WebSocket and SSE), (c) plain C on the same
Mongoose (bench/c_server.c: mg_http_serve_dir and a WebSocket echo: the limit). Figures:
- S100K / S1M: wrk GET of a 100 KB file (-c16) and a 1 MB file (-c4): req/s and MB/s;
- WS: one raw client sends 20 000 masked 64-byte messages in windows of 100, each window's
  echoes read back before the next: msgs/s; and the GC heap bytes each echoed message leaves in
  the module (gc disabled, 2 000 messages). microdot's handshake gets a SHA-1 written in Python
  (this MicroPython build has no hashlib.sha1): bench/servers/microdot_web.py;
- SSE: 100 clients on /events, one request makes the server send 200 events to each: events
  delivered per second (20 000 in all).
Each rate is the median of the runs (min-max). Loopback only, every loop bounded.
"""

import argparse
import asyncio
import os
import re
import selectors
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import BENCH_BUILD, MICROPYTHON, ROOT, Server, build_c_server, fetch_microdot, free_port  # noqa: E402

SERVERS = os.path.join(ROOT, "bench", "servers")
WS_MESSAGES = 20000
WS_WINDOW = 100
SSE_CLIENTS = 100
SSE_EVENTS = 200
NAMES = {"module": "(a) mongoose module", "microdot": "(b) microdot 2.7.0", "c": "(c) C-only Mongoose"}


def web_root():
    root = os.path.join(BENCH_BUILD, "www")
    static = os.path.join(root, "static")
    os.makedirs(static, exist_ok=True)
    for name, size in (("f100k.bin", 100 * 1024), ("f1m.bin", 1024 * 1024)):
        path = os.path.join(static, name)
        if not os.path.exists(path) or os.path.getsize(path) != size:
            with open(path, "wb") as f:
                f.write(bytes(range(256)) * (size // 256))
    return root


def argv_for(kind, root, heap=False):
    if kind == "c":
        return [build_c_server(), "http://127.0.0.1:{port}", root]
    script = "module_web.py" if kind == "module" else "microdot_web.py"
    options = ["-X", "heapsize=64M"] if heap else []
    return [MICROPYTHON] + options + [os.path.join(SERVERS, script), "{port}", os.path.join(root, "static")] + (
        ["heap-ws"] if heap else [])  # only module_web.py measures its heap


def run_wrk(port, path, connections, duration):
    out = subprocess.run(["wrk", "-t1", "-c%d" % connections, "-d%ds" % duration, "http://127.0.0.1:%d%s" % (port, path)],
                         capture_output=True, text=True, timeout=duration + 30).stdout
    try:
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        value, unit = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out).groups()
    except AttributeError:
        raise RuntimeError("cannot read wrk's output:\n" + out)
    # microdot closes the connection after a streamed file: wrk counts each close as a read error.
    # Other socket errors (connect, write, timeout) and any non-2xx reply fail the run.
    errors = re.search(r"Socket errors: connect (\d+), read \d+, write (\d+), timeout (\d+)", out)
    if "Non-2xx" in out or (errors and any(int(n) for n in errors.groups())):
        raise RuntimeError("wrk saw errors:\n" + out)
    mb = float(value) * {"B": 1e-6, "KB": 1.024e-3, "MB": 1.048576, "GB": 1073.741824}[unit]
    return rps, mb


def ws_echo_rate(port):
    """A raw client (no per-frame Python library work, so the server sets the pace): handshake,
    then windows of WS_WINDOW masked 64-byte text frames sent in one write, each window's echoes
    read back (2-byte header + 64 bytes each) before the next."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError("no WebSocket upgrade: %r" % head[:200])
    rest = head.split(b"\r\n\r\n", 1)[1]
    mask = b"\x01\x02\x03\x04"
    payload = b"x" * 64
    frame = b"\x81\xc0" + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    window = frame * WS_WINDOW
    echo_size = 2 + len(payload)
    started = time.monotonic()
    received = len(rest)
    for _ in range(WS_MESSAGES // WS_WINDOW):
        s.sendall(window)
        goal = echo_size * WS_WINDOW
        while received < goal:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("the server closed the WebSocket")
            received += len(chunk)
        received -= goal
    elapsed = time.monotonic() - started
    s.close()
    return WS_MESSAGES / elapsed


def sse_rate(port):
    selector = selectors.DefaultSelector()
    clients = []
    for _ in range(SSE_CLIENTS):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        s.setblocking(False)
        clients.append(s)
        selector.register(s, selectors.EVENT_READ, [0, b""])  # events seen, the last byte read
    time.sleep(0.5)  # every stream open
    trigger = socket.create_connection(("127.0.0.1", port), timeout=10)
    started = time.monotonic()
    trigger.sendall(b"GET /broadcast?n=%d HTTP/1.1\r\nHost: x\r\n\r\n" % SSE_EVENTS)
    done = 0
    deadline = started + 60
    while done < SSE_CLIENTS and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            state = key.data
            data = key.fileobj.recv(65536)
            if not data:
                selector.unregister(key.fileobj)
                continue
            # An event ends with a blank line ("\n\n"; the head ends "\r\n\r\n"), maybe split
            # between two reads.
            seen = data.count(b"\n\n") + (1 if state[1] == b"\n" and data[:1] == b"\n" else 0)
            state[1] = data[-1:]
            if state[0] < SSE_EVENTS <= state[0] + seen:
                done += 1
            state[0] += seen
    elapsed = time.monotonic() - started
    for s in clients:
        s.close()
    trigger.close()
    if done < SSE_CLIENTS:
        raise RuntimeError("only %d of %d SSE clients got every event" % (done, SSE_CLIENTS))
    return SSE_CLIENTS * SSE_EVENTS / elapsed


def ws_heap(kind, root, env):
    server = Server(kind, argv_for(kind, root, heap=True), env)
    try:
        asyncio.run(ws_count(server.port, 2100))  # the server reports after its 2 100th message
        deadline = time.monotonic() + 10
        while "heap_per_message" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        match = re.search(r"heap_per_message ([\d.]+)", server.output())
        if not match:
            raise RuntimeError("%s did not report its heap use:\n%s" % (kind, server.output()))
        return float(match.group(1))
    finally:
        server.stop()


async def ws_count(port, count):
    from websockets.asyncio.client import connect
    async with connect("ws://127.0.0.1:%d/ws" % port, compression=None) as ws:
        for _ in range(count):
            await ws.send("x" * 64)
            await asyncio.wait_for(ws.recv(), 10)


def summary(values, fmt="{:.0f}"):
    return (fmt + " (" + fmt + "-" + fmt + ")").format(statistics.median(values), min(values), max(values)), statistics.median(values)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    args = parser.parse_args()
    runs = max(args.runs, 1)
    root = web_root()
    env = {"MICROPYPATH": fetch_microdot() + ":.frozen"}
    results = {}
    for kind in ("module", "microdot", "c"):
        print("bench: web %s (%d runs)" % (kind, runs), flush=True)
        server = Server(kind, argv_for(kind, root), env)
        try:
            rows = results[kind] = {"S100K": [], "S1M": [], "WS": [], "SSE": []}
            for _ in range(runs):
                rows["S100K"].append(run_wrk(server.port, "/static/f100k.bin", 16, args.duration))
                rows["S1M"].append(run_wrk(server.port, "/static/f1m.bin", 4, args.duration))
                rows["WS"].append(ws_echo_rate(server.port))
                if kind != "c":
                    rows["SSE"].append(sse_rate(server.port))
        finally:
            server.stop()
    heap = {"module": ws_heap("module", root, env)}

    print()
    print("Web apps (wrk -t1, %d s; median (min-max) of %d runs)" % (args.duration, runs))
    medians = {}
    for test, label in (("S100K", "static 100 KB, -c16"), ("S1M", "static 1 MB, -c4")):
        for kind in ("module", "microdot", "c"):
            rps_text, rps = summary([r for r, _ in results[kind][test]])
            mb_text, _ = summary([m for _, m in results[kind][test]], "{:.1f}")
            medians[(test, kind)] = rps
            print("  %-20s %-22s %-24s req/s   %s MB/s" % (label, NAMES[kind], rps_text, mb_text))
    for kind in ("module", "microdot", "c"):
        text, medians[("WS", kind)] = summary(results[kind]["WS"])
        print("  %-20s %-22s %-24s msgs/s" % ("WebSocket echo 64 B", NAMES[kind], text))
    for kind in ("module", "microdot"):
        text, medians[("SSE", kind)] = summary(results[kind]["SSE"])
        print("  %-20s %-22s %-24s events/s delivered (%d clients x %d events)" % (
            "SSE fan-out", NAMES[kind], text, SSE_CLIENTS, SSE_EVENTS))
    print()
    for test in ("S100K", "S1M"):
        print("  %s: (a)/(c) = %.2f, (a)/(b) = %.1fx" % (
            test, medians[(test, "module")] / medians[(test, "c")], medians[(test, "module")] / medians[(test, "microdot")]))
    print("  WS: (a)/(c) = %.2f, (a)/(b) = %.1fx" % (
        medians[("WS", "module")] / medians[("WS", "c")], medians[("WS", "module")] / medians[("WS", "microdot")]))
    print("  SSE: (a)/(b) = %.1fx" % (medians[("SSE", "module")] / medians[("SSE", "microdot")]))
    print("  GC heap per echoed WebSocket message (64 B text, gc disabled, 2 000 messages): (a) %.0f B" % heap["module"])


if __name__ == "__main__":
    main()
