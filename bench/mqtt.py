"""pythongoose MQTT benchmarks, called at the end of bench/run.py (or alone, for a quick look):

  MICROPYTHON=build/unix/micropython .venv/bin/python bench/mqtt.py [--runs N] [--m1 N] [--m2 N]

M1: one client subscribes to bench/t and publishes 20 000 x 64 B messages to it (QoS 0; M1q1 and
M1q2 the same at QoS 1 / QoS 2 on both sides), polling after each publish: messages per second from
the first publish to the last receive, and losses (received vs sent; a run ends when everything
is back or after 2 s without progress). M2: 5 000 QoS 1 publishes to a topic nobody subscribes to,
until every PUBACK is in. Clients: (a) this module, (b) chumicro-mqtt (pure Python, PyPI) on the
same interpreter, (c) Mosquitto's own C clients (mosquitto_sub -C N + mosquitto_pub -l fed N lines
of 64 bytes). Also MicroPython heap bytes per received message (gc disabled, 2 000 messages).
The broker is a throwaway Mosquitto on 127.0.0.1 with its defaults (queueing limits included); M1
and M2 are repeated for (a) and (c) on a second one with set_tcp_nodelay true, which shows what the
broker holding back the last packets of a burst for a delayed ACK (~40 ms) costs. Each figure is
the median of the runs with min-max; every wait is bounded.
"""

import argparse
import itertools
import os
import re
import resource
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

from run import BENCH_BUILD, MICROPYTHON, ROOT, free_port, summary, wait_for_port

MOSQUITTO = "/usr/sbin/mosquitto"
# The pure-Python client and the two packages it imports (its third dependency, chumicro-config,
# is only needed by MQTTClient.from_config, which the bench does not use).
CHUMICRO = (("chumicro-mqtt", "0.30.3"), ("chumicro-sockets", "0.21.3"), ("chumicro-timing", "0.8.4"))
TOPIC = "bench/t"
NOSUB_TOPIC = "bench/nosub"
PAYLOAD_SIZE = 64
IDLE_S = 2.0
M1_COUNT = 20000
M2_COUNT = 5000
HEAP_COUNT = 2000
HEAP_WARMUP = 100  # as in the scripts
# Everything not listed keeps Mosquitto's defaults (max_inflight_messages 20,
# max_queued_messages 1000, ...). The log lines only tell the bench when a subscription is in.
BROKER_CONF = ["listener {port} 127.0.0.1", "allow_anonymous true", "persistence false"]
NODELAY_CONF = ["set_tcp_nodelay true"]
BROKER_LOG_CONF = ["log_dest stderr", "log_type error", "log_type warning", "log_type subscribe"]
# mosquitto_pub -l sleeps 100 ms while waiting for CONNACK and 100 ms after the end of its input
# (it polls for the last acknowledgement every 100 ms); for the "net" figure those sleeps are cut
# to 1 ms by this preloaded shim, nothing else changes.
FASTSLEEP_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <time.h>

