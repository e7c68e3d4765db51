"""HTTP behaviours that do not depend on the OS, on the emulated board: wildcard routes, 404/405,
auth (401 from a route with auth=True), a handler that raises (500, and the board keeps serving),
max_body_size (413). One board serves every test of this module (one boot)."""

from support.http_client import raw_bytes

SERVER = """
import mongoose


def auth(user, pwd):
    return (user, pwd) == ("admin", "secret")


def boom(req):
    raise ValueError("boom " + req.query)


mongoose.init(auth=auth, max_body_size=1024)
mongoose.route("/glob/*/end", lambda r: "star " + r.path, auth=False)
mongoose.route("/tail/#", lambda r: "hash " + r.path, auth=False)
mongoose.route("/only-post", lambda r: "posted", methods="POST", auth=False)
mongoose.route("/get-put", lambda r: "gp " + r.method, methods=["GET", "PUT"], auth=False)
mongoose.route("/secret", lambda r: "the secret")
mongoose.route("/boom", boom, auth=False)
mongoose.route("/len", lambda r: str(len(r.body)), auth=False)
print("board listening")
while True:
    mongoose.poll(1000)
"""


def test_star_matches_one_segment_and_hash_the_rest(board, http):
    r = http.get(board.url("/glob/abc/end"), timeout=10)
    assert (r.status_code, r.text) == (200, "star /glob/abc/end"), board.output()
    assert http.get(board.url("/glob/a/b/end"), timeout=10).status_code == 404
    r = http.get(board.url("/tail/x/y/z"), timeout=10)
    assert (r.status_code, r.text) == (200, "hash /tail/x/y/z"), board.output()


def test_unknown_path_is_404(board, http):
    assert http.get(board.url("/nowhere"), timeout=10).status_code == 404


def test_wrong_method_is_405_with_allow(board, http):
    r = http.get(board.url("/only-post"), timeout=10)
    assert r.status_code == 405
    assert r.headers["Allow"] == "POST"
    r = http.delete(board.url("/get-put"), timeout=10)
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["Allow"].split(",")} >= {"GET", "PUT"}
    assert http.post(board.url("/only-post"), timeout=10).text == "posted"


def test_auth_route_is_401_without_or_with_wrong_credentials(board, http):
    r = http.get(board.url("/secret"), timeout=10)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert http.get(board.url("/secret"), auth=("admin", "wrong"), timeout=10).status_code == 401
    r = http.get(board.url("/secret"), auth=("admin", "secret"), timeout=10)
    assert (r.status_code, r.text) == (200, "the secret")


def test_handler_that_raises_is_500_and_the_board_keeps_serving(board, http):
    assert http.get(board.url("/boom?first"), timeout=10).status_code == 500
    board.wait_for("ValueError: boom first")
    assert http.get(board.url("/boom?second"), timeout=10).status_code == 500
    board.wait_for("ValueError: boom second")
    assert "Traceback (most recent call last):" in board.output()
    r = http.get(board.url("/glob/still/end"), timeout=10)
    assert (r.status_code, r.text) == (200, "star /glob/still/end")
    assert board.proc.poll() is None, board.output()


def test_body_over_max_body_size_is_413(board, http):
    r = http.post(board.url("/len"), data=b"z" * 1024, timeout=10)
    assert (r.status_code, r.text) == (200, "1024")
    raw = raw_bytes(board.port, b"POST /len HTTP/1.1\r\nHost: b\r\nContent-Length: 1025\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 413"), raw[:200]
    assert http.post(board.url("/len"), data=b"z" * 1025, timeout=10).status_code == 413
    r = http.post(board.url("/len"), data=b"ok", timeout=10)
    assert (r.status_code, r.text) == (200, "2")
