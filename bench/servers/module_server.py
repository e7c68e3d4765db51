# Benchmark server (a): this module, the seed's endpoint and auth check.
#   micropython module_server.py PORT [heap]
# GET /api/epname -> "hello"; POST -> the body's length. With "heap", prints the MicroPython heap
# bytes allocated per request over requests WARMUP..WARMUP+MEASURED (gc disabled), then exits.
import gc
import sys

import mongoose

port = int(sys.argv[1])
measure_heap = len(sys.argv) > 2 and sys.argv[2] == "heap"
WARMUP = 20
MEASURED = 1000
users = {"admin": "istrator"}
count = 0
heap_before = 0


def epname(data):
    global count, heap_before
    if measure_heap:
        count += 1
        if count == WARMUP:
            heap_before = gc.mem_alloc()
        elif count == WARMUP + MEASURED:
            print("heap_per_request", (gc.mem_alloc() - heap_before) / MEASURED)
    return str(len(data)) if data else "hello"


def auth(user, pwd):
    return users.get(user) == pwd


mongoose.init(epname, auth, url="http://127.0.0.1:%d" % port)
print("ready")
if measure_heap:
    gc.disable()
    while count < WARMUP + MEASURED:
        mongoose.poll(100)
    mongoose.poll(10)
else:
    while True:
        mongoose.poll(1000)
