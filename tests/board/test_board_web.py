"""Static files, File and Template replies on the emulated board. The board has no filesystem of
its own: the script mounts one written in Python (files in RAM, read through `readinto`, the path
a VFS without the C stream protocol takes), so the test also pins that files come through
MicroPython's VFS and not through Mongoose's own file access."""

import hashlib

from support.http_client import raw_bytes, raw_responses

BIG = bytes(range(256)) * 400

SERVER = """
import vfs
import mongoose


class RamFile:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def readinto(self, buf):
        n = min(len(buf), len(self.data) - self.pos)
        buf[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n

    def seek(self, offset, whence=0):
        self.pos = offset
        return offset

    def close(self):
        self.data = b""


class RamFS:
    def __init__(self, files):
        self.files = files

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def stat(self, path):
        if path in self.files:
            return (0x8000, 0, 0, 0, 0, 0, len(self.files[path]), 0, 1700000000, 0)
        prefix = path.rstrip("/") + "/"
        if path == "/" or any(name.startswith(prefix) for name in self.files):
            return (0x4000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        raise OSError(2)

    def open(self, path, mode):
        if path not in self.files:
            raise OSError(2)
        return RamFile(self.files[path])


files = {
    "/index.html": b"<h1>board</h1>",
    "/big.bin": bytes(range(256)) * 400,
    "/page.html": b"<p>{{ temp }} C, {{who}}</p>",
    "/sub/index.html": b"sub",
}
vfs.mount(RamFS(files), "/www")
mongoose.init(cors="*")
mongoose.static("/", "/www")
mongoose.route("/tpl", lambda r: mongoose.Template("/www/page.html", {"temp": 21.5, "who": "<you>"}), auth=False)
mongoose.route("/file", lambda r: mongoose.File("/www/index.html"), auth=False)
print("board listening")
while True:
    mongoose.poll(1000)
"""


def test_the_board_serves_files_from_a_mounted_vfs(board, http):
    r = http.get(board.url("/"), timeout=10)
    assert (r.status_code, r.text) == (200, "<h1>board</h1>"), board.output()
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert http.get(board.url("/sub/"), timeout=10).text == "sub"
    moved = http.get(board.url("/sub?q=1"), timeout=10, allow_redirects=False)
    assert (moved.status_code, moved.headers["Location"]) == (301, "/sub/?q=1")
    assert http.get(board.url("/missing.txt"), timeout=10).status_code == 404
    etag = r.headers["ETag"]
    assert http.get(board.url("/index.html"), headers={"If-None-Match": etag}, timeout=10).status_code == 304


def test_a_file_larger_than_the_send_buffer_streams_whole(board):
    [response] = raw_responses(board.port, b"GET /big.bin HTTP/1.1\r\nHost: b\r\n\r\n", 1, timeout=30)
    assert response.status == 200
    assert hashlib.sha256(response.body).digest() == hashlib.sha256(BIG).digest()


def test_range_template_and_file_replies_on_the_board(board, http):
    r = http.get(board.url("/big.bin"), headers={"Range": "bytes=1000-1009"}, timeout=10)
    assert (r.status_code, r.content) == (206, BIG[1000:1010])
    r = http.get(board.url("/tpl"), timeout=10)
    assert (r.status_code, r.text) == (200, "<p>21.5 C, &lt;you&gt;</p>"), board.output()
    assert http.get(board.url("/file"), timeout=10).text == "<h1>board</h1>"


def test_no_path_leaves_the_mounted_directory(board):
    for path in (b"/../www/index.html", b"/%2e%2e/etc", b"/sub/..%2f..%2fx"):
        raw = raw_bytes(board.port, b"GET " + path + b" HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
        assert raw.split(b" ", 2)[1] in (b"400", b"404"), raw[:100]


PUSH_SERVER = """
import mongoose

mongoose.init()
mongoose.websocket("/ws", lambda ws, data: ws.send(data), auth=False, max_message_size=2048)
mongoose.sse("/events", on_open=lambda s: s.send("hello board", event="greeting"), auth=False)
mongoose.route("/tell", lambda r: str(mongoose.broadcast("/events", r.query)) + str(mongoose.broadcast("/ws", r.query)), auth=False)
print("board listening")
while True:
    mongoose.poll(1000)
"""


def test_websocket_and_sse_on_the_board(start_on_board, http):
    import socket

    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    board = start_on_board(PUSH_SERVER)
    board.wait_for("board listening")
    with connect(f"ws://127.0.0.1:{board.port}/ws", open_timeout=10, compression=None) as ws:
        ws.send("ping from the host")
        assert ws.recv(timeout=10) == "ping from the host"
        ws.send(bytes(range(256)))
        assert ws.recv(timeout=10) == bytes(range(256))
        events = socket.create_connection(("127.0.0.1", board.port), timeout=10)
        events.sendall(b"GET /events HTTP/1.1\r\nHost: b\r\n\r\n")
        seen = b""
        while b"data: hello board\n\n" not in seen:
            seen += events.recv(4096)
        assert b"Content-Type: text/event-stream" in seen
        assert http.get(f"http://127.0.0.1:{board.port}/tell?news", timeout=10).text == "11"
        assert ws.recv(timeout=10) == "news"
        while b"data: news\n\n" not in seen:
            seen += events.recv(4096)
        events.close()
        ws.send("x" * 3000)  # over max_message_size
        try:
            ws.recv(timeout=10)
            raise AssertionError("the board did not close an oversized message")
        except ConnectionClosed as closed:
            assert closed.rcvd.code == 1009, board.output()
