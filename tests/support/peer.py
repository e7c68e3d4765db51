"""paho-mqtt 2 as the independent MQTT peer: Peer and the paho_peer fixture."""

import threading
import time

import pytest

from support.broker import Broker


class Peer:
    """A paho-mqtt 2 client (MQTT 3.1.1) in its own network thread, recording what it receives."""

    def __init__(self, port, *, client_id="", clean_session=True, username=None, password=None, will=None):
        import paho.mqtt.client as paho

        self._paho = paho
        self.port = port
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=clean_session, protocol=paho.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        if will is not None:
            self.client.will_set(*will)
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=0.5)
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)
        self._lock = threading.Condition()
        self.messages = []  # (topic, payload, qos, retain, dup)
        self.connects = []  # session_present flags, one per CONNACK accepted
        self.connack_codes = []
        self.subacks = {}  # mid -> granted codes
        self.disconnects = 0
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        with self._lock:
            self.connack_codes.append(reason_code.value if hasattr(reason_code, "value") else int(reason_code))
            if not reason_code.is_failure:
                self.connects.append(bool(flags.session_present))
            self._lock.notify_all()

    def _on_message(self, client, userdata, message):
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), message.qos, bool(message.retain),
                                  bool(message.dup)))
            self._lock.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self._lock:
            self.subacks[mid] = [rc.value if hasattr(rc, "value") else int(rc) for rc in reason_codes]
            self._lock.notify_all()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        with self._lock:
            self.disconnects += 1
            self._lock.notify_all()

    def wait(self, predicate, timeout=5.0):
        """Waits until predicate() (called under the lock) holds; returns whether it did."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return bool(predicate())
                self._lock.wait(min(remaining, 0.1))
            return True

    def connect(self, timeout=5.0, keepalive=30):
        count = len(self.connects)
        self.client.connect("127.0.0.1", self.port, keepalive=keepalive)
        self.client.loop_start()
        if not self.wait(lambda: len(self.connects) > count, timeout):
            raise AssertionError(f"paho peer did not connect to port {self.port} (CONNACK codes {self.connack_codes})")
        return self

    def subscribe(self, topic, qos=0, timeout=5.0):
        """Subscribes and waits for the SUBACK; returns the granted codes."""
        result, mid = self.client.subscribe(topic, qos)
        assert result == self._paho.MQTT_ERR_SUCCESS, f"paho subscribe failed: {result}"
        assert self.wait(lambda: mid in self.subacks, timeout), f"no SUBACK for {topic!r}"
        return self.subacks[mid]

    def publish(self, topic, payload, qos=0, retain=False, wait=True, timeout=5.0):
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if wait and qos > 0:
            info.wait_for_publish(timeout)
            assert info.is_published(), f"paho publish to {topic!r} not acknowledged within {timeout} s"
        return info

    def received(self, topic=None):
        with self._lock:
            return [m for m in self.messages if topic is None or m[0] == topic]

    def payloads(self, topic=None):
        return [m[1] for m in self.received(topic)]

    def wait_messages(self, count, topic=None, timeout=5.0):
        """Waits until at least `count` messages (on `topic`, if given) arrived; returns them."""
        self.wait(lambda: len([m for m in self.messages if topic is None or m[0] == topic]) >= count, timeout)
        return self.received(topic)

    def close(self):
        try:
            self.client.disconnect()
        except Exception:
            pass
        self.client.loop_stop()


@pytest.fixture
def paho_peer(request):
    """paho_peer(broker, client_id="", clean_session=True, username=None, password=None,
    will=None, connect=True) -> Peer (connected, network thread running); all closed at teardown."""
    peers = []

    def make(broker, *, connect=True, **options):
        peer = Peer(broker.port if isinstance(broker, Broker) else broker, **options)
        peers.append(peer)
        if connect:
            peer.connect()
        return peer

    yield make
    for peer in peers:
        peer.close()
