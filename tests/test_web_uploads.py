"""Streamed uploads: route(..., on_chunk=...) hands the body to Python as it arrives (Content-Length
or chunked), never buffered whole, then the handler answers with an empty body; per-route
max_body_size for buffered and streamed bodies."""

import hashlib
import os
import socket
import subprocess

from support.http_client import raw_bytes, raw_responses

SERVER = """
import hashlib
import mongoose

uploads = {}  # by the X-Name header: an upload that was aborted never reaches done()


def on_chunk(req, chunk):
    key = req.header("X-Name", "-")
    if key not in uploads:
        uploads[key] = {"hash": hashlib.sha256(), "size": 0, "chunks": 0, "max_chunk": 0, "path": req.path + " " + key}
    state = uploads[key]
    state["hash"].update(chunk)
    state["size"] += len(chunk)
    state["chunks"] += 1
    state["max_chunk"] = max(state["max_chunk"], len(chunk))
    if chunk.startswith(b"RAISE"):
        raise ValueError("upload refused")


def done(req):
    state = uploads.pop(req.header("X-Name", "-"), None) or {"hash": hashlib.sha256(), "size": 0, "chunks": 0,
                                                             "max_chunk": 0, "path": ""}
    digest = state["hash"].digest()
    return {"size": state["size"], "sha256": "".join("%02x" % b for b in digest), "body": len(req.body),
            "chunks": state["chunks"], "max_chunk": state["max_chunk"], "path": state["path"],
            "c_heap_peak": mongoose.memory()["peak"]}


mongoose.init(auth=lambda u, p: (u, p) == ("admin", "pw"), url=URL, max_body_size=1024)
mongoose.route("/upload", done, methods="POST", auth=False, on_chunk=on_chunk)
mongoose.route("/limited", done, methods="POST", auth=False, on_chunk=on_chunk, max_body_size=1000)
mongoose.route("/private", done, methods="POST", on_chunk=on_chunk)
mongoose.route("/small", lambda r: str(len(r.body)), methods="POST", auth=False, max_body_size=10)
mongoose.route("/big", lambda r: str(len(r.body)), methods="POST", auth=False, max_body_size=100000)
mongoose.route("/ping", lambda r: "pong", auth=False)
print("serving")
while True:
    mongoose.poll(1000)
"""


def test_a_5_mb_upload_streams_to_python_in_small_chunks(start_server, http):
    server = start_server(SERVER)
    body = os.urandom(5 * 1024 * 1024)
    r = http.post(server.url("/upload"), data=body, headers={"X-Name": "five"}, timeout=60)
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["size"] == len(body)
    assert reply["sha256"] == hashlib.sha256(body).hexdigest()
    assert reply["body"] == 0
    assert reply["path"] == "/upload five"
    assert reply["max_chunk"] <= 64 * 1024  # what one read brought, never the whole body
    assert reply["c_heap_peak"] < 512 * 1024, reply
    assert http.get(server.url("/ping"), timeout=10).text == "pong"  # the same connection goes on


def test_a_chunked_upload_is_decoded_and_streamed(start_server):
    server = start_server(SERVER)
    pieces = [b"hello ", b"chunked ", b"world" * 1000]
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\nX-Trailer: 1\r\n\r\n"
    head = b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    [reply] = raw_responses(server.port, head + body, 1)
    assert reply.status == 200, reply.body
    expected = b"".join(pieces)
    assert b'"size": %d' % len(expected) in reply.body
    assert hashlib.sha256(expected).hexdigest().encode() in reply.body


def test_curl_upload_with_expect_100_continue(start_server, tmp_path):
    server = start_server(SERVER)
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(2 * 1024 * 1024))
    done = subprocess.run(["curl", "-s", "--max-time", "30", "-H", "Expect: 100-continue", "--data-binary", f"@{data}",
                           server.url("/upload")], capture_output=True, timeout=60)
    assert hashlib.sha256(data.read_bytes()).hexdigest().encode() in done.stdout, done


