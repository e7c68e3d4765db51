"""Load, slow clients, garbage-collector pressure, Ctrl-C and hostile bytes against the real
interpreter: the server must keep answering correctly and stop when told to."""

import hashlib
import json
import random
import selectors
import signal
import socket
import struct
import threading
import time

from support.http_client import parse_responses, raw_bytes, raw_responses, read_all, read_responses

# ---------------------------------------------------------------------------------------------
# 200 concurrent keep-alive connections

CONCURRENT = """
import mongoose

mongoose.init(url=URL)
mongoose.route("/c/*", lambda r: r.path + "?" + r.query + "#" + r.header("x-conn", "-"))
while True:
    mongoose.poll(20)
"""

CONNECTIONS = 200
ROUNDS = 5


def test_200_concurrent_keep_alive_connections_each_get_every_answer(start_server):
    server = start_server(CONCURRENT)
    socks = []
    selector = selectors.DefaultSelector()
    try:
        for i in range(CONNECTIONS):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            s.setblocking(False)
            socks.append(s)
            selector.register(s, selectors.EVENT_READ, i)
        deadline = time.monotonic() + 60
        for rnd in range(ROUNDS):
            for i, s in enumerate(socks):
                s.setblocking(True)
                s.sendall(f"GET /c/{i}?round={rnd} HTTP/1.1\r\nHost: t\r\nX-Conn: {i}\r\n\r\n".encode())
                s.setblocking(False)
            buffers = {i: b"" for i in range(CONNECTIONS)}
            answered = {}
            while len(answered) < CONNECTIONS:
                assert time.monotonic() < deadline, f"round {rnd}: {CONNECTIONS - len(answered)} connections unanswered"
                for key, _ in selector.select(timeout=1):
                    i = key.data
                    chunk = key.fileobj.recv(65536)
                    assert chunk, f"connection {i} closed by the server in round {rnd}"
                    buffers[i] += chunk
                    responses, leftover = parse_responses(buffers[i])
                    if responses:
                        assert len(responses) == 1 and leftover == b"", (i, buffers[i])
                        answered[i] = responses[0]
            for i, response in answered.items():
                assert response.status == 200, (i, response)
                assert response.body == f"/c/{i}?round={rnd}#{i}".encode(), (i, response)
                assert response.headers.get("connection", "").lower() != "close"
    finally:
        selector.close()
        for s in socks:
            s.close()
    assert server.alive()


# ---------------------------------------------------------------------------------------------
# A slow client

SLOW = """
import mongoose

mongoose.init(url=URL)
mongoose.route("/fast", lambda r: "fast " + r.query)
mongoose.route("/slow", lambda r: "slow got " + r.header("x-slow", "nothing"))
while True:
    mongoose.poll(20)
"""


def test_slow_client_sending_headers_byte_by_byte_does_not_block_others(start_server, http):
    server = start_server(SLOW)
    request = (
        b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: very-slow-client/1.0\r\n"
        b"X-Slow: dripping one byte at a time\r\nAccept: */*\r\n\r\n"
    )
    slow_result = {}
    progress = {"sent": 0}

    def slow_client():
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                for byte in request:
                    s.sendall(bytes([byte]))
                    progress["sent"] += 1
                    time.sleep(0.01)
                slow_result["responses"] = read_responses(s, 1, timeout=5)
        except Exception as e:  # reported by the main thread
            slow_result["error"] = repr(e)

    thread = threading.Thread(target=slow_client, daemon=True)
    thread.start()
    try:
        while progress["sent"] < 5:
            time.sleep(0.01)
        served_during_drip = 0
        latencies = []
        i = 0
        while progress["sent"] < len(request) - 5:
            start = time.monotonic()
            r = http.get(server.url(f"/fast?i={i}"), timeout=5)
            latencies.append(time.monotonic() - start)
            assert (r.status_code, r.text) == (200, f"fast i={i}")
            if progress["sent"] < len(request) - 5:
                served_during_drip += 1
            i += 1
            time.sleep(0.02)
    finally:
        thread.join(timeout=15)
    assert not thread.is_alive()
    assert served_during_drip >= 10, served_during_drip
    assert max(latencies) < 1.0, latencies
    assert "error" not in slow_result, slow_result
    (response,) = slow_result["responses"]
    assert (response.status, response.body) == (200, b"slow got dripping one byte at a time")


