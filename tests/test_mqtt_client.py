"""mongoose.MQTTclient against a real Mosquitto 2 on loopback, with paho-mqtt (or a scripted fake
broker) as the independent peer: every API bullet of the MQTT issue.

Scripts print one event per line, each a Python literal after a tag, which the tests parse:
CONNECT <session_present>, MSG (topic, payload), STATUS (pid, text), DISCONNECT <reason>."""

import ast
import hashlib
import re
import time

import pytest

from support.fake_broker import read_mqtt_packet
from support.mqtt import CALLBACKS, FAST_RECONNECT, parsed, wait_parsed
from support.runner import free_port

def messages(script):
    return parsed(script, "MSG")


def statuses(script):
    return parsed(script, "STATUS")


def disconnects(script):
    return parsed(script, "DISCONNECT")


def connects(script):
    return parsed(script, "CONNECT")


def connected_clients(broker):
    """Client ids the broker logged as connected, in order."""
    return re.findall(r"New client connected from \S+ as (\S+) \(", broker.log())


# ---------------------------------------------------------------------------------------------
# QoS 0/1/2 in both directions


def test_module_publishes_qos0_1_2_and_paho_receives_each_exactly_once(broker, mqtt_script, paho_peer):
    sink = paho_peer(broker)
    sink.subscribe("out/#", 2)
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL)
run(5000, client.is_connected)
print("PIDS", repr([client.pub("out/zero", "zero", 0), client.pub("out/one", b"one", 1),
                    client.pub("out/two", bytearray(b"two"), 2, False)]))
run(5000, lambda: client.pending() == 0)
run(300)
print("DONE")
""", broker)
    script.wait_done(10)
    pids = parsed(script, "PIDS")[0]
    assert pids[0] is None, "pub() at QoS 0 returns None"
    assert all(isinstance(pid, int) and 1 <= pid <= 65535 for pid in pids[1:]) and pids[1] != pids[2], pids
    assert sorted(statuses(script)) == sorted([(pids[1], "delivered"), (pids[2], "delivered")])
    sink.wait_messages(3, timeout=5)
    time.sleep(0.3)
    got = sorted((topic, payload, qos) for topic, payload, qos, _, _ in sink.received())
    assert got == [("out/one", b"one", 1), ("out/two", b"two", 2), ("out/zero", b"zero", 0)]


def test_paho_qos0_1_2_publishes_reach_the_module_exactly_once_each(broker, mqtt_script, paho_peer):
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL)
run(5000, client.is_connected)
client.sub("in/#", 2)
wait_signal("stop", 20000)
print("DONE")
""", broker)
    assert [s for _, s in wait_parsed(script, "STATUS", 1)] == ["delivered"], script.output()
    source = paho_peer(broker)
    expected = []
    for i in range(10):
        for qos in (0, 1, 2):
            payload = f"q{qos}-{i}".encode()
            source.publish(f"in/q{qos}", payload, qos=qos)
            expected.append((f"in/q{qos}", payload))
    got = wait_parsed(script, "MSG", len(expected), timeout=10)
    time.sleep(0.5)  # any duplicate would arrive now
    got = messages(script)
    assert sorted(got) == sorted(expected), f"missing {set(expected) - set(got)}, duplicates {len(got) - len(set(got))}"
    # per topic, order is kept
    for qos in (0, 1, 2):
        assert [p for t, p in got if t == f"in/q{qos}"] == [f"q{qos}-{i}".encode() for i in range(10)]


def test_binary_empty_and_large_payloads_cross_unchanged_both_ways(broker, mqtt_script, paho_peer):
    sink = paho_peer(broker)
    sink.subscribe("bin/out/#", 1)
    script = mqtt_script(CALLBACKS + """
import hashlib
def on_publish(topic, msg):
    print("BIN", repr((topic, len(msg), hashlib.sha256(msg).digest())))
client = mongoose.MQTTclient(on_connect, on_publish, on_disconnect=on_disconnect, on_status=on_status)
client.connect(MQTT_URL)
run(5000, client.is_connected)
client.sub("bin/in/#", 1)
run(2000, lambda: False)
big = bytes(range(256)) * 200
client.pub("bin/out/bytes", bytes(range(256)), 1)
client.pub("bin/out/empty", b"", 1)
client.pub("bin/out/memoryview", memoryview(big)[10:60010], 1)
client.pub("bin/out/utf8", "h\\u00e9llo \\u2603", 1)
run(5000, lambda: client.pending() == 0)
print("SENT")
wait_signal("stop", 20000)
""", broker)
    assert script.wait_for_output("SENT", timeout=10), script.output()
    big = bytes(range(256)) * 200
    sink.wait_messages(4, timeout=5)
    got = {topic: payload for topic, payload, *_ in sink.received()}
    assert got == {"bin/out/bytes": bytes(range(256)), "bin/out/empty": b"", "bin/out/memoryview": big[10:60010],
                   "bin/out/utf8": "h\u00e9llo \u2603".encode()}
    source = paho_peer(broker)
    sent = {"bin/in/a": bytes(range(256)), "bin/in/empty": b"", "bin/in/big": big[:60000]}
    for topic, payload in sent.items():
        source.publish(topic, payload, qos=1)
    script.wait_for_lines("BIN ", 3, timeout=5)
    got = {topic: (length, digest) for topic, length, digest in parsed(script, "BIN")}
    assert got == {topic: (len(p), hashlib.sha256(p).digest()) for topic, p in sent.items()}


# ---------------------------------------------------------------------------------------------
# Subscriptions: statuses, refusals, wildcards, retained, unsub


def test_sub_and_unsub_report_delivered_for_their_packet_ids(broker, mqtt_script):
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL)
run(5000, client.is_connected)
pids = [client.sub("s/a", 1), client.sub([("s/b", 0), ("s/c", 2)]), client.unsub("s/a"), client.unsub(["s/b", "s/c"])]
print("PIDS", repr(pids))
run(5000, lambda: False)
print("DONE")
""", broker)
    pids = wait_parsed(script, "PIDS", 1)[0]
    assert all(isinstance(pid, int) and 1 <= pid <= 65535 for pid in pids) and len(set(pids)) == 4, pids
    assert wait_parsed(script, "STATUS", 4) and sorted(statuses(script)) == sorted((pid, "delivered") for pid in pids)
    assert broker.wait_for_log("Received UNSUBSCRIBE", count=2)


def test_suback_refusal_reports_failed_status_naming_the_refused_filter(brokers, mqtt_script, paho_peer):
    broker = brokers(deny_subscribe=("denied/#",))
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL)
run(5000, client.is_connected)
print("PIDS", repr([client.sub([("ok/x", 1), ("denied/x", 1)]), client.sub("denied/y", 0)]))
wait_signal("stop", 20000)
""", broker)
    pids = wait_parsed(script, "PIDS", 1)[0]
    got = dict(wait_parsed(script, "STATUS", 2))
    assert got == {pids[0]: "failed: subscription refused by the broker: denied/x",
                   pids[1]: "failed: subscription refused by the broker: denied/y"}
    # the granted filter of the partly refused SUBSCRIBE works, and the client stays connected
    paho_peer(broker).publish("ok/x", "still subscribed", qos=1)
    assert wait_parsed(script, "MSG", 1) == [("ok/x", b"still subscribed")]
    assert disconnects(script) == []


