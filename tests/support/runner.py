"""Runs MicroPython scripts (the binary in $MICROPYTHON) as servers or one-shot runs on a free
127.0.0.1 port; the start_server and run_script fixtures."""

import os
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
MICROPYTHON = Path(os.environ.get("MICROPYTHON", str(ROOT / "build" / "unix" / "micropython")))
if not MICROPYTHON.is_absolute():
    # `MICROPYTHON=build/unix/micropython` is relative to where pytest is started (the repo root).
    MICROPYTHON = (Path.cwd() / MICROPYTHON).resolve()

START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 3.0
# A child must never see a proxy: everything here is loopback.
NO_PROXY_ENV = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
NO_PROXY_ENV["NO_PROXY"] = NO_PROXY_ENV["no_proxy"] = "*"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def script_text(body, port):
    """The script as run: PORT and URL globals, then the dedented body."""
    return f'PORT = {port}\nURL = "http://127.0.0.1:{port}"\n' + textwrap.dedent(body).lstrip("\n")


def wait_until(predicate, timeout):
    """Polls `predicate` every 20 ms for up to `timeout` seconds; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def port_accepts(port, timeout=0.2):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class Server:
    """A running `micropython script.py` whose output goes to a file."""

    def __init__(self, proc, port, script_path, out_path, out_files, err_path=None):
        self.proc = proc
        self.port = port
        self.script_path = script_path
        self.out_path = out_path
        self.err_path = err_path
        self._out_files = out_files

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def url(self, path="/"):
        return self.base + path

    def output(self):
        """Everything the process printed so far (stdout and stderr interleaved, unless the server
        was started with split_stderr=True: then stdout only)."""
        return self.out_path.read_text(errors="replace")

    def stderr(self):
        """What the process wrote to stderr (only for servers started with split_stderr=True)."""
        assert self.err_path is not None, "start the server with split_stderr=True"
        return self.err_path.read_text(errors="replace")

    def all_output(self):
        """stdout, then stderr when it was captured separately."""
        return self.output() + (f"\n--- stderr ---\n{self.stderr()}" if self.err_path else "")

    def alive(self):
        return self.proc.poll() is None

    def wait_for_output(self, text, timeout=5.0):
        """Waits until `text` appears in the output; returns whether it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return True
            if not self.alive():
                break
            time.sleep(0.02)
        return text in self.output()

    def wait_exit(self, timeout=5.0):
        """Waits for the process to exit; returns its exit code, or None if it is still running."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def interrupt(self, timeout=5.0):
        """Sends SIGINT (Ctrl-C); returns the exit code, or None if it did not exit in time."""
        self.proc.send_signal(signal.SIGINT)
        return self.wait_exit(timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        for f in self._out_files:
            if not f.closed:
                f.close()


class ServerFactory:
    """Starts scripts as servers and stops every one of them at teardown."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self.servers = []

    def __call__(self, body, *, port=None, wait_for_port=True, name=None, split_stderr=False, options=(), preexec_fn=None):
        """Starts `body` (MicroPython source; PORT and URL are defined for it) and, unless told not to,
        waits until its port accepts connections, failing with the script's output if it dies first.
        `options` go to the interpreter before the script (e.g. ("-X", "heapsize=32k")); `preexec_fn`
        runs in the child before it starts (e.g. to set a resource limit)."""
        port = free_port() if port is None else port
        index = len(self.servers)
        name = name or f"server{index}"
        script_path = self.directory / f"{name}.py"
        out_path = self.directory / f"{name}.out"
        script_path.write_text(script_text(body, port))
        out_file = open(out_path, "wb")
        err_path = self.directory / f"{name}.err" if split_stderr else None
        err_file = open(err_path, "wb") if split_stderr else None
        proc = subprocess.Popen(
            [str(MICROPYTHON), *options, str(script_path)],
            stdin=subprocess.DEVNULL,
            stdout=out_file,
            stderr=err_file if split_stderr else subprocess.STDOUT,
            cwd=str(self.directory),
            env=NO_PROXY_ENV,
            preexec_fn=preexec_fn,
        )
        server = Server(proc, port, script_path, out_path, [f for f in (out_file, err_file) if f], err_path)
        self.servers.append(server)
        if wait_for_port:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not port_accepts(port):
                if not server.alive():
                    pytest.fail(f"server script exited with {proc.returncode} before its port accepted connections:\n{server.all_output()}")
                if time.monotonic() > deadline:
                    pytest.fail(f"server did not listen on {port} within {START_TIMEOUT_S} s:\n{server.all_output()}")
                time.sleep(0.02)
        return server

    def stop_all(self):
        for server in self.servers:
            server.stop()


@pytest.fixture
def start_server(tmp_path, request):
    """start_server(script_body) -> Server. The body sees PORT and URL; it should serve with
    `while True: mongoose.poll(...)` (the fixture kills it) or a bounded poll loop."""
    factory = ServerFactory(tmp_path)
    request.node._micropython_servers = factory
    yield factory
    factory.stop_all()


@pytest.fixture
def run_script(tmp_path):
    """run_script(body, timeout=10) -> (returncode, output): a one-shot script run to completion."""
    counter = [0]

    def run(body, timeout=10.0, port=None, options=()):
        port = free_port() if port is None else port
        counter[0] += 1
        path = tmp_path / f"oneshot{counter[0]}.py"
        path.write_text(script_text(body, port))
        try:
            done = subprocess.run(
                [str(MICROPYTHON), *options, str(path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=str(tmp_path),
                env=NO_PROXY_ENV,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as e:
            pytest.fail(f"script did not finish within {timeout} s; output so far:\n{(e.output or b'').decode(errors='replace')}")
        return done.returncode, done.stdout.decode(errors="replace")

    return run
