# Benchmark server (b): microdot (from PyPI) on the same interpreter, same endpoint and auth check.
#   micropython microdot_server.py PORT [heap]
import gc
import sys

from microdot import Microdot
from microdot.auth import BasicAuth

port = int(sys.argv[1])
measure_heap = len(sys.argv) > 2 and sys.argv[2] == "heap"
WARMUP = 20
MEASURED = 1000
users = {"admin": "istrator"}
count = 0
heap_before = 0
app = Microdot()
basic_auth = BasicAuth()


@basic_auth.authenticate
def check_credentials(request, username, password):
    return username if users.get(username) == password else None


@app.route("/api/epname", methods=["GET", "POST"])
@basic_auth
def epname(request):
    global count, heap_before
    if measure_heap:
        count += 1
        if count == WARMUP:
            heap_before = gc.mem_alloc()
        elif count == WARMUP + MEASURED:
            print("heap_per_request", (gc.mem_alloc() - heap_before) / MEASURED)
            app.shutdown()
    body = request.body
    return str(len(body)) if body else "hello"


if measure_heap:
    gc.disable()
print("ready")
app.run(host="127.0.0.1", port=port)
