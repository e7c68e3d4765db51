"""A real Mosquitto 2 per test on 127.0.0.1 (own config, log, port; SIGKILL/SIGSTOP/restart):
Broker, BrokerFactory and the brokers/broker fixtures."""

import json
import os
import shutil
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from support.runner import NO_PROXY_ENV, STOP_TIMEOUT_S, free_port

MOSQUITTO = Path(os.environ.get("MOSQUITTO", "/usr/sbin/mosquitto"))
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
DYNSEC_PLUGIN = next(Path("/usr/lib").glob("*/mosquitto_dynamic_security.so"),
                     Path("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"))
BROKER_START_TIMEOUT_S = 5.0


def _open_to_everyone(path):
    """Mosquitto started as root drops to user `mosquitto` unless told `user root`; both are
    covered: the broker's directory and files are readable and writable for anyone."""
    mode = 0o777 if Path(path).is_dir() else 0o666
    os.chmod(path, mode)


TLS_OPTIONS = {"certfile", "keyfile", "cafile", "require_certificate", "tls_version"}


def _tls_lines(tls):
    """The listener's TLS lines for Broker(tls={...}): certfile and keyfile (required), cafile
    (needed for require_certificate), require_certificate (bool, default False) and tls_version
    (the minimum: "tlsv1.2" or "tlsv1.3"; unset, Mosquitto 2.0 allows 1.2 and 1.3)."""
    unknown = set(tls) - TLS_OPTIONS
    assert not unknown, f"unknown TLS options {sorted(unknown)}"
    assert tls.get("certfile") and tls.get("keyfile"), "a TLS listener needs certfile and keyfile"
    require = bool(tls.get("require_certificate", False))
    assert tls.get("cafile") or not require, "require_certificate needs a cafile"
    lines = [f"certfile {tls['certfile']}", f"keyfile {tls['keyfile']}"]
    if tls.get("cafile"):
        lines.append(f"cafile {tls['cafile']}")
    lines += [f"require_certificate {'true' if require else 'false'}", "use_identity_as_username false"]
    if tls.get("tls_version"):
        lines.append(f"tls_version {tls['tls_version']}")
    return lines