def test_plus_wildcard_matches_exactly_one_level(broker, mqtt_script, paho_peer):
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL)
run(5000, client.is_connected)
client.sub("home/+/temp", 1)
wait_signal("stop", 20000)
""", broker)
    assert wait_parsed(script, "STATUS", 1)[0][1] == "delivered", script.output()
    source = paho_peer(broker)
    topics = ["home/kitchen/temp", "home/temp", "home/a/b/temp", "home/kitchen/temp/x", "home//temp",
              "house/kitchen/temp", "home/kitchen/humidity", "home/end/temp"]
    for topic in topics:
        source.publish(topic, topic, qos=1)
    wait_parsed(script, "MSG", 3)
    time.sleep(0.3)
    assert [topic for topic, _ in messages(script)] == ["home/kitchen/temp", "home//temp", "home/end/temp"]


def test_hash_wildcard_matches_the_parent_and_every_level_below(broker, mqtt_script, paho_peer):
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL)
run(5000, client.is_connected)
client.sub([("tree/#", 1), ("+/leaf", 0)])
wait_signal("stop", 20000)
""", broker)
    assert wait_parsed(script, "STATUS", 1)[0][1] == "delivered", script.output()
    source = paho_peer(broker)
    topics = ["tree", "tree/a", "tree/a/b/c", "treehouse", "other/tree", "x/leaf", "x/y/leaf", "tree/end"]
    for topic in topics:
        source.publish(topic, topic, qos=1)
    wait_parsed(script, "MSG", 5)
    time.sleep(0.3)
    assert [topic for topic, _ in messages(script)] == ["tree", "tree/a", "tree/a/b/c", "x/leaf", "tree/end"]


def test_unsub_stops_delivery_of_that_filter_only(broker, mqtt_script, paho_peer):
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL)
run(5000, client.is_connected)
client.sub([("u/t", 1), ("u/marker", 1)])
wait_signal("unsub")
client.unsub("u/t")
wait_signal("stop", 20000)
""", broker)
    assert wait_parsed(script, "STATUS", 1)[0][1] == "delivered", script.output()
    source = paho_peer(broker)
    source.publish("u/t", "before", qos=1)
    assert wait_parsed(script, "MSG", 1) == [("u/t", b"before")]
    script.signal("unsub")
    assert [s for _, s in wait_parsed(script, "STATUS", 2)] == ["delivered", "delivered"], script.output()
    source.publish("u/t", "after", qos=1)
    source.publish("u/marker", "marker", qos=1)
    wait_parsed(script, "MSG", 2)
    time.sleep(0.3)
    assert messages(script) == [("u/t", b"before"), ("u/marker", b"marker")]


def test_retained_message_published_by_the_module_reaches_a_later_subscriber(broker, mqtt_script, paho_peer):
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL)
run(5000, client.is_connected)
client.pub("ret/state", "kept", 1, True)
client.pub("ret/volatile", "not kept", 1, False)
run(5000, lambda: client.pending() == 0)
print("DONE")
""", broker)
    script.wait_done(10)
    late = paho_peer(broker)
    late.subscribe("ret/#", 1)
    late.wait_messages(1, timeout=3)
    time.sleep(0.3)
    assert [(t, p, retain) for t, p, _, retain, _ in late.received()] == [("ret/state", b"kept", True)]


def test_module_receives_a_retained_message_when_it_subscribes(broker, mqtt_script, paho_peer):
    paho_peer(broker).publish("ret/config", "stored earlier", qos=1, retain=True)
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL)
run(5000, client.is_connected)
client.sub("ret/config", 1)
wait_signal("stop", 20000)
""", broker)
    assert wait_parsed(script, "MSG", 1) == [("ret/config", b"stored earlier")], script.output()


# ---------------------------------------------------------------------------------------------
# Client id, clean session, session-present flag


def test_given_client_id_is_used_and_generated_ids_are_distinct(broker, mqtt_script):
    script = mqtt_script(CALLBACKS + """
a = mongoose.MQTTclient()
b = mongoose.MQTTclient()
client.connect(MQTT_URL, client_id="my-device-42")
a.connect(MQTT_URL)
b.connect(MQTT_URL)
run(5000, lambda: client.is_connected() and a.is_connected() and b.is_connected())
print("ALL", client.is_connected() and a.is_connected() and b.is_connected())
wait_signal("stop", 20000)
""", broker)
    assert script.wait_for_output("ALL True", timeout=5), script.output()
    ids = connected_clients(broker)
    assert len(ids) == 3 and "my-device-42" in ids, ids
    generated = [i for i in ids if i != "my-device-42"]
    assert len(set(generated)) == 2 and all(generated), generated


def test_second_connection_with_the_same_client_id_takes_the_session_over(broker, mqtt_script, paho_peer):
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL, client_id="shared-id", reconnect_min_ms=5000, reconnect_max_ms=5000)
run(5000, client.is_connected)
print("UP")
wait_signal("stop", 20000)
""", broker)
    assert script.wait_for_output("UP", timeout=5)
    paho_peer(broker, client_id="shared-id")
    assert wait_parsed(script, "DISCONNECT", 1, timeout=5) == ["connection closed"], script.output()


