# Benchmark server (a): this module, the seed's endpoint and auth check.
#   micropython module_server.py PORT [heap|heap-route]
# GET /api/epname -> "hello"; POST -> the body's length. With "heap", prints the MicroPython heap
# bytes allocated per request over requests WARMUP..WARMUP+MEASURED (gc disabled), then exits;
# "heap-route" does the same with a mongoose.route() handler (it gets a Request object).
# Environment (bench/tls.py): BENCH_TLS_CERT and BENCH_TLS_KEY (PEM files) make the listener
# https://; BENCH_STATS_PORT adds a plain http:// listener on that port, and GET /stats (no auth,
# on every listener) returns {"used", "peak", "gc"}: mongoose.memory()'s C heap figures and
# gc.mem_alloc() after gc.collect().
import gc
import json
import os
import sys

import mongoose

port = int(sys.argv[1])
mode = sys.argv[2] if len(sys.argv) > 2 else ""
measure_heap = mode.startswith("heap")
WARMUP = 20
MEASURED = 1000
users = {"admin": "istrator"}
count = 0
heap_before = 0


def count_request():
    global count, heap_before
    count += 1
    if count == WARMUP:
        heap_before = gc.mem_alloc()
    elif count == WARMUP + MEASURED:
        print("heap_per_request", (gc.mem_alloc() - heap_before) / MEASURED)


def epname(data):
    if measure_heap:
        count_request()
    return str(len(data)) if data else "hello"


def epname_route(request):
    count_request()
    body = request.body
    return str(len(body)) if body else "hello"


def auth(user, pwd):
    return users.get(user) == pwd


def stats(request):
    memory = mongoose.memory()
    gc.collect()
    return json.dumps({"used": memory["used"], "peak": memory["peak"], "gc": gc.mem_alloc()})


cert_file = os.getenv("BENCH_TLS_CERT")
if cert_file:
    with open(cert_file) as f:
        cert = f.read()
    with open(os.getenv("BENCH_TLS_KEY")) as f:
        key = f.read()
    mongoose.init(epname, auth, url="https://127.0.0.1:%d" % port, cert=cert, key=key)
else:
    mongoose.init(epname, auth, url="http://127.0.0.1:%d" % port)
stats_port = os.getenv("BENCH_STATS_PORT")
if stats_port:
    mongoose.listen("http://127.0.0.1:%s" % stats_port)
    mongoose.route("/stats", stats, auth=False)
if mode == "heap-route":
    mongoose.route("/api/epname", epname_route)
print("ready")
if measure_heap:
    gc.disable()
    while count < WARMUP + MEASURED:
        mongoose.poll(100)
    mongoose.poll(10)
else:
    while True:
        mongoose.poll(1000)
