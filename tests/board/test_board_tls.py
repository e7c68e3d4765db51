"""TLS on the emulated board: the seed's HTTPS session (curl verifying the board's certificate
against the test CA) and MQTT over TLS through a host Mosquitto that only has a TLS listener.
The board's entropy comes from QEMU's virtio-rng device, its calendar clock (certificate dates)
from the goldfish RTC."""

import re
import subprocess

HTTPS_SERVER = """
import mongoose, time

CERT = '''{cert}'''
KEY = '''{key}'''


def api(body):
    return "f1 r u there ?"


def auth(user, password):
    return user == "admin" and password == "istrator"


mongoose.init(api, auth, url="https://0.0.0.0:8000", cert=CERT, key=KEY)
print("serving https", time.time() > 1700000000)
while True:
    mongoose.poll(1000)
    print("heap", mongoose.memory()["used"], mongoose.memory()["peak"])
"""


def curl(*args):
    result = subprocess.run(["curl", "-s", "--max-time", "20", "-w", " %{http_code}", *args],
                            capture_output=True, text=True, timeout=30)
    return result.returncode, result.stdout


def test_board_serves_the_seed_session_over_https_with_a_certificate_curl_verifies(start_on_board, pki):
    board = start_on_board(HTTPS_SERVER.format(cert=pki.read("server.pem"), key=pki.read("server.key")))
    board.wait_for("serving https True")
    url = f"https://localhost:{board.port}/api/epname"
    code, out = curl("--cacert", str(pki.ca), url)
    assert code == 0 and out.endswith(" 401"), (code, out, board.output())
    code, out = curl("--cacert", str(pki.ca), "-u", "admin:istrator", "-d", "f1 r u there ?", url)
    assert (code, out) == (0, "f1 r u there ? 200"), board.output()
    # The same board certificate under another CA is refused by curl (exit 60: peer verification).
    code, out = curl("--cacert", str(pki.wrong_ca), url)
    assert code == 60, (code, out)
    # Ten more handshakes in a row: the board keeps serving, its C heap comes back.
    for _ in range(10):
        code, out = curl("--cacert", str(pki.ca), "-u", "admin:istrator", url)
        assert out.endswith(" 200"), (code, out, board.output())
    assert "Traceback" not in board.output(), board.output()


MQTT_TLS_CLIENT = """
import mongoose

CA = '''{ca}'''
WRONG_CA = '''{wrong_ca}'''
got = []


def on_connect():
    client.sub("board/tls", 1)
    client.pub("board/tls", "sealed", 1)


def on_publish(topic, msg):
    got.append(msg)
    print("board got", topic, msg)


client = mongoose.MQTTclient(on_connect, on_publish)
# The board reaches the broker at 10.0.2.100, an address its certificate does not name: the name
# checked is server_name's.
client.connect(MQTT_URL, client_id="board-tls", ca=CA, server_name="localhost", wait_ms=20000)
for _ in range(200):
    mongoose.poll(50)
    if got:
        break
print("round trip", got)

stopped = []
untrusting = mongoose.MQTTclient(on_disconnect=stopped.append)
try:
    untrusting.connect(MQTT_URL, client_id="board-untrusting", ca=WRONG_CA, server_name="localhost", wait_ms=20000)
    print("UNEXPECTED: connected with the wrong CA")
except OSError as error:
    print("refused:", error)
misnamed = mongoose.MQTTclient()
try:
    misnamed.connect(MQTT_URL, client_id="board-misnamed", ca=CA, wait_ms=20000)
    print("UNEXPECTED: connected to 10.0.2.100 with a certificate for localhost")
except OSError as error:
    print("refused:", error)
client.disconnect()
print("done", stopped)
"""


def test_board_mqtt_over_tls_round_trips_and_refuses_what_does_not_verify(run_on_board, brokers, pki):
    broker = brokers(tls={"certfile": str(pki.server), "keyfile": str(pki.server_key)})
    assert broker.url.startswith("mqtts://")
    result = run_on_board(
        MQTT_TLS_CLIENT.format(ca=pki.read("ca.pem"), wrong_ca=pki.read("wrong-ca.pem")),
        env={"MQTT_URL": broker.url},
    )
    out = result.output
    assert "round trip [b'sealed']" in out, out
    assert "UNEXPECTED" not in out, out
    assert "refused: mongoose: MQTT client stopped: tls: certificate verify failed: not signed by the CA" in out, out
    assert "refused: mongoose: MQTT client stopped: tls: host name mismatch" in out, out
    assert "done ['tls: certificate verify failed: not signed by the CA given in ca='" in out, out


