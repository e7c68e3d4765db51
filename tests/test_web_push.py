"""Server push: mongoose.websocket() endpoints (RFC 6455 upgrade, echo, close handshakes, limits,
pings), mongoose.sse() event streams and mongoose.broadcast() to every client of an endpoint.

The peers are real: the `websockets` package's sync client (it answers pings in its own thread),
raw sockets for what a well-behaved client never sends (a frame with invalid UTF-8, a client
that never answers a ping, one that never reads), and raw sockets for the event streams (so the
bytes on the wire are checked, chunked or not)."""

import base64
import hashlib
import os
import re
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 1, 2, 8, 9, 10

SERVER = """
import mongoose

kept = {}
streams = {}


def on_open(ws):
    kept[ws.id] = ws
    print("OPEN", ws.path, repr(ws.query), type(ws.id).__name__, ws.id, ws.is_open)


def on_message(ws, data):
    print("MSG", ws.id, type(data).__name__, len(data))
    if data == "close-me":
        ws.close(4001, "bye")
    elif data == "send-int":
        try:
            ws.send(5)
            ws.send("no error")
        except TypeError:
            ws.send("TypeError")
    elif data in ("hash-me", b"hash-me"):
        # Received messages are made with their hash left for later: as dict keys, in sets and
        # against equal literals they must behave like any other str/bytes.
        table = {"hash-me": "text", b"hash-me": "binary"}
        ws.send("%s %s %s" % (table[data], hash(data) == hash(data[:]), data in {"hash-me", b"hash-me"}))
    elif data == "views":
        ws.send(bytearray(b"from a bytearray"))
        ws.send(memoryview(b"from a memoryview"))
    else:
        ws.send(data)


def on_close(ws, code):
    print("CLOSE", ws.id, code)


def probe(req):
    ws = kept[int(req.query.split("=")[1])]
    try:
        ws.send("late")
        sent = "sent"
    except OSError:
        sent = "OSError"
    return "%s %s" % (ws.is_open, sent)


def sse_open(stream):
    streams[stream.id] = stream
    print("SSE OPEN", stream.id, stream.is_open)


def sse_close(stream):
    streams.pop(stream.id, None)
    print("SSE CLOSE", stream.id)


def sse_send(req):
    for stream in streams.values():
        stream.send("a\\nb", event="tick", id="7")
    return str(len(streams))


mongoose.init(auth=lambda user, pwd: (user, pwd) == ("admin", "pw"), url=URL)
mongoose.websocket("/chat/*", on_message, on_open=on_open, on_close=on_close, auth=False)
mongoose.websocket("/small", on_message, on_open=on_open, on_close=on_close, auth=False, max_message_size=1024)
mongoose.websocket("/private", on_message, on_open=on_open, on_close=on_close)
mongoose.websocket("/pinged", on_message, on_open=on_open, on_close=on_close, auth=False, ping_interval_s=1)
mongoose.sse("/events", on_open=sse_open, on_close=sse_close, auth=False)
mongoose.sse("/ticks", on_open=sse_open, on_close=sse_close, auth=False, keepalive_s=1)
mongoose.sse("/secure-events", on_open=sse_open, on_close=sse_close)
mongoose.route("/probe", probe, auth=False)
mongoose.route("/sse-send", sse_send, auth=False)
print("serving")
while True:
    mongoose.poll(1000)
"""