class Broker:
    """One Mosquitto process on 127.0.0.1:`port` with its own config, log and data directory.

    It can be killed (SIGKILL), paused (SIGSTOP), resumed and restarted on the same port with the
    same config (so a persistent broker gets its database back). With tls={...} (see _tls_lines)
    its one listener speaks only TLS and `url` is mqtts://."""

    def __init__(self, directory, *, port=None, persistence=False, users=None, allow_anonymous=None,
                 deny_subscribe=(), extra_config="", tls=None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        _open_to_everyone(self.directory)
        self.port = free_port() if port is None else port
        self.persistence = persistence
        self.conf_path = self.directory / "mosquitto.conf"
        self.log_path = self.directory / "mosquitto.log"
        self.proc = None
        self._stderr_path = self.directory / "mosquitto.stderr"
        self._stderr = None
        self.starts = 0
        self.tls = dict(tls) if tls else None
        lines = [
            f"listener {self.port} 127.0.0.1",
            *(_tls_lines(self.tls) if self.tls else []),
            f"allow_anonymous {'true' if (allow_anonymous if allow_anonymous is not None else not users) else 'false'}",
            "user root",
            f"log_dest file {self.log_path}",
            "log_type all",
            "log_timestamp true",
            "max_queued_messages 100000",
            # Mosquitto 2.0.11 drops QoS>0 messages that queue behind a subscriber's full inflight
            # window (20 by default; seen with paho on both ends: 30 QoS 2 publishes in a burst,
            # 20 delivered). A window larger than any burst the tests send avoids that broker bug.
            "max_inflight_messages 100",
        ]
        if persistence:
            # autosave_on_changes + autosave_interval 1: the database is written after every
            # change, so a SIGKILL loses nothing the broker has acknowledged.
            data = self.directory / "data"
            data.mkdir(exist_ok=True)
            _open_to_everyone(data)
            lines += ["persistence true", f"persistence_location {data}/", "autosave_on_changes true",
                      "autosave_interval 1"]
        else:
            lines += ["persistence false"]
        if users:
            password_file = self.directory / "passwords"
            for index, (user, password) in enumerate(users.items()):
                flags = ["-b", "-c"] if index == 0 else ["-b"]
                subprocess.run([MOSQUITTO_PASSWD, *flags, str(password_file), user, password], check=True,
                               capture_output=True, timeout=10)
            _open_to_everyone(password_file)
            lines.append(f"password_file {password_file}")
        if deny_subscribe:
            # Mosquitto 2.0's acl_file never refuses a SUBSCRIBE (it grants it and then drops the
            # messages); the dynamic-security plugin answers SUBACK 0x80 for a denied filter.
            dynsec = self.directory / "dynsec.json"
            dynsec.write_text(json.dumps({
                "defaultACLAccess": {"publishClientSend": True, "publishClientReceive": True,
                                     "subscribe": True, "unsubscribe": True},
                "clients": [],
                "groups": [{"groupname": "anonymous", "roles": [{"rolename": "deny"}]}],
                "anonymousGroup": "anonymous",
                "roles": [{"rolename": "deny", "acls": [
                    {"acltype": "subscribePattern", "topic": pattern, "priority": 0, "allow": False}
                    for pattern in deny_subscribe]}],
            }))
            _open_to_everyone(dynsec)
            lines += [f"plugin {DYNSEC_PLUGIN}", f"plugin_opt_config_file {dynsec}"]
        if extra_config:
            lines.append(textwrap.dedent(extra_config).strip())
        self.conf_path.write_text("\n".join(lines) + "\n")
        _open_to_everyone(self.conf_path)

    @property
    def url(self):
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout=BROKER_START_TIMEOUT_S):
        """Starts the broker and waits until it logged that it runs (no probe connection, so the
        log only shows the test's clients)."""
        assert not self.alive(), "broker already running"
        log_before = self.log()
        runs_before = log_before.count(" running")
        if self._stderr is not None and not self._stderr.closed:
            self._stderr.close()
        self._stderr = open(self._stderr_path, "ab")
        self.proc = subprocess.Popen([str(MOSQUITTO), "-c", str(self.conf_path)], stdin=subprocess.DEVNULL,
                                     stdout=self._stderr, stderr=subprocess.STDOUT, cwd=str(self.directory),
                                     env=NO_PROXY_ENV)
        self.starts += 1
        deadline = time.monotonic() + timeout
        while self.log().count(" running") <= runs_before:
            if self.proc.poll() is not None:
                pytest.fail(f"mosquitto exited with {self.proc.returncode}:\n{self.report()}")
            if time.monotonic() > deadline:
                pytest.fail(f"mosquitto did not start within {timeout} s:\n{self.report()}")
            time.sleep(0.01)
        return self

    def kill(self):
        """SIGKILL: no clean shutdown, no last database save."""
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        if self._stderr is not None and not self._stderr.closed:
            self._stderr.close()

    def restart(self):
        self.kill()
        return self.start()

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, text, timeout=5.0, count=1):
        """Waits until `text` occurs `count` times in the broker log; returns whether it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log().count(text) >= count:
                return True
            time.sleep(0.02)
        return self.log().count(text) >= count

    def report(self):
        stderr = self._stderr_path.read_text(errors="replace") if self._stderr_path.exists() else ""
        log_lines = self.log().splitlines()
        return (f"config:\n{self.conf_path.read_text()}\nstdout/stderr:\n{stderr}\n"
                f"log (last 150 of {len(log_lines)} lines):\n" + "\n".join(log_lines[-150:]))


class BrokerFactory:
    def __init__(self, directory):
        self.directory = Path(directory)
        self.brokers = []

    def __call__(self, *, start=True, **options):
        """A new broker in its own directory; started unless start=False (e.g. to start it later
        on a port a client already tries)."""
        broker = Broker(self.directory / f"broker{len(self.brokers)}", **options)
        self.brokers.append(broker)
        if start:
            broker.start()
        return broker

    def stop_all(self):
        for broker in self.brokers:
            broker.stop()


@pytest.fixture
def brokers(tmp_path, request):
    """brokers(persistence=False, users=None, deny_subscribe=(), port=None, tls=None, start=True) -> Broker."""
    factory = BrokerFactory(tmp_path)
    request.node._mosquitto_brokers = factory
    yield factory
    factory.stop_all()


@pytest.fixture
def broker(brokers):
    """A running anonymous Mosquitto without persistence."""
    return brokers()
