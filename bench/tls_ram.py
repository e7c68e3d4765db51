"""RAM one TLS MQTT connection holds after CONNACK: MicroPython's own TLS (mbedTLS) against the
mongoose module's built-in TLS, on the same interpreter settings; make bench prints it.

  MICROPYTHON=build/unix/micropython SSL_MICROPYTHON=build/unix-ssl/micropython \\
      .venv/bin/python bench/tls_ram.py [--runs N] [--count N]

A Mosquitto 2 with a TLS listener on 127.0.0.1 (tests/support/broker.py, tls=) and a throwaway
EC P-256 PKI (tests/support/pki.py) in a temporary directory. Clients:
- "MicroPython ssl": build/unix-ssl/micropython (make ssl-micropython: mpy/unix-ssl, the system's
  mbedTLS) running bench/tls/mbedtls_client.py: socket, SSLContext with the CA, wrap_socket with
  server_hostname, MQTT CONNECT, CONNACK;
- "mongoose": the module's binary running bench/tls/module_client.py: MQTTclient.connect("mqtts://...",
  ca=..., wait_ms=5000); skipped with a printed line while connect() does not take ca=; and the
  same over plain mqtt:// as a reference for what TLS adds.
Both run under the same LD_PRELOAD allocation counter (bench/tls/malloc_count.c: live bytes in the
libc heap, read with SIGUSR1), which sees mbedTLS's allocations and the module's (its allocator is
malloc) alike. Each client prints a mark before its first connection and one after the last
CONNACK, with gc.mem_alloc() after gc.collect(), and waits for the host to read the C heap at each.
Per connection = (after - before) / connections; figures are medians of --runs runs. With
--count connections open at once the average is closer to the marginal cost of one more.
Connect time: from socket creation (or connect()) to CONNACK, TCP + TLS handshake + MQTT.
Loopback only; every wait has a deadline.
"""

import argparse
import os
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import BENCH_BUILD, MICROPYTHON, ROOT  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests"))
from support.broker import Broker  # noqa: E402
from support.pki import make_pki  # noqa: E402

SSL_MICROPYTHON = os.path.abspath(os.environ.get("SSL_MICROPYTHON", os.path.join(ROOT, "build", "unix-ssl",
                                                                                   "micropython")))
TLS_DIR = os.path.join(ROOT, "bench", "tls")
CLIENT_TIMEOUT_S = 30.0
MARK_TIMEOUT_S = 5.0


def build_c(name, source, shared=False, libs=()):
    """cc `source` into build/bench/`name` unless the output is newer."""
    out = os.path.join(BENCH_BUILD, name)
    if not os.path.exists(out) or os.path.getmtime(source) > os.path.getmtime(out):
        os.makedirs(BENCH_BUILD, exist_ok=True)
        flags = ["-shared", "-fPIC"] if shared else []
        subprocess.check_call(["cc", "-O2", "-Wall", "-Wextra", *flags, "-o", out, source, *libs])
    return out


def mbedtls_sizes():
    probe = build_c("mbedtls_sizes", os.path.join(TLS_DIR, "mbedtls_sizes.c"))
    out = subprocess.run([probe], capture_output=True, text=True, timeout=10, check=True).stdout
    return {key: int(value) for key, value in (line.split() for line in out.splitlines())}


