"""Issue 7's hostile cases against the real interpreter: faults that used to lose data, wedge the
event loop or fake security. Each test here failed before its fix."""

import socket
import struct
import threading
import time

import pytest

from support.fake_broker import connack, publish_packet, read_mqtt_packet, sends_after_connack, serve_until_stopped
from support.http_client import read_responses
from support.mqtt import CALLBACKS, parsed
from support.runner import free_port

# ---------------------------------------------------------------------------------------------
# Printing an exception runs user code (__str__/__repr__): it is protected too.

UNPRINTABLE = """
import mongoose

class Bad:
    def __str__(self):
        raise RuntimeError("no str")
    def __repr__(self):
        raise RuntimeError("no repr")

def boom(req):
    raise ValueError(Bad())

mongoose.init(url=URL)
mongoose.route("/boom", boom, auth=False)
mongoose.route("/ok", lambda req: "fine", auth=False)
while True:
    mongoose.poll(20)
"""


def test_an_exception_that_cannot_be_printed_gives_500_and_the_loop_goes_on(start_server, http):
    server = start_server(UNPRINTABLE)
    for _ in range(3):
        reply = http.get(server.url("/boom"), timeout=5)
        assert reply.status_code == 500
        assert http.get(server.url("/ok"), timeout=5).text == "fine"
    assert server.alive()
    out = server.output()
    assert "cannot be called from inside a callback" not in out
    assert "ValueError" in out and "could not be printed" in out


# ---------------------------------------------------------------------------------------------
# A caught KeyboardInterrupt/SystemExit loses nothing: what was not delivered waits for the next
# poll(), and the broker hears PUBACK/PUBREC only for messages that reached the script.

STOP_IN_ON_PUBLISH = CALLBACKS + """
count = 0
def on_publish(topic, msg):
    global count
    count += 1
    print("MSG", repr((topic, msg)))
    if count == 3:
        raise STOP("stop on message 3")
client = mongoose.MQTTclient(on_connect, on_publish, on_disconnect=on_disconnect)
client.connect(MQTT_URL, reconnect=False)
run(5000, client.is_connected)
print("READY")
time.sleep(1)   # the ten messages arrive together while the script does not poll
caught = 0
t0 = time.ticks_ms()
while count < 10 and ms_since(t0) < 8000:
    try:
        mongoose.poll(20)
    except STOP:
        caught += 1
        print("CAUGHT")
        while not signalled("go"):   # no poll: nothing may be acknowledged meanwhile
            time.sleep_ms(20)
run(500)
print("CAUGHT_TIMES", caught)
print("DONE")
"""


def acknowledging_broker(qos, acks, ready):
    """A fake broker that sends ten messages of `qos` in one write once the client is up, and
    records the acknowledgements it gets (PUBACK, or PUBREC answered with PUBREL)."""

    def handler(sock, index, stop):
        if read_mqtt_packet(sock) is None:
            return
        sock.sendall(connack())
        time.sleep(0.3)
        sock.sendall(b"".join(publish_packet("burst/t", b"m%d" % pid, qos, pid) for pid in range(1, 11)))
        ready.set()

        def on_packet(first, body):
            kind = first >> 4
            if kind in (4, 5):  # PUBACK, PUBREC
                acks.append(struct.unpack(">H", body[:2])[0])
                if kind == 5:
                    sock.sendall(b"\x62\x02" + body[:2])
                return True
            return kind == 7  # PUBCOMP

        serve_until_stopped(sock, stop, on_packet)

    return handler


@pytest.mark.parametrize("stop", ["KeyboardInterrupt", "SystemExit"])
@pytest.mark.parametrize("qos", [1, 2])
def test_a_caught_stop_in_on_publish_loses_no_message_and_acknowledges_only_delivered_ones(
    fake_broker, mqtt_script, stop, qos
):
    acks, ready = [], threading.Event()
    fake = fake_broker(acknowledging_broker(qos, acks, ready))
    script = mqtt_script(STOP_IN_ON_PUBLISH.replace("STOP", stop), fake.url)
    assert script.wait_for_output("CAUGHT", timeout=10), script.output()
    time.sleep(0.5)
    # the script holds KeyboardInterrupt and does not poll: only messages 1-3 reached it
    assert acks == [1, 2, 3], (acks, script.output())
    script.signal("go")
    output = script.wait_done(15)
    messages = parsed(script, "MSG")
    assert messages == [("burst/t", b"m%d" % i) for i in range(1, 11)], output
    assert "CAUGHT_TIMES 1" in output
    deadline = time.monotonic() + 3
    while len(acks) < 10 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert acks == list(range(1, 11)), acks