def test_clean_session_false_keeps_subscription_and_queued_messages_and_reports_session_present(
        broker, mqtt_script, paho_peer):
    body = CALLBACKS + """
client.connect(MQTT_URL, client_id="durable-1", clean_session=CLEAN)
run(5000, client.is_connected)
if SUBSCRIBE:
    client.sub("cs/t", 1)
wait_signal("stop", 20000)
"""
    first = mqtt_script(body.replace("CLEAN", "False").replace("SUBSCRIBE", "True"), broker, name="first")
    assert wait_parsed(first, "STATUS", 1) == [(1, "delivered")] and connects(first) == [False], first.output()
    first.proc.kill()
    assert broker.wait_for_log("Client durable-1 closed its connection")
    source = paho_peer(broker)
    source.publish("cs/t", "while away 1", qos=1)
    source.publish("cs/t", "while away 2", qos=1)

    second = mqtt_script(body.replace("CLEAN", "False").replace("SUBSCRIBE", "False"), broker, name="second")
    assert wait_parsed(second, "CONNECT", 1) == [True], second.output()
    assert wait_parsed(second, "MSG", 2) == [("cs/t", b"while away 1"), ("cs/t", b"while away 2")]
    second.proc.kill()
    assert broker.wait_for_log("Client durable-1 closed its connection", count=2)
    source.publish("cs/t", "discarded with the session", qos=1)

    third = mqtt_script(body.replace("CLEAN", "True").replace("SUBSCRIBE", "False"), broker, name="third")
    assert wait_parsed(third, "CONNECT", 1) == [False], third.output()
    time.sleep(0.5)
    assert messages(third) == []


def test_on_connect_takes_no_argument_and_reads_session_present_from_the_client(broker, mqtt_script):
    script = mqtt_script("""
class Device:
    def __init__(self):
        self.client = mongoose.MQTTclient(self.on_connect)

    def on_connect(self):
        print("BOUND", repr(self.client.session_present))


def make_handler(tag):
    def on_connect():
        print(tag, repr(b.session_present))
    return on_connect


device = Device()
a = device.client
b = mongoose.MQTTclient(make_handler("CLOSURE"))
c = mongoose.MQTTclient(lambda *args: print("VARARGS", repr(args)))
d = mongoose.MQTTclient(lambda flag: print("ONEARG", flag))
print("BEFORE", repr(a.session_present))
for x in (a, b, c, d):
    x.connect(MQTT_URL)
run(3000, lambda: a.is_connected() and b.is_connected() and c.is_connected() and d.is_connected())
run(300)
try:
    a.session_present = True
except AttributeError:
    print("READONLY")
print("DONE")
""", broker)
    output = script.wait_done(10)
    assert "BEFORE False" in output and "BOUND False" in output and "CLOSURE False" in output, output
    assert "VARARGS ()" in output and "READONLY" in output, output
    # a callback that wants an argument gets none: its TypeError is printed, the client runs on
    assert "ONEARG" not in output and "TypeError" in output, output


# ---------------------------------------------------------------------------------------------
# Refusals and an unreachable broker


def test_wrong_password_reports_the_refusal_once_and_stops_without_retrying(brokers, mqtt_script):
    broker = brokers(users={"user": "pass"})
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL, "user", "wrong", reconnect_min_ms=50, reconnect_max_ms=100)
try:
    run(2000)
except RuntimeError as e:
    print("POLL", repr(str(e)))
print("CONNECTED", client.is_connected())
try:
    client.pub("t", "x", 1)
except OSError as e:
    print("PUB", "OSError")
print("DONE")
""", broker)
    output = script.wait_done(10)
    reasons = disconnects(script)
    assert len(reasons) == 1, output
    # Mosquitto 2 answers a wrong password with CONNACK 5 (not authorized)
    assert reasons[0].startswith("connection refused: "), reasons
    assert "CONNECTED False" in output and "PUB OSError" in output
    assert broker.log().count("New connection from") == 1, "the client retried after a final refusal"


def test_right_password_connects(brokers, mqtt_script, paho_peer):
    broker = brokers(users={"user": "pass", "other": "secret"})
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL, "user", b"pass")
run(5000, client.is_connected)
client.pub("auth/t", "authenticated", 1)
run(5000, lambda: client.pending() == 0)
print("DONE")
""", broker)
    script.wait_done(10)
    assert connects(script) == [False] and statuses(script) == [(1, "delivered")]


def test_missing_credentials_on_a_password_broker_report_not_authorized(brokers, mqtt_script):
    broker = brokers(users={"user": "pass"})
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL, reconnect_min_ms=50)
try:
    run(1500)
except RuntimeError:
    pass
print("DONE")
""", broker)
    script.wait_done(10)
    assert disconnects(script) == ["connection refused: not authorized"]


def test_final_stop_without_on_disconnect_prints_client_stopped_with_the_reason(brokers, mqtt_script):
    broker = brokers(users={"user": "pass"})
    script = mqtt_script("""
client = mongoose.MQTTclient()
client.connect(MQTT_URL, "user", "wrong")
try:
    run(1500)
except RuntimeError:
    pass
print("DONE")
""", broker)
    output = script.wait_done(10)
    stopped = [line for line in output.splitlines() if line.startswith("mongoose: MQTT client stopped: ")]
    assert len(stopped) == 1 and stopped[0].startswith("mongoose: MQTT client stopped: connection refused: "), output


@pytest.mark.parametrize("code, reason, final", [
    (1, "connection refused: unacceptable protocol version", True),
    (2, "connection refused: identifier rejected", True),
    (3, "connection refused: server unavailable", False),
    (4, "connection refused: bad user name or password", True),
    (5, "connection refused: not authorized", True),
])
def test_connack_refusal_codes_are_reported_by_name_and_only_server_unavailable_retries(
        code, reason, final, fake_broker, mqtt_script):
    def refuse(sock, index, stop):
        if read_mqtt_packet(sock) is not None:
            sock.sendall(bytes([0x20, 0x02, 0x00, code]))
        read_mqtt_packet(sock, timeout=1)

    fake = fake_broker(refuse)
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL, "user", "pwd", reconnect_min_ms=50, reconnect_max_ms=100)
try:
    run(1200)
except RuntimeError:
    pass
print("RUNNING", client.is_connected())
print("DONE")
""", fake.url)
    script.wait_done(10)
    reasons = disconnects(script)
    assert reasons and all(r == reason for r in reasons), reasons
    if final:
        assert len(reasons) == 1 and fake.connections == 1, (reasons, fake.connections)
    else:
        assert len(reasons) >= 3 and fake.connections >= 3, (reasons, fake.connections)


def test_unreachable_broker_at_start_is_reported_and_retried_until_it_comes_up(brokers, mqtt_script):
    broker = brokers(start=False)
    script = mqtt_script(CALLBACKS + """
def on_disconnect(reason):
    print("DISCONNECT", repr(reason))
    print("AT", time.ticks_ms())
client = mongoose.MQTTclient(on_connect, on_publish, on_disconnect=on_disconnect, on_status=on_status)
client.connect(MQTT_URL, reconnect_min_ms=100, reconnect_max_ms=400)
run(20000, client.is_connected)
client.sub("late/t", 1)
client.pub("late/t", "hello after the outage", 1)
run(5000, lambda: False)
""", broker)
    reasons = wait_parsed(script, "DISCONNECT", 4, timeout=5)
    assert len(reasons) >= 4 and all(r == "connection closed" for r in reasons), script.output()
    times = [int(t) for t in script.lines("AT ")]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(40 <= gap <= 600 for gap in gaps), f"backoff gaps outside reconnect_min_ms/2..max: {gaps}"
    assert connects(script) == []
    broker.start()
    assert wait_parsed(script, "CONNECT", 1, timeout=5) == [False], script.output()
    assert wait_parsed(script, "MSG", 1) == [("late/t", b"hello after the outage")]


