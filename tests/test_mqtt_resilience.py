"""The MQTT client under faults: the broker SIGKILLed and restarted (with and without
persistence), 70 000 QoS 1 publishes across the packet-id wrap, and a scripted fake broker that
sends garbage, duplicates and drops links at the worst moments."""

import random
import re
import signal
import struct
import time

import pytest

from support.fake_broker import connack, publish_packet, read_mqtt_packet, sends_after_connack, serve_until_stopped
from support.mqtt import CALLBACKS, FAST_RECONNECT, parsed, wait_parsed
from support.runner import wait_until


# ---------------------------------------------------------------------------------------------
# Broker SIGKILL + restart


@pytest.mark.parametrize("clean_session", [True, False])
def test_after_broker_sigkill_without_persistence_the_client_reconnects_and_resubscribes(
        clean_session, broker, mqtt_script, paho_peer):
    script = mqtt_script(CALLBACKS + f"""
client.connect(MQTT_URL, client_id="resub-1", clean_session={clean_session}, {FAST_RECONNECT})
run(5000, client.is_connected)
client.sub([("rs/q1", 1), ("rs/q2", 2)])
wait_signal("stop", 30000)
""", broker)
    assert [s for _, s in wait_parsed(script, "STATUS", 1)] == ["delivered"], script.output()
    paho_peer(broker).publish("rs/q1", "before", qos=1)
    assert wait_parsed(script, "MSG", 1) == [("rs/q1", b"before")]
    broker.kill()
    assert wait_parsed(script, "DISCONNECT", 1) == ["connection closed"], script.output()
    time.sleep(0.3)
    broker.start()
    # the broker lost the session: session_present is False and the client subscribes again
    assert wait_parsed(script, "CONNECT", 2, timeout=5) == [False, False], script.output()
    assert wait_until(lambda: broker.log().count("Received SUBSCRIBE from resub-1") >= 2, 5), \
        "no SUBSCRIBE after the reconnect"
    time.sleep(0.2)
    source = paho_peer(broker)
    source.publish("rs/q1", "after q1", qos=1)
    source.publish("rs/q2", "after q2", qos=2)
    wait_parsed(script, "MSG", 3)
    time.sleep(0.3)
    assert parsed(script, "MSG") == [("rs/q1", b"before"), ("rs/q1", b"after q1"), ("rs/q2", b"after q2")]
    assert all(s == "delivered" for _, s in parsed(script, "STATUS")), script.output()


def test_persistent_session_across_broker_sigkill_loses_no_qos1_and_delivers_qos2_exactly_once(
        brokers, mqtt_script, paho_peer):
    """The broker is killed while idle (Mosquitto's autosave does not record every QoS 2
    handshake step, so a kill in the middle of one makes the broker itself resend or reuse
    packet ids; that case is pinned against a scripted broker below). Messages published
    before the kill, while the broker is down (queued by paho) and right after the restart
    (queued by the broker for the offline session) all arrive; QoS 2 exactly once."""
    broker = brokers(persistence=True)
    script = mqtt_script(CALLBACKS + f"""
client.connect(MQTT_URL, client_id="durable-rx", clean_session=False, {FAST_RECONNECT})
run(5000, client.is_connected)
client.sub([("r/q1", 1), ("r/q2", 2)])
wait_signal("stop", 60000)
""", broker)
    assert [s for _, s in wait_parsed(script, "STATUS", 1)] == ["delivered"], script.output()
    source = paho_peer(broker)
    sent = {1: [], 2: []}

    def publish_batch(label, count, wait=True):
        infos = []
        for i in range(count):
            for qos in (1, 2):
                payload = f"{label}-q{qos}-{i}".encode()
                infos.append(source.client.publish(f"r/q{qos}", payload, qos=qos))
                sent[qos].append(payload)
        if wait:
            for info in infos:
                info.wait_for_publish(5)
                assert info.is_published()
        return infos

    # batches stay below 32 QoS 2 messages at once: see the burst test below
    publish_batch("before", 10)
    assert wait_until(lambda: len(parsed(script, "MSG")) >= 20, 5), script.output()
    time.sleep(0.3)
    broker.kill()
    assert wait_parsed(script, "DISCONNECT", 1) == ["connection closed"], script.output()
    publish_batch("outage", 10, wait=False)  # paho keeps them and sends them once reconnected
    time.sleep(0.3)
    broker.start()
    assert source.wait(lambda: len(source.connects) >= 2, 5), "paho did not reconnect"
    publish_batch("restarted", 10)
    # the broker kept the session: session present, no new SUBSCRIBE needed
    assert wait_parsed(script, "CONNECT", 2, timeout=10)[:2] == [False, True], script.output()
    total = sum(len(v) for v in sent.values())
    wait_until(lambda: len(set(parsed(script, "MSG"))) >= total, 15)
    time.sleep(1.0)  # late duplicates would show up now
    got = parsed(script, "MSG")
    q1 = [p for t, p in got if t == "r/q1"]
    q2 = [p for t, p in got if t == "r/q2"]
    assert set(sent[1]) - set(q1) == set(), f"QoS 1 lost: {sorted(set(sent[1]) - set(q1))}"
    missing_q2 = sorted(set(sent[2]) - set(q2))
    duplicated_q2 = sorted({p for p in q2 if q2.count(p) > 1})
    assert missing_q2 == [] and duplicated_q2 == [], f"QoS 2 missing {missing_q2}, duplicated {duplicated_q2}"
    assert len(q2) == len(sent[2])
    assert parsed(script, "CONNECT") == [False, True], "reconnected more than once"