# ---------------------------------------------------------------------------------------------
# The same for HTTP: requests in the batch a stop interrupted are served by the next poll().

HTTP_STOP = """
import time
import mongoose

calls = []
def handler(req):
    calls.append(req.path)
    print("HANDLED", req.path)
    if req.path == "/stop":
        raise KeyboardInterrupt
    return "ok " + req.path

mongoose.init(url=URL)
mongoose.route("/#", handler, auth=False)
print("LISTENING")
mongoose.poll(50)
time.sleep(1)   # every request below arrives before the next poll
t0 = time.ticks_ms()
while time.ticks_diff(time.ticks_ms(), t0) < 6000:
    try:
        mongoose.poll(20)
    except KeyboardInterrupt:
        print("CAUGHT", len(calls))
        while True:
            try:
                open("go").close()
                break
            except OSError:
                time.sleep_ms(20)
"""


def test_requests_behind_a_handler_s_keyboardinterrupt_are_served_after_it_not_dropped(start_server):
    server = start_server(HTTP_STOP)
    assert server.wait_for_output("LISTENING")
    pipelined = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    others = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(3)]
    time.sleep(0.2)
    pipelined.sendall(b"".join(b"GET /%s HTTP/1.1\r\nHost: t\r\n\r\n" % p for p in (b"stop", b"b", b"c")))
    for i, sock in enumerate(others):
        sock.sendall(b"GET /other%d HTTP/1.1\r\nHost: t\r\n\r\n" % i)
    assert server.wait_for_output("CAUGHT", timeout=10), server.output()
    assert "CAUGHT 1" in server.output(), server.output()  # nothing handled after the stop
    (server.script_path.parent / "go").write_text("go")
    replies = read_responses(pipelined, 3, timeout=10)
    assert [(r.status, r.body) for r in replies] == [(503, b"Service Unavailable"), (200, b"ok /b"), (200, b"ok /c")]
    for i, sock in enumerate(others):
        (reply,) = read_responses(sock, 1, timeout=10)
        assert (reply.status, reply.body) == (200, b"ok /other%d" % i)
    for sock in [pipelined, *others]:
        sock.close()


# ---------------------------------------------------------------------------------------------
# A scheme means what it says: https:// and mqtts:// without what TLS needs (a certificate and
# key; a CA or insecure=True) are refused, never served or dialled in plaintext.

SCHEMES = """
import mongoose

for url in ("https://127.0.0.1:%d" % PORT, "HTTPS://127.0.0.1:%d" % PORT, "ftp://127.0.0.1:%d" % PORT,
            "tcp://127.0.0.1:%d" % PORT, "127.0.0.1:%d" % PORT):
    try:
        mongoose.init(url=url)
        print("SERVED", url)
    except ValueError as e:
        print("REFUSED", url, "|", e)

client = mongoose.MQTTclient()
for url in ("mqtts://127.0.0.1:BROKER", "ws://127.0.0.1:BROKER", "http://127.0.0.1:BROKER", "127.0.0.1:BROKER"):
    try:
        client.connect(url, user="u", pwd="secret")
        print("CONNECTING", url)
    except ValueError as e:
        print("REFUSED", url, "|", e)
for _ in range(20):
    try:
        mongoose.poll(10)
    except RuntimeError:
        pass
print("DONE")
"""