def test_reconnect_backoff_doubles_from_min_to_max_with_jitter(mqtt_script):
    script = mqtt_script("""
def on_disconnect(reason):
    print("AT", time.ticks_ms())
client = mongoose.MQTTclient(on_disconnect=on_disconnect)
client.connect(MQTT_URL, reconnect_min_ms=100, reconnect_max_ms=800)
run(5500)
print("DONE")
""", f"mqtt://127.0.0.1:{free_port()}")
    script.wait_done(15)
    times = [int(t) for t in script.lines("AT ")]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(gaps) >= 7, gaps
    for k, gap in enumerate(gaps):
        base = min(100 * 2 ** k, 800)
        assert base // 2 - 10 <= gap <= base + 150, f"gap {k} = {gap} ms, expected in [{base // 2}, {base}]: {gaps}"
    capped = gaps[3:]
    assert max(capped) - min(capped) > 5, f"no jitter in the capped delays: {capped}"


def test_disconnect_sends_disconnect_so_the_will_is_not_published(broker, mqtt_script, paho_peer):
    watcher = paho_peer(broker)
    watcher.subscribe("will/#", 1)
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL, will_topic="will/dev", will_msg="gone", will_qos=1)
run(5000, client.is_connected)
client.disconnect()
print("CONNECTED", client.is_connected())
print("DONE")
""", broker)
    script.wait_done(10)
    assert "CONNECTED False" in script.output()
    assert broker.wait_for_log("Received DISCONNECT from", timeout=2), "no DISCONNECT packet reached the broker"
    time.sleep(0.5)
    assert watcher.payloads() == [], "the will was published after a clean disconnect()"


def test_disconnect_stops_the_client_and_it_can_connect_again(broker, mqtt_script, paho_peer):
    script = mqtt_script(CALLBACKS + """
mongoose.init(url=URL)  # keeps the loop pollable between the two sessions
client.connect(MQTT_URL)
run(5000, client.is_connected)
client.disconnect()
run(300)
print("AFTER", client.is_connected(), client.pending())
for name, call in (("pub", lambda: client.pub("t", "x", 1)), ("sub", lambda: client.sub("t")),
                   ("unsub", lambda: client.unsub("t"))):
    try:
        call()
        print("STOPPED", name, "no error")
    except OSError:
        print("STOPPED", name, "OSError")
client.disconnect()  # no-op
client.connect(MQTT_URL)
run(5000, client.is_connected)
client.sub("again/t", 1)
wait_signal("stop", 20000)
""", broker)
    assert wait_parsed(script, "CONNECT", 2) == [False, False], script.output()
    assert "AFTER False 0" in script.output()
    assert script.lines("STOPPED ") == ["pub OSError", "sub OSError", "unsub OSError"]
    assert broker.wait_for_log("Received DISCONNECT from")
    wait_parsed(script, "STATUS", 1)
    paho_peer(broker).publish("again/t", "second life", qos=1)
    assert wait_parsed(script, "MSG", 1) == [("again/t", b"second life")]


# ---------------------------------------------------------------------------------------------
# connect(wait_ms=...): umqtt-style blocking connect


def test_connect_with_wait_ms_returns_session_present_and_a_qos0_publish_goes_out_at_once(
        broker, mqtt_script, paho_peer):
    sink = paho_peer(broker)
    sink.subscribe("wait/t", 0)
    script = mqtt_script(CALLBACKS + """
print("FIRST", repr(client.connect(MQTT_URL, client_id="waiter", clean_session=False, wait_ms=5000)))
print("UP", client.is_connected())
client.pub("wait/t", "right after connect", 0)
client.disconnect()
second = mongoose.MQTTclient()
print("SECOND", repr(second.connect(MQTT_URL, client_id="waiter", clean_session=False, wait_ms=5000)))
print("PLAIN", repr(mongoose.MQTTclient().connect(MQTT_URL)))
print("DONE")
""", broker)
    output = script.wait_done(10)
    assert parsed(script, "FIRST") == [False] and parsed(script, "SECOND") == [True], output
    assert "UP True" in output and parsed(script, "PLAIN") == [None], output
    # on_connect ran inside the wait, before connect() returned
    assert output.index("CONNECT False") < output.index("FIRST False"), output
    sink.wait_messages(1, timeout=5)
    assert [(t, p) for t, p, _, _, _ in sink.received()] == [("wait/t", b"right after connect")]


def test_connect_with_wait_ms_raises_the_brokers_refusal(brokers, mqtt_script):
    broker = brokers(users={"user": "pass"})
    script = mqtt_script(CALLBACKS + """
try:
    client.connect(MQTT_URL, "user", "wrong", wait_ms=5000)
    print("NO ERROR")
except OSError as e:
    print("ERROR", repr(str(e)))
print("CONNECTED", client.is_connected())
print("DONE")
""", broker)
    output = script.wait_done(10)
    errors = parsed(script, "ERROR")
    assert len(errors) == 1 and errors[0].startswith("mongoose: MQTT client stopped: connection refused: "), output
    assert disconnects(script) == [errors[0].split("stopped: ", 1)[1]] and "CONNECTED False" in output

    # Without on_disconnect the refusal is raised, and not printed as well.
    bare = mqtt_script("""
client = mongoose.MQTTclient()
try:
    client.connect(MQTT_URL, "user", "wrong", wait_ms=5000)
except OSError as e:
    print("ERROR", repr(str(e)))
print("DONE")
""", broker, name="bare")
    bare_output = bare.wait_done(10)
    assert parsed(bare, "ERROR") == errors and "mongoose: MQTT client stopped" not in bare_output.replace(
        "ERROR " + repr(errors[0]), ""), bare_output


def test_connect_with_wait_ms_times_out_on_an_unreachable_broker_and_keeps_trying(brokers, mqtt_script):
    broker = brokers(start=False)
    script = mqtt_script(CALLBACKS + """
import errno
start = time.ticks_ms()
try:
    client.connect(MQTT_URL, wait_ms=600, reconnect_min_ms=100, reconnect_max_ms=200)
    print("NO ERROR")
except OSError as e:
    print("TIMEOUT", e.errno == errno.ETIMEDOUT, repr(e.args[1]))
