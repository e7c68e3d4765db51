"""The seed's main.py (part II of the blog) on pythongoose against a real Mosquitto: on_connect
subscribes to embrel_src and publishes "Hello, myself!", which comes back through on_publish;
the positional connect(url, "", "", "embrel_will", "bye", 0, False) sets the last will; the HTTP
server and the MQTT client run in one poll loop."""

import struct
import threading
import time

from support.fake_broker import read_mqtt_packet
from support.http_client import curl

SEED_MAIN = """
def f1(data):
    print("f1", data)
    return "f1 got " + str(len(data)) + " bytes"


def auth(user, pwd):
    return user == "admin" and pwd == "istrator"


received = []


def on_connect():
    print("on_connect: subscribing and publishing")
    client.sub("embrel_src", 0)
    client.pub("embrel_src", "Hello, myself!", 0, False)


def on_publish(topic, msg):
    received.append(msg)
    print("on_publish: got this message in", topic, "-->", msg)


def count(request):
    return {"mqtt_messages": len(received)}


mongoose.init(f1, auth, url=URL)
mongoose.route("/api/count", count, auth=False)
client = mongoose.MQTTclient(on_connect, on_publish)
client.connect(MQTT_URL, "", "", "embrel_will", "bye", 0, False)
while True:
    mongoose.poll(1000)
"""


def test_seed_main_subscribes_publishes_and_gets_hello_myself_back(broker, mqtt_script):
    seed = mqtt_script(SEED_MAIN, broker, with_http=True)
    expected = "on_publish: got this message in embrel_src --> b'Hello, myself!'"
    assert seed.wait_for_output(expected, timeout=5), seed.output()
    lines = [line for line in seed.output().splitlines() if line.startswith("on_")]
    assert lines == ["on_connect: subscribing and publishing", expected]


def test_seed_positional_connect_sends_will_embrel_will_bye_and_no_credentials(fake_broker, mqtt_script):
    connects = []

    def handler(sock, index, stop):
        packet = read_mqtt_packet(sock)
        if packet is not None:
            connects.append(packet)
            sock.sendall(b"\x20\x02\x00\x00")
        while not stop.is_set() and read_mqtt_packet(sock, timeout=0.2) is not None:
            pass

    fake = fake_broker(handler)
    script = mqtt_script(SEED_MAIN.replace("client.sub(", "pass  # client.sub(").replace("client.pub(", "pass  # client.pub("),
                         fake.url, with_http=True)
    assert script.wait_for_output("on_connect: subscribing and publishing", timeout=5), script.output()
    first, body = connects[0]
    assert first == 0x10, hex(first)
    name_len = struct.unpack(">H", body[:2])[0]
    assert body[2 : 2 + name_len] == b"MQTT" and body[2 + name_len] == 4  # MQTT 3.1.1
    flags = body[3 + name_len]
    keepalive = struct.unpack(">H", body[4 + name_len : 6 + name_len])[0]
    assert flags & 0x80 == 0, "user name flag set although the seed passes user=''"
    assert flags & 0x40 == 0, "password flag set although the seed passes pwd=''"
    assert flags & 0x04, "will flag not set"
    assert (flags >> 3) & 0x03 == 0, "will QoS should be 0"
    assert flags & 0x20 == 0, "will retain should be False"
    assert flags & 0x02, "clean session expected by default"
    assert keepalive == 60
    rest = body[6 + name_len :]
    fields = []
    while rest:
        length = struct.unpack(">H", rest[:2])[0]
        fields.append(rest[2 : 2 + length])
        rest = rest[2 + length :]
    client_id, will_topic, will_message = fields
    assert client_id, "the generated client id is empty"
    assert (will_topic, will_message) == (b"embrel_will", b"bye")


def test_seed_last_will_bye_reaches_subscriber_when_the_process_is_killed(broker, mqtt_script, paho_peer):
    watcher = paho_peer(broker)
    watcher.subscribe("embrel_will", 1)
    seed = mqtt_script(SEED_MAIN, broker, with_http=True)
    assert seed.wait_for_output("on_publish: got this message in embrel_src", timeout=5), seed.output()
    time.sleep(0.3)
    assert watcher.payloads("embrel_will") == [], "will published while the client is alive"
    seed.proc.kill()
    seed.proc.wait(timeout=5)
    assert watcher.wait_messages(1, "embrel_will", timeout=5), "no will after kill -9"
    assert watcher.payloads("embrel_will") == [b"bye"]


def test_seed_http_api_answers_while_mqtt_messages_flow_in_the_same_poll_loop(broker, mqtt_script, paho_peer, http):
    seed = mqtt_script(SEED_MAIN, broker, with_http=True)
    assert seed.wait_for_output("on_publish: got this message in embrel_src", timeout=5), seed.output()
    publisher = paho_peer(broker)
    total = 300
    errors = []

    def publish_all():
        try:
            for i in range(total):
                publisher.publish("embrel_src", f"msg {i}", qos=1, wait=(i % 25 == 24))
                time.sleep(0.002)
        except Exception as error:  # reported below
            errors.append(error)

    thread = threading.Thread(target=publish_all)
    thread.start()
    answers = 0
    counts = []
    deadline = time.monotonic() + 20
    while (thread.is_alive() or answers < 20) and time.monotonic() < deadline:
        reply = http.post(seed.url("/api/epname"), data=f"body {answers}", auth=("admin", "istrator"), timeout=5)
        assert reply.status_code == 200, reply.text
        assert reply.text == f"f1 got {len(f'body {answers}')} bytes"
        counts.append(http.get(seed.url("/api/count"), timeout=5).json()["mqtt_messages"])
        answers += 1
    thread.join(timeout=10)
    assert not errors, errors
    assert answers >= 20
    assert counts == sorted(counts), "message count went backwards"
    got_all = False
    while time.monotonic() < deadline:
        if http.get(seed.url("/api/count"), timeout=5).json()["mqtt_messages"] == total + 1:
            got_all = True
            break
        time.sleep(0.05)
    assert got_all, f"module received {http.get(seed.url('/api/count'), timeout=5).json()} of {total + 1}"
    lines = seed.lines("on_publish: got this message in embrel_src -->")
    assert lines == ["b'Hello, myself!'"] + [repr(f"msg {i}".encode()) for i in range(total)]
    # the seed's curl session still works too
    assert curl("-s", "-u", "admin:istrator", seed.url("/api/epname"), "--data-binary", "r u there ?").stdout == b"f1 got 11 bytes"
    assert "f1 r u there ?" in seed.output()
