"""Fixtures that run MicroPython scripts using the `mongoose` module against real HTTP clients.

Every server is a real `micropython` process (the binary in $MICROPYTHON) running a script written
to a temporary file, listening on a free 127.0.0.1 port. The port is formatted into the script as
two globals prepended to it: `PORT` (int) and `URL` ("http://127.0.0.1:<port>"). The process's
stdout and stderr go to one file that tests read with `server.output()`. Every process is
terminated at teardown, whatever the test did.

MQTT tests (second half of this file) get a real Mosquitto 2 per test (`brokers`/`broker`: own
config, log and port on 127.0.0.1; SIGKILL/SIGSTOP/restart), paho-mqtt peers (`paho_peer`),
MicroPython scripts with an MQTT prelude (`mqtt_script`) and a scripted TCP fake broker
(`fake_broker`). Needs the Debian packages mosquitto (broker, mosquitto_passwd, dynamic-security
plugin) and paho-mqtt from requirements-dev.txt.
"""

import socket
import threading
import time

import pytest

# Before anything below imports them: the support modules' asserts get pytest's explanations, as
# they did when they were part of this file.
pytest.register_assert_rewrite("support")

from support.runner import MICROPYTHON  # noqa: E402

pytest_plugins = [
    "support.runner",
    "support.http_client",
    "support.broker",
    "support.peer",
    "support.mqtt",
]


def pytest_configure(config):
    if not MICROPYTHON.exists():
        raise pytest.UsageError(f"MicroPython binary not found: {MICROPYTHON} (set MICROPYTHON or run `make build`)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, shows what every server the test started printed."""
    outcome = yield
    report = outcome.get_result()
    factory = getattr(item, "_micropython_servers", None)
    if report.failed and factory is not None:
        for index, server in enumerate(factory.servers):
            report.sections.append((f"micropython server {index} (port {server.port}) output", server.all_output()))
    brokers = getattr(item, "_mosquitto_brokers", None)
    if report.failed and brokers is not None:
        for index, broker in enumerate(brokers.brokers):
            report.sections.append((f"mosquitto broker {index} (port {broker.port})", broker.report()))


# =============================================================================================
# MQTT: a real Mosquitto 2 broker per test, paho-mqtt as the independent peer, MicroPython
# scripts with an MQTT prelude, and a scripted fake broker for hostile bytes.
# =============================================================================================


# ---------------------------------------------------------------------------------------------
# A fake broker: plain TCP on loopback, each accepted connection handled by a test function


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