def test_tls_without_credentials_and_unknown_schemes_are_refused_never_plaintext(run_script, fake_broker):
    seen = []
    fake = fake_broker(lambda sock, index, stop: seen.append(read_mqtt_packet(sock, timeout=1)))
    port = free_port()
    code, output = run_script(SCHEMES.replace("BROKER", str(fake.port)), port=port)
    assert code == 0 and "DONE" in output, output
    assert "SERVED" not in output and "CONNECTING" not in output, output
    refused = [line for line in output.splitlines() if line.startswith("REFUSED")]
    assert len(refused) == 9, output
    assert "needs cert= and key=" in refused[0] and "needs cert= and key=" in refused[1], refused
    assert "mqtts:// verifies the broker" in refused[5] and "ca=" in refused[5], refused
    time.sleep(0.3)
    assert fake.connections == 0 and seen == [], "a credential-bearing CONNECT went out in plaintext"


# ---------------------------------------------------------------------------------------------
# Client ids carry no stale events: a callback that disconnects its client and makes a new one
# never hands the old client's events to the new one; events nest in no callback.

SWAP_CLIENTS = CALLBACKS + """
log = []
second = None

def on_publish_a(topic, msg):
    global second
    print("BEGIN", repr(msg))
    if second is None:
        first.disconnect()
        second = mongoose.MQTTclient(lambda: print("B_CONNECT"), lambda t, m: print("B_MSG", repr(m)),
                                     on_disconnect=lambda r: print("B_DISC", repr(r)))
        second.connect(MQTT_URL)
    print("END", repr(msg))

first = mongoose.MQTTclient(None, on_publish_a, on_disconnect=lambda r: print("A_DISC", repr(r)))
first.connect(MQTT_URL)
run(5000, first.is_connected)
run(3000, lambda: second is not None and second.is_connected())
run(500)
print("DONE")
"""


def test_a_client_made_inside_another_client_s_callback_never_gets_its_events(fake_broker, mqtt_script):
    fake = fake_broker(sends_after_connack(b"".join(publish_packet("a/t", b"a%d" % i) for i in range(5))))
    script = mqtt_script(SWAP_CLIENTS, fake.url)
    output = script.wait_done(15)
    assert "B_MSG" not in output, output
    assert "B_CONNECT" in output, output
    lines = [line for line in output.splitlines() if line.split(" ")[0] in ("BEGIN", "END", "A_DISC")]
    # each callback runs to its end before the next event: on_disconnect does not nest in on_publish
    assert lines[:2] == ["BEGIN b'a0'", "END b'a0'"], lines
    for begin, end in zip(lines[0::2], lines[1::2]):
        if begin.startswith("BEGIN"):
            assert end == "END" + begin[5:], lines


# ---------------------------------------------------------------------------------------------
# The reply's Python objects stay rooted while the shim converts them (JSON text, header lines):
# with a collection before nearly every allocation, every reply still comes out whole.

GC_EVERY_ALLOCATION = """
import gc
import mongoose

def reply(req):
    n = int(req.query)
    body = {"n": n, "text": "v" * 300, "items": list(range(40))}
    headers = {"X-A": "a" * 200 + str(n), "X-B": "b" * 200, "X-N": n}
    return (201, body, headers)

def raw(req):
    data = bytearray(b"r" * 5000)
    return (200, memoryview(data)[1000:3000], {"X-Slice": "yes" * 50})

mongoose.init(url=URL)
mongoose.route("/json", reply, auth=False)
mongoose.route("/raw", raw, auth=False)
gc.threshold(64)
while True:
    mongoose.poll(10)
"""


def test_replies_come_out_whole_when_the_gc_runs_during_their_conversion(start_server, http):
    server = start_server(GC_EVERY_ALLOCATION)
    for n in range(30):
        reply = http.get(server.url(f"/json?{n}"), timeout=10)
        assert reply.status_code == 201
        assert reply.json() == {"n": n, "text": "v" * 300, "items": list(range(40))}
        assert reply.headers["X-A"] == "a" * 200 + str(n) and reply.headers["X-B"] == "b" * 200
        assert reply.headers["X-N"] == str(n)
        raw = http.get(server.url("/raw"), timeout=10)
        assert raw.content == b"r" * 2000 and raw.headers["X-Slice"] == "yes" * 50
    assert server.alive()
