"""Soft reset (Ctrl-D) on the emulated board tears the module down at reset time (DESIGN rule 5):
the session object's finaliser, run by the GC's sweep of the whole heap, closes the listener,
every connection and every MQTT client and frees Mongoose's and Rust's memory, before anything
of the next script runs; the next session starts clean, and nothing accumulates over many resets.
"""

import re
import socket
import time

from support.http_client import curl

# The first script: an HTTP server and an MQTT client (with a will, so that the broker says when
# it sees the client gone) echoing what the peer publishes, until the host asks for /stop. It
# ends without close(): the soft reset after it is what has to tear everything down.
LIVE_SESSION = """
import mongoose

done = []


def on_connect():
    client.sub("board/in", 1)
    print("session 1 connected")


def on_publish(topic, msg):
    client.pub("board/echo", b"1:" + msg, 1)


def stop(req):
    done.append(True)
    return "bye"


mongoose.init(lambda body: "old server")
mongoose.route("/stop", stop, auth=False)
client = mongoose.MQTTclient(on_connect, on_publish)
client.connect(MQTT_URL, will_topic="board/will", will_msg="session 1 gone", client_id="board")
while not done:
    mongoose.poll(50)
print("session 1 ends without close(), C heap", mongoose.memory()["used"])
"""

# The second script waits before it imports the module: whatever is closed meanwhile was closed
# by the reset, not by the import.
NEXT_SESSION = """
import time
print("session 2 started")
time.sleep_ms(2000)
print("session 2 imports")
import mongoose
print("C heap at import", mongoose.memory()["used"])

done = []


def on_connect():
    client.sub("board/in", 1)
    print("session 2 connected")


def on_publish(topic, msg):
    client.pub("board/echo", b"2:" + msg, 1)


def stop(req):
    done.append(True)
    return "bye"


mongoose.init(lambda body: "new server")
mongoose.route("/stop", stop, auth=False)
client = mongoose.MQTTclient(on_connect, on_publish)
client.connect(MQTT_URL, client_id="board")
while not done:
    mongoose.poll(50)
mongoose.close()
print("session 2 closed, C heap", mongoose.memory()["used"])
"""


def http_get(port, path, connection):
    request = f"GET {path} HTTP/1.1\r\nHost: board\r\nConnection: {connection}\r\n\r\n".encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(request)
    return sock


def read_response(sock):
    """One response with a Content-Length body: (status line, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(body) < length:
        chunk = sock.recv(4096)
        assert chunk, data
        body += chunk
    return head.split(b"\r\n")[0].decode(), body


def closed_by_peer(sock, timeout):
    """Whether the board ended the connection (EOF or reset) within `timeout` seconds."""
    sock.settimeout(timeout)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_soft_reset_with_live_connections_closes_them_and_the_next_session_starts_clean(
        start_on_board, broker, paho_peer):
    peer = paho_peer(broker)
    peer.subscribe("board/echo", qos=1)
    peer.subscribe("board/will", qos=1)
    board = start_on_board(LIVE_SESSION, NEXT_SESSION, env={"MQTT_URL": broker.url})
    board.wait_for("session 1 connected")

    # A keep-alive connection from the host, answered and left open.
    keep_alive = http_get(board.port, "/api/x", "keep-alive")
    assert read_response(keep_alive) == ("HTTP/1.1 200 OK", b"old server"), board.output()
    # Messages flowing both ways, some still in flight when the script ends.
    for index in range(5):
        peer.publish("board/in", f"m{index}".encode(), qos=1)
    assert len(peer.wait_messages(5, topic="board/echo", timeout=10)) >= 5, board.output()
    for index in range(5, 10):
        peer.publish("board/in", f"m{index}".encode(), qos=1, wait=False)
    stop = http_get(board.port, "/stop", "close")
    assert read_response(stop) == ("HTTP/1.1 200 OK", b"bye"), board.output()
    stop.close()

    # Between the reset and the next import: the old connections are already closed by the board
    # (a FIN on the keep-alive socket; the broker publishes the will, so it saw the client's
    # connection end without a DISCONNECT).
    board.wait_for("session 2 started")
    assert closed_by_peer(keep_alive, timeout=1.5), board.output()
    keep_alive.close()
    wills = peer.wait_messages(1, topic="board/will", timeout=1.5)
    assert [payload for _, payload, *_ in wills] == [b"session 1 gone"], board.output()
    assert "session 2 imports" not in board.output(), "checked too late to tell reset from import"

    # The next session: the module's C heap is back to idle, a new server and client work.
    output = board.wait_for("session 2 connected", timeout=15)
    assert "C heap at import 0" in output, output
    fresh = http_get(board.port, "/api/y", "close")
    assert read_response(fresh) == ("HTTP/1.1 200 OK", b"new server"), board.output()
    fresh.close()
    peer.publish("board/in", b"again", qos=1)
    assert peer.wait(lambda: (("board/echo", b"2:again") in [m[:2] for m in peer.messages]), timeout=10), \
        (peer.received(), board.output())
    served = curl("-s", f"http://127.0.0.1:{board.port}/stop")
    assert served.stdout == b"bye", board.output()
    assert board.proc.wait(20) == 0, board.output()
    board.stop()
    output = board.output()
    assert "session 2 closed, C heap 0" in output, output
    assert "Traceback" not in output, output
    # The will went out once: session 2's client is not taken for session 1's.
    assert len(peer.received("board/will")) == 1, peer.received()


RESETS = 50

# One script of the 50: the C heap and the GC heap as the session finds them (right after the
# reset, at the first import), then a server with a route, an MQTT client, one request from the
# host on a keep-alive connection, the C heap while all that lives, and an end without close().
CYCLE = """
import gc
import mongoose
gc.collect()
print("after reset {n}:", mongoose.memory()["used"], gc.mem_free())
hits = []
mongoose.init(lambda body: "api")
mongoose.route("/hit", lambda req: hits.append(1) or "hit {n}", auth=False)
client = mongoose.MQTTclient()
client.connect(MQTT_URL, client_id="board")
print("ready {n}")
while not (hits and client.is_connected()):
    mongoose.poll(20)