# ---------------------------------------------------------------------------------------------
# Garbage-collector stress

GC_STRESS = """
import gc
import hashlib
import binascii
import mongoose


def digest(data):
    return binascii.hexlify(hashlib.sha256(data).digest()).decode()


# Handlers are lambdas nothing else refers to: only the module keeps them alive.
mongoose.init({"up": lambda d: d.upper() + "|" + str(len(d)), "gc": lambda d: (gc.collect(), d + "!")[1]}, url=URL)
for i in range(30):
    mongoose.route(
        "/r/%d" % i,
        lambda r, i=i: (200, r.body + b"|" + str(i).encode(), {"X-Route": i, "X-Sha": digest(r.body), "X-Pad": "p" * (i * 7)}),
        methods="POST",
    )
    mongoose.route("/replaced/%d" % i, lambda r: "old")
    mongoose.route("/replaced/%d" % i, lambda r, i=i: "new %d" % i)
mongoose.route(
    "/gcjson/*",
    lambda r: (gc.collect(), {"path": r.path, "n": len(r.body), "sha": digest(r.body), "junk": [str(k) * 3 for k in range(20)]})[1],
    methods="POST",
)
gc.collect()
gc.threshold(4096)  # automatic collections inside handlers and reply conversion, too
print("ready")
n = 0
while True:
    mongoose.poll(5)
    n += 1
    gc.collect()
"""

GC_CONNECTIONS = 4
GC_BATCHES = 100
GC_BATCH = 10  # pipelined requests per batch: 4 x 100 x 10 = 4000 requests


def _gc_request(rng, index):
    kind = index % 4
    if kind == 0:
        route = rng.randrange(30)
        body = rng.randbytes(rng.randrange(0, 3000))
        return f"POST /r/{route} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body, (
            "route",
            route,
            body,
        )
    if kind == 1:
        text = "".join(rng.choice("abcxyz\u00e9\u2713 ") for _ in range(rng.randrange(0, 500)))
        name = rng.choice(["up", "gc"])
        body = text.encode()
        return f"POST /api/{name} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body, (
            name,
            text,
        )
    if kind == 2:
        body = rng.randbytes(rng.randrange(0, 2000))
        tail = rng.randrange(10**6)
        return f"POST /gcjson/{tail} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body, (
            "gcjson",
            tail,
            body,
        )
    route = rng.randrange(30)
    return f"GET /replaced/{route} HTTP/1.1\r\nHost: t\r\n\r\n".encode(), ("replaced", route)


def _check_gc_response(expected, response):
    kind = expected[0]
    assert response.status == 200, (expected[:2], response)
    if kind == "route":
        _, route, body = expected
        assert response.body == body + b"|" + str(route).encode()
        assert response.headers["x-route"] == str(route)
        assert response.headers["x-sha"] == hashlib.sha256(body).hexdigest()
        assert response.headers["x-pad"] == "p" * (route * 7)
        assert response.headers["content-type"] == "application/octet-stream"
    elif kind == "up":
        # MicroPython's str.upper() maps ASCII letters only.
        assert response.body.decode() == expected[1].encode().upper().decode() + "|" + str(len(expected[1]))
    elif kind == "gc":
        assert response.body.decode() == expected[1] + "!"
    elif kind == "gcjson":
        _, tail, body = expected
        got = json.loads(response.body)
        assert got == {
            "path": f"/gcjson/{tail}",
            "n": len(body),
            "sha": hashlib.sha256(body).hexdigest(),
            "junk": [str(k) * 3 for k in range(20)],
        }
    else:
        assert response.body == f"new {expected[1]}".encode()