def test_burst_of_60_qos2_messages_from_the_broker_is_delivered_without_dropping_the_link(
        broker, mqtt_script, paho_peer):
    """MQTT 3.1.1 has no receive maximum: a broker may have many QoS 2 messages awaiting PUBREL
    (Mosquitto: max_inflight_messages, here 100). A burst is legal and must not be treated as a
    protocol error."""
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL, client_id="burst-rx", reconnect_min_ms=100, reconnect_max_ms=300)
run(5000, client.is_connected)
client.sub("burst/t", 2)
wait_signal("stop", 30000)
""", broker)
    assert [s for _, s in wait_parsed(script, "STATUS", 1)] == ["delivered"], script.output()
    source = paho_peer(broker)
    # the client process is stopped while the broker forwards the burst: on SIGCONT it reads
    # 60 QoS 2 PUBLISH packets before the broker can see any PUBREC
    script.proc.send_signal(signal.SIGSTOP)
    try:
        infos = [source.client.publish("burst/t", f"b{i}", qos=2) for i in range(60)]
        for info in infos:
            info.wait_for_publish(5)
        assert broker.wait_for_log("Sending PUBLISH to burst-rx", count=60), "the broker did not forward the burst"
    finally:
        script.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: len(parsed(script, "MSG")) >= 60 or parsed(script, "DISCONNECT"), 10)
    time.sleep(0.5)
    got = [p for _, p in parsed(script, "MSG")]
    assert parsed(script, "DISCONNECT") == [], "the link was dropped during a legal QoS 2 burst"
    assert sorted(got) == sorted(f"b{i}".encode() for i in range(60))


def test_forty_unreleased_inbound_qos2_messages_are_accepted_and_each_delivered_once(fake_broker, mqtt_script):
    replies = []

    def handler(sock, index, stop):
        if read_mqtt_packet(sock) is None:
            return
        sock.sendall(connack())
        if index > 0:
            serve_until_stopped(sock, stop)
            return
        time.sleep(0.2)
        sock.sendall(b"".join(publish_packet("burst/t", b"m%d" % pid, 2, pid) for pid in range(1, 41)))
        for _ in range(40):
            packet = read_mqtt_packet(sock, timeout=2)
            if packet is None:
                return
            replies.append(packet)
        sock.sendall(b"".join(b"\x62\x02" + struct.pack(">H", pid) for pid in range(1, 41)))
        serve_until_stopped(sock, stop)

    fake = fake_broker(handler)
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL, reconnect_min_ms=100, reconnect_max_ms=300)
run(2500)
print("DONE")
""", fake.url)
    output = script.wait_done(10)
    assert parsed(script, "DISCONNECT") == [], output
    assert replies == [(0x50, struct.pack(">H", pid)) for pid in range(1, 41)]
    assert sorted(p for _, p in parsed(script, "MSG")) == sorted(b"m%d" % pid for pid in range(1, 41))


