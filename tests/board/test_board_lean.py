"""The lean board builds (`make qemu-lean`): build/qemu-lean/firmware.elf, the module without its
web-app features and TLS (cargo features `web` and `tls` off, PYTHONGOOSE_WEB=0, Mongoose with
MG_TLS_NONE), and build/qemu-lean-http/firmware.elf, without the MQTT client too. The first still
serves the seed's HTTP session and runs the MQTT client, the second serves it; what a build leaves
out is absent from the module or refused with a clear ValueError, never half there."""

import os
from pathlib import Path

import pytest

from support.http_client import curl

ROOT = Path(__file__).resolve().parent.parent.parent
LEAN_FIRMWARE = ROOT / "build" / "qemu-lean" / "firmware.elf"
LEAN_HTTP_FIRMWARE = ROOT / "build" / "qemu-lean-http" / "firmware.elf"

for firmware in (LEAN_FIRMWARE, LEAN_HTTP_FIRMWARE):
    if not firmware.exists():
        if os.environ.get("PYTHONGOOSE_REQUIRE_BOARD"):  # make test built it: missing is a failure
            raise RuntimeError(f"lean board firmware not built: {firmware} missing")
        pytestmark = pytest.mark.skip(reason=f"{firmware} missing: run `make qemu-lean`")

LEAN = {"QEMU_FIRMWARE": str(LEAN_FIRMWARE)}
LEAN_HTTP = {"QEMU_FIRMWARE": str(LEAN_HTTP_FIRMWARE)}

SERVER_AND_CLIENT = """
import mongoose

users = {"admin": "istrator"}
got = []


def f1(data):
    return "f1 got " + str(len(data)) + " bytes\\n"


def on_connect():
    client.sub("lean/in", 1)
    client.pub("lean/out", "hello from the lean board", 1)
    print("lean connected")


def on_publish(topic, msg):
    print("lean got", topic, msg)


mongoose.init(f1, lambda user, pwd: users.get(user) == pwd)
mongoose.route("/api/hello", lambda request: (200, "hello " + request.method, {"X-Lean": "1"}), methods="GET")
client = mongoose.MQTTclient(on_connect, on_publish)
client.connect(MQTT_URL, client_id="lean")
print("board listening")
while True:
    mongoose.poll(1000)
"""


def test_lean_board_serves_http_with_auth_and_runs_mqtt(start_on_board, broker, paho_peer):
    peer = paho_peer(broker)
    peer.subscribe("lean/out", qos=1)
    board = start_on_board(SERVER_AND_CLIENT, env={**LEAN, "MQTT_URL": broker.url})
    board.wait_for("board listening")
    url = f"http://127.0.0.1:{board.port}"

    denied = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", url + "/api/epname")
    assert denied.stdout == b"401", board.output()
    served = curl("-s", "-u", "admin:istrator", url + "/api/epname", "--data-binary", "r u there ?")
    assert served.stdout == b"f1 got 11 bytes\n", board.output()
    routed = curl("-s", "-i", "-u", "admin:istrator", url + "/api/hello")
    head, _, body = routed.stdout.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200") and "X-Lean: 1" in head and body == "hello GET", routed.stdout

    board.wait_for("lean connected")
    messages = peer.wait_messages(1, topic="lean/out", timeout=10)
    assert messages[0][1] == b"hello from the lean board", board.output()
    peer.publish("lean/in", b"hi lean", qos=1)
    board.wait_for("lean got lean/in b'hi lean'", timeout=10)


LEFT_OUT = """
import mongoose

for name in ("static", "websocket", "sse", "broadcast", "File", "Template", "WebSocket", "EventStream"):
    print("has", name, hasattr(mongoose, name))
for name in ("init", "route", "poll", "close", "memory", "listen", "MQTTclient", "Request"):
    print("has", name, hasattr(mongoose, name))

try:
    mongoose.init(lambda data: "x", url="https://0.0.0.0:8443", cert="C", key="K")
except ValueError as error:
    print("https refused:", error)
print("running after https", mongoose.memory()["used"] >= 0)

try:
    mongoose.MQTTclient(lambda: None, lambda t, m: None).connect("mqtts://10.0.2.100:8883", insecure=True)
except ValueError as error:
    print("mqtts refused:", error)

mongoose.init(lambda data: "plain", url="http://0.0.0.0:8000")
try:
    mongoose.listen("https://0.0.0.0:8443", cert="C", key="K")
except ValueError as error:
    print("listen https refused:", error)
mongoose.close()
print("lean done")
"""


def test_lean_board_leaves_out_web_features_and_tls_with_clear_errors(run_on_board):
    result = run_on_board(LEFT_OUT, env=LEAN)
    out = result.output
    assert "lean done" in out, result
    for name in ("static", "websocket", "sse", "broadcast", "File", "Template", "WebSocket", "EventStream"):
        assert f"has {name} False" in out, result
    for name in ("init", "route", "poll", "close", "memory", "listen", "MQTTclient", "Request"):
        assert f"has {name} True" in out, result
    leaves_out = "needs TLS, which this firmware leaves out (built without the `tls` feature)"
    assert f"https refused: mongoose: https:// {leaves_out}: use http://" in out, result
    assert f"mqtts refused: mongoose: mqtts:// {leaves_out}: use mqtt://" in out, result
    assert f"listen https refused: mongoose: https:// {leaves_out}: use http://" in out, result
    assert "Traceback" not in out, result


def test_the_example_runs_its_api_and_mqtt_parts_on_the_lean_board(start_on_board, broker):
    source = (ROOT / "examples" / "main.py").read_text()
    board = start_on_board(source, env={**LEAN, "MQTT_URL": broker.url})
    board.wait_for("serving http://0.0.0.0:8000")
    board.wait_for("on_publish: got this message in embrel_src --> b'Hello, myself!'", timeout=10)
    status = curl("-s", f"http://127.0.0.1:{board.port}/api/status")
    assert b'"mqtt_connected": true' in status.stdout, (status.stdout, board.output())
    served = curl("-s", "-u", "admin:istrator", f"http://127.0.0.1:{board.port}/api/epname", "--data-binary", "hi")
    assert served.stdout == b"f1 got 2 bytes\n", board.output()
    assert "Traceback" not in board.output(), board.output()


HTTP_ONLY = """
import mongoose

for name in ("MQTTclient", "static", "websocket", "File"):
    print("has", name, hasattr(mongoose, name))
users = {"admin": "istrator"}


def f1(data):
    print("f1", data)
    return "f1 got " + str(len(data)) + " bytes\\n"


mongoose.init(f1, lambda user, pwd: users.get(user) == pwd)
mongoose.route("/api/hello", lambda request: "hello " + request.method, methods="GET", auth=False)
print("board listening")
while True:
    mongoose.poll(1000)
"""


def test_lean_http_only_board_serves_the_seed_session(start_on_board):
    board = start_on_board(HTTP_ONLY, env=LEAN_HTTP)
    board.wait_for("board listening")
    url = f"http://127.0.0.1:{board.port}"
    for name in ("MQTTclient", "static", "websocket", "File"):
        assert f"has {name} False" in board.output(), board.output()
    denied = curl("-s", "-o", "/dev/null", "-w", "%{http_code}", url + "/api/epname")
    assert denied.stdout == b"401", board.output()
    served = curl("-s", "-u", "admin:istrator", url + "/api/epname", "--data-binary", "r u there ?")
    assert served.stdout == b"f1 got 11 bytes\n", board.output()
    board.wait_for("f1 r u there ?")
    assert curl("-s", url + "/api/hello").stdout == b"hello GET", board.output()