int nanosleep(const struct timespec *req, struct timespec *rem) {
    static int (*real)(const struct timespec *, struct timespec *);
    struct timespec t = *req;
    if (!real) real = (int (*)(const struct timespec *, struct timespec *)) dlsym(RTLD_NEXT, "nanosleep");
    if (t.tv_sec == 0 && t.tv_nsec == 100000000) t.tv_nsec = 1000000;
    return real(&t, rem);
}
"""

NAMES = {"module": "(a) mongoose module", "chumicro": "(b) chumicro-mqtt %s" % CHUMICRO[0][1],
         "cli": "(c) mosquitto_sub+_pub", "cli_net": "(c) arrival span at sub",
         "ceiling": "(d) broker ceiling", "cli_m2": "(c) mosquitto_pub -q 1", "cli_m2_net": "(c) same, 1 ms polls"}
TESTS = (("M1", 0), ("M1q1", 1), ("M1q2", 2), ("M2", 1))


# ---------------------------------------------------------------------------------------------
# Preparation


def fetch_chumicro():
    target = os.path.join(BENCH_BUILD, "chumicro-mqtt-" + CHUMICRO[0][1])
    if not os.path.isdir(os.path.join(target, "chumicro_timing")):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp]
                                  + ["%s==%s" % p for p in CHUMICRO])
            for wheel in sorted(f for f in os.listdir(tmp) if f.endswith(".whl")):
                with zipfile.ZipFile(os.path.join(tmp, wheel)) as z:
                    z.extractall(target)
    return target


def build_fastsleep():
    out = os.path.join(BENCH_BUILD, "fastsleep.so")
    if not os.path.exists(out):
        os.makedirs(BENCH_BUILD, exist_ok=True)
        src = os.path.join(BENCH_BUILD, "fastsleep.c")
        with open(src, "w") as f:
            f.write(FASTSLEEP_C)
        subprocess.check_call(["cc", "-O2", "-shared", "-fPIC", "-o", out, src, "-ldl"])
    return out


def payload_lines(count):
    path = os.path.join(BENCH_BUILD, "mqtt_lines_%d.txt" % count)
    if not os.path.exists(path):
        os.makedirs(BENCH_BUILD, exist_ok=True)
        with open(path, "w") as f:
            for i in range(count):
                f.write("%0*d\n" % (PAYLOAD_SIZE, i))
    return path


def mosquitto_version():
    out = subprocess.run([MOSQUITTO, "-h"], capture_output=True, text=True).stdout
    match = re.search(r"version (\S+)", out)
    return match.group(1) if match else "?"


class Broker:
    """With tls=(certfile, keyfile) the listener speaks TLS (the module's clients then connect to
    mqtts://, the CA file in BENCH_MQTT_CA of their environment: bench/tls.py)."""

    def __init__(self, extra_conf=(), tls=None):
        self.scheme = "mqtts" if tls else "mqtt"
        if tls:
            extra_conf = ["certfile %s" % tls[0], "keyfile %s" % tls[1]] + list(extra_conf)
        self.port = free_port()
        self.dir = tempfile.TemporaryDirectory()
        conf = os.path.join(self.dir.name, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("\n".join(BROKER_CONF + list(extra_conf) + BROKER_LOG_CONF).format(port=self.port) + "\n")
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([MOSQUITTO, "-c", conf], stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.proc)

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def wait_for_subscription(self, client_id, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(r"^\d+: %s \d %s$" % (re.escape(client_id), TOPIC), self.output(), re.M):
                return
            time.sleep(0.01)
        raise RuntimeError("%s did not subscribe:\n%s" % (client_id, self.output()[-2000:]))

    def cpu(self):
        with open("/proc/%d/schedstat" % self.proc.pid) as f:  # nanoseconds on a CPU
            return int(f.read().split()[0]) / 1e9

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.dir.cleanup()


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_mark(broker):
    return children_cpu(), broker.cpu()


def cpu_per_message(broker, mark, count):
    """CPU seconds since mark of the clients (waited-for children) and of the broker, in µs/msg."""
    return {"cpu_us": (children_cpu() - mark[0]) * 1e6 / max(count, 1),
            "broker_us": (broker.cpu() - mark[1]) * 1e6 / max(count, 1)}


# ---------------------------------------------------------------------------------------------
# MicroPython clients


def mpy_argv(kind, broker, mode, count, qos=None, heap=False):
    script = os.path.join(ROOT, "bench", "servers", "mqtt_%s.py" % kind)
    target = ["%s://127.0.0.1:%d" % (broker.scheme, broker.port)] if kind == "module" else ["127.0.0.1", str(broker.port)]
    return ([MICROPYTHON] + (["-X", "heapsize=64M"] if heap else []) + [script, mode] + target
            + [str(count)] + ([str(qos)] if qos is not None else []))


def parse_result(text):
    match = re.search(r"^result (.*)$", text, re.M)
    if not match:
        return None
    return {k: float(v) for k, v in (item.split("=") for item in match.group(1).split())}


def run_mpy_client(kind, broker, test, qos, count, env):
    mode = "m2" if test == "M2" else "m1"
    mark = cpu_mark(broker)
    proc = subprocess.run(mpy_argv(kind, broker, mode, count, None if mode == "m2" else qos),
                          capture_output=True, text=True, timeout=360, env=env)
    result = parse_result(proc.stdout)
    if result is None or proc.returncode != 0:
        raise RuntimeError("%s %s: exit %s\n%s%s" % (kind, test, proc.returncode, proc.stdout, proc.stderr))
    done = result["delivered"] if mode == "m2" else result["received"]
    return dict(cpu_per_message(broker, mark, done), rate=done / (result["us"] / 1e6), sent=result["sent"],
                done=done, failures=result["failures"] + result["pending"])


def measure_heap(kind, broker, env):
    proc = subprocess.Popen(mpy_argv(kind, broker, "heap", HEAP_COUNT, heap=True), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env)
    output = b""
    try:
        deadline = time.monotonic() + 60
        published = False
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.1)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                output += chunk
            if b"ready" in output and not published:
                with open(payload_lines(HEAP_WARMUP + HEAP_COUNT)) as lines:
                    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", TOPIC,
                                    "-l"], stdin=lines, timeout=60, check=True)
                published = True
        result = parse_result(output.decode(errors="replace"))
        if not result or "heap_per_message" not in result:
            raise RuntimeError("%s did not report its heap use:\n%s" % (kind, output.decode(errors="replace")))
        return result["heap_per_message"]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


