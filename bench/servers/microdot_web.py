# Web benchmark server (b): microdot (from PyPI) on the same interpreter: send_file, its WebSocket
# echo and its SSE, with the same endpoints as module_web.py. Its WebSocket handshake calls
# hashlib.sha1, which this MicroPython build lacks (no mbedTLS or axTLS in the Debian source): a
# small SHA-1 in Python stands in, used once per connection (the echo itself never hashes).
#   micropython microdot_web.py PORT DIR
import asyncio
import sys

import microdot.websocket
from microdot import Microdot, send_file
from microdot.sse import with_sse
from microdot.websocket import with_websocket


class Sha1:
    """SHA-1 (FIPS 180-4) of one message: what the WebSocket handshake needs, nothing more."""

    def __init__(self, data=b""):
        self.data = bytes(data)

    def update(self, data):
        self.data += bytes(data)

    def digest(self):
        message = self.data + b"\x80" + b"\x00" * ((55 - len(self.data)) % 64) + (8 * len(self.data)).to_bytes(8, "big")
        h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
        mask = 0xFFFFFFFF

        def rotl(x, n):
            return ((x << n) | (x >> (32 - n))) & mask

        for block in range(0, len(message), 64):
            w = [int.from_bytes(message[block + 4 * i:block + 4 * i + 4], "big") for i in range(16)]
            for i in range(16, 80):
                w.append(rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1))
            a, b, c, d, e = h
            for i in range(80):
                if i < 20:
                    f, k = (b & c) | (~b & d), 0x5A827999
                elif i < 40:
                    f, k = b ^ c ^ d, 0x6ED9EBA1
                elif i < 60:
                    f, k = (b & c) | (b & d) | (c & d), 0x8F1BBCDC
                else:
                    f, k = b ^ c ^ d, 0xCA62C1D6
                a, b, c, d, e = (rotl(a, 5) + (f & mask) + e + k + w[i]) & mask, a, rotl(b, 30), c, d
            h = [(x + y) & mask for x, y in zip(h, (a, b, c, d, e))]
        return b"".join(x.to_bytes(4, "big") for x in h)


class HashlibWithSha1:
    sha1 = Sha1


microdot.websocket.hashlib = HashlibWithSha1

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
