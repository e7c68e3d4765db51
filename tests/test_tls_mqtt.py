"""mongoose.MQTTclient over mqtts:// (Mongoose's built-in TLS 1.3) against a real Mosquitto 2
with a TLS listener, and paho-mqtt over Python's ssl as the independent peer.

Each broker presents a certificate from the session's throwaway PKI (support/pki.py). A
verification failure must reach on_disconnect once with its reason, stop the client
(connect(wait_ms=) raises OSError "MQTT client stopped: <reason>") and never be retried: the
broker's log then shows exactly one "New connection from" line. Scripts print one event per line,
each a Python literal after a tag: CONNECT, MSG, STATUS, DISCONNECT (support/mqtt.py)."""

import ssl
import time

import pytest

from support.fake_broker import connack, publish_packet, read_mqtt_packet
from support.mqtt import CALLBACKS, FAST_RECONNECT, parsed, wait_parsed
from support.runner import wait_until

REASON_NOT_TRUSTED = "tls: certificate verify failed: not signed by the CA given in ca="
REASON_EXPIRED = "tls: certificate verify failed: a certificate is expired, not yet valid, or unreadable"
REASON_HOST = "tls: host name mismatch: "
REASON_REFUSED = "tls: handshake refused by the peer (a TLS alert): "
# connect(wait_ms=)'s OSError text when the client stopped
STOPPED = "mongoose: MQTT client stopped: "


def pem_prelude(pki):
    """Script globals: pem(name) reads a PEM file of the PKI."""
    return f"""
PKI = {str(pki.directory)!r}


def pem(name):
    with open(PKI + "/" + name) as f:
        return f.read()

"""


def tls_broker(brokers, pki, cert="server", **tls):
    """A Mosquitto whose one listener speaks TLS with the PKI's `cert`.pem/.key."""
    options = {"certfile": str(pki.directory / f"{cert}.pem"), "keyfile": str(pki.directory / f"{cert}.key")}
    options.update(tls)
    return brokers(tls=options)


def tls_peer(paho_peer, broker, pki, **options):
    """A paho peer that verifies the broker against ca.pem (and may show client.pem)."""
    client_cert = options.pop("client_cert", False)
    peer = paho_peer(broker, connect=False, **options)
    if client_cert:
        peer.client.tls_set(ca_certs=str(pki.ca), certfile=str(pki.client), keyfile=str(pki.client_key))
    else:
        peer.client.tls_set(ca_certs=str(pki.ca))
    return peer.connect()


def connection_attempts(broker):
    return broker.log().count("New connection from")


# ---------------------------------------------------------------------------------------------
# QoS 0/1/2 both ways


def test_module_publishes_qos0_1_2_over_mqtts_and_a_tls_paho_peer_gets_each_once(brokers, pki, mqtt_script, paho_peer):
    broker = tls_broker(brokers, pki)
    assert broker.url.startswith("mqtts://127.0.0.1:")
    sink = tls_peer(paho_peer, broker, pki)
    sink.subscribe("out/#", 2)
    script = mqtt_script(pem_prelude(pki) + CALLBACKS + """
client.connect(MQTT_URL, ca=pem("ca.pem"), wait_ms=5000)
print("PIDS", repr([client.pub("out/zero", "zero", 0), client.pub("out/one", b"one", 1),
                    client.pub("out/two", bytearray(b"two"), 2)]))
run(5000, lambda: client.pending() == 0)
run(300)
print("DONE")
""", broker)
    script.wait_done(15)
    pids = parsed(script, "PIDS")[0]
    assert sorted(parsed(script, "STATUS")) == sorted([(pids[1], "delivered"), (pids[2], "delivered")])
    sink.wait_messages(3, timeout=5)
    time.sleep(0.3)
    got = sorted((topic, payload, qos) for topic, payload, qos, _, _ in sink.received())
    assert got == [("out/one", b"one", 1), ("out/two", b"two", 2), ("out/zero", b"zero", 0)]
    assert parsed(script, "DISCONNECT") == []