BROADCAST_SERVER = """
import mongoose

opened = {}
flood = {"left": 0, "total": 0, "counts": []}


def arg(req, name):
    for pair in req.query.split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            return value
    return None


def on_open(ws):
    opened[ws.id] = ws
    print("OPEN", ws.path, repr(ws.query), ws.id)


def on_close(ws, code):
    opened.pop(ws.id, None)
    print("CLOSE", ws.id, code)


def start_flood(req):
    flood["total"] = flood["left"] = int(arg(req, "n"))
    flood["size"] = int(arg(req, "size"))
    flood["counts"] = []
    return "started"


mongoose.init(url=URL)
mongoose.websocket("/ws", lambda ws, data: None, on_open=on_open, on_close=on_close, auth=False)
mongoose.websocket("/room/*", lambda ws, data: None, on_open=on_open, on_close=on_close, auth=False)
mongoose.sse("/events", on_open=lambda s: print("SSE OPEN", s.id), on_close=lambda s: print("SSE CLOSE", s.id), auth=False)
mongoose.route("/send-ws", lambda r: str(mongoose.broadcast("/ws", arg(r, "msg"))), auth=False)
mongoose.route("/send-room", lambda r: str(mongoose.broadcast("/room/*", arg(r, "msg"))), auth=False)
mongoose.route("/send-sse", lambda r: str(mongoose.broadcast("/events", arg(r, "msg"), event="e")), auth=False)
mongoose.route("/count", lambda r: str(len(opened)), auth=False)
mongoose.route("/flood", start_flood, auth=False)
mongoose.route("/flood-result", lambda r: {"left": flood["left"], "counts": flood["counts"]}, auth=False)
print("serving")
while True:
    if flood["left"]:
        # One message a poll, as a sensor loop would: a client that reads keeps up.
        mongoose.poll(1)
        index = flood["total"] - flood["left"]
        flood["counts"].append(mongoose.broadcast("/ws", "%06d" % index + "x" * (flood["size"] - 6)))
        flood["left"] -= 1
    else:
        mongoose.poll(100)
"""


# --- helpers -------------------------------------------------------------------------------------


def ws_connect(server, path, **kwargs):
    """A websockets sync client on `path` (no compression: the server offers none)."""
    return connect(f"ws://127.0.0.1:{server.port}{path}", compression=None, open_timeout=5, close_timeout=3, **kwargs)


def opened_id(server, path, query, timeout=5.0):
    """The ws.id that on_open printed for the connection on `path` with `query`."""
    pattern = re.compile(r"^OPEN %s '%s' (?:int )?(\d+)" % (re.escape(path), re.escape(query)), re.M)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = pattern.search(server.output())
        if found:
            return int(found.group(1))
        time.sleep(0.02)
    pytest.fail(f"no on_open for {path}?{query}:\n{server.output()}")


def close_codes(server, ws_id):
    """The codes on_close printed for connection `ws_id`, in order."""
    return [int(code) for code in re.findall(r"^CLOSE %d (\d+)$" % ws_id, server.output(), re.M)]


