"""The emulated board's suite: scripts run on build/qemu/firmware.elf (make qemu) through
scripts/qemu-run.sh. Skipped, with the reason, when the firmware has not been built."""

import os
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
FIRMWARE = Path(os.environ.get("QEMU_FIRMWARE", str(ROOT / "build" / "qemu" / "firmware.elf")))
QEMU_RUN = ROOT / "scripts" / "qemu-run.sh"
# Boot and a few short scripts take about a second; the limit only guards against a hung board.
RUN_TIMEOUT_S = 60


def pytest_collection_modifyitems(config, items):
    if FIRMWARE.exists():
        return
    if os.environ.get("PYTHONGOOSE_REQUIRE_BOARD"):  # make test built it: missing is a failure
        raise pytest.UsageError(f"board firmware not built: {FIRMWARE} missing")
    skip = pytest.mark.skip(reason=f"board firmware not built ({FIRMWARE} missing): run `make qemu`")
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(skip)


def board_env(timeout, extra=None):
    env = dict(os.environ, QEMU_FIRMWARE=str(FIRMWARE), QEMU_TIMEOUT=str(timeout))
    env.pop("MQTT_URL", None)
    env.update(extra or {})
    return env


class BoardRun:
    """One qemu-run.sh invocation: its exit status and the board's output."""

    def __init__(self, completed):
        self.returncode = completed.returncode
        self.output = completed.stdout
        self.stderr = completed.stderr

    def __repr__(self):
        return f"BoardRun(exit {self.returncode})\n--- board output ---\n{self.output}\n--- qemu-run ---\n{self.stderr}"


@pytest.fixture
def run_on_board(tmp_path):
    """run_on_board(script, script...) -> BoardRun: each script (dedented text) in turn, a soft reset
    between them, on a freshly booted board."""

    def run(*scripts, env=None, timeout=RUN_TIMEOUT_S):
        paths = []
        for index, text in enumerate(scripts):
            path = tmp_path / f"script{index}.py"
            path.write_text(textwrap.dedent(text).lstrip("\n"))
            paths.append(str(path))
        run_env = board_env(timeout, env)
        completed = subprocess.run(
            [str(QEMU_RUN), *paths], env=run_env, capture_output=True, text=True, timeout=timeout + 15
        )
        return BoardRun(completed)

    return run


class BoardServer:
    """A board running a script that keeps serving (qemu-run.sh in the background, host port
    `port` forwarded to the board's port 8000). Its output is collected as it arrives."""

    def __init__(self, proc, port):
        self.proc = proc
        self.port = port
        self._chunks = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self._lock:
                self._chunks.append(line)

    def output(self):
        with self._lock:
            return "".join(self._chunks)

    def url(self, path):
        """The host-side URL of `path` on the board's port 8000."""
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, text, timeout=30):
        """Waits until the board printed `text` (QEMU accepts on the host port before the board
        listens, so tests wait for a line, not for a connection); returns the output so far."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            output = self.output()
            if text in output:
                return output
            if self.proc.poll() is not None:
                self._reader.join(2)
                break
            time.sleep(0.05)
        raise AssertionError(f"the board never printed {text!r}; output:\n{self.output()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(2)


def board_starter(directory):
    """start(script, script..., env=None) -> BoardServer, and the list of what it started."""
    from support.runner import free_port

    servers = []

    def start(text, *more, timeout=RUN_TIMEOUT_S, env=None):
        paths = []
        for index, script in enumerate((text, *more)):
            path = directory / f"server{len(servers)}_{index}.py"
            path.write_text(textwrap.dedent(script).lstrip("\n"))
            paths.append(str(path))
        port = free_port()
        proc = subprocess.Popen(
            [str(QEMU_RUN), *paths],
            env=board_env(timeout, {"HTTP_PORT": str(port), **(env or {})}),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        server = BoardServer(proc, port)
        servers.append(server)
        return server

    return start, servers


@pytest.fixture
def start_on_board(tmp_path):
    """start_on_board(script, script..., env=None) -> BoardServer, stopped at teardown (`env`: e.g.
    MQTT_URL). Several scripts run in turn, a soft reset between them, in one boot."""
    start, servers = board_starter(tmp_path)
    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def start_on_board_for_module(tmp_path_factory):
    """start_on_board for a board that serves every test of a module (one boot for all of them)."""
    start, servers = board_starter(tmp_path_factory.mktemp("board"))
    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def board(start_on_board_for_module, request):
    """The test module's SERVER script on one board for all of its tests; the script prints
    "board listening" once it serves."""
    server = start_on_board_for_module(request.module.SERVER, timeout=120)
    server.wait_for("board listening")
    return server