def test_tls_paho_peer_qos0_1_2_publishes_reach_the_module_over_mqtts_exactly_once(brokers, pki, mqtt_script, paho_peer):
    broker = tls_broker(brokers, pki)
    script = mqtt_script(pem_prelude(pki) + CALLBACKS + """
client.connect(MQTT_URL, ca=pem("ca.pem"), wait_ms=5000)
client.sub("in/#", 2)
wait_signal("stop", 20000)
print("DONE")
""", broker)
    assert [s for _, s in wait_parsed(script, "STATUS", 1, timeout=10)] == ["delivered"], script.output()
    source = tls_peer(paho_peer, broker, pki)
    expected = []
    for i in range(10):
        for qos in (0, 1, 2):
            payload = f"q{qos}-{i}-" .encode() + bytes(range(256)) * (i + 1)  # binary, up to 2.5 KB
            source.publish(f"in/q{qos}", payload, qos=qos)
            expected.append((f"in/q{qos}", payload))
    wait_until(lambda: len(parsed(script, "MSG")) >= len(expected), 10)
    time.sleep(0.5)  # duplicates would arrive now
    script.signal("stop")
    script.wait_done(10)
    assert sorted(parsed(script, "MSG")) == sorted(expected)


def test_two_module_clients_exchange_qos2_over_mqtts_in_one_process(brokers, pki, mqtt_script):
    broker = tls_broker(brokers, pki)
    script = mqtt_script(pem_prelude(pki) + """
got = []
acks = []
a = mongoose.MQTTclient(None, lambda t, m: got.append(("a", t, m)), on_status=lambda pid, s: acks.append(s))
b = mongoose.MQTTclient(None, lambda t, m: got.append(("b", t, m)), on_status=lambda pid, s: acks.append(s))
a.connect(MQTT_URL, client_id="tls-a", ca=pem("ca.pem"), wait_ms=5000)
b.connect(MQTT_URL, client_id="tls-b", ca=pem("ca.pem"), wait_ms=5000)
a.sub("to/a", 2)
b.sub("to/b", 1)
run(5000, lambda: len(acks) >= 2)  # both SUBACKs
for i in range(20):
    a.pub("to/b", "from a %d" % i, 2)
    b.pub("to/a", "from b %d" % i, 1)
run(10000, lambda: len(got) >= 40)
run(300)
print("GOT", repr(sorted(got)))
print("ACKS", repr(acks))
print("DONE")
""", broker)
    script.wait_done(20)
    got = parsed(script, "GOT")[0]
    assert parsed(script, "ACKS")[0] == ["delivered"] * 42
    assert got == sorted([("a", "to/a", b"from b %d" % i) for i in range(20)]
                         + [("b", "to/b", b"from a %d" % i) for i in range(20)])


# ---------------------------------------------------------------------------------------------
# Reconnect


def test_after_tls_broker_restart_the_client_reconnects_resubscribes_and_receives(brokers, pki, mqtt_script, paho_peer):
    broker = tls_broker(brokers, pki)
    script = mqtt_script(pem_prelude(pki) + CALLBACKS + f"""
client.connect(MQTT_URL, client_id="tls-resub", ca=pem("ca.pem"), wait_ms=5000, {FAST_RECONNECT})
client.sub([("rs/q1", 1), ("rs/q2", 2)])
wait_signal("stop", 30000)
print("DONE")
""", broker)
    assert [s for _, s in wait_parsed(script, "STATUS", 1, timeout=10)] == ["delivered"], script.output()
    tls_peer(paho_peer, broker, pki).publish("rs/q1", "before", qos=1)
    assert wait_parsed(script, "MSG", 1) == [("rs/q1", b"before")]
    broker.restart()
    assert wait_parsed(script, "DISCONNECT", 1) == ["connection closed"], script.output()
    assert wait_parsed(script, "CONNECT", 2, timeout=10) == [False, False], script.output()
    assert wait_until(lambda: broker.log().count("Received SUBSCRIBE from tls-resub") >= 1, 5), \
        "no SUBSCRIBE after the reconnect"
    source = tls_peer(paho_peer, broker, pki)
    source.publish("rs/q1", "after q1", qos=1)
    source.publish("rs/q2", "after q2", qos=2)
    wait_parsed(script, "MSG", 3)
    time.sleep(0.3)
    assert parsed(script, "MSG") == [("rs/q1", b"before"), ("rs/q1", b"after q1"), ("rs/q2", b"after q2")]
    # a dropped link is not a TLS failure: only "connection closed", and the client went on
    assert parsed(script, "DISCONNECT") == ["connection closed"]
    script.signal("stop")
    script.wait_done(10)


# ---------------------------------------------------------------------------------------------
# Client certificates


