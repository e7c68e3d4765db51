"""The seed article's session ("When a Mongoose met a MicroPython"), replayed with the real curl
against the real interpreter: Basic auth checked by a Python callback, `/api/<name>` running a
Python function with the request body, `/` answering OK."""

import base64

import pytest

from support.http_client import curl

# The seed's main.py, listening on the test's port instead of 0.0.0.0:8000.
SEED_MAIN = """
import mongoose

users = {"admin": "istrator"}


def f1(data):
    print("f1", data)
    return "f1 says hello\\n"


def auth(user, pwd):
    return users.get(user) == pwd


mongoose.init(f1, auth, url=URL)
while True:
    mongoose.poll(1000)
"""

CHALLENGE = 'Basic realm="pythongoose", charset="UTF-8"'


def curl_head_and_body(*args):
    """curl -si ...: returns (status, lower-cased headers, body bytes)."""
    done = curl("-si", *args)
    assert done.returncode == 0, done.stderr
    head, _, body = done.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


@pytest.fixture
def seed(start_server):
    return start_server(SEED_MAIN)


def test_seed_curl_session_prints_the_posted_body_after_auth(seed):
    # $ curl -s http://localhost:8000/
    root = curl("-s", seed.url("/"))
    assert root.returncode == 0 and root.stdout == b"OK"

    # $ curl -s http://localhost:8000/api/epname  -> Auth required
    anonymous = curl("-s", seed.url("/api/epname"))
    assert anonymous.returncode == 0
    assert anonymous.stdout == b"Auth required"

    # $ curl -su admin:istrator http://localhost:8000/api/epname
    authorized = curl("-su", "admin:istrator", seed.url("/api/epname"))
    assert authorized.returncode == 0
    assert authorized.stdout == b"f1 says hello\n"

    # $ curl -su admin:istrator http://localhost:8000/api/epname --data-binary "r u there ?"
    posted = curl("-su", "admin:istrator", seed.url("/api/epname"), "--data-binary", "r u there ?")
    assert posted.returncode == 0
    assert posted.stdout == b"f1 says hello\n"

    # The terminal running the example shows the handler's print.
    assert seed.wait_for_output("f1 r u there ?\n"), seed.output()
    lines = seed.output().splitlines()
    # The GET without a body called f1 with an empty string, before the POST.
    assert lines.index("f1 ") < lines.index("f1 r u there ?")
    assert seed.alive()


def test_seed_api_without_credentials_is_401_with_basic_challenge(seed):
    status, headers, body = curl_head_and_body(seed.url("/api/epname"))
    assert status == 401
    assert headers["www-authenticate"] == CHALLENGE
    assert body == b"Auth required"
    assert "f1" not in seed.output()


def test_seed_api_with_credentials_is_200_with_handler_text(seed):
    status, headers, body = curl_head_and_body("-u", "admin:istrator", seed.url("/api/epname"))
    assert status == 200
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert body == b"f1 says hello\n"


def test_seed_wrong_password_is_401(seed):
    status, headers, body = curl_head_and_body("-u", "admin:wrong", seed.url("/api/epname"), "--data-binary", "x")
    assert status == 401
    assert headers["www-authenticate"] == CHALLENGE
    assert body == b"Auth required"
    assert "f1 x" not in seed.output()


def test_seed_unknown_user_is_401(seed):
    status, _, body = curl_head_and_body("-u", "nobody:istrator", seed.url("/api/epname"))
    assert (status, body) == (401, b"Auth required")


def test_seed_root_is_200_ok_without_credentials(seed):
    status, _, body = curl_head_and_body(seed.url("/"))
    assert (status, body) == (200, b"OK")


def test_seed_any_single_segment_under_api_reaches_the_handler(seed):
    posted = curl("-su", "admin:istrator", seed.url("/api/another_name"), "--data-binary", "second endpoint")
    assert posted.returncode == 0 and posted.stdout == b"f1 says hello\n"
    assert seed.wait_for_output("f1 second endpoint\n"), seed.output()


LONG_CREDENTIALS = """
import mongoose

users = {"a-user-name-well-over-sixteen-characters": "a-password:with:colons-and-more-than-16-chars"}


def f1(data):
    print("f1", data)
    return "long ok"


def auth(user, pwd):
    print("auth", repr(user), repr(pwd))
    return users.get(user) == pwd


mongoose.init(f1, auth, url=URL)
while True:
    mongoose.poll(1000)
"""


def test_credentials_longer_than_16_chars_reach_auth_intact(start_server):
    server = start_server(LONG_CREDENTIALS)
    user = "a-user-name-well-over-sixteen-characters"
    password = "a-password:with:colons-and-more-than-16-chars"
    status, _, body = curl_head_and_body("-u", f"{user}:{password}", server.url("/api/ep"), "--data-binary", "long")
    assert (status, body) == (200, b"long ok")
    assert f"auth '{user}' '{password}'" in server.output()
    assert server.wait_for_output("f1 long\n"), server.output()


def test_long_credentials_with_one_wrong_char_are_401(start_server):
    server = start_server(LONG_CREDENTIALS)
    user = "a-user-name-well-over-sixteen-characters"
    password = "a-password:with:colons-and-more-than-16-charz"
    status, _, body = curl_head_and_body("-u", f"{user}:{password}", server.url("/api/ep"))
    assert (status, body) == (401, b"Auth required")


RAISING_AUTH = """
import mongoose


def f1(data):
    print("f1", data)
    return "reached"


def auth(user, pwd):
    if user == "explode":
        raise ValueError("auth blew up for " + user)
    return user == "admin" and pwd == "istrator"


mongoose.init(f1, auth, url=URL)
while True:
    mongoose.poll(1000)
"""


def test_auth_callback_that_raises_is_500_with_traceback_and_server_keeps_serving(start_server):
    server = start_server(RAISING_AUTH)
    status, _, body = curl_head_and_body("-u", "explode:x", server.url("/api/ep"), "--data-binary", "never")
    assert status == 500
    assert server.wait_for_output("ValueError: auth blew up for explode"), server.output()
    out = server.output()
    assert "mongoose: a callback raised an exception:" in out
    assert "Traceback (most recent call last):" in out
    assert out.index("mongoose: a callback raised an exception:") < out.index("ValueError: auth blew up")
    assert "f1 never" not in out  # the handler never ran
    # Still serving, auth still consulted.
    status, _, body = curl_head_and_body("-u", "admin:istrator", server.url("/api/ep"))
    assert (status, body) == (200, b"reached")
    status, _, body = curl_head_and_body("-u", "admin:nope", server.url("/api/ep"))
    assert (status, body) == (401, b"Auth required")
    assert server.alive()


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!!not-base64",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Bearer " + base64.b64encode(b"admin:istrator").decode(),
        "Basic",
    ],
    ids=["bad-base64", "no-colon", "other-scheme", "empty-basic"],
)
def test_malformed_authorization_header_is_401(seed, authorization):
    status, headers, body = curl_head_and_body("-H", f"Authorization: {authorization}", seed.url("/api/epname"))
    assert status == 401
    assert headers["www-authenticate"] == CHALLENGE
    assert body == b"Auth required"
