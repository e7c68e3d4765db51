"""The emulated board's suite: scripts run on build/qemu/firmware.elf (make qemu) through
scripts/qemu-run.sh. Skipped, with the reason, when the firmware has not been built."""

import os
import subprocess
import textwrap
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
    skip = pytest.mark.skip(reason=f"board firmware not built ({FIRMWARE} missing): run `make qemu`")
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(skip)


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
        run_env = dict(os.environ, QEMU_FIRMWARE=str(FIRMWARE), QEMU_TIMEOUT=str(timeout))
        run_env.pop("MQTT_URL", None)
        run_env.update(env or {})
        completed = subprocess.run(
            [str(QEMU_RUN), *paths], env=run_env, capture_output=True, text=True, timeout=timeout + 15
        )
        return BoardRun(completed)

    return run