def test_broker_requiring_a_client_certificate_accepts_cert_and_key(brokers, pki, mqtt_script, paho_peer):
    broker = tls_broker(brokers, pki, cafile=str(pki.ca), require_certificate=True)
    sink = tls_peer(paho_peer, broker, pki, client_cert=True)
    sink.subscribe("mtls/t", 1)
    script = mqtt_script(pem_prelude(pki) + CALLBACKS + """
client.connect(MQTT_URL, ca=pem("ca.pem"), cert=pem("client.pem"), key=pem("client.key"), wait_ms=5000)
client.pub("mtls/t", "with a client certificate", 1)
run(5000, lambda: client.pending() == 0)
print("DONE")
""", broker)
    script.wait_done(15)
    assert sink.wait_messages(1) and sink.payloads() == [b"with a client certificate"]
    assert parsed(script, "DISCONNECT") == []


def connect_expecting_a_stop(pki, mqtt_script, broker, keywords):
    """connect(wait_ms=5000) with `keywords` and fast reconnects, then 2 s more of polling: prints
    RAISED (the OSError's text, or None), CONNECTED and the callbacks' lines; returns the script."""
    script = mqtt_script(pem_prelude(pki) + CALLBACKS + f"""
try:
    client.connect(MQTT_URL, {keywords}, wait_ms=5000, {FAST_RECONNECT})
    print("RAISED", repr(None))
except OSError as e:
    print("RAISED", repr(str(e)))
run(2000)
print("CONNECTED", repr(client.is_connected()))
print("DONE")
""", broker)
    script.wait_done(15)
    return script


def test_broker_requiring_a_client_certificate_refuses_none_and_the_client_stops_once(brokers, pki, mqtt_script):
    broker = tls_broker(brokers, pki, cafile=str(pki.ca), require_certificate=True)
    script = connect_expecting_a_stop(pki, mqtt_script, broker, 'ca=pem("ca.pem")')
    [raised] = parsed(script, "RAISED")
    assert raised is not None and raised.startswith(STOPPED + REASON_REFUSED), raised
    disconnects = parsed(script, "DISCONNECT")
    assert len(disconnects) == 1 and disconnects[0].startswith(REASON_REFUSED), disconnects
    assert "cert=" in disconnects[0]  # the reason says what to pass
    assert parsed(script, "CONNECTED") == [False]
    assert parsed(script, "CONNECT") == []
    assert connection_attempts(broker) == 1, broker.log()


# ---------------------------------------------------------------------------------------------
# Verification failures: named, permanent, not retried


VERIFY_FAILURES = [
    # (id, broker certificate, connect() keywords, expected reason (prefix))
    ("wrong-ca", "wrong-server", 'ca=pem("ca.pem")', REASON_NOT_TRUSTED),
    ("expired", "expired", 'ca=pem("ca.pem")', REASON_EXPIRED),
    ("other-host", "other-host", 'ca=pem("ca.pem")', REASON_HOST),
    ("server-name-not-in-cert", "other-host", 'ca=pem("ca.pem"), server_name="localhost"', REASON_HOST),
    # a CA that is not the broker's issuer, with a certificate the server's own CA signed
    ("self-signed-with-ca", "self-signed", 'ca=pem("ca.pem")', REASON_NOT_TRUSTED),
    # the CA of wrong-server given: the certificate verifies but names the right host... and
    # the wrong broker's CA does not sign server.pem
    ("ca-of-another-issuer", "server", 'ca=pem("wrong-ca.pem")', REASON_NOT_TRUSTED),
]


@pytest.mark.parametrize("case", VERIFY_FAILURES, ids=[case[0] for case in VERIFY_FAILURES])
def test_verification_failure_reaches_on_disconnect_once_with_its_reason_and_is_not_retried(
        brokers, pki, mqtt_script, case):
    _, cert, keywords, reason = case
    broker = tls_broker(brokers, pki, cert=cert)
    script = connect_expecting_a_stop(pki, mqtt_script, broker, keywords)
    [raised] = parsed(script, "RAISED")
    assert raised is not None and raised.startswith(STOPPED + reason), raised
    disconnects = parsed(script, "DISCONNECT")
    assert len(disconnects) == 1, disconnects
    assert disconnects[0].startswith(reason), disconnects
    assert raised == STOPPED + disconnects[0]
    assert parsed(script, "CONNECTED") == [False]
    assert parsed(script, "CONNECT") == []
    # 2 s at a 100-300 ms reconnect interval: a retry would have shown
    assert connection_attempts(broker) == 1, broker.log()


