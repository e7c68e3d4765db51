# Web benchmark server (b): microdot (from PyPI) on the same interpreter: send_file, its WebSocket
# echo and its SSE, with the same endpoints as module_web.py (its WebSocket needs hashlib.sha1,
# which this MicroPython build lacks: bench/web.py leaves that row out).
#   micropython microdot_web.py PORT DIR
import asyncio
import sys

from microdot import Microdot, send_file
from microdot.sse import with_sse
from microdot.websocket import with_websocket

port, directory = int(sys.argv[1]), sys.argv[2]
app = Microdot()
streams = []


@app.route("/static/<path:path>")
async def static(request, path):
    if ".." in path:
        return "no", 404
    return send_file(directory + "/" + path, max_age=3600)


@app.route("/ws")
@with_websocket
async def echo(request, ws):
    while True:
        await ws.send(await ws.receive())


@app.route("/events")
@with_sse
async def events(request, sse):
    queue = []
    ready = asyncio.Event()
    streams.append((queue, ready))
    try:
        while True:
            await ready.wait()
            ready.clear()
            while queue:
                await sse.send(queue.pop(0))
    finally:
        streams.remove((queue, ready))


@app.route("/broadcast")
async def broadcast(request):
    count = int(request.args.get("n", "1"))
    for i in range(count, 0, -1):
        for queue, ready in streams:
            queue.append("event %d" % i)
            ready.set()
        await asyncio.sleep(0)
    return "ok"


print("ready")
app.run(host="127.0.0.1", port=port)