# ---------------------------------------------------------------------------------------------
# Mosquitto's command-line clients


def run_cli_m1(broker, qos, count, run_id):
    """mosquitto_sub -C N, then mosquitto_pub -l fed N lines; from pub start to sub exit, and the
    span of arrival times mosquitto_sub printed (-F %U), which leaves out mosquitto_pub's start."""
    sub_id = "cli-sub-%d" % run_id
    port = str(broker.port)
    out = tempfile.TemporaryFile()
    mark = cpu_mark(broker)
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", port, "-t", TOPIC, "-q", str(qos),
                            "-C", str(count), "-F", "%U", "-i", sub_id], stdout=out, stderr=subprocess.STDOUT)
    pub = None
    try:
        broker.wait_for_subscription(sub_id)
        lines = open(payload_lines(count))
        start = time.monotonic()
        pub = subprocess.Popen(["mosquitto_pub", "-h", "127.0.0.1", "-p", port, "-t", TOPIC, "-q", str(qos), "-l",
                                "-i", "cli-pub-%d" % run_id], stdin=lines, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        lines.close()
        stalled = threading.Event()

        def watchdog():  # ends mosquitto_sub when messages stop coming (it waits for N otherwise)
            size, last_change, hard_deadline = -1, time.monotonic(), time.monotonic() + 300
            while sub.poll() is None:
                now = time.monotonic()
                new_size = os.fstat(out.fileno()).st_size
                if new_size != size:
                    size, last_change = new_size, now
                if (pub.poll() is not None and now - last_change > IDLE_S) or now > hard_deadline:
                    stalled.set()
                    sub.terminate()  # it flushes its output and exits; SIGKILL if it does not
                    for _ in range(20):
                        if sub.poll() is not None:
                            return
                        time.sleep(0.1)
                    sub.kill()
                    return
                time.sleep(0.1)

        thread = threading.Thread(target=watchdog, daemon=True)
        thread.start()
        sub.wait()
        end = time.monotonic()
        thread.join()
        pub.wait(30)
        out.seek(0)
        stamps = [float(line) for line in out.read().split() if re.match(rb"^\d+\.\d+$", line)]
        received = len(stamps)
        result = dict(cpu_per_message(broker, mark, received), sent=count, done=received, failures=0,
                      rate=None if stalled.is_set() else received / (end - start))
        net = dict(result)
        net["rate"] = (received - 1) / (stamps[-1] - stamps[0]) if received > 1 else 0.0
        return result, net
    finally:
        for proc in (sub, pub):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        out.close()


def time_cli_pub(broker, count, run_id, preload=None):
    env = dict(os.environ, LD_PRELOAD=preload) if preload else None
    with open(payload_lines(count)) as lines:
        mark = cpu_mark(broker)
        start = time.monotonic()
        proc = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", NOSUB_TOPIC,
                               "-q", "1", "-l", "-i", "cli-m2-%d" % run_id], stdin=lines, capture_output=True,
                              timeout=120, env=env)
        elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise RuntimeError("mosquitto_pub exit %d: %s" % (proc.returncode, proc.stderr))
    return elapsed, cpu_per_message(broker, mark, count)


