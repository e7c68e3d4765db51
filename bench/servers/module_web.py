# Web benchmark server (a): this module. Static files, WebSocket echo, SSE fan-out.
#   micropython module_web.py PORT DIR [heap-ws]
# GET /static/<file> from DIR; /ws echoes every message; /events is an SSE stream; GET
# /broadcast?n=N sends N events to every open stream. "heap-ws": prints the GC heap bytes per echoed
# message over messages WARMUP..WARMUP+MEASURED (gc disabled), then exits.
import gc
import sys

import mongoose

port, directory = int(sys.argv[1]), sys.argv[2]
measure_heap = len(sys.argv) > 3 and sys.argv[3] == "heap-ws"
WARMUP = 100
MEASURED = 2000
state = {"count": 0, "before": 0, "pending": 0}


def echo(ws, data):
    ws.send(data)


def echo_counted(ws, data):  # "heap-ws": the same echo, counting
    ws.send(data)
    state["count"] += 1
    if state["count"] == WARMUP:
        state["before"] = gc.mem_alloc()
    elif state["count"] == WARMUP + MEASURED:
        print("heap_per_message", (gc.mem_alloc() - state["before"]) / MEASURED)


def broadcast(request):
    state["pending"] = int(request.query.split("=")[1])
    return "ok"


mongoose.init(url="http://127.0.0.1:%d" % port)
mongoose.static("/static", directory)
mongoose.websocket("/ws", echo_counted if measure_heap else echo, auth=False, max_message_size=65536)
mongoose.sse("/events", auth=False, keepalive_s=0)
mongoose.route("/broadcast", broadcast, auth=False)
print("ready")
if measure_heap:
    gc.disable()
while True:
    mongoose.poll(100)
    while state["pending"]:
        mongoose.broadcast("/events", "event %d" % state["pending"])
        state["pending"] -= 1
    if measure_heap and state["count"] >= WARMUP + MEASURED:
        mongoose.poll(10)
        break