def test_gc_stress_thousands_of_requests_with_lambda_handlers_all_correct(start_server):
    server = start_server(GC_STRESS)
    assert server.wait_for_output("ready")
    rng = random.Random(20240331)
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(GC_CONNECTIONS)]
    checked = 0
    try:
        for _ in range(GC_BATCHES):
            batches = []
            for s in socks:
                items = [_gc_request(rng, rng.randrange(4)) for _ in range(GC_BATCH)]
                s.sendall(b"".join(data for data, _ in items))
                batches.append((s, [expected for _, expected in items]))
            for s, expected in batches:
                responses = read_responses(s, GC_BATCH, timeout=10)
                assert len(responses) == GC_BATCH, (server.alive(), server.output()[-2000:])
                for exp, response in zip(expected, responses):
                    _check_gc_response(exp, response)
                    checked += 1
    finally:
        for s in socks:
            s.close()
    assert checked == GC_CONNECTIONS * GC_BATCHES * GC_BATCH
    assert server.alive()
    assert "Traceback" not in server.output()


REPLACED_MANY_TIMES = """
import gc
import mongoose

mongoose.init(url=URL)
for i in range(5000):
    # Each handler holds 2 KB; once replaced, nothing refers to it any more.
    mongoose.route("/same", lambda r, big=bytearray(2000), i=i: "handler %d of %d bytes" % (i, len(big)))
gc.collect()
print("registered")
while True:
    mongoose.poll(20)
"""


def test_replaced_route_handlers_are_released_by_the_gc(start_server, http):
    # 5000 x 2 KB is far more than the heap: this only works if replaced handlers are freed.
    server = start_server(REPLACED_MANY_TIMES)
    assert server.wait_for_output("registered"), server.output()
    r = http.get(server.url("/same"), timeout=5)
    assert (r.status_code, r.text) == (200, "handler 4999 of 2000 bytes")


# ---------------------------------------------------------------------------------------------
# Ctrl-C, KeyboardInterrupt and SystemExit

POLLING = """
import mongoose

mongoose.init(url=URL)
print("polling")
try:
    while True:
        mongoose.poll(1000)
except KeyboardInterrupt:
    print("KeyboardInterrupt out of poll")
    raise
"""


def test_sigint_while_waiting_in_poll_exits_promptly_with_keyboard_interrupt(start_server):
    server = start_server(POLLING)
    assert server.wait_for_output("polling")
    time.sleep(0.3)  # well inside a poll(1000)
    start = time.monotonic()
    rc = server.interrupt(timeout=5)
    elapsed = time.monotonic() - start
    assert rc is not None, "still running 5 s after SIGINT"
    assert elapsed < 1.5, elapsed
    assert rc != 0
    out = server.output()
    assert "KeyboardInterrupt out of poll" in out
    assert "Traceback (most recent call last):" in out
    assert out.rstrip().splitlines()[-1].startswith("KeyboardInterrupt")


CARRY_ON = """
import mongoose

served = []
mongoose.init(url=URL)
mongoose.route("/after", lambda request: served.append(1) or "still serving")
print("polling")
try:
    while True:
        mongoose.poll(1000)
except KeyboardInterrupt:
    print("caught")
for _ in range(500):
    mongoose.poll(10)
    if served:
        break
mongoose.close()
print("closed", len(served))
"""


def test_after_a_caught_ctrl_c_the_loop_still_serves_and_closes(start_server, http):
    """Ctrl-C goes through MicroPython's scheduler (MICROPY_ASYNC_KBD_INTR=0): it must not jump
    out of the module's frames in the middle of poll() and leave the loop marked as running."""
    server = start_server(CARRY_ON)
    assert server.wait_for_output("polling")
    time.sleep(0.3)  # well inside a poll(1000)
    server.proc.send_signal(signal.SIGINT)
    assert server.wait_for_output("caught", timeout=2), server.all_output()
    response = http.get(server.url("/after"), timeout=5)
    assert (response.status_code, response.text) == (200, "still serving")
    assert server.wait_exit(5) == 0, server.all_output()
    assert "closed 1" in server.output() and "RuntimeError" not in server.all_output()


BUSY = """
import mongoose


def busy(r):
    print("busy-start")
    for i in range(10**8):
        pass
    print("busy-end")
    return "finished"


mongoose.init(url=URL)
mongoose.route("/busy", busy)
try:
    while True:
        mongoose.poll(1000)
except KeyboardInterrupt:
    print("KeyboardInterrupt out of poll")
    raise
"""


