"""A scripted fake MQTT broker on loopback (each connection handled by a test function):
read_mqtt_packet, packet builders (connack, publish_packet), serve_until_stopped, FakeBroker and
the fake_broker fixture."""

import socket
import struct
import threading
import time

import pytest


def read_mqtt_packet(sock, timeout=5.0):
    """Reads one MQTT packet; returns (first byte, body) or None when the peer closed/timed out."""
    sock.settimeout(timeout)

    def read_exact(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    try:
        first = read_exact(1)[0]
        multiplier, length = 1, 0
        for _ in range(4):
            byte = read_exact(1)[0]
            length += (byte & 0x7F) * multiplier
            multiplier *= 128
            if not byte & 0x80:
                break
        return first, read_exact(length)
    except (OSError, ConnectionError):
        return None


def connack(session_present=False, code=0):
    return bytes([0x20, 0x02, 1 if session_present else 0, code])


def encode_length(length):
    out = b""
    while True:
        byte, length = length % 128, length // 128
        out += bytes([byte | (0x80 if length else 0)])
        if not length:
            return out


def publish_packet(topic, payload, qos=0, pid=None, dup=False, retain=False):
    body = struct.pack(">H", len(topic)) + topic.encode()
    if qos:
        body += struct.pack(">H", pid)
    body += payload
    first = 0x30 | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    return bytes([first]) + encode_length(len(body)) + body


def serve_until_stopped(sock, stop, on_packet=None):
    """Reads packets until the peer closes or the test ends; answers PINGREQ and SUBSCRIBE."""
    while not stop.is_set():
        packet = read_mqtt_packet(sock, timeout=0.2)
        if packet is None:
            try:
                sock.settimeout(0.01)
                if sock.recv(1, 2) == b"":  # MSG_PEEK: closed?
                    return
            except (BlockingIOError, OSError):
                pass
            continue
        first, body = packet
        kind = first >> 4
        if on_packet is not None and on_packet(first, body):
            continue
        if kind == 12:
            sock.sendall(b"\xd0\x00")
        elif kind == 8:
            sock.sendall(b"\x90\x03" + body[:2] + b"\x01")
        elif kind == 14:
            return


def sends_after_connack(first, later=b"", on_packet=None):
    """A fake-broker handler: accepts the CONNECT, then on the first connection sends `first` 0.2 s
    after CONNACK, on later ones `later` at once, and serves until the test ends."""

    def handler(sock, index, stop):
        if read_mqtt_packet(sock) is None:
            return
        sock.sendall(connack())
        if index == 0:
            time.sleep(0.2)
            sock.sendall(first)
        elif later:
            sock.sendall(later)
        serve_until_stopped(sock, stop, on_packet)

    return handler


class FakeBroker:
    """Accepts connections on a free loopback port; connection number i (from 0) is handed to
    handler(sock, i) in its own thread. Records how many connections arrived."""

    def __init__(self, handler):
        self.handler = handler
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.errors = []
        self._stop = threading.Event()
        self._threads = []
        self._accept_thread = threading.Thread(target=self._accept, daemon=True)
        self._accept_thread.start()

    @property
    def url(self):
        return f"mqtt://127.0.0.1:{self.port}"

    def _accept(self):
        while not self._stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            index = self.connections
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(sock, index), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock, index):
        try:
            with sock:
                self.handler(sock, index, self._stop)
        except Exception as error:  # recorded for the test; the thread must not die noisily
            self.errors.append(repr(error))

    def wait_connections(self, count, timeout=5.0):
        deadline = time.monotonic() + timeout
        while self.connections < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.connections >= count

    def close(self):
        self._stop.set()
        self.listener.close()
        self._accept_thread.join(timeout=2)
        for thread in self._threads:
            thread.join(timeout=2)


@pytest.fixture
def fake_broker():
    """fake_broker(handler) -> FakeBroker; handler(sock, index, stop_event) serves connection
    number `index`. All are closed at teardown."""
    made = []

    def make(handler):
        broker = FakeBroker(handler)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        broker.close()