class ClientRun:
    """One client process: its marks {name: (gc_bytes, c_heap_bytes)}, CONNECT_US values, USED
    values (mongoose.memory()["used"]), the mbedTLS version line and a SKIP reason if any."""

    def __init__(self, argv, preload):
        self.argv = argv
        self.marks = {}
        self.connect_us = []
        self.used = []
        self.version = None
        self.cipher = None
        self.skip = None
        self.stdout_lines = []
        self.stderr_lines = []
        env = dict(os.environ, LD_PRELOAD=preload)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, bufsize=0)
        try:
            self._talk()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=5)
            for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                stream.close()
        if self.skip is None and (self.proc.returncode != 0 or not {"before", "after"} <= set(self.marks)):
            raise RuntimeError(f"{' '.join(argv)} failed (exit {self.proc.returncode}):\n" + self.output())

    def output(self):
        return "stdout:\n" + "\n".join(self.stdout_lines) + "\nstderr:\n" + "\n".join(self.stderr_lines)

    def _talk(self):
        selector = selectors.DefaultSelector()
        buffers = {self.proc.stdout: b"", self.proc.stderr: b""}
        for stream in buffers:
            selector.register(stream, selectors.EVENT_READ)
        deadline = time.monotonic() + CLIENT_TIMEOUT_S
        waiting = None  # (mark name, gc bytes, deadline) while the C heap figure is awaited
        while buffers:
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError(f"{' '.join(self.argv)} did not finish within {CLIENT_TIMEOUT_S} s:\n"
                                   + self.output())
            if waiting is not None and now > waiting[2]:
                raise RuntimeError(f"no CHEAP line after MARK {waiting[0]}:\n" + self.output())
            for key, _ in selector.select(timeout=0.1):
                stream = key.fileobj
                data = os.read(stream.fileno(), 65536)
                if not data:
                    selector.unregister(stream)
                    del buffers[stream]
                    continue
                buffers[stream] += data
                *lines, buffers[stream] = buffers[stream].split(b"\n")
                for raw in lines:
                    line = raw.decode(errors="replace")
                    if stream is self.proc.stdout:
                        self.stdout_lines.append(line)
                        waiting = self._stdout_line(line) or waiting
                    else:
                        self.stderr_lines.append(line)
                        if line.startswith("CHEAP ") and waiting is not None:
                            name, gc_bytes, _ = waiting
                            self.marks[name] = (gc_bytes, int(line.split()[1]))
                            waiting = None
                            self.proc.stdin.write(b"\n")

    def _stdout_line(self, line):
        words = line.split()
        if not words:
            return None
        if words[0] == "MARK":
            self.proc.send_signal(signal.SIGUSR1)
            return (words[1], int(words[2]), time.monotonic() + MARK_TIMEOUT_S)
        if words[0] == "CONNECT_US":
            self.connect_us.append(int(words[1]))
        elif words[0] == "USED":
            self.used.append(int(words[1]))
        elif words[0] == "VERSION":
            self.version = line.split(None, 1)[1]
        elif words[0] == "CIPHER":
            self.cipher = line.split(None, 1)[1]
        elif words[0] == "SKIP":
            self.skip = line.split(None, 1)[1]
        return None

    def per_connection(self, count, end="after"):
        (gc0, c0), (gc1, c1) = self.marks["before"], self.marks[end]
        return (c1 - c0) / count, (gc1 - gc0) / count


def measure(argv_for, count, runs, preload, end="after"):
    """Medians over `runs` processes: C heap, GC heap and total per connection, connect ms, the
    module's own count per connection (or None) and the mbedTLS version; or a SKIP reason."""
    c_heap, gc_heap, total, connect_ms, used = [], [], [], [], []
    version = cipher = None
    for _ in range(runs):
        result = ClientRun(argv_for(count), preload)
        if result.skip is not None:
            return {"skip": result.skip}
        c, g = result.per_connection(count, end)
        c_heap.append(c)
        gc_heap.append(g)
        total.append(c + g)
        connect_ms += [us / 1000 for us in result.connect_us]
        if len(result.used) >= 2:
            used.append((result.used[-1 if end == "idle" else 1] - result.used[0]) / count)
        version = result.version or version
        cipher = result.cipher or cipher
    return {"c": statistics.median(c_heap), "gc": statistics.median(gc_heap), "total": statistics.median(total),
            "total_range": (min(total), max(total)), "ms": statistics.median(connect_ms),
            "used": statistics.median(used) if used else None, "version": version, "cipher": cipher}