def run_cli_m2(broker, count, run_id, base_net):
    """mosquitto_pub -l -q 1 (exits once the last PUBACK is in), from start to exit; and the same
    with its 100 ms polling sleeps cut to 1 ms, less its time for a single line (start, connect)."""
    elapsed, cpu = time_cli_pub(broker, count, run_id)
    result = dict(cpu, rate=count / elapsed, sent=count, done=count, failures=0)
    elapsed_net, cpu = time_cli_pub(broker, count, run_id, build_fastsleep())
    net = dict(cpu, rate=(count - 1) / max(elapsed_net - base_net, 1e-6), sent=count, done=count, failures=0)
    return result, net


# ---------------------------------------------------------------------------------------------
# The broker's own ceiling


def mqtt_packet(first_byte, body):
    """One MQTT packet: fixed header (remaining length as a varint) then body."""
    length, header = len(body), bytearray([first_byte])
    while True:
        byte, length = length % 128, length // 128
        header.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(header) + body


def mqtt_string(text):
    return len(text).to_bytes(2, "big") + text


def run_ceiling(broker, count, run_id):
    """What the broker can relay through one connection when the client costs nothing per
    message: a raw socket sends CONNECT and SUBSCRIBE bench/t (QoS 0), then all COUNT PUBLISH
    packets pre-encoded in one sendall (a thread), while the main thread reads the echo in 1 MiB
    recv calls until every byte is back (acknowledging at once when the link is quiet for 2 ms).
    A measured ceiling, not a proof: it varies from run to run like every other figure here."""
    with socket.create_connection(("127.0.0.1", broker.port), timeout=30) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client_id = b"ceiling-%d" % run_id
        s.sendall(mqtt_packet(0x10, mqtt_string(b"MQTT") + b"\x04\x02\x00\x3c" + mqtt_string(client_id)))
        if s.recv(4)[:1] != b"\x20":
            raise RuntimeError("ceiling client: no CONNACK")
        s.sendall(mqtt_packet(0x82, b"\x00\x01" + mqtt_string(TOPIC.encode()) + b"\x00"))
        if s.recv(5)[:1] != b"\x90":
            raise RuntimeError("ceiling client: no SUBACK")
        burst = mqtt_packet(0x30, mqtt_string(TOPIC.encode()) + b"x" * PAYLOAD_SIZE) * count
        mark = cpu_mark(broker)
        start = time.monotonic()
        writer = threading.Thread(target=s.sendall, args=(burst,), daemon=True)
        writer.start()
        received = 0
        while received < len(burst):
            if not select.select([s], [], [], 0.002)[0]:
                # Quiet for 2 ms: acknowledge now, or the broker (Nagle on) may hold its last
                # packets until Linux's delayed ACK (~40 ms), which is not the broker's speed.
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
                continue
            chunk = s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("ceiling client: the broker closed the connection")
            received += len(chunk)
        elapsed = time.monotonic() - start
        writer.join(5)
    return dict(cpu_per_message(broker, mark, count), rate=count / elapsed, sent=count, done=count, failures=0)


# ---------------------------------------------------------------------------------------------


def measure_set(broker, runs, tests, kinds, counts, env_for, ids, errors):
    """Every (test, client) pair once per run, the runs interleaved; rows keyed (test, name)."""
    results = {}
    base_net = statistics.median(time_cli_pub(broker, 1, next(ids), build_fastsleep())[0] for _ in range(3))
    for run in range(runs):
        for test, qos in tests:
            count = counts[test == "M2"]
            for kind in kinds:
                if kind == "chumicro" and qos == 2:
                    continue  # chumicro-mqtt raises UnsupportedQoSError for QoS 2
                if kind == "ceiling" and test != "M1":
                    continue
                run_id = next(ids)
                try:
                    if kind == "ceiling":
                        rows = [(kind, run_ceiling(broker, count, run_id))]
                    elif kind == "cli" and test == "M2":
                        rows = zip(("cli_m2", "cli_m2_net"), run_cli_m2(broker, count, run_id, base_net))
                    elif kind == "cli":
                        rows = zip(("cli", "cli_net"), run_cli_m1(broker, qos, count, run_id))
                    else:
                        rows = [(kind, run_mpy_client(kind, broker, test, qos, count, env_for[kind]))]
                    for name, row in rows:
                        results.setdefault((test, name), []).append(row)
                except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                    errors.append("%s %s run %d: %s" % (test, kind, run + 1, str(e).strip()[:600]))
    return results