def verified_round_trip(brokers, pki, mqtt_script, cert, connect_options, topic):
    """Connects with `connect_options` to a broker presenting `cert`, then one QoS 1 message to
    `topic` and back: connected once, the message back, never disconnected."""
    broker = tls_broker(brokers, pki, cert=cert)
    script = mqtt_script(pem_prelude(pki) + CALLBACKS + f"""
client.connect(MQTT_URL, {connect_options}, wait_ms=5000)
client.sub("{topic}", 1)
client.pub("{topic}", "round trip", 1)
run(5000, lambda: client.pending() == 0)
run(500)
print("DONE")
""", broker)
    script.wait_done(15)
    assert parsed(script, "CONNECT") == [False]
    assert parsed(script, "MSG") == [(topic, b"round trip")]
    assert parsed(script, "DISCONNECT") == []


def test_rsa_broker_certificate_verifies_against_ca_and_messages_flow(brokers, pki, mqtt_script):
    """Pinned: the verifying client's ClientHello offers rsa_pss_rsae_sha256 next to
    ecdsa_secp256r1_sha256, so a broker with an RSA certificate (signed by the EC CA) verifies."""
    verified_round_trip(brokers, pki, mqtt_script, "rsa", 'ca=pem("ca.pem")', "rsa/t")


def test_server_name_in_the_certificate_verifies_a_broker_reached_by_ip(brokers, pki, mqtt_script):
    """other-host.pem names only other.example: server_name="other.example" makes it verify."""
    verified_round_trip(brokers, pki, mqtt_script, "other-host", 'ca=pem("ca.pem"), server_name="other.example"', "sn/t")


def test_certificate_with_the_connected_ip_in_its_san_verifies_whatever_server_name_says(brokers, pki, mqtt_script):
    """Mongoose accepts a certificate whose IP SAN is the connected address, regardless of
    server_name (pinned: server.pem has IP:127.0.0.1)."""
    broker = tls_broker(brokers, pki)
    script = mqtt_script(pem_prelude(pki) + CALLBACKS + """
client.connect(MQTT_URL, ca=pem("ca.pem"), server_name="not-in-the.cert", wait_ms=5000)
print("DONE")
""", broker)
    script.wait_done(15)
    assert parsed(script, "CONNECT") == [False]


# ---------------------------------------------------------------------------------------------
# insecure=True


@pytest.mark.parametrize("cert", ["self-signed", "server", "wrong-server", "other-host", "rsa"])
def test_insecure_true_connects_whatever_the_broker_certificate_and_messages_flow(brokers, pki, mqtt_script, cert):
    """insecure=True skips the checks: untrusted, self-signed, other-host and RSA certificates
    all connect, in a process where no verifying client ran before (Mongoose still reads the
    certificate's dates against its clock when skipping verification)."""
    broker = tls_broker(brokers, pki, cert=cert)
    script = mqtt_script(pem_prelude(pki) + CALLBACKS + """
try:
    client.connect(MQTT_URL, insecure=True, wait_ms=5000)
    client.sub("ins/t", 2)
    client.pub("ins/t", "unverified but encrypted", 2)
    run(5000, lambda: client.pending() == 0)
    run(500)
except OSError as e:
    print("RAISED", repr(str(e)))
print("DONE")
""", broker)
    script.wait_done(15)
    assert parsed(script, "RAISED") == []
    assert parsed(script, "CONNECT") == [False]
    assert parsed(script, "MSG") == [("ins/t", b"unverified but encrypted")]
    assert parsed(script, "DISCONNECT") == []


# ---------------------------------------------------------------------------------------------
# connect()'s ValueErrors


CONNECT_ERRORS = [
    # (id, url scheme, keywords, words the message must hold)
    ("mqtts-without-ca-or-insecure", "mqtts", "", "mqtts:// verifies the broker"),
    ("ca-and-insecure", "mqtts", 'ca=pem("ca.pem"), insecure=True', "contradict"),
    ("cert-without-key", "mqtts", 'ca=pem("ca.pem"), cert=pem("client.pem")', "needs both cert= and key="),
    ("key-without-cert", "mqtts", 'ca=pem("ca.pem"), key=pem("client.key")', "needs both cert= and key="),
    ("mqtt-with-ca", "mqtt", 'ca=pem("ca.pem")', "are for mqtts://"),
    ("mqtt-with-insecure", "mqtt", "insecure=True", "are for mqtts://"),
    ("mqtt-with-server-name", "mqtt", 'server_name="localhost"', "are for mqtts://"),
    ("ca-not-a-certificate", "mqtts", 'ca=pem("ca.key")', "ca: no PEM certificate"),
    ("client-cert-and-key-not-a-pair", "mqtts", 'ca=pem("ca.pem"), cert=pem("client.pem"), key=pem("server.key")',
     "do not match"),
    ("client-ed25519-key", "mqtts", 'ca=pem("ca.pem"), cert=pem("client.pem"), key=pem("ed25519.key")', "Ed25519"),
    ("empty-server-name", "mqtts", 'ca=pem("ca.pem"), server_name=""', "server_name"),
]