def test_sigint_while_a_handler_runs_propagates_out_of_poll(start_server):
    server = start_server(BUSY)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET /busy HTTP/1.1\r\nHost: t\r\n\r\n")
        assert server.wait_for_output("busy-start"), server.output()
        time.sleep(0.1)
        start = time.monotonic()
        rc = server.interrupt(timeout=5)
        elapsed = time.monotonic() - start
    assert rc is not None, "still running 5 s after SIGINT"
    assert elapsed < 1.5, elapsed
    assert rc != 0
    out = server.output()
    assert "KeyboardInterrupt out of poll" in out
    assert "busy-end" not in out
    assert "mongoose: a callback raised an exception:" not in out  # not swallowed as a handler error
    assert out.rstrip().splitlines()[-1].startswith("KeyboardInterrupt")


RAISING_STOPS = """
import mongoose


def stop_kbd(r):
    print("raising KeyboardInterrupt")
    raise KeyboardInterrupt


def stop_exit(r):
    print("raising SystemExit")
    raise SystemExit(3)


mongoose.init(url=URL)
mongoose.route("/kbd", stop_kbd)
mongoose.route("/exit", stop_exit)
mongoose.route("/hello", lambda r: "hello")
interrupts = 0
while True:
    try:
        mongoose.poll(20)
    except KeyboardInterrupt:
        interrupts += 1
        print("KeyboardInterrupt out of poll", interrupts)
    except SystemExit:
        print("SystemExit out of poll")
        raise
"""


def test_handler_raising_keyboard_interrupt_propagates_out_of_poll_and_script_can_go_on(start_server, http):
    server = start_server(RAISING_STOPS)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET /kbd HTTP/1.1\r\nHost: t\r\n\r\n")
        assert server.wait_for_output("KeyboardInterrupt out of poll 1"), server.output()
        read_all(s, timeout=1)
    assert "mongoose: a callback raised an exception:" not in server.output()
    # The script caught it and polls again: the server serves normally.
    r = http.get(server.url("/hello"), timeout=5)
    assert (r.status_code, r.text) == (200, "hello")
    assert server.output().count("KeyboardInterrupt out of poll") == 1


def test_handler_raising_system_exit_ends_the_process_with_its_code(start_server):
    server = start_server(RAISING_STOPS)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET /exit HTTP/1.1\r\nHost: t\r\n\r\n")
        rc = server.wait_exit(timeout=5)
    assert rc == 3, server.output()
    out = server.output()
    assert "raising SystemExit" in out and "SystemExit out of poll" in out
    assert "mongoose: a callback raised an exception:" not in out


AUTH_INTERRUPT = """
import mongoose


def auth(user, pwd):
    print("auth raising KeyboardInterrupt")
    raise KeyboardInterrupt


mongoose.init(lambda d: "handler ran", auth, url=URL)
try:
    while True:
        mongoose.poll(20)
except KeyboardInterrupt:
    print("KeyboardInterrupt out of poll")
"""


def test_auth_callback_raising_keyboard_interrupt_propagates_out_of_poll(start_server):
    server = start_server(AUTH_INTERRUPT)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET /api/x HTTP/1.1\r\nHost: t\r\nAuthorization: Basic dTpw\r\n\r\n")
        rc = server.wait_exit(timeout=5)
        raw = read_all(s, timeout=1)
    assert rc == 0, server.output()
    out = server.output()
    assert "auth raising KeyboardInterrupt" in out and "KeyboardInterrupt out of poll" in out
    assert "mongoose: a callback raised an exception:" not in out
    assert b"handler ran" not in raw


# ---------------------------------------------------------------------------------------------
# Garbage bytes

GARBAGE = """
import mongoose

mongoose.init(lambda d: "api " + d, lambda u, p: u == "u", url=URL)
mongoose.route("/ok", lambda r: "still ok", auth=False)
while True:
    mongoose.poll(20)
"""