def test_requests_pipelined_after_an_upload_are_answered(start_server):
    server = start_server(SERVER)
    upload = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"
    ping = b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"
    responses = raw_responses(server.port, upload + ping + upload + ping, 4)
    assert [r.status for r in responses] == [200, 200, 200, 200]
    assert b'"size": 5' in responses[0].body and responses[1].body == b"pong"
    assert b'"size": 5' in responses[2].body


def test_upload_limits_auth_and_raising_on_chunk(start_server):
    server = start_server(SERVER)
    over = b"POST /limited HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n"
    assert raw_bytes(server.port, over).startswith(b"HTTP/1.1 413")
    chunked_over = b"POST /limited HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n" + b"x" * 1001 + b"\r\n0\r\n\r\n"
    assert raw_bytes(server.port, chunked_over).startswith(b"HTTP/1.1 413")
    private = b"POST /private HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
    assert raw_bytes(server.port, private).startswith(b"HTTP/1.1 401")
    raising = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nRAISE now"
    assert raw_bytes(server.port, raising).startswith(b"HTTP/1.1 500")
    assert server.wait_for_output("ValueError: upload refused"), server.output()
    malformed = b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
    assert raw_bytes(server.port, malformed).startswith(b"HTTP/1.1 400")
    # The server goes on, and the aborted uploads left nothing behind for the next one.
    fresh = b"POST /upload HTTP/1.1\r\nHost: x\r\nX-Name: fresh\r\nContent-Length: 2\r\n\r\nok"
    [reply] = raw_responses(server.port, fresh, 1)
    assert b'"size": 2' in reply.body


def test_a_route_body_limit_overrides_the_server_limit(start_server, http):
    server = start_server(SERVER)
    assert http.post(server.url("/small"), data=b"x" * 10, timeout=10).text == "10"
    assert http.post(server.url("/small"), data=b"x" * 11, timeout=10).status_code == 413
    assert http.post(server.url("/big"), data=b"x" * 50000, timeout=10).text == "50000"  # over init's 1024
    assert http.post(server.url("/ping"), data=b"x" * 1025, timeout=10).status_code == 413
    assert raw_bytes(server.port, b"POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").startswith(b"HTTP/1.1 411")


def test_route_upload_arguments_are_checked(run_script):
    rc, out = run_script("""
import mongoose
mongoose.init(url=URL)
for kwargs in ({"on_chunk": 5}, {"max_body_size": 0}, {"max_body_size": "x"}):
    try:
        mongoose.route("/u", lambda r: "x", **kwargs)
        print("NO ERROR")
    except Exception as e:
        print("RAISED", type(e).__name__)
""")
    assert out.split() == ["RAISED", "TypeError", "RAISED", "ValueError", "RAISED", "TypeError"], out


def test_a_5_mb_upload_to_a_file_works_on_a_board_sized_heap(start_server, http, tmp_path):
    target = tmp_path / "upload.bin"
    server = start_server(f"""
import gc
import mongoose
out = {{"file": None, "low": 1 << 30}}


def on_chunk(req, chunk):
    if out["file"] is None:
        out["file"] = open({str(target)!r}, "wb")
    out["file"].write(chunk)
    out["low"] = min(out["low"], gc.mem_free())


def done(req):
    out["file"].close()
    out["file"] = None
    return "stored, GC heap free at least %d" % out["low"]


mongoose.init(url=URL)
mongoose.route("/store", done, methods="POST", auth=False, on_chunk=on_chunk)
while True:
    mongoose.poll(1000)
""", options=("-X", "heapsize=48k"))
    body = os.urandom(5 * 1024 * 1024)
    r = http.post(server.url("/store"), data=body, timeout=60)
    assert r.status_code == 200 and r.text.startswith("stored"), (r.text, server.output())
    assert target.read_bytes() == body
