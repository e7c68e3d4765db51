"""MicroPython 1.25 formats a compressed error message (`mp_raise_msg_varg`) into a stack buffer of
MP_MAX_UNCOMPRESSED_TEXT_LEN bytes, the length of the longest MP_ERROR_TEXT in the build, without
room for the terminating NUL (py/objexcept.c; py/qstr.c asks for one byte more). Raising a format
message of exactly that length writes one byte past the buffer. The module's messages are part of
that set, so none of its format messages may be the longest."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def collected_messages():
    binary = Path(os.environ.get("MICROPYTHON", str(ROOT / "build" / "unix" / "micropython")))
    if not binary.is_absolute():
        binary = (Path.cwd() / binary).resolve()
    collected = binary.parent / "genhdr" / "compressed.collected"
    if not collected.exists():
        pytest.skip(f"no {collected} (the binary was not built by this repository's Makefile)")
    return [line.strip() for line in collected.read_text().splitlines() if line.strip()]


def test_no_format_message_has_the_maximum_length():
    messages = collected_messages()
    longest = max(len(m) for m in messages)
    too_long = [m for m in messages if "%" in m and len(m) >= longest]
    assert too_long == [], f"format messages of the maximum length {longest}: {too_long}"
