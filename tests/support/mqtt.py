"""MicroPython MQTT scripts: the prelude, MqttScript and the mqtt_script fixture, the shared
CALLBACKS text and readers of the lines those callbacks print."""

import ast
import textwrap
import time

import pytest

from support.broker import Broker

MQTT_PRELUDE = '''\
import gc
import os
import sys
import time

import mongoose

MQTT_URL = {url!r}


def ms_since(t0):
    return time.ticks_diff(time.ticks_ms(), t0)


def run(ms, until=None, step=10):
    """Polls the event loop for `ms` ms or until until() holds; returns until()'s last value."""
    t0 = time.ticks_ms()
    while True:
        if until is not None and until():
            return True
        if ms_since(t0) >= ms:
            return False if until is None else bool(until())
        mongoose.poll(step)


def signalled(name):
    try:
        os.stat(name)
        return True
    except OSError:
        return False


def wait_signal(name, ms=20000):
    """Polls until the test creates the file `name` in the script's directory."""
    ok = run(ms, lambda: signalled(name))
    if not ok:
        print("TIMEOUT waiting for signal", name)
    return ok

'''


def mqtt_script_text(body, url):
    return MQTT_PRELUDE.format(url=url) + textwrap.dedent(body).lstrip("\n")


class MqttScript:
    """A running MicroPython MQTT script (a Server from ServerFactory) plus test-side helpers:
    signal() creates a file the script waits for; lines() parses its output."""

    def __init__(self, server):
        self.server = server

    def __getattr__(self, name):
        return getattr(self.server, name)

    def signal(self, name):
        (self.server.script_path.parent / name).write_text("go")

    def lines(self, prefix=None):
        """The script's complete output lines (starting with `prefix`, which is cut off). While
        the script runs, a line it has not finished printing is left out: MicroPython's print()
        writes its arguments one by one, so "MSG " can be read before the value that follows."""
        text = self.server.output()
        if self.server.alive():
            text = text[:text.rfind("\n") + 1]
        lines = text.splitlines()
        if prefix is None:
            return lines
        return [line[len(prefix):].strip() for line in lines if line.startswith(prefix)]

    def wait_for_lines(self, prefix, count, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.lines(prefix)) >= count:
                break
            if not self.server.alive():
                break
            time.sleep(0.02)
        return self.lines(prefix)

    def wait_done(self, timeout=20.0, marker="DONE"):
        """Waits for the script to print `marker` and exit; asserts both, with its output."""
        code = self.server.wait_exit(timeout)
        output = self.server.output()
        assert code is not None, f"script still running after {timeout} s:\n{output}"
        assert marker in output, f"script exited with {code} before {marker}:\n{output}"
        assert code == 0, f"script exited with {code}:\n{output}"
        return output


@pytest.fixture
def mqtt_script(start_server):
    """mqtt_script(body, url, name=None, with_http=False) -> MqttScript. The body runs after a
    prelude defining MQTT_URL, run(ms, until), wait_signal(name) and PORT/URL for an HTTP server;
    with_http waits until the script's HTTP port accepts connections."""

    def make(body, url, *, name=None, with_http=False, split_stderr=False):
        url = url.url if isinstance(url, Broker) else url
        server = start_server(mqtt_script_text(body, url), wait_for_port=with_http, name=name,
                              split_stderr=split_stderr)
        return MqttScript(server)

    return make


# Shared by the MQTT test modules: callbacks that print what happens, and readers of those lines

CALLBACKS = """
def on_connect():
    print("CONNECT", repr(client.session_present))


def on_publish(topic, msg):
    print("MSG", repr((topic, msg)))


def on_status(pid, status):
    print("STATUS", repr((pid, status)))


def on_disconnect(reason):
    print("DISCONNECT", repr(reason))


client = mongoose.MQTTclient(on_connect, on_publish, on_disconnect=on_disconnect, on_status=on_status)
"""


FAST_RECONNECT = "reconnect_min_ms=100, reconnect_max_ms=300"


def parsed(script, tag):
    return [ast.literal_eval(rest) for rest in script.lines(tag + " ")]


def wait_parsed(script, tag, count, timeout=5.0):
    script.wait_for_lines(tag + " ", count, timeout)
    return parsed(script, tag)
