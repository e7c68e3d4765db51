"""Fixtures that run MicroPython scripts using the `mongoose` module against real HTTP clients.

Every server is a real `micropython` process (the binary in $MICROPYTHON) running a script written
to a temporary file, listening on a free 127.0.0.1 port. The port is formatted into the script as
two globals prepended to it: `PORT` (int) and `URL` ("http://127.0.0.1:<port>"). The process's
stdout and stderr go to one file that tests read with `server.output()`. Every process is
terminated at teardown, whatever the test did.

MQTT tests get a real Mosquitto 2 per test (`brokers`/`broker`: own config, log and port on
127.0.0.1; SIGKILL/SIGSTOP/restart), paho-mqtt peers (`paho_peer`), MicroPython scripts with an
MQTT prelude (`mqtt_script`) and a scripted TCP fake broker (`fake_broker`). TLS tests get one
throwaway PKI per session (`pki`: CA, server, client, untrusted, expired, wrong-host, RSA, Ed25519
certificates made with the openssl tool) and brokers with a TLS listener (`brokers(tls={...})`).
Needs the Debian packages mosquitto (broker, mosquitto_passwd, dynamic-security plugin), openssl and
paho-mqtt from requirements-dev.txt.

The helpers and fixtures live in the package tests/support (one module a concern); this file
registers them and holds the pytest hooks. pytest puts this directory (tests/) on sys.path, so test
modules import helpers as `from support.http_client import raw_bytes`.
"""

from pathlib import Path

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
    "support.fake_broker",
    "support.pki",
]


BOARD_TESTS = Path(__file__).resolve().parent / "board"


def pytest_configure(config):
    # The emulated board's suite (tests/board) runs the firmware, not the unix binary.
    board_only = bool(config.args) and all(Path(arg).resolve().is_relative_to(BOARD_TESTS) for arg in config.args)
    if not MICROPYTHON.exists() and not board_only:
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

