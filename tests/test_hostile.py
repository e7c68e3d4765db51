"""Issue 7's hostile cases against the real interpreter: faults that used to lose data, wedge the
event loop or fake security. Each test here failed before its fix."""

import socket
import time

from support.http_client import parse_responses, raw_bytes
from support.runner import free_port

# ---------------------------------------------------------------------------------------------
# Printing an exception runs user code (__str__/__repr__): it is protected too.

UNPRINTABLE = """
import mongoose

class Bad:
    def __str__(self):
        raise RuntimeError("no str")
    def __repr__(self):
        raise RuntimeError("no repr")

def boom(req):
    raise ValueError(Bad())

mongoose.init(url=URL)
mongoose.route("/boom", boom, auth=False)
mongoose.route("/ok", lambda req: "fine", auth=False)
while True:
    mongoose.poll(20)
"""


def test_an_exception_that_cannot_be_printed_gives_500_and_the_loop_goes_on(start_server, http):
    server = start_server(UNPRINTABLE)
    for _ in range(3):
        reply = http.get(server.url("/boom"), timeout=5)
        assert reply.status_code == 500
        assert http.get(server.url("/ok"), timeout=5).text == "fine"
    assert server.alive()
    out = server.output()
    assert "cannot be called from inside a callback" not in out
    assert "ValueError" in out and "could not be printed" in out
