"""pythongoose benchmarks: one command, one run, the same binary; prints a table.

  MICROPYTHON=build/unix/micropython .venv/bin/python bench/run.py [--runs N] [--duration S]

H1: wrk -t1 -c16 --latency GET /api/epname with Basic auth; H2: POST of a 1 KiB body (handler
returns its length). Servers: (a) this module, (b) microdot 2.7.0 (PyPI) on the same interpreter,
(c) a C-only server on the same Mongoose (the limit: no Python). Each figure is the median of the
runs with min-max. Also: MicroPython heap bytes per request (gc disabled, 1 000 requests) for
(a) and (b), and the text bytes the module adds to the binary, the Rust part shown separately.
Everything runs on 127.0.0.1, every loop is bounded.
"""

import argparse
import base64
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_BUILD = os.path.join(ROOT, "build", "bench")
MICROPYTHON = os.path.abspath(os.environ.get("MICROPYTHON", os.path.join(ROOT, "build", "unix", "micropython")))
MPY_DIR = os.path.join(ROOT, "third_party", "micropython")
MONGOOSE_DIR = os.path.join(ROOT, "third_party", "mongoose")
MICRODOT_VERSION = "2.7.0"
AUTH_HEADER = "Basic " + base64.b64encode(b"admin:istrator").decode()
POST_BODY = b"x" * 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited early with %s" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen on %d" % port)


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


# ---------------------------------------------------------------------------------------------
# Preparing the three servers and the plain binary


def build_c_server():
    out = os.path.join(BENCH_BUILD, "c_server")
    sources = [os.path.join(ROOT, "bench", "c_server.c"), os.path.join(MONGOOSE_DIR, "mongoose.c")]
    inputs = sources + [os.path.join(ROOT, "bench", "c_endpoint.h")]
    if not os.path.exists(out) or any(os.path.getmtime(s) > os.path.getmtime(out) for s in inputs):
        os.makedirs(BENCH_BUILD, exist_ok=True)
        # Same optimisation level and settings as the module's Mongoose (cc crate, opt-level "s";
        # build.rs's MONGOOSE_DEFINES but MG_ENABLE_CUSTOM_CALLOC: libc's allocator here).
        subprocess.check_call(["cc", "-Os", "-std=gnu99", "-DMG_ENABLE_LOG=0", "-DMG_TLS=MG_TLS_BUILTIN",
                               "-I", MONGOOSE_DIR, "-o", out] + sources)
    return out


def fetch_microdot():
    target = os.path.join(BENCH_BUILD, "microdot-" + MICRODOT_VERSION)
    if not os.path.isdir(os.path.join(target, "microdot")):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.check_call([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp,
                                   "microdot==" + MICRODOT_VERSION])
            wheel = [f for f in os.listdir(tmp) if f.endswith(".whl")][0]
            with zipfile.ZipFile(os.path.join(tmp, wheel)) as z:
                z.extractall(target)
    return target


def build_micropython_variant(name, make_args=()):
    """The same unix variant built into build/<name> (with other module settings)."""
    build = os.path.join(ROOT, "build", name)
    subprocess.check_call(["make", "-s", "-C", os.path.join(MPY_DIR, "ports", "unix"), "-j2",
                           "VARIANT_DIR=" + os.path.join(ROOT, "mpy", "unix-variant"), "BUILD=" + build]
                          + list(make_args), stdout=subprocess.DEVNULL)
    return os.path.join(build, "micropython")


def build_plain_micropython():
    """Without the module, for the text-size difference."""
    return build_micropython_variant("unix-plain")


def build_http_only_micropython():
    """The module without MQTT (cargo feature `mqtt` off, shim PYTHONGOOSE_MQTT=0), its other
    features on."""
    target_dir = os.path.join(ROOT, "build", "target-http")
    subprocess.check_call(["cargo", "build", "-q", "--profile", "unix", "--lib", "--no-default-features", "--features",
                           "mongoose,web,tls", "--target-dir", target_dir], cwd=ROOT)
    usermods = os.path.join(ROOT, "build", "usermods-http")
    os.makedirs(usermods, exist_ok=True)
    link = os.path.join(usermods, "pythongoose")
    if not os.path.islink(link):
        os.symlink(ROOT, link)
    return build_micropython_variant("unix-http", [
        "USER_C_MODULES=" + usermods, "PYTHONGOOSE_MQTT=0",
        "PYTHONGOOSE_LIB=" + os.path.join(target_dir, "unix", "libpythongoose.a")])