def test_module_qos1_stream_across_broker_sigkill_reaches_a_persistent_subscriber(brokers, mqtt_script, paho_peer):
    broker = brokers(persistence=True)
    sink = paho_peer(broker, client_id="stream-sink", clean_session=False)
    sink.subscribe("stream/t", 1)
    total = 300
    script = mqtt_script(CALLBACKS + f"""
def on_status(pid, status):
    if pid is not None:
        print("STATUS", repr((pid, status)))
client = mongoose.MQTTclient(on_connect, None, on_disconnect=on_disconnect, on_status=on_status)
client.connect(MQTT_URL, client_id="stream-src", clean_session=False, {FAST_RECONNECT})
run(5000, client.is_connected)
i = 0
full = 0
t0 = time.ticks_ms()
while i < {total} and ms_since(t0) < 30000:
    try:
        client.pub("stream/t", "n%d" % i, 1)
    except OSError:
        full += 1
        mongoose.poll(20)
        continue
    i += 1
    if i == 100:
        print("HALF")
    run(10)
run(20000, lambda: client.pending() == 0)
print("FINISHED", i, client.pending(), full)
print("DONE")
""", broker)
    assert script.wait_for_output("HALF", timeout=10), script.output()
    broker.kill()
    time.sleep(0.5)
    broker.start()
    output = script.wait_done(40)
    assert f"FINISHED {total} 0" in output, output
    statuses = parsed(script, "STATUS")
    assert len(statuses) == total and all(s == "delivered" for _, s in statuses), \
        [s for s in statuses if s[1] != "delivered"]
    expected = {f"n{i}".encode() for i in range(total)}
    sink.wait(lambda: expected <= {m[1] for m in sink.messages}, 10)
    missing = expected - set(sink.payloads("stream/t"))
    assert not missing, f"{len(missing)} lost: {sorted(missing)[:20]}"


# ---------------------------------------------------------------------------------------------
# Packet-id wrap


def test_70000_qos1_publishes_wrap_packet_ids_past_65535_to_1_and_all_arrive_exactly_once(
        broker, mqtt_script, paho_peer):
    total = 70000
    sink = paho_peer(broker)
    sink.subscribe("wrap/t", 1)
    script = mqtt_script(CALLBACKS + f"""
N = {total}
seen = bytearray(N)
st = {{"delivered": 0, "other": [], "max": 0, "last": 0, "wraps": [], "zero": 0, "dups": 0, "msgs": 0,
      "full": 0, "pub_zero": 0}}


def on_publish(topic, msg):
    i = int(msg)
    if seen[i]:
        st["dups"] += 1
    seen[i] = 1
    st["msgs"] += 1


def on_status(pid, status):
    if pid is None:
        st["full"] += 1
        return
    if status == "delivered":
        st["delivered"] += 1
    elif len(st["other"]) < 10:
        st["other"].append((pid, status))
    if pid == 0:
        st["zero"] += 1
    if pid > st["max"]:
        st["max"] = pid
    if pid < st["last"]:
        st["wraps"].append((st["last"], pid))
    st["last"] = pid


client = mongoose.MQTTclient(None, on_publish, on_status=on_status, on_disconnect=on_disconnect)
client.connect(MQTT_URL, max_inflight=32, max_queue=64)
run(5000, client.is_connected)
client.sub("wrap/t", 1)
t0 = time.ticks_ms()
i = 0
while i < N and ms_since(t0) < 60000:
    if client.pending() >= 32 + 64:
        mongoose.poll(1)
        continue
    try:
        pid = client.pub("wrap/t", b"%d" % i, 1)
    except OSError:
        mongoose.poll(1)
        continue
    if pid == 0:
        st["pub_zero"] += 1
    i += 1
run(60000, lambda: st["msgs"] >= N and client.pending() == 0)
run(300)
missing = [k for k in range(N) if not seen[k]]
print("RESULT", repr((i, st["delivered"], st["msgs"], st["dups"], st["max"], st["wraps"], st["zero"], st["pub_zero"],
                      st["other"], missing[:10], len(missing))))
print("DONE")
""", broker)
    script.wait_done(120)
    (published, delivered, received, dups, max_pid, wraps, zero_status, zero_pub, other, missing,
     missing_count) = parsed(script, "RESULT")[0]
    assert published == total
    assert other == [] and delivered == total + 1, (delivered, other)  # + the SUBSCRIBE
    assert (missing_count, missing, dups) == (0, [], 0), "the module's own subscription did not get each message once"
    assert received == total
    assert max_pid == 65535 and zero_status == 0 and zero_pub == 0
    assert wraps == [(65535, 1)], f"packet ids wrapped as {wraps}"
    sink.wait(lambda: len(sink.messages) >= total, 30)
    payloads = sink.payloads("wrap/t")
    assert len(payloads) == total and set(payloads) == {b"%d" % k for k in range(total)}