def measure_mqtt(runs, m1_count=M1_COUNT, m2_count=M2_COUNT):
    env_for = {"module": None, "chumicro": dict(os.environ, MICROPYPATH=fetch_chumicro() + ":.frozen")}
    errors = []
    ids = itertools.count(1)  # client ids stay unique: the broker log is searched by id
    counts = (m1_count, m2_count)
    broker = Broker()
    try:
        results = measure_set(broker, runs, TESTS, ("module", "chumicro", "cli", "ceiling"), counts, env_for, ids, errors)
        heap = {}
        for kind in ("module", "chumicro"):
            try:
                heap[kind] = measure_heap(kind, broker, env_for[kind])
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                errors.append("heap %s: %s" % (kind, str(e).strip()[:600]))
    finally:
        broker.stop()
    # The same M1 and M2 with Nagle off for the broker's writes: shows what the end-of-burst stall
    # (last few packets held by the broker until a delayed ACK, ~40 ms on Linux) costs each client.
    broker = Broker(NODELAY_CONF)
    try:
        nodelay = measure_set(broker, runs, (TESTS[0], TESTS[3]), ("module", "cli"), counts, env_for, ids, errors)
    finally:
        broker.stop()
    return {"runs": runs, "m1": m1_count, "m2": m2_count, "results": results, "nodelay": nodelay,
            "heap": heap, "errors": errors}


def print_rows(results, tests, names_for):
    medians = {}
    for test, qos in tests:
        for name in names_for(test):
            rows = results.get((test, name))
            if not rows:
                if name == "chumicro" and qos == 2:
                    print("%-6s %-26s %s" % (test, NAMES[name], "n/a: the library has QoS 0 and 1 only"))
                continue
            rates = [r["rate"] for r in rows if r["rate"] is not None]
            rate_text, rate = summary(rates) if rates else ("— (stalled: messages lost)", None)
            if len(rates) < len(rows) and rates:
                rate_text += " [%d of %d runs]" % (len(rates), len(rows))
            medians[(test, name)] = rate
            worst = min(rows, key=lambda r: r["done"] / max(r["sent"], 1))
            loss = "%d/%d" % (worst["done"], worst["sent"])
            bad = sum(r["done"] != r["sent"] or r["failures"] > 0 for r in rows)
            loss += " LOSS/fail in %d/%d runs" % (bad, len(rows)) if bad else " (no loss)"
            cpu_text, _ = summary([r["cpu_us"] for r in rows], "{:.1f}")
            broker_text, _ = summary([r["broker_us"] for r in rows], "{:.1f}")
            print("%-6s %-26s %-34s %-35s %-17s %s" % (test, NAMES[name], rate_text, loss, cpu_text, broker_text))
    return medians