print("WAITED", time.ticks_diff(time.ticks_ms(), start))
wait_signal("broker", 10000)
run(10000, client.is_connected)
print("LATER", client.is_connected())
print("DONE")
""", broker)
    assert script.wait_for_output("WAITED", timeout=5), script.output()
    timeout = script.lines("TIMEOUT ")
    assert len(timeout) == 1 and timeout[0].startswith("True "), script.output()
    assert "within 600 ms (the client keeps trying); last attempt: connection closed" in timeout[0]
    assert 550 <= int(script.lines("WAITED ")[0]) <= 3000
    broker.start()
    script.signal("broker")
    output = script.wait_done(15)
    assert "LATER True" in output and connects(script) == [False], output


def test_ctrl_c_interrupts_a_connect_that_waits(brokers, mqtt_script):
    broker = brokers(start=False)
    # No callbacks: a KeyboardInterrupt cannot surface through Python code run by the wait.
    script = mqtt_script("""
client = mongoose.MQTTclient()
print("WAITING")
start = time.ticks_ms()
try:
    client.connect(MQTT_URL, wait_ms=30000, reconnect_min_ms=100, reconnect_max_ms=200)
    print("NO INTERRUPT")
except KeyboardInterrupt:
    print("INTERRUPTED", time.ticks_diff(time.ticks_ms(), start))
client.disconnect()
mongoose.poll(10)
mongoose.close()
print("AFTER OK")
""", broker)
    assert script.wait_for_output("WAITING", timeout=5), script.output()
    time.sleep(0.5)
    assert script.interrupt(timeout=5) == 0, script.all_output()
    waited = script.lines("INTERRUPTED ")
    assert len(waited) == 1 and int(waited[0]) < 5000, script.output()
    assert "AFTER OK" in script.output(), script.all_output()


def test_connect_with_wait_ms_inside_a_callback_raises_and_bad_values_are_value_errors(broker, mqtt_script):
    script = mqtt_script(CALLBACKS + """
other = mongoose.MQTTclient()
def on_connect():
    try:
        other.connect(MQTT_URL, wait_ms=1000)
        print("INSIDE no error")
    except RuntimeError as e:
        print("INSIDE", repr(str(e)))
client = mongoose.MQTTclient(on_connect)
client.connect(MQTT_URL)
run(5000, client.is_connected)
run(200)
for bad in (-1, 1 << 40):
    try:
        other.connect(MQTT_URL, wait_ms=bad)
        print("BAD no error")
    except ValueError as e:
        print("BAD", repr(str(e)))
print("OTHER", repr(other.connect(MQTT_URL, wait_ms=3000)))
print("DONE")
""", broker)
    output = script.wait_done(10)
    assert script.lines("INSIDE ") == [repr("mongoose: connect(wait_ms=...) cannot wait inside a callback; "
                                            "use on_connect")], output
    assert script.lines("BAD ") == [repr("wait_ms must be >= 0")] * 2, output
    assert parsed(script, "OTHER") == [False], output


def test_connect_accepts_localhost(broker, mqtt_script):
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL.replace("127.0.0.1", "localhost"))
run(5000, client.is_connected)
print("CONNECTED", client.is_connected())
print("DONE")
""", broker)
    assert "CONNECTED True" in script.wait_done(10)


# ---------------------------------------------------------------------------------------------
# Last will


def test_will_with_qos1_and_retain_is_kept_for_a_later_subscriber_after_kill(broker, mqtt_script, paho_peer):
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL, None, None, "will/status", b"offline", 1, True)
run(5000, client.is_connected)
print("UP")
wait_signal("stop", 20000)
""", broker)
    assert script.wait_for_output("UP", timeout=5)
    assert broker.wait_for_log("Will message specified (7 bytes) (r1, q1)"), "will options not in CONNECT"
    script.proc.kill()
    script.proc.wait(timeout=5)
    assert broker.wait_for_log("closed its connection")
    late = paho_peer(broker)
    late.subscribe("will/#", 1)
    assert [(t, p, retain) for t, p, _, retain, _ in late.wait_messages(1, timeout=3)] == [("will/status", b"offline", True)]


# ---------------------------------------------------------------------------------------------
# is_connected / pending, offline queue, queue overflow


def test_is_connected_and_pending_follow_the_link_and_the_acks(broker, mqtt_script):
    script = mqtt_script(CALLBACKS + """
print("NEW", client.is_connected(), client.pending())
client.connect(MQTT_URL)
print("STARTED", client.is_connected())
run(5000, client.is_connected)
print("UP", client.is_connected(), client.pending())
client.pub("p/t", "a", 1)
client.pub("p/t", "b", 2)
client.pub("p/t", "c", 0)
print("PENDING", client.pending())
run(5000, lambda: client.pending() == 0)
print("ACKED", client.pending())
print("DONE")
""", broker)
    output = script.wait_done(10)
    assert "NEW False 0" in output and "STARTED False" in output and "UP True 0" in output
    assert "PENDING 2" in output and "ACKED 0" in output


def test_qos1_publishes_made_while_the_broker_is_down_are_delivered_after_it_returns(brokers, mqtt_script, paho_peer):
    broker = brokers(persistence=True)
    sink = paho_peer(broker, client_id="offline-sink", clean_session=False)
    sink.subscribe("off/t", 1)
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL, """ + FAST_RECONNECT + """)
run(5000, client.is_connected)
print("UP")
run(10000, lambda: not client.is_connected())
pids = [client.pub("off/t", "queued %d" % i, 1) for i in range(5)]
print("QUEUED", repr(pids), client.pending())
run(15000, lambda: client.pending() == 0)
print("PENDING", client.pending())
wait_signal("stop", 20000)
""", broker)
    assert script.wait_for_output("UP", timeout=5), script.output()
    time.sleep(0.3)
    broker.kill()
    assert script.wait_for_output("QUEUED", timeout=5), script.output()
    queued, pending = script.lines("QUEUED ")[0].rsplit(" ", 1)
    pids = ast.literal_eval(queued)
    assert pending == "5" and len(set(pids)) == 5, script.output()
    time.sleep(0.5)
    broker.start()
    assert script.wait_for_output("PENDING 0", timeout=10), script.output()
    assert sorted(statuses(script)) == sorted((pid, "delivered") for pid in pids)
    sink.wait_messages(5, timeout=10)
    assert sorted(set(sink.payloads("off/t"))) == [f"queued {i}".encode() for i in range(5)]


def test_full_window_and_queue_raise_oserror_then_drain(broker, mqtt_script, paho_peer):
    sink = paho_peer(broker)
    sink.subscribe("full/t", 1)
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL, max_inflight=2, max_queue=3)
run(5000, client.is_connected)
accepted = 0
try:
    for i in range(20):
        client.pub("full/t", "m%d" % i, 1)
        accepted += 1