class Server:
    def __init__(self, kind, argv, env=None):
        self.kind = kind
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        full_env = dict(os.environ, **(env or {}))
        self.proc = subprocess.Popen([a.replace("{port}", str(self.port)) for a in argv],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=full_env)
        wait_for_port(self.port, self.proc)

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# Heap measurements run with the GC disabled: microdot needs room for 1 000 requests' garbage.
HEAP_ARGS = {False: [], True: ["-X", "heapsize=64M"]}


def server_argv(kind, heap=False):
    if kind in ("module", "module-route"):
        mode = ["heap-route" if kind == "module-route" else "heap"] if heap else []
        return [MICROPYTHON] + HEAP_ARGS[heap] + [os.path.join(ROOT, "bench", "servers", "module_server.py"),
                                                  "{port}"] + mode
    if kind == "microdot":
        return [MICROPYTHON] + HEAP_ARGS[heap] + [os.path.join(ROOT, "bench", "servers", "microdot_server.py"),
                                                  "{port}"] + (["heap"] if heap else [])
    return [build_c_server(), "http://127.0.0.1:{port}"]


# ---------------------------------------------------------------------------------------------
# HTTP load with wrk


def to_us(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)$", text).groups()
    return float(value) * {"us": 1, "ms": 1000, "s": 1e6, "m": 60e6}[unit]


def wrk(url, duration, extra_args=()):
    """wrk -t1 -c16 --latency with Basic auth against `url`: its figures (req/s, p50/p99 µs,
    requests), its socket errors by kind, its non-2xx count, and its output."""
    argv = ["wrk", "-t1", "-c16", "-d%ds" % duration, "--latency", "-H", "Authorization: " + AUTH_HEADER,
            *extra_args, url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30).stdout
    try:
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        total = int(re.search(r"(\d+) requests in", out).group(1))
        # The distribution's lines, not the "+/- Stdev" column (which can read e.g. 98.99%).
        p50 = to_us(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
        p99 = to_us(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    except (AttributeError, ValueError):
        raise RuntimeError("cannot read wrk's output:\n" + out)
    errors = dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if match:
        errors = dict(zip(("connect", "read", "write", "timeout"), map(int, match.groups())))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "requests": total, "errors": errors,
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "output": out}


def run_wrk(port, duration, lua=None):
    result = wrk("http://127.0.0.1:%d/api/epname" % port, duration, ["-s", lua] if lua else [])
    if result["non2xx"] or any(result["errors"].values()):
        raise RuntimeError("wrk saw errors:\n" + result["output"])
    return result


def post_lua():
    path = os.path.join(BENCH_BUILD, "post_1k.lua")
    os.makedirs(BENCH_BUILD, exist_ok=True)
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\nwrk.body = string.rep("x", 1024)\n'
                'wrk.headers["Content-Type"] = "application/octet-stream"\n')
    return path