def row(label, count, figures):
    if "skip" in figures:
        return f"{label:<52} {count:>5}  skipped: {figures['skip']}"
    low, high = figures["total_range"]
    used = "" if figures["used"] is None else f"   memory()['used'] {figures['used']:,.0f}"
    return (f"{label:<52} {count:>5} {figures['c']:>9,.0f} {figures['gc']:>9,.0f} {figures['total']:>9,.0f}"
            f" ({low:,.0f}-{high:,.0f}) {figures['ms']:>8.1f}{used}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=4, help="connections open at once for the average")
    args = parser.parse_args()
    for binary in (SSL_MICROPYTHON, MICROPYTHON):
        if not os.path.exists(binary):
            sys.exit(f"{binary} not found (make ssl-micropython / make build)")
    preload = build_c("malloc_count.so", os.path.join(TLS_DIR, "malloc_count.c"), shared=True)
    sizes = mbedtls_sizes()

    with tempfile.TemporaryDirectory(prefix="tls-ram-") as tmp:
        pki = make_pki(os.path.join(tmp, "pki"))
        tls_broker = Broker(os.path.join(tmp, "tls-broker"),
                            tls={"certfile": pki.server, "keyfile": pki.server_key}).start()
        plain_broker = Broker(os.path.join(tmp, "plain-broker")).start()
        try:
            def mbedtls(contexts):
                return lambda count: [SSL_MICROPYTHON, os.path.join(TLS_DIR, "mbedtls_client.py"), str(tls_broker.port),
                                      str(pki.ca), str(count), contexts]

            def module(*extra, broker=tls_broker):
                return lambda count: [MICROPYTHON, os.path.join(TLS_DIR, "module_client.py"), str(broker.port),
                                      str(pki.ca), str(count), *extra]

            n = args.count
            results = {
                ("mbedtls", 1): measure(mbedtls("each"), 1, args.runs, preload),
                ("mbedtls", n): measure(mbedtls("each"), n, args.runs, preload),
                ("mbedtls-shared", n): measure(mbedtls("shared"), n, args.runs, preload),
                ("module", 1): measure(module(), 1, args.runs, preload),
                ("module", n): measure(module(), n, args.runs, preload),
                ("module-idle", 1): measure(module("idle"), 1, args.runs, preload, end="idle"),
                ("module-idle", n): measure(module("idle"), n, args.runs, preload, end="idle"),
                ("module-plain", 1): measure(module("plain", broker=plain_broker), 1, args.runs, preload),
                ("module-plain", n): measure(module("plain", broker=plain_broker), n, args.runs, preload),
            }
        finally:
            tls_broker.stop()
            plain_broker.stop()

    version = results[("mbedtls", 1)]["version"] or "mbed TLS ?"
    mbed_label = f"MicroPython ssl ({version})"
    print(f"TLS RAM per MQTT connection after CONNACK (Mosquitto TLS listener on 127.0.0.1, EC P-256 server "
          f"certificate, CA verified, median of {args.runs} runs)")
    print("  C heap: live libc heap bytes (LD_PRELOAD counter, malloc_usable_size); GC heap: gc.mem_alloc();")
    print("  per connection = (after last CONNACK - before first connection) / connections; connect: TCP+TLS+MQTT")
    print(f"{'client':<52} {'conns':>5} {'C heap':>9} {'GC heap':>9} {'total':>9} {'(min-max)':<15} {'conn ms':>8}")
    print(row(mbed_label + ", SSLContext each", 1, results[("mbedtls", 1)]))
    print(row(mbed_label + ", SSLContext each", n, results[("mbedtls", n)]))
    print(row(mbed_label + ", one SSLContext", n, results[("mbedtls-shared", n)]))
    print(row("mongoose (built-in TLS)", 1, results[("module", 1)]))
    print(row("mongoose (built-in TLS)", n, results[("module", n)]))
    print(row("mongoose (built-in TLS), then idle 1.5 s", 1, results[("module-idle", 1)]))
    print(row("mongoose (built-in TLS), then idle 1.5 s", n, results[("module-idle", n)]))
    print(row("mongoose (plain MQTT, reference)", 1, results[("module-plain", 1)]))
    print(row("mongoose (plain MQTT, reference)", n, results[("module-plain", n)]))
    comparisons = ((1, ("mbedtls", 1), "1 connection, SSLContext each (the issue's baseline)"),
                   (n, ("mbedtls", n), f"{n} connections, SSLContext each"),
                   (n, ("mbedtls-shared", n), f"{n} connections, one SSLContext"))
    for count, key, text in comparisons:
        for state, module in (("after CONNACK", results[("module", count)]),
                              ("idle", results[("module-idle", count)])):
            mbed = results[key]
            if "skip" in module:
                print(f"ratio mongoose ({state}) / MicroPython ssl, {text}: n/a (the module's TLS was skipped)")
            else:
                print(f"ratio mongoose ({state}) / MicroPython ssl, {text}: {module['total'] / mbed['total']:.2f} "
                      f"of total RAM (target: at most 0.50)")
    print(f"  mbedTLS configuration (Debian's): record buffers {sizes['in_content_len']} + "
          f"{sizes['out_content_len']} B per connection (C heap); each SSLContext embeds an entropy context of "
          f"{sizes['entropy_context']:,} B (GC heap){' (HAVEGE enabled)' if sizes['havege'] else ''}, "
          "counted per connection in the 'each' rows.")
    print(f"  mbedTLS negotiated with this broker: {results[('mbedtls', 1)]['cipher']} (Mosquitto allows TLS 1.2 "
          "and 1.3; mbedTLS 2.x speaks 1.2).")


if __name__ == "__main__":
    main()