except OSError as e:
    print("RAISED", accepted, client.pending())
run(5000, lambda: client.pending() == 0)
print("DRAINED", client.pending())
client.pub("full/t", "after", 1)
run(5000, lambda: client.pending() == 0)
print("DONE")
""", broker)
    output = script.wait_done(10)
    assert "RAISED 5 5" in output, output
    # the OSError is the report: on_status hears of packet ids only
    assert [s for p, s in statuses(script)] == ["delivered"] * 6
    sink.wait_messages(6, timeout=5)
    assert sink.payloads("full/t") == [f"m{i}".encode() for i in range(5)] + [b"after"]


def test_queue_while_disconnected_is_bounded_by_max_queue(mqtt_script):
    script = mqtt_script(CALLBACKS + """
client.connect("mqtt://127.0.0.1:1", max_inflight=2, max_queue=3, reconnect_min_ms=100)
accepted = 0
try:
    for i in range(20):
        client.pub("t", "m", 1)
        accepted += 1
except OSError as e:
    print("RAISED", accepted, client.pending())
try:
    client.pub("t", "m", 0)
except OSError as e:
    print("QOS0", "OSError")
print("DONE")
""", "mqtt://127.0.0.1:1")
    output = script.wait_done(10)
    assert "RAISED 3 3" in output and "QOS0 OSError" in output, output
    assert statuses(script) == []


def test_queue_while_disconnected_is_bounded_by_max_queue_bytes(mqtt_script):
    # 100-byte payloads on topic "t" are 107-byte packets: three fit in 330 bytes, the fourth
    # does not, although max_queue would take 50; a small one still fits the rest.
    script = mqtt_script(CALLBACKS + """
client.connect("mqtt://127.0.0.1:1", max_queue=50, max_queue_bytes=330, reconnect_min_ms=100)
accepted = 0
try:
    for i in range(20):
        client.pub("t", b"x" * 100, 1)
        accepted += 1
except OSError as e:
    print("RAISED", accepted, client.pending(), e)
client.pub("t", b"", 1)
print("SMALL", client.pending())
print("DONE")
""", "mqtt://127.0.0.1:1")
    output = script.wait_done(10)
    assert "RAISED 3 3 " in output and "SMALL 4" in output, output


# ---------------------------------------------------------------------------------------------
# Argument validation


VALIDATION_CASES = [
    ("pub empty topic", 'client.pub("", "x")', "ValueError"),
    ("pub + in topic", 'client.pub("a/+/b", "x")', "ValueError"),
    ("pub # in topic", 'client.pub("a/#", "x")', "ValueError"),
    ("pub NUL in topic", 'client.pub("a\\x00b", "x")', "ValueError"),
    ("pub topic too long", 'client.pub("a" * 65536, "x")', "ValueError"),
    ("pub qos 3", 'client.pub("a", "x", 3)', "ValueError"),
    ("pub qos -1", 'client.pub("a", "x", -1)', "ValueError"),
    ("pub bytes topic", 'client.pub(b"a", "x")', "TypeError"),
    ("pub int topic", 'client.pub(1, "x")', "TypeError"),
    ("pub int msg", 'client.pub("a", 5)', "TypeError"),
    ("pub None msg", 'client.pub("a", None)', "TypeError"),
    ("sub # in the middle", 'client.sub("a/#/b")', "ValueError"),
    ("sub + inside a level", 'client.sub("a+")', "ValueError"),
    ("sub # inside a level", 'client.sub("a/b#")', "ValueError"),
    ("sub empty", 'client.sub("")', "ValueError"),
    ("sub NUL", 'client.sub("a\\x00")', "ValueError"),
    ("sub qos 3", 'client.sub("a", 3)', "ValueError"),
    ("sub list bad qos", 'client.sub([("a", 0), ("b", 5)])', "ValueError"),
    ("sub list bad filter", 'client.sub([("a", 0), ("x/#/y", 0)])', "ValueError"),
    ("sub empty list", "client.sub([])", "ValueError"),
    ("sub int", "client.sub(5)", "TypeError"),
    ("sub list of 1-tuples", 'client.sub([("a",)])', "TypeError"),
    ("unsub invalid filter", 'client.unsub("a/#/b")', "ValueError"),
    ("unsub empty", 'client.unsub("")', "ValueError"),
    ("unsub int", "client.unsub(5)", "TypeError"),
    ("ctor on_connect not callable", "mongoose.MQTTclient(5)", "TypeError"),
    ("ctor on_status not callable", 'mongoose.MQTTclient(on_status="x")', "TypeError"),
    ("connect when running", "client.connect(MQTT_URL)", "RuntimeError"),
    ("connect will qos 3", 'mongoose.MQTTclient().connect(MQTT_URL, will_topic="w", will_msg="x", will_qos=3)', "ValueError"),
    ("connect will topic wildcard", 'mongoose.MQTTclient().connect(MQTT_URL, will_topic="w/#", will_msg="x")', "ValueError"),
    ("connect keepalive -1", "mongoose.MQTTclient().connect(MQTT_URL, keepalive=-1)", "ValueError"),
    ("connect max_queue_bytes 0", "mongoose.MQTTclient().connect(MQTT_URL, max_queue_bytes=0)", "ValueError"),
    ("connect empty url", 'mongoose.MQTTclient().connect("")', "ValueError"),
    ("connect int url", "mongoose.MQTTclient().connect(5)", "TypeError"),
    ("valid wildcard filters", 'client.sub([("a/+/b", 0), ("#", 0), ("+", 1), ("a/b/#", 2)])', "ok"),
    ("valid unsub list", 'client.unsub(["a/+/b", "#"])', "ok"),
]


def test_invalid_arguments_raise_value_and_type_errors_and_leave_the_client_working(broker, mqtt_script, paho_peer):
    sink = paho_peer(broker)
    sink.subscribe("valid/t", 1)
    cases = "\n".join(f"check({name!r}, lambda: {code})" for name, code, _ in VALIDATION_CASES)
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL)
run(5000, client.is_connected)


def check(name, call):
    try:
        call()
        print("CASE", repr((name, "ok")))
    except Exception as e:
        print("CASE", repr((name, type(e).__name__)))


""" + cases + """
run(500)
print("CONNECTED", client.is_connected())
client.pub("valid/t", "still fine", 1)
run(5000, lambda: client.pending() == 0)
print("DONE")
""", broker)
    output = script.wait_done(15)
    assert dict(parsed(script, "CASE")) == {name: expected for name, _, expected in VALIDATION_CASES}
    assert "CONNECTED True" in output and disconnects(script) == []
    assert sink.wait_messages(1, timeout=3) and sink.payloads("valid/t") == [b"still fine"]
    # only the two valid requests and the publish produced statuses
    assert [s for _, s in statuses(script)] == ["delivered"] * 3