def check_responses(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/api/epname", headers={"Authorization": AUTH_HEADER})
    get = conn.getresponse().read()
    conn.request("POST", "/api/epname", body=POST_BODY, headers={"Authorization": AUTH_HEADER})
    post = conn.getresponse().read()
    conn.close()
    if get.strip() != b"hello" or post.strip() != b"1024":
        raise RuntimeError("unexpected replies %r %r" % (get, post))


def measure_http(kind, runs, duration, env):
    server = Server(kind, server_argv(kind), env)
    try:
        check_responses(server.port)
        results = {"H1": [], "H2": []}
        for name, lua in (("H1", None), ("H2", post_lua())):
            for _ in range(runs):
                ticks_before = cpu_ticks(server.proc.pid)
                result = run_wrk(server.port, duration, lua)
                ticks = cpu_ticks(server.proc.pid) - ticks_before
                result["cpu_us"] = ticks / CLOCK_TICKS * 1e6 / max(result["requests"], 1)
                results[name].append(result)
        return results
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# Heap per request


def measure_heap(kind, method, env):
    server = Server(kind, server_argv(kind, heap=True), env)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        for _ in range(1100):  # the server reports after its 1 020th request
            if server.proc.poll() is not None or "heap_per_request" in server.output():
                break
            body = POST_BODY if method == "POST" else None
            try:
                conn.request(method, "/api/epname", body=body, headers={"Authorization": AUTH_HEADER})
                conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                break
        conn.close()
        deadline = time.monotonic() + 5
        while "heap_per_request" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        match = re.search(r"heap_per_request ([\d.]+)", server.output())
        if not match:
            raise RuntimeError("%s did not report its heap use:\n%s" % (kind, server.output()))
        return float(match.group(1))
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# Size


def text_size(binary):
    out = subprocess.check_output(["size", binary], text=True).splitlines()[1]
    return int(out.split()[0])


def kept_code_by_part(map_file, part_of):
    """Bytes of kept code+rodata input sections in a linked binary, summed by part_of(input object
    path) (a part name, or None for what is not counted), read from the linker's map."""
    parts = {}
    in_map = False
    pending = None
    with open(map_file, errors="replace") as f:
        for line in f:
            if line.startswith("Linker script and memory map"):
                in_map = True
                continue
            if not in_map:
                continue
            m = re.match(r"^ (\.(?:s?rodata|text)[^\s]*)\s*$", line)
            if m:
                pending = m.group(1)
                continue
            m = re.match(r"^ (\.(?:s?rodata|text)[^\s]*)?\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)", line)
            if m and (m.group(1) or pending):
                pending = None
                part = part_of(m.group(3))
                if part is not None:
                    parts[part] = parts.get(part, 0) + int(m.group(2), 16)
            else:
                pending = None
    return parts


def module_part(path):
    if "libpythongoose.a(" in path:
        return "mongoose" if path.endswith("mongoose.o)") else "rust"
    return "shim" if path.endswith("modmongoose.o") else None


def module_parts_from_map(map_file):
    """The module's kept code+rodata in the unix binary: Rust, Mongoose, C shim."""
    return dict({"rust": 0, "mongoose": 0, "shim": 0}, **kept_code_by_part(map_file, module_part))


# ---------------------------------------------------------------------------------------------


def summary(values, fmt="{:.0f}"):
    med = statistics.median(values)
    return (fmt + " (" + fmt + "–" + fmt + ")").format(med, min(values), max(values)), med


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    runs = max(args.runs, 1)

    microdot_path = fetch_microdot()
    env = {"MICROPYPATH": microdot_path + ":.frozen"}
    http_results = {}
    for kind in ("module", "microdot", "c"):
        print("bench: HTTP %s (%d runs × %d s × 2)" % (kind, runs, args.duration), flush=True)
        http_results[kind] = measure_http(kind, runs, args.duration, env)

    heap = {}
    for kind in ("module", "module-route", "microdot"):
        for method in ("GET", "POST"):
            heap[(kind, method)] = measure_heap(kind, method, env)

    plain = build_plain_micropython()
    http_only = build_http_only_micropython()
    sizes = {}
    for label, binary in (("HTTP + MQTT (default build)", MICROPYTHON), ("HTTP only (mqtt feature off)", http_only)):
        sizes[label] = (text_size(binary) - text_size(plain), module_parts_from_map(binary + ".map"))

    names = {"module": "(a) mongoose module", "microdot": "(b) microdot " + MICRODOT_VERSION,
             "c": "(c) C-only Mongoose"}
    medians = {}
    print()
    print("HTTP (wrk -t1 -c16 -d%ds, median (min–max) of %d runs)" % (args.duration, runs))
    print("%-7s %-24s %-26s %-22s %-22s %-20s" % ("test", "server", "req/s", "p50 µs", "p99 µs", "server CPU µs/req"))
    for test in ("H1", "H2"):
        for kind in ("module", "microdot", "c"):
            rows = http_results[kind][test]
            rps_text, rps = summary([r["rps"] for r in rows])
            p50_text, _ = summary([r["p50"] for r in rows])
            p99_text, _ = summary([r["p99"] for r in rows])
            cpu_text, _ = summary([r["cpu_us"] for r in rows], "{:.1f}")
            medians[(test, kind)] = rps
            print("%-7s %-24s %-26s %-22s %-22s %-20s" % (test, names[kind], rps_text, p50_text, p99_text, cpu_text))
    print()
    for test in ("H1", "H2"):
        print("%s: (a)/(c) = %.2f, (a)/(b) = %.1f×" % (
            test, medians[(test, "module")] / medians[(test, "c")], medians[(test, "module")] / medians[(test, "microdot")]))
    print()
    print("MicroPython heap bytes per request (gc disabled, 1 000 requests)")
    names["module-route"] = "(a) route() + Request"
    for kind in ("module", "module-route", "microdot"):
        print("  %-24s GET %8.0f   POST 1 KiB %8.0f" % (names[kind], heap[(kind, "GET")], heap[(kind, "POST")]))
    print()
    print("Text bytes the module adds to the x86_64 unix binary (size, with vs without the module; TLS off)")
    for label, (added, parts) in sizes.items():
        print("  %-30s %6d   (kept in the link: Rust %d, Mongoose %d, C shim %d)" % (
            label, added, parts["rust"], parts["mongoose"], parts["shim"]))

    import mqtt  # bench/mqtt.py; it imports this file's helpers, hence here and not at the top
    print()
    print("bench: MQTT (%d runs, throwaway Mosquitto)" % runs, flush=True)
    mqtt.print_mqtt(mqtt.measure_mqtt(runs))


if __name__ == "__main__":
    main()
