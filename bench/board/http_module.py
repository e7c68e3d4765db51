# Board benchmark (bench/board.py), this module's HTTP side, on the emulated board:
# for each endpoint (the seed's init() handler, a route() handler), WARMUP requests, then MEASURED
# requests counted in instructions (board.instructions(), GC on), then MEASURED more with the GC
# off for the heap each request leaves (GC heap) and the C heap it keeps. The host sends the
# requests one after another on one keep-alive connection. Prints "FIGURE name value" lines.
import gc

import board
import mongoose

WARMUP = 20
MEASURED = 200
PHASES = ("seed", "route")
counts = {"seed": 0, "route": 0}
marks = {}


def c_heap():
    return mongoose.memory()["used"]


def count(phase):
    n = counts[phase] = counts[phase] + 1
    if n == WARMUP:
        marks[phase] = board.instructions()
    elif n == WARMUP + MEASURED:
        marks[phase] = board.instructions() - marks[phase]
        gc.collect()
        gc.disable()
        marks[phase + "-heap"] = (gc.mem_alloc(), c_heap())
    elif n == WARMUP + 2 * MEASURED:
        gc_before, c_before = marks[phase + "-heap"]
        marks[phase + "-heap"] = (gc.mem_alloc() - gc_before, c_heap() - c_before)
        gc.enable()


def epname(data):
    count("seed")
    return "hello"


def route_handler(request):
    count("route")
    return "hello"


def auth(user, pwd):
    return user == "admin" and pwd == "istrator"


mongoose.init(epname, auth, url="http://0.0.0.0:8000")
mongoose.route("/api/route", route_handler)
print("READY")
total = WARMUP + 2 * MEASURED
while counts["route"] < total:
    mongoose.poll(1000)
mongoose.poll(20)
for phase in PHASES:
    gc_bytes, c_bytes = marks[phase + "-heap"]
    print("FIGURE %s_get_instructions %d" % (phase, marks[phase] // MEASURED))
    print("FIGURE %s_gc_bytes_per_request %d" % (phase, gc_bytes // MEASURED))
    print("FIGURE %s_c_heap_bytes_per_request %d" % (phase, c_bytes // MEASURED))
print("DONE")