# ---------------------------------------------------------------------------------------------
# A fake broker: garbage, duplicates, links lost mid-handshake


GARBAGE = {
    # name: (bytes sent instead of a good CONNACK, expected reason)
    "malformed remaining length": (b"\x20\xff\xff\xff\xff\x01", r"remaining length"),
    "CONNACK too short": (b"\x20\x01\x00", r"malformed"),
    "CONNACK too long": (b"\x20\x03\x00\x00\x00", r"malformed"),
    "CONNACK reserved flag bits": (b"\x20\x02\x02\x00", r"CONNACK flags"),
    "CONNACK return code 9": (b"\x20\x02\x00\x09", r"CONNACK return code"),
    "PUBLISH before CONNACK": (publish_packet("t", b"x"), r"unexpected packet"),
    "reserved packet type 0": (b"\x00\x00", r"reserved packet type"),
    "reserved packet type 15": (b"\xf0\x00", r"reserved packet type"),
    "SUBACK before CONNACK": (b"\x90\x03\x00\x01\x00", r"unexpected packet"),
}


@pytest.mark.parametrize("name", list(GARBAGE))
def test_garbage_instead_of_connack_is_a_protocol_error_and_the_client_retries(name, fake_broker, mqtt_script):
    garbage, expected = GARBAGE[name]

    def handler(sock, index, stop):
        if read_mqtt_packet(sock) is None:
            return
        if index < 2:
            sock.sendall(garbage)
            serve_until_stopped(sock, stop)
            return
        sock.sendall(connack())
        serve_until_stopped(sock, stop)

    fake = fake_broker(handler)
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL, reconnect_min_ms=50, reconnect_max_ms=100, connect_timeout_ms=2000)
run(5000, client.is_connected)
print("CONNECTED", client.is_connected())
client.pub("after/garbage", "fine", 0)
run(200)
print("DONE")
""", fake.url)
    output = script.wait_done(10)
    reasons = parsed(script, "DISCONNECT")
    assert len(reasons) == 2 and all(re.search(expected, r) for r in reasons), (reasons, output)
    assert "CONNECTED True" in output and parsed(script, "CONNECT") == [False]
    assert fake.connections == 3


GARBAGE_AFTER_CONNACK = {
    "PUBLISH with QoS 3": (b"\x36\x06\x00\x01a\x00\x01x", r"QoS"),
    "PUBLISH QoS 1 with packet id 0": (publish_packet("t", b"x", 1, 0), r"packet identifier 0"),
    "PUBLISH with a wildcard topic": (publish_packet("a/+", b"x"), r"topic|wildcard"),
    "PUBLISH topic length past the packet": (b"\x30\x04\x00\x09ab", r"malformed"),
    "second CONNACK": (connack(), r"unexpected packet"),
    "CONNECT from the broker": (b"\x10\x00", r"unexpected packet|flags|malformed"),
    "packet larger than max_packet_size": (publish_packet("t", b"x" * 5000), r"larger than the configured maximum"),
    "remaining length over 4 bytes": (b"\x30\xff\xff\xff\xff\x7f", r"remaining length"),
    "PUBREL with wrong flags": (b"\x60\x02\x00\x01", r"flags"),
}


@pytest.mark.parametrize("name", list(GARBAGE_AFTER_CONNACK))
def test_garbage_after_connack_is_a_protocol_error_and_the_client_reconnects(name, fake_broker, mqtt_script):
    garbage, expected = GARBAGE_AFTER_CONNACK[name]

    fake = fake_broker(sends_after_connack(garbage))
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL, reconnect_min_ms=50, reconnect_max_ms=100, max_packet_size=4096)
run(2000)
print("CONNECTED", client.is_connected())
print("DONE")
""", fake.url)
    output = script.wait_done(10)
    reasons = parsed(script, "DISCONNECT")
    assert len(reasons) == 1 and re.search(expected, reasons[0]), (reasons, output)
    assert parsed(script, "CONNECT") == [False, False] and "CONNECTED True" in output
    assert parsed(script, "MSG") == [], "a malformed message was delivered"