def print_mqtt(data):
    results = data["results"]
    print("MQTT (Mosquitto %s on 127.0.0.1, config: %s; all else default, e.g. max_inflight_messages 20,"
          % (mosquitto_version(), ", ".join(c.format(port="PORT") for c in BROKER_CONF)))
    print("      max_queued_messages 1000, set_tcp_nodelay false. 64 B payloads; M1* %d messages, M2 %d;"
          " median (min–max) of %d runs)" % (data["m1"], data["m2"], data["runs"]))
    header = "%-6s %-26s %-34s %-35s %-17s %s" % ("test", "client", "msgs/s", "received/sent (worst run)",
                                                    "client CPU µs/msg", "broker CPU µs/msg")
    print(header)

    def names_for(test):
        return ("module", "chumicro", "cli_m2", "cli_m2_net") if test == "M2" else ("module", "chumicro", "cli",
                                                                                    "cli_net", "ceiling")
    medians = print_rows(results, TESTS, names_for)
    print("  (c) M1 rows: from mosquitto_pub start to mosquitto_sub exit (as specified; mosquitto_pub -l sleeps")
    print("      100 ms for CONNACK when it is not in yet, so some runs include it), then the first-to-last arrival")
    print("      span that mosquitto_sub printed (-F %U). At QoS 1/2 the pub is not slowed by the sub: the broker")
    print("      drops what exceeds its queue for the sub, the run stalls and is cut after 2 s without progress.")
    print("  (c) M2 rows: mosquitto_pub start to exit (includes its 100 ms end-of-input poll, and the 100 ms CONNACK")
    print("      poll when CONNACK is not in yet), then with those polls cut to 1 ms (LD_PRELOAD nanosleep shim),")
    print("      less its time for 1 line.")
    print("  (d) M1 row: a raw socket on the bench's own interpreter (not a MicroPython client) writes all the")
    print("      PUBLISH packets in one go and reads the echo in bulk: the most this broker relays through one")
    print("      connection in this run.")
    print("  CPU: user+sys of the whole client process(es), start and connect included; the broker's CPU time")
    print("      (/proc/PID/schedstat) over the same span, per message received (M1) or acknowledged (M2).")
    print()
    print("The same with set_tcp_nodelay true on the broker (its last packets of a burst are not held back")
    print("for a delayed ACK, ~40 ms):")
    print(header)
    nd = print_rows(data["nodelay"], (TESTS[0], TESTS[3]),
                    lambda test: ("module", "cli_m2_net") if test == "M2" else ("module", "cli_net"))
    print()

    def ratio(table, a, b):
        return table[a] / table[b] if table.get(a) and table.get(b) else float("nan")

    def lossless(test, name):
        rows = results.get((test, name)) or []
        return bool(rows) and all(r["done"] == r["sent"] and not r["failures"] for r in rows)

    yes = {True: "yes", False: "NO"}
    print("Targets (ratios of medians):")
    print("  M1   (a)/(c) = %.2f as specified, %.2f vs arrival span (target ≥ 1.8; with nodelay broker %.2f);"
          " zero loss (a): %s; (a)/(b) = %.1f×" % (
              ratio(medians, ("M1", "module"), ("M1", "cli")), ratio(medians, ("M1", "module"), ("M1", "cli_net")),
              ratio(nd, ("M1", "module"), ("M1", "cli_net")), yes[lossless("M1", "module")],
              ratio(medians, ("M1", "module"), ("M1", "chumicro"))))
    busy = [r["broker_us"] * r["rate"] / 1e6 for r in results.get(("M1", "module"), []) if r["rate"]]
    print("  M1   ceiling (d)/(c) = %.2f as specified, %.2f vs arrival span: what a client doing no per-message work"
          " reaches with this broker; it was busy %s of the wall time during (a)" % (
              ratio(medians, ("M1", "ceiling"), ("M1", "cli")), ratio(medians, ("M1", "ceiling"), ("M1", "cli_net")),
              "%.0f%%" % (100 * statistics.median(busy)) if busy else "?"))
    print("  M1q1 zero loss (a): %s; M1q2 zero loss (a): %s" % (yes[lossless("M1q1", "module")],
                                                               yes[lossless("M1q2", "module")]))
    print("  M2   (a)/(c) = %.2f as specified, %.2f vs 1 ms polls (target ≥ 1.0; with nodelay broker %.2f);"
          " (a)/(b) = %.1f×" % (
              ratio(medians, ("M2", "module"), ("M2", "cli_m2")),
              ratio(medians, ("M2", "module"), ("M2", "cli_m2_net")),
              ratio(nd, ("M2", "module"), ("M2", "cli_m2_net")), ratio(medians, ("M2", "module"), ("M2", "chumicro"))))
    print()
    heap = data["heap"]
    print("MicroPython heap bytes per received message (gc disabled, %d QoS 0 messages, -X heapsize=64M)" % HEAP_COUNT)
    for kind in ("module", "chumicro"):
        print("  %-30s %s" % (NAMES[kind], "%.0f" % heap[kind] if kind in heap else "failed"))
    print()
    print("(b) is chumicro-mqtt %s with chumicro-sockets %s and chumicro-timing %s from PyPI (pip download --no-deps,"
          % (CHUMICRO[0][1], CHUMICRO[1][1], CHUMICRO[2][1]))
    print("    unzipped into build/bench/, MICROPYPATH=<dir>:.frozen), driven by its own non-blocking handle() loop.")
    print("    Not aiomqttc 1.0.7: on the unix port its connect() fails (NameError: TimeoutError, no such builtin")
    print("    in MicroPython; with that defined, every log() raises AttributeError: no machine.RTC on unix).")
    for error in data["errors"]:
        print("ERROR", error)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--m1", type=int, default=M1_COUNT)
    parser.add_argument("--m2", type=int, default=M2_COUNT)
    args = parser.parse_args()
    print_mqtt(measure_mqtt(max(args.runs, 1), args.m1, args.m2))


if __name__ == "__main__":
    main()