mongoose.poll(0)
print("live {n}:", mongoose.memory()["used"])
"""

FIGURES = re.compile(r"after reset (\d+): (\d+) (\d+)\n")
LIVE = re.compile(r"live (\d+): (\d+)\n")


def test_no_leak_over_50_soft_resets(start_on_board, broker):
    scripts = [CYCLE.replace("{n}", str(n)) for n in range(1, RESETS + 2)]
    board = start_on_board(*scripts, env={"MQTT_URL": broker.url}, timeout=120)
    sockets = []
    started = time.monotonic()
    for n in range(1, RESETS + 2):
        board.wait_for(f"ready {n}\n")
        sock = http_get(board.port, "/hit", "keep-alive")
        assert read_response(sock) == ("HTTP/1.1 200 OK", f"hit {n}".encode()), board.output()
        sockets.append(sock)  # left open: the reset closes it
        board.wait_for(f"live {n}:")
    assert board.proc.wait(20) == 0, board.output()
    board.stop()
    elapsed = time.monotonic() - started
    output = board.output()
    after_reset = {int(n): (int(used), int(free)) for n, used, free in FIGURES.findall(output)}
    live = {int(n): int(used) for n, used in LIVE.findall(output)}
    assert sorted(after_reset) == list(range(1, RESETS + 2)), output
    # Script 1 runs on a fresh boot; scripts 2..51 each come after a soft reset that interrupted
    # a live server, client and connection. The module holds nothing after any of them, and the
    # GC heap a session starts with is the same after the 1st and the 50th reset.
    assert {used for used, _ in after_reset.values()} == {0}, after_reset
    assert after_reset[RESETS + 1][1] == after_reset[2][1], (after_reset[2], after_reset[RESETS + 1])
    # The same work holds the same C heap in every session (the live figures do not grow).
    assert live[RESETS + 1] == live[2], (live[2], live[RESETS + 1], live)
    print(f"{RESETS} resets in {elapsed:.1f} s; after a reset: C heap {after_reset[RESETS + 1][0]}, "
          f"GC free {after_reset[RESETS + 1][1]}; live C heap {sorted(set(live.values()))}")
    for sock in sockets:
        sock.close()


# A script with a WebSocket peer, an SSE stream and a file being streamed to a client that does
# not read, all live when the script ends without close(); the next script checks the heap.
PUSH_SESSION = """
import io
import vfs
import mongoose


class OneFile:
    def mount(self, readonly, mkfs):
        pass

    def stat(self, path):
        if path == "/big.bin":
            return (0x8000, 0, 0, 0, 0, 0, 200000, 0, 0, 0)
        raise OSError(2)

    def open(self, path, mode):
        return io.BytesIO(bytes(200000))


vfs.mount(OneFile(), "/data")
done = []
mongoose.init()
mongoose.static("/files", "/data")
mongoose.websocket("/ws", lambda ws, data: ws.send(data), on_close=lambda ws, code: print("never after reset"), auth=False)
mongoose.sse("/events", on_open=lambda s: print("stream open"), on_close=lambda s: print("never after reset"), auth=False)
mongoose.route("/stop", lambda r: done.append(1) or "bye", auth=False)
print("push session listening")
while not done:
    mongoose.poll(50)
print("push session ends without close()")
"""

AFTER_PUSH = """
import mongoose
print("C heap after the push session", mongoose.memory()["used"])
"""


def test_soft_reset_with_live_websocket_sse_and_file_stream_tears_them_down_without_callbacks(start_on_board):
    from websockets.sync.client import connect

    board = start_on_board(PUSH_SESSION, AFTER_PUSH)
    board.wait_for("push session listening")
    ws = connect(f"ws://127.0.0.1:{board.port}/ws", open_timeout=10, compression=None)
    ws.send("hi")
    assert ws.recv(timeout=10) == "hi"
    events = socket.create_connection(("127.0.0.1", board.port), timeout=10)
    events.sendall(b"GET /events HTTP/1.1\r\nHost: b\r\n\r\n")
    board.wait_for("stream open")
    slow = socket.create_connection(("127.0.0.1", board.port), timeout=10)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(b"GET /files/big.bin HTTP/1.1\r\nHost: b\r\n\r\n")  # never read: the stream stalls
    time.sleep(0.5)
    stop = http_get(board.port, "/stop", "close")
    assert read_response(stop) == ("HTTP/1.1 200 OK", b"bye"), board.output()
    output = board.wait_for("C heap after the push session")
    assert "never after reset" not in output, output  # no Python ran from the finaliser
    assert re.search(r"C heap after the push session 0\b", output), output
    for sock in (events, slow, stop):
        sock.close()
    ws.close_socket()