def test_a_client_that_never_connected_raises_oserror_for_requests(mqtt_script):
    script = mqtt_script("""
client = mongoose.MQTTclient()
print("STATE", client.is_connected(), client.pending())
for name, call in (("pub0", lambda: client.pub("t", "x")), ("pub1", lambda: client.pub("t", "x", 1)),
                   ("sub", lambda: client.sub("t")), ("unsub", lambda: client.unsub("t"))):
    try:
        call()
        print("RESULT", name, "no error")
    except Exception as e:
        print("RESULT", name, type(e).__name__)
client.disconnect()
print("DONE")
""", "mqtt://127.0.0.1:1")
    output = script.wait_done(10)
    assert "STATE False 0" in output
    assert script.lines("RESULT ") == ["pub0 OSError", "pub1 OSError", "sub OSError", "unsub OSError"]


# ---------------------------------------------------------------------------------------------
# Callbacks: exceptions, re-entrancy, dropped client objects


def test_raising_callbacks_print_their_traceback_and_the_client_keeps_working(broker, mqtt_script, paho_peer):
    sink = paho_peer(broker)
    sink.subscribe("cb/out", 1)
    script = mqtt_script("""
def on_connect():
    print("CONNECT")
    raise RuntimeError("boom from on_connect")


def on_publish(topic, msg):
    print("MSG", repr((topic, msg)))
    if msg == b"bad":
        raise ValueError("boom from on_publish")


def on_status(pid, status):
    print("STATUS", repr((pid, status)))
    raise KeyError("boom from on_status")


client = mongoose.MQTTclient(on_connect, on_publish, on_status=on_status)
client.connect(MQTT_URL)
run(5000, client.is_connected)
client.sub("cb/in", 1)
wait_signal("published")
run(1000)
client.pub("cb/out", "after the exceptions", 1)
run(3000, lambda: client.pending() == 0)
print("CONNECTED", client.is_connected())
print("DONE")
""", broker)
    assert script.wait_for_lines("STATUS ", 1), script.output()
    source = paho_peer(broker)
    for payload in ("bad", "good 1", "bad", "good 2"):
        source.publish("cb/in", payload, qos=1)
    script.signal("published")
    output = script.wait_done(15)
    assert messages(script) == [("cb/in", p) for p in (b"bad", b"good 1", b"bad", b"good 2")]
    assert "CONNECTED True" in output
    assert sink.wait_messages(1, timeout=3) and sink.payloads("cb/out") == [b"after the exceptions"]
    # every raise: the marker line, then a traceback naming the callback, then the exception
    for callback, exception, count in (("on_connect", "RuntimeError: boom from on_connect", 1),
                                       ("on_publish", "ValueError: boom from on_publish", 2),
                                       ("on_status", "KeyError: boom from on_status", 2)):
        blocks = re.findall(r"mongoose: a callback raised an exception:\nTraceback \(most recent call last\):\n"
                            r"(?:  File .*\n)+" + re.escape(exception), output)
        assert len(blocks) == count, f"{callback}: {count} tracebacks expected:\n{output}"
        assert all(f"in {callback}" in block for block in blocks)


def test_keyboard_interrupt_in_a_callback_is_raised_out_of_poll(broker, mqtt_script):
    script = mqtt_script("""
def on_connect():
    raise KeyboardInterrupt


client = mongoose.MQTTclient(on_connect)
client.connect(MQTT_URL)
try:
    run(5000)
    print("NOT RAISED")
except KeyboardInterrupt:
    print("INTERRUPTED")
print("DONE")
""", broker)
    output = script.wait_done(10)
    assert "INTERRUPTED" in output and "a callback raised" not in output, output


def test_publishing_from_on_publish_runs_a_bounded_echo_loop(broker, mqtt_script):
    script = mqtt_script("""
N = 50
seen = []


def on_publish(topic, msg):
    n = int(msg)
    seen.append(n)
    if n < N:
        client.pub("echo/t", str(n + 1), 1)


client = mongoose.MQTTclient(None, on_publish)
client.connect(MQTT_URL)
run(5000, client.is_connected)
client.sub("echo/t", 1)
client.pub("echo/t", "0", 1)
run(10000, lambda: len(seen) > N and client.pending() == 0)
run(300)
print("SEEN", repr(seen))
print("DONE")
""", broker)
    script.wait_done(15)
    assert ast.literal_eval(script.lines("SEEN ")[0]) == list(range(51))


def test_dropped_client_object_keeps_receiving_and_running_its_callbacks(broker, mqtt_script, paho_peer):
    script = mqtt_script("""
def start():
    def on_publish(topic, msg):
        print("MSG", repr((topic, msg)))
    def on_status(pid, status):
        print("STATUS", repr((pid, status)))
    c = mongoose.MQTTclient(None, on_publish, on_status=on_status)
    c.connect(MQTT_URL)
    c.sub("drop/t", 1)  # sent once connected


start()
gc.collect()
junk = [bytearray(1000) for _ in range(200)]
junk = None
gc.collect()
print("DROPPED")
for _ in range(40):
    run(100)
    junk = [str(i) * 20 for i in range(300)]
    gc.collect()
print("DONE")
""", broker)
    assert script.wait_for_lines("STATUS ", 1, timeout=5) and statuses(script)[0][1] == "delivered", script.output()
    source = paho_peer(broker)
    for i in range(20):
        source.publish("drop/t", f"m{i}", qos=1)
        time.sleep(0.05)
    script.wait_done(15)
    assert messages(script) == [("drop/t", f"m{i}".encode()) for i in range(20)]


# ---------------------------------------------------------------------------------------------
# Keepalive and dead links


def test_keepalive_1s_link_survives_3s_idle_with_pings(broker, mqtt_script, paho_peer):
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL, client_id="idle-1", keepalive=1)
run(5000, client.is_connected)
client.sub("idle/t", 1)
run(3500)
print("IDLE DONE", client.is_connected())
wait_signal("stop", 20000)
""", broker)
    assert script.wait_for_output("IDLE DONE", timeout=10), script.output()
    assert "IDLE DONE True" in script.output() and disconnects(script) == []
    assert broker.log().count("Received PINGREQ from idle-1") >= 2, "no PINGREQ every keepalive"
    paho_peer(broker).publish("idle/t", "after idling", qos=1)
    assert wait_parsed(script, "MSG", 1) == [("idle/t", b"after idling")]
    assert connected_clients(broker).count("idle-1") == 1, "the client reconnected while idle"


def test_silent_broker_is_detected_by_keepalive_and_the_client_reconnects_when_it_answers(broker, mqtt_script, paho_peer):
    script = mqtt_script(CALLBACKS + """