UNSET_CLOCK_CLIENT = """
import mongoose, time

CA = '''{ca}'''
print("clock", time.time())
reasons = []
for insecure in (False, True):
    client = mongoose.MQTTclient(on_disconnect=reasons.append)
    options = {{"insecure": True}} if insecure else {{"ca": CA, "server_name": "localhost"}}
    try:
        client.connect(MQTT_URL, client_id="board-no-clock", wait_ms=20000, **options)
        print("UNEXPECTED: connected with the clock at", time.time())
    except OSError as error:
        print("refused:", error)
print("reasons", len(reasons))
"""


def test_board_whose_clock_was_never_set_refuses_tls_with_the_reason_not_a_skipped_check(run_on_board, brokers, pki):
    broker = brokers(tls={"certfile": str(pki.server), "keyfile": str(pki.server_key)})
    result = run_on_board(UNSET_CLOCK_CLIENT.format(ca=pki.read("ca.pem")),
                          env={"MQTT_URL": broker.url, "QEMU_RTC_BASE": "2000-01-01"})
    out = result.output
    assert "clock 9466" in out, out  # 2000-01-01, as QEMU was told
    assert "UNEXPECTED" not in out, out
    assert out.count("refused: mongoose: MQTT client stopped: tls: the clock is not set") == 2, out
    assert "reasons 2" in out, out


# A session with a live HTTPS keep-alive connection, a stalled handshake and a connected
# MQTT-over-TLS client ends without close(); the soft reset must free every TLS state.
TLS_SESSION = """
import mongoose

CERT = '''{cert}'''
KEY = '''{key}'''
CA = '''{ca}'''
done = []
mongoose.init(url="https://0.0.0.0:8000", cert=CERT, key=KEY)
mongoose.route("/stop", lambda r: done.append(1) or "bye", auth=False)
client = mongoose.MQTTclient(on_disconnect=lambda reason: print("never after reset"))
client.connect(MQTT_URL, client_id="board-tls-reset", ca=CA, server_name="localhost", wait_ms=20000)
print("tls session live, C heap", mongoose.memory()["used"])
while not done:
    mongoose.poll(50)
print("tls session ends without close()")
"""

AFTER_TLS = """
import mongoose
print("C heap after the TLS session", mongoose.memory()["used"])
"""


def test_soft_reset_with_live_tls_connections_frees_all_their_state(start_on_board, brokers, pki):
    import socket
    import ssl

    broker = brokers(tls={"certfile": str(pki.server), "keyfile": str(pki.server_key)})
    board = start_on_board(TLS_SESSION.format(cert=pki.read("server.pem"), key=pki.read("server.key"),
                                              ca=pki.read("ca.pem")),
                           AFTER_TLS, env={"MQTT_URL": broker.url})
    board.wait_for("tls session live")
    context = ssl.create_default_context(cafile=str(pki.ca))
    stalled = socket.create_connection(("127.0.0.1", board.port), timeout=10)
    stalled.sendall(b"\x16\x03\x01\x00\xf0\x01\x00")  # half a ClientHello
    keep_alive = context.wrap_socket(socket.create_connection(("127.0.0.1", board.port), timeout=10),
                                     server_hostname="localhost")
    keep_alive.sendall(b"GET /stop HTTP/1.1\r\nHost: b\r\n\r\n")
    assert b"bye" in keep_alive.recv(4096)
    output = board.wait_for("C heap after the TLS session")
    assert "never after reset" not in output, output
    assert re.search(r"C heap after the TLS session 0\b", output), output
    live = int(re.search(r"tls session live, C heap (\d+)", output).group(1))
    assert live > 4000, output  # the MQTT client's TLS state and the listener existed
    stalled.close()
    keep_alive.close()