def test_random_garbage_never_crashes_the_client(fake_broker, mqtt_script):
    rng = random.Random(1234)
    blobs = [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 3000))) for _ in range(30)]

    def handler(sock, index, stop):
        if read_mqtt_packet(sock) is None:
            return
        if index < len(blobs):
            if index % 2:
                sock.sendall(connack())
            try:
                sock.sendall(blobs[index])
            except OSError:
                return
            time.sleep(0.05)
            return
        sock.sendall(connack())
        serve_until_stopped(sock, stop)

    fake = fake_broker(handler)
    script = mqtt_script(CALLBACKS + """
def on_publish(topic, msg):
    print("MSG", repr((topic, len(msg))))
client = mongoose.MQTTclient(on_connect, on_publish, on_disconnect=on_disconnect, on_status=on_status)
client.connect(MQTT_URL, reconnect_min_ms=10, reconnect_max_ms=20, connect_timeout_ms=500)
run(25000, lambda: signalled("stop"))
print("CONNECTED", client.is_connected())
print("DONE")
""", fake.url)
    assert wait_until(lambda: fake.connections > len(blobs), 20), (fake.connections, script.output())
    time.sleep(0.5)
    script.signal("stop")
    output = script.wait_done(10)
    assert "CONNECTED True" in output
    assert len(parsed(script, "DISCONNECT")) >= len(blobs) - 1


def test_inbound_qos2_resent_with_dup_before_pubrel_is_delivered_once(fake_broker, mqtt_script):
    replies = []

    def handler(sock, index, stop):
        if read_mqtt_packet(sock) is None:
            return
        sock.sendall(connack())
        time.sleep(0.3)
        sock.sendall(publish_packet("q2/t", b"exactly once", 2, 7))
        replies.append(read_mqtt_packet(sock))  # PUBREC
        sock.sendall(publish_packet("q2/t", b"exactly once", 2, 7, dup=True))
        replies.append(read_mqtt_packet(sock))  # PUBREC again
        sock.sendall(b"\x62\x02\x00\x07")  # PUBREL
        replies.append(read_mqtt_packet(sock))  # PUBCOMP
        sock.sendall(publish_packet("q2/t", b"new message, same id", 2, 7))  # id free again
        replies.append(read_mqtt_packet(sock))
        sock.sendall(b"\x62\x02\x00\x07")
        replies.append(read_mqtt_packet(sock))
        serve_until_stopped(sock, stop)

    fake = fake_broker(handler)
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL)
run(3000)
print("DONE")
""", fake.url)
    script.wait_done(10)
    assert parsed(script, "MSG") == [("q2/t", b"exactly once"), ("q2/t", b"new message, same id")]
    assert replies == [(0x50, b"\x00\x07"), (0x50, b"\x00\x07"), (0x70, b"\x00\x07"), (0x50, b"\x00\x07"),
                       (0x70, b"\x00\x07")]


def test_inbound_qos2_resent_after_reconnect_with_kept_session_is_delivered_once(fake_broker, mqtt_script):
    replies = []

    def handler(sock, index, stop):
        if read_mqtt_packet(sock) is None:
            return
        if index == 0:
            sock.sendall(connack())
            time.sleep(0.2)
            sock.sendall(publish_packet("q2/t", b"across the drop", 2, 9))
            replies.append(read_mqtt_packet(sock))  # PUBREC, then the link drops
            return
        sock.sendall(connack(session_present=True))
        time.sleep(0.2)
        # the broker did not see the PUBREC: it resends the PUBLISH with DUP
        sock.sendall(publish_packet("q2/t", b"across the drop", 2, 9, dup=True))
        replies.append(read_mqtt_packet(sock))
        sock.sendall(b"\x62\x02\x00\x09")
        replies.append(read_mqtt_packet(sock))
        serve_until_stopped(sock, stop)

    fake = fake_broker(handler)
    script = mqtt_script(CALLBACKS + f"""