def _garbage_payloads(rng):
    prefixes = [
        b"",
        b"GET / HTTP/1.1\r\n",
        b"POST /api/x HTTP/1.1\r\nContent-Length: 5\r\n",
        b"GET /ok HTTP/1.1\r\nAuthorization: Basic ",
        b"HTTP/1.1 200 OK\r\n",
        b"\r\n\r\n",
        b"GET /ok?" + b"%" * 100 + b" HTTP/1.1\r\n",
    ]
    for n in range(60):
        size = rng.choice([1, 3, 17, 200, 1460, 5000, 20000])
        junk = rng.randbytes(size)
        if n % 3 == 1:
            junk = junk.replace(b"\n", b"\r\n")
        if n % 5 == 2:
            junk += b"\r\n\r\n"
        yield rng.choice(prefixes) + junk
    yield b"\x00" * 4096
    yield b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\n\r\n"
    yield b"GET /ok HTTP/1.1\r\n" + b"X: y\r\n" * 2000 + b"\r\n"
    yield b"POST /api/x HTTP/1.1\r\nContent-Length: -5\r\n\r\n"
    yield b"POST /api/x HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"
    yield b"POST /api/x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nabcde"
    yield b"GET /api/x HTTP/1.1\r\nAuthorization: Basic " + b"QUFB" * 3000 + b"\r\n\r\n"


def test_random_garbage_never_crashes_the_server(start_server, http):
    server = start_server(GARBAGE)
    rng = random.Random(7)
    for n, payload in enumerate(_garbage_payloads(rng)):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            try:
                s.sendall(payload)
                if n % 4 == 3:
                    # Abortive close (RST) right after the bytes.
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                else:
                    s.shutdown(socket.SHUT_WR)
                    read_all(s, timeout=2)
            except OSError:
                pass  # the server may close (or reset) on us mid-send: that is fine
        assert server.alive(), f"died after payload {n}: {payload[:80]!r}\n{server.output()}"
    r = http.get(server.url("/ok"), timeout=5)
    assert (r.status_code, r.text) == (200, "still ok")
    r = http.post(server.url("/api/x"), data=b"body", auth=("u", "p"), timeout=5)
    assert (r.status_code, r.text) == (200, "api body")
    responses = raw_responses(server.port, b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n" * 3, 3)
    assert [(x.status, x.body) for x in responses] == [(200, b"still ok")] * 3
    assert "Traceback" not in server.output()


def test_client_disconnecting_mid_body_leaves_server_serving(start_server, http):
    server = start_server(GARBAGE)
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(b"POST /api/x HTTP/1.1\r\nAuthorization: Basic dTpw\r\nContent-Length: 1000\r\n\r\npartial")
    assert raw_bytes(server.port, b"GET /ok HTTP/1.1\r\nConnection: close\r\n\r\n").endswith(b"still ok")
    assert "api partial" not in server.output()
    assert server.alive()


# ---------------------------------------------------------------------------------------------
# Request and idle timeouts

TIMEOUTS = """
import mongoose

mongoose.init(url=URL, request_timeout_ms=600, idle_timeout_ms=900)
mongoose.route("/t", lambda r: "t")
while True:
    mongoose.poll(20)
"""


def test_a_request_trickled_past_the_request_timeout_gets_408_and_the_connection_closes(start_server, http):
    server = start_server(TIMEOUTS)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        start = time.monotonic()
        received = b""
        s.settimeout(0.1)
        # one byte every 100 ms: never idle, but the request never completes
        for byte in b"GET /t HTTP/1.1\r\nHost: x\r\nX-Drip: " + b"a" * 40:
            try:
                s.sendall(bytes([byte]))
            except OSError:
                break
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                chunk = None
            if chunk is not None:
                received += chunk
                if not chunk or b"\r\n\r\n" in received:
                    break
            if time.monotonic() - start > 3:
                break
        received += read_all(s, timeout=1)
    elapsed = time.monotonic() - start
    assert received.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), received
    assert b"Connection: close" in received
    assert 0.5 < elapsed < 2.5, elapsed
    assert http.get(server.url("/t"), timeout=5).text == "t"  # the server keeps serving


def test_an_idle_keep_alive_connection_is_closed_after_the_idle_timeout(start_server):
    server = start_server(TIMEOUTS)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET /t HTTP/1.1\r\nHost: x\r\n\r\n")
        (response,) = read_responses(s, 1, timeout=2)
        assert (response.status, response.body) == (200, b"t")
        start = time.monotonic()
        s.settimeout(3)
        rest = s.recv(4096)  # b"" when the server closes the idle connection
        elapsed = time.monotonic() - start
    assert rest == b"", rest
    assert 0.8 < elapsed < 2.5, elapsed