def wait_for_close(server, ws_id, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not close_codes(server, ws_id):
        time.sleep(0.02)
    return close_codes(server, ws_id)


def read_head(sock, timeout=5.0):
    """Reads an HTTP response head; returns (status, lower-cased headers, bytes read past it)."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in data and time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep, f"no complete response head: {data[:300]!r}"
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split(" ", 2)[1]), headers, rest


def client_frame(opcode, payload, fin=True):
    """One masked client frame."""
    mask = os.urandom(4)
    size = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if size < 126:
        head += bytes([0x80 | size])
    elif size < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", size)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", size)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def parse_frame(data):
    """(fin, opcode, payload, rest) for the first whole frame in `data`, or None."""
    if len(data) < 2:
        return None
    fin, opcode = data[0] & 0x80, data[0] & 0x0F
    masked, size = data[1] & 0x80, data[1] & 0x7F
    offset = 2
    if size == 126:
        if len(data) < 4:
            return None
        size, offset = struct.unpack("!H", data[2:4])[0], 4
    elif size == 127:
        if len(data) < 10:
            return None
        size, offset = struct.unpack("!Q", data[2:10])[0], 10
    mask = b""
    if masked:
        mask, offset = data[offset : offset + 4], offset + 4
    if len(data) < offset + size:
        return None
    payload = data[offset : offset + size]
    if masked:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bool(fin), opcode, payload, data[offset + size :]


class RawWs:
    """A WebSocket client on a raw socket: it sends what it is told and answers nothing."""

    def __init__(self, port, path, *, headers=b"", rcvbuf=None, expect=101, timeout=5.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: sets the window
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16))
        self.sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                          b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\n"
                          b"Sec-WebSocket-Version: 13\r\n" + headers + b"\r\n")
        self.status, self.headers, self.buf = read_head(self.sock, timeout)
        self.eof = False
        assert self.status == expect, (self.status, self.headers)
        if expect == 101:
            assert self.headers["upgrade"].lower() == "websocket"
            assert self.headers["sec-websocket-accept"] == base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()

    def send(self, opcode, payload, fin=True):
        self.sock.sendall(client_frame(opcode, payload, fin))

    def read_frame(self, timeout=5.0):
        """The next (fin, opcode, payload), or None at end of stream (self.eof set) or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            parsed = parse_frame(self.buf)
            if parsed is not None:
                self.buf = parsed[3]
                return parsed[:3]
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.eof:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
                continue
            self.buf += chunk

    def frames_until_eof(self, timeout):
        """Every frame until the server closes the TCP connection (or `timeout` passes)."""
        frames = []
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            frame = self.read_frame(deadline - time.monotonic())
            if frame is not None:
                frames.append(frame)
        return frames

    def close(self):
        self.sock.close()


class SseClient:
    """A GET on an event stream over a raw socket; `body` is the decoded stream so far (chunked
    transfer coding removed if the server used it)."""

    def __init__(self, port, path, headers=b"", timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" + headers + b"\r\n")
        self.status, self.headers, self.raw = read_head(self.sock, timeout)
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        self.body = b""
        self._decode()

    def _decode(self):
        if not self.chunked:
            self.body, self.raw = self.body + self.raw, b""
            return
        while True:
            end = self.raw.find(b"\r\n")
            if end < 0:
                return
            size = int(self.raw[:end].split(b";")[0], 16)
            if len(self.raw) < end + 2 + size + 2:
                return
            self.body += self.raw[end + 2 : end + 2 + size]
            self.raw = self.raw[end + 2 + size + 2 :]

    def read_until(self, predicate, timeout=5.0):
        """Reads until predicate(body) holds; returns whether it did within `timeout`."""
        deadline = time.monotonic() + timeout
        while not predicate(self.body):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                return predicate(self.body)
            if not chunk:
                return predicate(self.body)
            self.raw += chunk
            self._decode()
        return True

    def close(self):
        self.sock.close()


def sse_events(body):
    """The events in a stream body: a list of their non-comment lines."""
    events = []
    for block in body.decode().split("\n\n")[:-1]:  # the last piece is an unfinished event
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if lines:
            events.append(lines)
    return events


def recv_close(ws, timeout=5.0):
    """Reads until the server closes; returns its close frame (code, reason)."""
    with pytest.raises(ConnectionClosed) as closed:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
    assert closed.value.rcvd is not None, "the server sent no close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


@pytest.fixture
def push(start_server):
    return start_server(SERVER)


# --- WebSocket: messages -------------------------------------------------------------------------


def test_websocket_echoes_text_and_binary_and_reassembles_fragments(push):
    with ws_connect(push, "/chat/room1?a=1&b=2") as ws:
        ws_id = opened_id(push, "/chat/room1", "a=1&b=2")
        assert re.search(r"^OPEN /chat/room1 'a=1&b=2' int %d True$" % ws_id, push.output(), re.M), push.output()
        ws.send("héllo")
        assert ws.recv(timeout=5) == "héllo"  # str in, text frame back
        ws.send(b"\x00\x01\xffbin")
        assert ws.recv(timeout=5) == b"\x00\x01\xffbin"  # bytes in, binary frame back
        ws.send(["frag", "mented ", "text"])
        assert ws.recv(timeout=5) == "fragmented text"
        ws.send([b"\x01\x02", b"", b"\x03"])
        assert ws.recv(timeout=5) == b"\x01\x02\x03"
        ws.send("views")
        assert ws.recv(timeout=5) == b"from a bytearray"
        assert ws.recv(timeout=5) == b"from a memoryview"
        big = "z" * 16384  # the default max_message_size, with a 16-bit length both ways
        ws.send(big)
        assert ws.recv(timeout=10) == big
    out = push.output()
    # The handler saw whole messages with the right types: "héllo" is 5 characters, not 6 bytes.
    for line in (f"MSG {ws_id} str 5", f"MSG {ws_id} bytes 6", f"MSG {ws_id} str 15", f"MSG {ws_id} bytes 3",
                 f"MSG {ws_id} str 16384"):
        assert line in out.splitlines(), (line, out)
    assert not re.search(r"^MSG %d \w+ (4|7|2|1|0)$" % ws_id, out, re.M), out  # no fragment alone


def test_received_messages_hash_and_compare_like_any_str_or_bytes(push):
    with ws_connect(push, "/chat/hash") as ws:
        ws.send("hash-me")
        assert ws.recv(timeout=5) == "text True True"
        ws.send(b"hash-me")
        assert ws.recv(timeout=5) == "binary True True"


def test_each_connection_has_its_own_id_and_only_matching_paths_upgrade(push):
    with ws_connect(push, "/chat/a?c=1") as first, ws_connect(push, "/chat/b?c=2") as second:
        first.send("one")
        second.send("two")
        assert (first.recv(timeout=5), second.recv(timeout=5)) == ("one", "two")
        assert opened_id(push, "/chat/a", "c=1") != opened_id(push, "/chat/b", "c=2")
    for path in ("/chat/a/b", "/chat", "/nothing"):  # `*` is one segment
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(push, path)
        assert refused.value.response.status_code == 404, path


# --- WebSocket: closing --------------------------------------------------------------------------


def test_client_close_code_reaches_on_close(push):
    ws = ws_connect(push, "/chat/x?c=client-close")
    ws_id = opened_id(push, "/chat/x", "c=client-close")
    ws.close(4000, "leaving")
    assert wait_for_close(push, ws_id) == [4000], push.output()


def test_server_close_sends_code_and_reason_and_later_sends_raise(push, http):
    ws = ws_connect(push, "/chat/x?c=server-close")
    ws_id = opened_id(push, "/chat/x", "c=server-close")
    ws.send("close-me")
    assert recv_close(ws) == (4001, "bye")
    assert wait_for_close(push, ws_id) == [4001], push.output()  # our own code
    r = http.get(push.url(f"/probe?id={ws_id}"), timeout=10)
    assert r.text == "False OSError"
    time.sleep(0.2)
    assert close_codes(push, ws_id) == [4001]  # on_close fired once


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_a_dropped_connection_closes_with_1006(push, http, reset):
    raw = RawWs(push.port, b"/chat/x?c=drop")
    ws_id = opened_id(push, "/chat/x", "c=drop")
    raw.send(OP_TEXT, b"still here")
    assert raw.read_frame() == (True, OP_TEXT, b"still here")
    if reset:
        raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()  # no close frame
    assert wait_for_close(push, ws_id) == [1006], push.output()
    assert http.get(push.url(f"/probe?id={ws_id}"), timeout=10).text == "False OSError"


# --- WebSocket: limits and auth ------------------------------------------------------------------


def test_a_message_over_max_message_size_closes_with_1009(push):
    with ws_connect(push, "/small?c=at-limit") as ws:
        ws.send("x" * 1024)
        assert ws.recv(timeout=5) == "x" * 1024  # the limit itself is allowed
    ws = ws_connect(push, "/small?c=over")
    ws_id = opened_id(push, "/small", "c=over")
    ws.send("x" * 1025)
    assert recv_close(ws)[0] == 1009
    assert wait_for_close(push, ws_id) == [1009], push.output()
    assert f"MSG {ws_id}" not in push.output()
    # The limit is on the message, not the frame: small fragments adding up to more are refused.
    ws = ws_connect(push, "/small?c=fragments")
    try:
        ws.send([b"y" * 600, b"y" * 600])
    except ConnectionClosed:
        pass  # the close can beat the empty final frame websockets sends after the fragments
    assert recv_close(ws)[0] == 1009


def test_invalid_utf8_in_a_text_frame_closes_with_1007(push):
    raw = RawWs(push.port, b"/chat/x?c=utf8")
    ws_id = opened_id(push, "/chat/x", "c=utf8")
    raw.send(OP_TEXT, b"\xff\xfe")
    frames = raw.frames_until_eof(5)
    closes = [payload for _, opcode, payload in frames if opcode == OP_CLOSE]
    assert closes and struct.unpack("!H", closes[0][:2])[0] == 1007, frames
    assert not [f for f in frames if f[1] == OP_TEXT], frames  # nothing was echoed
    assert wait_for_close(push, ws_id) == [1007], push.output()
    raw.close()


def close_code_of(frames):
    closes = [payload for _, opcode, payload in frames if opcode == OP_CLOSE]
    assert closes, frames
    return struct.unpack("!H", closes[0][:2])[0]


@pytest.mark.parametrize("name, frame", [
    ("unmasked", bytes([0x81, 0x02]) + b"hi"),
    ("RSV1 without an extension", bytes([0xC1]) + client_frame(OP_TEXT, b"x")[1:]),
    ("opcode 3", bytes([0x83]) + client_frame(OP_TEXT, b"x")[1:]),
    ("continuation of nothing", client_frame(0, b"orphan")),
    ("fragmented ping", client_frame(OP_PING, b"x", fin=False)),
    ("126-byte ping", client_frame(OP_PING, b"p" * 126)),
    ("close with a 1-byte payload", client_frame(OP_CLOSE, b"\x03")),
    ("close with code 1005", client_frame(OP_CLOSE, struct.pack("!H", 1005))),
])
def test_frames_that_break_the_protocol_close_with_1002(push, name, frame):
    raw = RawWs(push.port, b"/chat/x?c=bad")
    ws_id = opened_id(push, "/chat/x", "c=bad")
    raw.sock.sendall(frame + client_frame(OP_TEXT, b"after the bad frame"))
    frames = raw.frames_until_eof(5)
    assert close_code_of(frames) == 1002, (name, frames)
    assert not [f for f in frames if f[1] == OP_TEXT], (name, frames)  # nothing after it was read
    assert wait_for_close(push, ws_id) == [1002], push.output()
    raw.close()


def test_a_burst_of_frames_in_one_write_is_answered_in_order(push):
    raw = RawWs(push.port, b"/chat/x?c=burst")
    ws_id = opened_id(push, "/chat/x", "c=burst")
    burst = [client_frame(OP_TEXT, b"%04d" % i + b"." * (i % 300)) for i in range(1000)]
    burst[500:500] = [client_frame(OP_PING, b"mid-burst")]  # a ping among them gets its pong in place
    raw.sock.sendall(b"".join(burst))
    replies = [raw.read_frame(10) for _ in range(1001)]
    assert None not in replies
    assert replies[500] == (True, OP_PONG, b"mid-burst")
    del replies[500]
    assert [payload for _, _, payload in replies] == [b"%04d" % i + b"." * (i % 300) for i in range(1000)]
    assert f"MSG {ws_id} str 4" in push.output()
    raw.close()


def test_frames_sent_with_the_upgrade_request_are_answered_at_once(push):
    # A client may send its first messages right behind the handshake, in the same segment.
    sock = socket.create_connection(("127.0.0.1", push.port), timeout=5)
    key = base64.b64encode(os.urandom(16))
    sock.sendall(b"GET /chat/x?c=eager HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
                 + client_frame(OP_TEXT, b"first") + client_frame(OP_TEXT, b"second"))
    status, _, rest = read_head(sock)
    assert status == 101
    deadline = time.monotonic() + 5
    while rest.count(b"second") == 0 and time.monotonic() < deadline:
        rest += sock.recv(4096)
    first = parse_frame(rest)
    assert first[:3] == (True, OP_TEXT, b"first") and parse_frame(first[3])[:3] == (True, OP_TEXT, b"second")
    sock.close()


def test_a_close_from_the_client_is_answered_with_its_code(push):
    raw = RawWs(push.port, b"/chat/x?c=closer")
    ws_id = opened_id(push, "/chat/x", "c=closer")
    raw.send(OP_CLOSE, struct.pack("!H", 4321) + b"bye")
    frames = raw.frames_until_eof(5)
    assert [f[:2] for f in frames] == [(True, OP_CLOSE)] and close_code_of(frames) == 4321, frames
    assert wait_for_close(push, ws_id) == [4321], push.output()
    raw.close()
    # An empty close (no status) is answered with an empty close; Python sees 1005.
    raw = RawWs(push.port, b"/chat/x?c=empty-close")
    ws_id = opened_id(push, "/chat/x", "c=empty-close")
    raw.send(OP_CLOSE, b"")
    assert raw.frames_until_eof(5) == [(True, OP_CLOSE, b"")]
    assert wait_for_close(push, ws_id) == [1005], push.output()
    raw.close()


def test_upgrade_needs_credentials_when_auth_is_on(push):
    raw = RawWs(push.port, b"/private?c=anon", expect=401)
    raw.close()
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://admin:wrong@127.0.0.1:{push.port}/private", compression=None, open_timeout=5)
    assert refused.value.response.status_code == 401
    assert "OPEN /private" not in push.output()
    with connect(f"ws://admin:pw@127.0.0.1:{push.port}/private?c=admin", compression=None, open_timeout=5) as ws:
        ws.send("secret")
        assert ws.recv(timeout=5) == "secret"
    token = base64.b64encode(b"admin:pw")
    raw = RawWs(push.port, b"/private?c=raw-admin", headers=b"Authorization: Basic " + token + b"\r\n")
    raw.close()


# --- WebSocket: pings ----------------------------------------------------------------------------


def test_a_peer_that_never_answers_pings_is_closed_and_one_that_does_stays(push):
    started = time.monotonic()
    silent = RawWs(push.port, b"/pinged?c=silent")
    silent_id = opened_id(push, "/pinged", "c=silent")
    with ws_connect(push, "/pinged?c=alive") as alive:  # answers pings from its own thread
        alive_id = opened_id(push, "/pinged", "c=alive")
        frames = silent.frames_until_eof(4.5)  # read, but never answer
        # A ping at about 1 s, no answer by about 2 s: closed (the slack is poll granularity).
        assert silent.eof, f"still open after {time.monotonic() - started:.1f} s: {frames}"
        assert any(opcode == OP_PING for _, opcode, _ in frames), frames
        assert wait_for_close(push, silent_id, timeout=1) == [1006], push.output()
        while time.monotonic() - started < 3.5:
            time.sleep(0.1)
        alive.send("still open")
        assert alive.recv(timeout=5) == "still open"
        assert close_codes(push, alive_id) == []
    silent.close()


# --- WebSocket: argument errors ------------------------------------------------------------------


def test_websocket_arguments_are_checked(run_script):
    rc, out = run_script("""
import mongoose


def attempt(label, make):
    try:
        make()
        print(label, "NO ERROR")
    except Exception as e:
        print(label, type(e).__name__)


cb = lambda ws, data: None
attempt("ws-before-init", lambda: mongoose.websocket("/ws", cb))
attempt("sse-before-init", lambda: mongoose.sse("/events"))
mongoose.init(url=URL)
attempt("on-message-not-callable", lambda: mongoose.websocket("/ws", 5))
attempt("on-open-not-callable", lambda: mongoose.websocket("/ws", cb, on_open=5))
attempt("max-size-zero", lambda: mongoose.websocket("/ws", cb, max_message_size=0))
attempt("sse-on-open-not-callable", lambda: mongoose.sse("/events", on_open=5))
attempt("valid-ws", lambda: mongoose.websocket("/ws", cb, max_message_size=1, ping_interval_s=5))
attempt("valid-sse", lambda: mongoose.sse("/events", keepalive_s=5))
""")
    results = dict(line.split(" ", 1) for line in out.splitlines() if " " in line)
    assert results == {
        "ws-before-init": "RuntimeError",
        "sse-before-init": "RuntimeError",
        "on-message-not-callable": "TypeError",
        "on-open-not-callable": "TypeError",
        "max-size-zero": "ValueError",
        "sse-on-open-not-callable": "TypeError",
        "valid-ws": "NO ERROR",
        "valid-sse": "NO ERROR",
    }, out


def test_sending_a_non_buffer_raises_type_error_and_the_link_goes_on(push):
    with ws_connect(push, "/chat/x?c=send-int") as ws:
        ws.send("send-int")
        assert ws.recv(timeout=5) == "TypeError"
        ws.send("after")
        assert ws.recv(timeout=5) == "after"


# --- Server-sent events --------------------------------------------------------------------------


def test_sse_stream_carries_events_with_one_data_line_per_line(push, http):
    stream = SseClient(push.port, b"/events")
    assert stream.status == 200
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert "content-length" not in stream.headers
    assert push.wait_for_output("SSE OPEN"), push.output()
    assert re.search(r"^SSE OPEN \d+ True$", push.output(), re.M), push.output()
    assert http.get(push.url("/sse-send"), timeout=10).text == "1"
    assert stream.read_until(lambda body: b"data: b\n\n" in body), stream.body
    [event] = sse_events(stream.body)
    assert sorted(event) == ["data: a", "data: b", "event: tick", "id: 7"], stream.body
    assert event.index("data: a") + 1 == event.index("data: b")  # in order, adjacent
    assert b"data: a\ndata: b\n\n" in stream.body
    stream.close()


def test_sse_keepalive_comments_arrive(push):
    stream = SseClient(push.port, b"/ticks")
    assert stream.status == 200
    started = time.monotonic()
    comment = lambda body: body.startswith(b":") or b"\n:" in body
    assert stream.read_until(comment, timeout=2.5), stream.body
    assert time.monotonic() - started < 2.5
    stream.close()


def test_sse_client_leaving_fires_on_close(push):
    stream = SseClient(push.port, b"/events")
    assert push.wait_for_output("SSE OPEN"), push.output()
    stream_id = int(re.search(r"^SSE OPEN (\d+)", push.output(), re.M).group(1))
    assert f"SSE CLOSE {stream_id}" not in push.output()
    stream.close()
    assert push.wait_for_output(f"SSE CLOSE {stream_id}"), push.output()


def test_sse_needs_credentials_when_auth_is_on(push):
    anon = SseClient(push.port, b"/secure-events")
    assert anon.status == 401
    anon.close()
    assert "SSE OPEN" not in push.output()
    token = base64.b64encode(b"admin:pw")
    admin = SseClient(push.port, b"/secure-events", headers=b"Authorization: Basic " + token + b"\r\n")
    assert admin.status == 200
    assert admin.headers["content-type"].startswith("text/event-stream")
    assert push.wait_for_output("SSE OPEN"), push.output()
    admin.close()


# --- Broadcast -----------------------------------------------------------------------------------


def test_broadcast_reaches_every_client_of_exactly_that_endpoint(start_server, http):
    server = start_server(BROADCAST_SERVER)
    clients = [ws_connect(server, f"/ws?c={i}") for i in range(3)]
    rooms = [ws_connect(server, f"/room/{name}?c={name}") for name in ("a", "b")]
    streams = [SseClient(server.port, b"/events") for _ in range(2)]
    try:
        for i in range(3):
            opened_id(server, "/ws", f"c={i}")
        for name in ("a", "b"):
            opened_id(server, f"/room/{name}", f"c={name}")
        deadline = time.monotonic() + 5
        while server.output().count("SSE OPEN") < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert http.get(server.url("/send-room?msg=r"), timeout=10).text == "2"  # the pattern, not a path
        assert http.get(server.url("/send-ws?msg=hello"), timeout=10).text == "3"
        for ws in clients:
            assert ws.recv(timeout=5) == "hello"  # the room's message did not reach /ws clients
        for ws in rooms:
            assert ws.recv(timeout=5) == "r"
        assert http.get(server.url("/send-sse?msg=x"), timeout=10).text == "2"
        for stream in streams:
            assert stream.read_until(lambda body: b"data: x\n\n" in body), stream.body
            assert [sorted(event) for event in sse_events(stream.body)] == [["data: x", "event: e"]], stream.body
        clients.pop().close()
        deadline = time.monotonic() + 5
        while http.get(server.url("/count"), timeout=10).text != "4" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert http.get(server.url("/send-ws?msg=again"), timeout=10).text == "2"
        for ws in clients:  # an unread message would also hold up websockets' closing handshake
            assert ws.recv(timeout=5) == "again"
    finally:
        for peer in clients + rooms + streams:
            peer.close()


def test_one_broadcast_reaches_200_websocket_clients(start_server, http):
    server = start_server(BROADCAST_SERVER)
    count = 200
    with ThreadPoolExecutor(max_workers=32) as pool:
        clients = list(pool.map(lambda i: ws_connect(server, f"/ws?c={i}"), range(count)))
        try:
            deadline = time.monotonic() + 10
            while http.get(server.url("/count"), timeout=10).text != str(count) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert http.get(server.url("/send-ws?msg=everyone"), timeout=10).text == str(count)
            received = list(pool.map(lambda ws: ws.recv(timeout=10), clients))
            assert received == ["everyone"] * count
        finally:
            list(pool.map(lambda ws: ws.close(), clients))


def test_a_client_that_never_reads_is_dropped_and_the_others_get_everything(start_server, http):
    server = start_server(BROADCAST_SERVER)
    slow = RawWs(server.port, b"/ws?c=slow", rcvbuf=4096)
    slow_id = opened_id(server, "/ws", "c=slow")
    # Linux grows the server socket's send buffer to tcp_wmem's maximum (4 MB by default) even for
    # a peer with a 4 KB window, so the kernel alone swallows a few MB before anything waits in
    # the server's own buffer: 6.5 MB in 8 KB messages goes well past both.
    total, size = 800, 8192
    with ws_connect(server, "/ws?c=reader", max_size=None) as reader:
        opened_id(server, "/ws", "c=reader")
        assert http.get(server.url(f"/flood?n={total}&size={size}"), timeout=10).text == "started"
        for index in range(total):
            assert reader.recv(timeout=10) == "%06d" % index + "x" * (size - 6)
        deadline = time.monotonic() + 10
        while (result := http.get(server.url("/flood-result"), timeout=10).json())["left"] and time.monotonic() < deadline:
            time.sleep(0.05)
        counts = result["counts"]
        assert len(counts) == total, result
        assert wait_for_close(server, slow_id), server.output()  # dropped, not buffered for ever
        assert counts[0] == 2 and counts[-1] == 1, counts
        assert counts == sorted(counts, reverse=True), counts  # once dropped, never counted again
        assert http.get(server.url("/send-ws?msg=after"), timeout=10).text == "1"
        assert reader.recv(timeout=5) == "after"
    slow.close()
