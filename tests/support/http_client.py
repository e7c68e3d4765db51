"""HTTP client helpers: a proxy-free requests session (the http fixture), real curl, raw sockets
and a parser for back-to-back HTTP/1.1 responses."""

import socket
import subprocess
import time

import pytest
import requests

from support.runner import NO_PROXY_ENV


@pytest.fixture
def http():
    """A requests session that ignores proxy settings (everything is loopback)."""
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()


def curl(*args, timeout=10):
    """Runs the real curl with `args` (plus a time limit); returns the CompletedProcess (bytes)."""
    return subprocess.run(
        ["curl", "--max-time", "5", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=NO_PROXY_ENV,
        timeout=timeout,
    )


def raw_bytes(port, data, *, timeout=5.0):
    """Sends `data` on a fresh connection; returns every byte received until the server closes it
    (or `timeout` passes with nothing more)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        if data:
            s.sendall(data)
        return read_all(s, timeout)


def raw_responses(port, data, count, *, timeout=5.0):
    """Sends `data` on a fresh connection; returns the first `count` parsed responses (fewer if the
    server closed or went quiet for `timeout`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return read_responses(s, count, timeout=timeout)


def read_all(sock, timeout=5.0):
    sock.settimeout(timeout)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


class Response:
    """One parsed HTTP/1.1 response (Content-Length framed, as this server always sends)."""

    def __init__(self, status, reason, headers, body, raw_head):
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-cased name -> value (last wins)
        self.body = body
        self.raw_head = raw_head

    def __repr__(self):
        return f"<Response {self.status} {self.headers} {self.body[:80]!r}>"


def parse_responses(data):
    """Parses back-to-back responses; returns (responses, leftover bytes)."""
    responses = []
    while True:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return responses, data
        head = data[:end].decode("latin-1")
        lines = head.split("\r\n")
        _, status, *reason = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if len(data) < end + 4 + length:
            return responses, data
        body = data[end + 4 : end + 4 + length]
        responses.append(Response(int(status), reason[0] if reason else "", headers, body, head))
        data = data[end + 4 + length :]


def read_responses(sock, count, timeout=5.0):
    """Reads from `sock` until `count` complete responses arrived (or close/timeout); returns them.
    A HEAD reply must be read with read_all: its Content-Length does not frame a body."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        responses, _ = parse_responses(data)
        if len(responses) >= count:
            return responses
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        data += chunk
    return parse_responses(data)[0]
