"""A scripted fake MQTT broker on loopback (each connection handled by a test function):
read_mqtt_packet, FakeBroker and the fake_broker fixture."""

import socket
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