def on_disconnect(reason):
    print("DISCONNECT", repr(reason))
    print("AT", time.ticks_ms())
client = mongoose.MQTTclient(on_connect, on_publish, on_disconnect=on_disconnect, on_status=on_status)
client.connect(MQTT_URL, keepalive=1, connect_timeout_ms=1000, """ + FAST_RECONNECT + """)
run(5000, client.is_connected)
client.sub("dead/t", 1)
run(3000, lambda: False)
print("PAUSE AT", time.ticks_ms())
wait_signal("stop", 40000)
""", broker)
    assert script.wait_for_output("PAUSE AT", timeout=10), script.output()
    broker.pause()
    try:
        paused_at = int(script.lines("PAUSE AT ")[0])
        reasons = wait_parsed(script, "DISCONNECT", 1, timeout=16)
        assert reasons and reasons[0] == "keepalive timeout: broker not responding", script.output()
        detected_after = int(script.lines("AT ")[0]) - paused_at
        # keepalive 1 s, then the (fixed) 10 s ping timeout
        assert detected_after <= 13000, f"dead link detected only after {detected_after} ms"
        wait_parsed(script, "DISCONNECT", 2, timeout=4)
        assert "timed out waiting for CONNACK" in disconnects(script)[1:], script.output()
    finally:
        broker.resume()
    assert wait_parsed(script, "CONNECT", 2, timeout=10)[1] is False, script.output()
    time.sleep(0.5)
    paho_peer(broker).publish("dead/t", "after the stall", qos=1)
    assert wait_parsed(script, "MSG", 1, timeout=5) == [("dead/t", b"after the stall")], script.output()


# ---------------------------------------------------------------------------------------------
# Ack timeout, max_packet_size, mongoose.close()


def test_unacknowledged_publish_is_resent_with_dup_and_then_reported_timeout(fake_broker, mqtt_script):
    publishes = []

    def never_ack(sock, index, stop):
        if read_mqtt_packet(sock) is None:
            return
        sock.sendall(b"\x20\x02\x00\x00")
        while not stop.is_set():
            packet = read_mqtt_packet(sock, timeout=0.2)
            if packet is None:
                continue
            first, body = packet
            if first >> 4 == 3:
                publishes.append((first, body))
            elif first >> 4 == 12:
                sock.sendall(b"\xd0\x00")

    fake = fake_broker(never_ack)
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL, ack_timeout_ms=200)
run(5000, client.is_connected)
pid = client.pub("t/ack", "never acked", 1)
print("PID", pid)
run(3000, lambda: client.pending() == 0)
print("PENDING", client.pending())
print("DONE")
""", fake.url)
    output = script.wait_done(10)
    pid = int(script.lines("PID ")[0])
    assert statuses(script) == [(pid, "timeout")], output
    assert "PENDING 0" in output
    assert len(publishes) >= 2, publishes
    assert publishes[0][0] & 0x08 == 0 and all(first & 0x08 for first, _ in publishes[1:]), \
        [hex(first) for first, _ in publishes]
    assert all(body == publishes[0][1] for _, body in publishes)


def test_packet_larger_than_max_packet_size_drops_the_link_and_the_client_recovers(broker, mqtt_script, paho_peer):
    script = mqtt_script(CALLBACKS + """
client.connect(MQTT_URL, max_packet_size=1000, """ + FAST_RECONNECT + """)
run(5000, client.is_connected)
client.sub("size/t", 0)
wait_signal("stop", 20000)
""", broker)
    assert wait_parsed(script, "STATUS", 1), script.output()
    source = paho_peer(broker)
    source.publish("size/t", b"x" * 2000, qos=0)
    reasons = wait_parsed(script, "DISCONNECT", 1)
    assert reasons == ["packet larger than the configured maximum"], script.output()
    assert wait_parsed(script, "CONNECT", 2, timeout=5) == [False, False]
    assert broker.wait_for_log("Received SUBSCRIBE from", count=2), "not resubscribed after the reconnect"
    source.publish("size/t", b"small", qos=0)
    assert wait_parsed(script, "MSG", 1) == [("size/t", b"small")], script.output()


def test_publish_larger_than_max_packet_size_is_a_value_error_and_nothing_is_sent(broker, mqtt_script, paho_peer):
    sink = paho_peer(broker)
    sink.subscribe("size/out", 0)
    script = mqtt_script("""
client = mongoose.MQTTclient()
client.connect(MQTT_URL, max_packet_size=1000)
run(5000, client.is_connected)
try:
    client.pub("size/out", b"x" * 1000, 1)
    print("RESULT no error")
except ValueError as e:
    print("RESULT ValueError", e)
client.pub("size/out", b"y" * 900)
run(500)
client.disconnect()
run(200)
print("DONE")
""", broker)
    output = script.wait_done(10)
    assert script.lines("RESULT ") == ["ValueError mongoose: message larger than max_packet_size"], output
    assert sink.wait_messages(1, timeout=3) and sink.payloads("size/out") == [b"y" * 900]
    # the user's own disconnect() is not reported as a stop
    assert "MQTT client stopped" not in output, output


def test_mongoose_close_stops_every_client_and_connect_works_afterwards(broker, mqtt_script, paho_peer):
    script = mqtt_script(CALLBACKS + """
other = mongoose.MQTTclient()
client.connect(MQTT_URL, client_id="close-a")
other.connect(MQTT_URL, client_id="close-b")
run(5000, lambda: client.is_connected() and other.is_connected())
print("UP", client.is_connected(), other.is_connected())
mongoose.close()
print("CLOSED", client.is_connected(), other.is_connected())
try:
    client.pub("t", "x", 1)
    print("PUB no error")
except OSError:
    print("PUB OSError")
client.connect(MQTT_URL, client_id="close-a")
run(5000, client.is_connected)
client.sub("close/t", 1)
wait_signal("stop", 20000)
""", broker)
    assert script.wait_for_output("CLOSED", timeout=5), script.output()
    output = script.output()
    assert "UP True True" in output and "CLOSED False False" in output and "PUB OSError" in output
    assert broker.wait_for_log("Client close-b closed its connection") or broker.wait_for_log("Client close-b disconnected")
    assert wait_parsed(script, "STATUS", 1), script.output()
    paho_peer(broker).publish("close/t", "after close", qos=1)
    assert wait_parsed(script, "MSG", 1) == [("close/t", b"after close")]