client.connect(MQTT_URL, client_id="q2-keeper", clean_session=False, {FAST_RECONNECT})
run(3000)
print("DONE")
""", fake.url)
    script.wait_done(10)
    assert parsed(script, "CONNECT") == [False, True]
    assert parsed(script, "MSG") == [("q2/t", b"across the drop")]
    assert replies == [(0x50, b"\x00\x09"), (0x50, b"\x00\x09"), (0x70, b"\x00\x09")]


def test_unacknowledged_qos1_and_qos2_are_resent_after_reconnect_with_kept_session(fake_broker, mqtt_script):
    seen = {0: [], 1: []}

    def handler(sock, index, stop):
        if read_mqtt_packet(sock) is None:
            return
        if index == 0:
            sock.sendall(connack())
            # take both publishes, acknowledge only the QoS 2 one halfway (PUBREC), then drop
            while len(seen[0]) < 2:
                packet = read_mqtt_packet(sock, timeout=5)
                if packet is None:
                    return
                if packet[0] >> 4 == 3:
                    seen[0].append(packet)
            qos2 = next(body for first, body in seen[0] if (first >> 1) & 3 == 2)
            pid = qos2[2 + struct.unpack(">H", qos2[:2])[0]:][:2]
            sock.sendall(b"\x50\x02" + pid)  # PUBREC
            time.sleep(0.3)  # let the client answer with PUBREL (ignored), then drop the link
            return
        sock.sendall(connack(session_present=True))
        while not stop.is_set() and len(seen[1]) < 2:
            packet = read_mqtt_packet(sock, timeout=5)
            if packet is None:
                return
            seen[1].append(packet)
            first, body = packet
            if first >> 4 == 3 and (first >> 1) & 3 == 1:
                pid = body[2 + struct.unpack(">H", body[:2])[0]:][:2]
                sock.sendall(b"\x40\x02" + pid)  # PUBACK
            elif first >> 4 == 6:
                sock.sendall(b"\x70\x02" + body[:2])  # PUBCOMP
        serve_until_stopped(sock, stop)

    fake = fake_broker(handler)
    script = mqtt_script(CALLBACKS + f"""
client.connect(MQTT_URL, client_id="resender", clean_session=False, ack_timeout_ms=60000, {FAST_RECONNECT})
run(3000, client.is_connected)
p1 = client.pub("re/q1", "one", 1)
p2 = client.pub("re/q2", "two", 2)
print("PIDS", repr((p1, p2)))
run(5000, lambda: client.pending() == 0)
print("PENDING", client.pending())
print("DONE")
""", fake.url)
    output = script.wait_done(15)
    p1, p2 = parsed(script, "PIDS")[0]
    assert parsed(script, "CONNECT") == [False, True], output
    assert sorted(parsed(script, "STATUS")) == sorted([(p1, "delivered"), (p2, "delivered")]), output
    second = sorted(seen[1])
    # after the reconnect: the QoS 1 PUBLISH again, with DUP, and PUBREL (not the PUBLISH) for QoS 2
    assert [first for first, _ in second] == [0x3A, 0x62], [hex(first) for first, _ in second]
    qos1_first = next(body for first, body in seen[0] if (first >> 1) & 3 == 1)
    assert second[0][1] == qos1_first
    assert second[1][1] == struct.pack(">H", p2)