@pytest.mark.parametrize("case", CONNECT_ERRORS, ids=[case[0] for case in CONNECT_ERRORS])
def test_connect_refuses_contradictory_or_unusable_tls_options_with_a_value_error(broker, pki, mqtt_script, case):
    _, scheme, keywords, words = case
    url = f"{scheme}://127.0.0.1:{broker.port}"
    script = mqtt_script(pem_prelude(pki) + CALLBACKS + f"""
try:
    client.connect(MQTT_URL, {keywords + ", " if keywords else ""}wait_ms=1000)
    print("RAISED", repr("no error"))
except Exception as e:
    print("RAISED", repr(type(e).__name__ + ": " + str(e)))
# nothing reached the network, and the module still connects
other = mongoose.MQTTclient()
other.connect("mqtt://127.0.0.1:%d" % BROKER_PORT, wait_ms=5000)
print("CONNECTED", repr(other.is_connected()))
print("DONE")
""".replace("BROKER_PORT", str(broker.port)), url)
    script.wait_done(15)
    [raised] = parsed(script, "RAISED")
    assert raised.startswith("ValueError: "), raised
    assert words in raised, raised
    assert parsed(script, "CONNECTED") == [True]
    assert connection_attempts(broker) == 1, broker.log()


# ---------------------------------------------------------------------------------------------
# A transient handshake failure is retried


def test_connection_dropped_mid_handshake_is_retried_until_a_handshake_succeeds(fake_broker, pki, mqtt_script):
    """A fake TLS broker (Python's ssl) drops the first two connections after reading the
    ClientHello, then completes the handshake and accepts the CONNECT. A peer that just closes
    during the handshake is a dropped link ("connection closed", as Mongoose reports no TLS
    error for it), never a permanent failure."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pki.server), str(pki.server_key))

    def handler(sock, index, stop):
        sock.settimeout(5)
        if index < 2:
            sock.recv(65536)  # the ClientHello; then the connection drops
            return
        with context.wrap_socket(sock, server_side=True) as tls:
            if read_mqtt_packet(tls) is None:
                return
            tls.sendall(connack())
            while not stop.is_set():  # an SSLSocket cannot peek: serve_until_stopped is for TCP
                packet = read_mqtt_packet(tls, timeout=0.2)
                if packet is not None and packet[0] >> 4 == 12:
                    tls.sendall(b"\xd0\x00")
                elif packet is None:
                    time.sleep(0.05)

    fake = fake_broker(handler)
    script = mqtt_script(pem_prelude(pki) + CALLBACKS + f"""
client.connect(MQTT_URL, ca=pem("ca.pem"), {FAST_RECONNECT})
run(10000, client.is_connected)
run(300)
print("DONE")
""", f"mqtts://127.0.0.1:{fake.port}")
    script.wait_done(20)
    assert parsed(script, "DISCONNECT") == ["connection closed"] * 2, script.output()
    assert parsed(script, "CONNECT") == [False], script.output()
    assert fake.connections == 3
    assert fake.errors == []


def test_plain_mqtt_broker_at_an_mqtts_url_is_a_handshake_failure_retried_with_backoff(fake_broker, pki, mqtt_script):
    """A broker that answers the ClientHello with plaintext (a CONNACK): "tls: handshake failed
    (...)" each time, not permanent, so the client keeps trying."""

    def handler(sock, index, stop):
        sock.settimeout(5)
        sock.recv(65536)
        sock.sendall(connack() + publish_packet("plain/t", b"x" * 64))  # more than a TLS record header
        stop.wait(1.0)

    fake = fake_broker(handler)
    script = mqtt_script(pem_prelude(pki) + CALLBACKS + f"""
client.connect(MQTT_URL, ca=pem("ca.pem"), {FAST_RECONNECT})
run(3000)
print("CONNECTED", repr(client.is_connected()))
print("DONE")
""", f"mqtts://127.0.0.1:{fake.port}")
    script.wait_done(20)
    disconnects = parsed(script, "DISCONNECT")
    assert len(disconnects) >= 3, script.output()
    assert set(disconnects) == {"tls: handshake failed (connection error during the handshake)"}, disconnects
    assert parsed(script, "CONNECTED") == [False]
    assert fake.connections >= 3
