"""The `mongoose` module's HTTP API, driven through the real interpreter with `requests` (and raw
sockets where a client library would not send what we need: malformed, pipelined, oversized)."""

import json
import socket
import time

import pytest

from support.http_client import parse_responses, raw_bytes, raw_responses, read_all, read_responses
from support.runner import free_port

# ---------------------------------------------------------------------------------------------
# Scripts

# No auth; `api` is a function; many route() routes.
ROUTES = r"""
import gc
import binascii
import mongoose


def api(data):
    print("api got [" + data + "]")
    return "api:" + data


mongoose.init(api, url=URL)


def info(r):
    return {
        "method": r.method,
        "path": r.path,
        "query": r.query,
        "body_hex": binascii.hexlify(r.body).decode(),
        "body_type": type(r.body).__name__,
        "text": r.text,
        "text_type": type(r.text).__name__,
        "headers": r.headers,
        "header_exact": r.header("X-Custom-Thing"),
        "header_lower": r.header("x-custom-thing"),
        "header_upper": r.header("X-CUSTOM-THING"),
        "missing": r.header("X-Absent"),
        "missing_default": r.header("X-Absent", "fallback"),
        "is_request": isinstance(r, mongoose.Request),
    }


mongoose.route("/info/#", info)
mongoose.route("/json", lambda r: {"got": r.json()}, methods="POST")
mongoose.route("/bodylen", lambda r: str(len(r.body)), methods=["POST", "PUT"])

RET = {
    "str": "hello",
    "unicode": "h\u00e9llo \u2713",
    "bytes": b"\x00\x01\xfe\xff",
    "bytearray": bytearray(b"byte\x80array"),
    "memoryview": memoryview(b"0123456789")[2:5],
    "dict": {"a": 1, "b": [True, None, "x"]},
    "list": [1, "two", 3.5],
    "none": None,
    "int": 42,
    "float": 1.5,
    "tuple2": (201, "created"),
    "tuple3": (202, b"raw", {"X-One": "1", "X-Num": 7}),
    "tuple-json": (418, {"teapot": True}),
    "tuple-none-body": (404, None),
    "ctype": (200, "<p>hi</p>", {"Content-Type": "text/html"}),
    "ctype-lower": (200, b"{}", {"content-type": "application/x-custom"}),
    "crlf-value": (200, "x", {"X-Bad": "a\r\nInjected: yes"}),
    "lf-value": (200, "x", {"X-Bad": "a\nInjected: yes"}),
    "crlf-name": (200, "x", {"X-Bad\r\nInjected": "v"}),
    "tuple1": (200,),
    "status-out-of-range": (99, "x"),
}


def ret(r):
    return RET[r.path[len("/ret/"):]]


mongoose.route("/ret/*", ret)


def boom(r):
    raise ValueError("boom-" + r.query)


mongoose.route("/boom", boom)


def after_gc(r):
    gc.collect()
    junk = [bytearray(100) for _ in range(200)]
    gc.collect()
    return "gc ok " + r.query + " " + str(len(junk))


mongoose.route("/gc", after_gc)

saved = []


def keep(r):
    saved.append(r)
    return "kept " + r.path


mongoose.route("/keep", keep)


def use_saved(r):
    out = {}
    attempts = {
        "method": lambda q: q.method,
        "path": lambda q: q.path,
        "query": lambda q: q.query,
        "body": lambda q: q.body,
        "text": lambda q: q.text,
        "headers": lambda q: q.headers,
        "header": lambda q: q.header("host"),
        "json": lambda q: q.json(),
    }
    for name, attempt in attempts.items():
        try:
            attempt(saved[-1])
            out[name] = "no error"
        except Exception as e:
            out[name] = type(e).__name__ + ": " + str(e)
    return out


mongoose.route("/use-saved", use_saved)


def reenter(r):
    out = {}
    for name, fn in (("poll", lambda: mongoose.poll(0)), ("close", mongoose.close), ("init", lambda: mongoose.init(url=URL))):
        try:
            fn()
            out[name] = "no error"
        except Exception as e:
            out[name] = type(e).__name__ + ": " + str(e)
    return out


mongoose.route("/reenter", reenter)
mongoose.route("/only-post", lambda r: "posted", methods="POST")
mongoose.route("/get-put", lambda r: "gp " + r.method, methods=["GET", "PUT"])
mongoose.route("/any", lambda r: "any " + r.method)
mongoose.route("/glob/*/end", lambda r: "star " + r.path)
mongoose.route("/tail/#", lambda r: "hash " + r.path)
mongoose.route("/replace", lambda r: "first")
mongoose.route("/replace", lambda r: "second")
mongoose.route("/replace", lambda r: "post-only", methods="POST")
print("ready")
while True:
    mongoose.poll(20)
"""

# Auth on; `api` is a dict; route() routes with and without auth.
AUTHED = r"""
import mongoose

users = {"admin": "istrator", "zero": 0, "empty": "", "none": None}


def auth(user, pwd):
    print("auth", repr(user), repr(pwd))
    if user in ("zero", "empty", "none"):
        return users[user]  # falsy verdicts
    return users.get(user) == pwd


def fa(data):
    print("fa", repr(data))
    return "A:" + data


def fb(data):
    print("fb", repr(data))
    return "B:" + data


mongoose.init({"a": fa, "b": fb}, auth, url=URL)
mongoose.route("/open", lambda r: "open", auth=False)
mongoose.route("/closed", lambda r: "closed")
mongoose.route("/closed-explicit", lambda r: "closed explicit", auth=True)
while True:
    mongoose.poll(20)
"""

ADMIN = ("admin", "istrator")
CHALLENGE = 'Basic realm="pythongoose", charset="UTF-8"'
TEXT = "text/plain; charset=utf-8"


@pytest.fixture
def routes(start_server):
    return start_server(ROUTES)


@pytest.fixture
def authed(start_server):
    return start_server(AUTHED)


def get(http, url, **kw):
    return http.get(url, timeout=5, **kw)


def post(http, url, data=b"", **kw):
    return http.post(url, data=data, timeout=5, **kw)


# ---------------------------------------------------------------------------------------------
# init(api=function)


def test_api_function_gets_the_body_text_of_any_single_segment(routes, http):
    r = post(http, routes.url("/api/anything"), data="h\u00e9llo body".encode())
    assert r.status_code == 200
    assert r.headers["Content-Type"] == TEXT
    assert r.content.decode() == "api:h\u00e9llo body"
    r = post(http, routes.url("/api/other-name?with=query"), data=b"second")
    assert r.text == "api:second"
    assert routes.wait_for_output("api got [second]")
    assert "api got [h\u00e9llo body]" in routes.output()


def test_api_function_get_without_body_gets_empty_string(routes, http):
    r = get(http, routes.url("/api/x"))
    assert (r.status_code, r.text) == (200, "api:")
    assert routes.wait_for_output("api got []")


LONG_TEXT_API = """
import mongoose

EXPECTED = "a body text well over thirty-two characters long, \u00e9\u2713"


def api(data):
    return "|".join(
        str(x)
        for x in (data == EXPECTED, hash(data) == hash(EXPECTED), {EXPECTED: "found"}.get(data), data in {EXPECTED}, len(data))
    )


mongoose.init(api, url=URL)
while True:
    mongoose.poll(20)
"""


def test_long_api_body_text_behaves_as_an_ordinary_str(start_server, http):
    server = start_server(LONG_TEXT_API)
    text = "a body text well over thirty-two characters long, \u00e9\u2713"
    r = post(http, server.url("/api/x"), data=text.encode())
    assert (r.status_code, r.text) == (200, f"True|True|found|True|{len(text)}")


def test_api_function_does_not_match_two_segments(routes, http):
    r = post(http, routes.url("/api/a/b"), data=b"x")
    assert r.status_code == 404
    assert "api got" not in routes.output()


def test_api_function_body_that_is_not_utf8_is_400(routes, http):
    r = post(http, routes.url("/api/x"), data=b"\xff\xfe\x80 not text")
    assert r.status_code == 400
    assert "api got" not in routes.output()
    # The server is still fine.
    assert post(http, routes.url("/api/x"), data=b"ok").text == "api:ok"


# ---------------------------------------------------------------------------------------------
# init(api=dict, auth=...)


def test_api_dict_routes_each_name_to_its_function(authed, http):
    r = post(http, authed.url("/api/a"), data=b"one", auth=ADMIN)
    assert (r.status_code, r.text) == (200, "A:one")
    r = post(http, authed.url("/api/b"), data=b"two", auth=ADMIN)
    assert (r.status_code, r.text) == (200, "B:two")
    assert authed.wait_for_output("fb 'two'")
    assert "fa 'one'" in authed.output()


def test_api_dict_name_not_in_dict_is_404(authed, http):
    r = post(http, authed.url("/api/c"), data=b"x", auth=ADMIN)
    assert r.status_code == 404
    r = post(http, authed.url("/api/a/extra"), data=b"x", auth=ADMIN)
    assert r.status_code == 404


def test_auth_is_called_for_every_api_request_with_user_and_password(authed, http):
    for i in range(3):
        r = post(http, authed.url("/api/a"), data=str(i).encode(), auth=ADMIN)
        assert r.text == f"A:{i}"
    assert authed.wait_for_output("fa '2'")
    assert authed.output().count("auth 'admin' 'istrator'") == 3


@pytest.mark.parametrize("path", ["/api/a", "/closed", "/closed-explicit"])
def test_missing_credentials_are_401_with_challenge(authed, http, path):
    r = post(http, authed.url(path), data=b"x")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == CHALLENGE
    assert r.content == b"Auth required"
    assert "fa" not in authed.output()


@pytest.mark.parametrize("user", ["zero", "empty", "none"])
def test_falsy_auth_verdict_is_401(authed, http, user):
    r = post(http, authed.url("/api/a"), data=b"x", auth=(user, "pw"))
    assert r.status_code == 401
    assert r.content == b"Auth required"
    assert authed.wait_for_output(f"auth '{user}' 'pw'")


def test_rejected_credentials_are_401(authed, http):
    r = post(http, authed.url("/closed"), auth=("admin", "wrong"))
    assert (r.status_code, r.content) == (401, b"Auth required")
    assert r.headers["WWW-Authenticate"] == CHALLENGE


def test_route_auth_false_opts_out_of_auth(authed, http):
    r = get(http, authed.url("/open"))
    assert (r.status_code, r.text) == (200, "open")
    assert "auth " not in authed.output()  # the callback was not even asked


def test_route_with_auth_default_needs_credentials(authed, http):
    r = get(http, authed.url("/closed"), auth=ADMIN)
    assert (r.status_code, r.text) == (200, "closed")


def test_without_auth_callback_api_and_routes_need_no_credentials(routes, http):
    r = post(http, routes.url("/api/x"), data=b"free")
    assert (r.status_code, r.text) == (200, "api:free")
    r = get(http, routes.url("/any"), headers={"Authorization": "Basic !!!garbage"})
    assert (r.status_code, r.text) == (200, "any GET")
    assert "WWW-Authenticate" not in r.headers


# ---------------------------------------------------------------------------------------------
# route(): patterns, methods, replacement


def test_star_matches_within_one_segment(routes, http):
    r = get(http, routes.url("/glob/abc/end"))
    assert (r.status_code, r.text) == (200, "star /glob/abc/end")
    assert get(http, routes.url("/glob/a/b/end")).status_code == 404
    assert get(http, routes.url("/glob/abc/end/more")).status_code == 404


def test_hash_matches_the_rest_of_the_path(routes, http):
    r = get(http, routes.url("/tail/a/b/c.txt"))
    assert (r.status_code, r.text) == (200, "hash /tail/a/b/c.txt")
    assert get(http, routes.url("/tailx")).status_code == 404


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_route_without_methods_accepts_every_method(routes, http, method):
    r = http.request(method, routes.url("/any"), timeout=5)
    assert (r.status_code, r.text) == (200, "any " + method)


def test_route_with_one_method_string_is_405_for_others_with_allow(routes, http):
    assert post(http, routes.url("/only-post")).text == "posted"
    r = get(http, routes.url("/only-post"))
    assert r.status_code == 405
    assert r.headers["Allow"] == "POST"


def test_route_with_method_list_is_405_with_allow_listing_them(routes, http):
    assert get(http, routes.url("/get-put")).text == "gp GET"
    assert http.put(routes.url("/get-put"), data=b"", timeout=5).text == "gp PUT"
    r = http.delete(routes.url("/get-put"), timeout=5)
    assert r.status_code == 405
    allowed = {m.strip() for m in r.headers["Allow"].split(",")}
    assert allowed == {"GET", "PUT"}


def test_registering_same_pattern_and_methods_again_replaces_the_handler(routes, http):
    # "/replace" was registered for any method as "first", then "second"; a POST-only route with
    # the same pattern is a different route and replaces neither.
    for method in ("GET", "PUT", "DELETE"):
        r = http.request(method, routes.url("/replace"), timeout=5)
        assert (r.status_code, r.text) == (200, "second"), method


def test_unknown_path_is_404(routes, http):
    r = get(http, routes.url("/no/such/thing"))
    assert r.status_code == 404


def test_root_without_route_is_200_ok(routes, http):
    r = get(http, routes.url("/"))
    assert (r.status_code, r.text) == (200, "OK")


def test_root_route_replaces_the_default_ok(start_server, http):
    server = start_server(
        """
        import mongoose
        mongoose.init(url=URL)
        mongoose.route("/", lambda r: "my root")
        while True:
            mongoose.poll(20)
        """
    )
    assert get(http, server.url("/")).text == "my root"


# ---------------------------------------------------------------------------------------------
# The Request object


def test_request_fields(routes, http):
    r = post(
        http,
        routes.url("/info/some/path?a=1&b=two"),
        data="b\u00f6dy".encode(),
        headers={"X-Custom-Thing": "custom value", "Content-Type": "text/weird"},
    )
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    info = r.json()
    assert info["method"] == "POST"
    assert info["path"] == "/info/some/path"
    assert info["query"] == "a=1&b=two"
    assert info["body_type"] == "bytes"
    assert bytes.fromhex(info["body_hex"]) == "b\u00f6dy".encode()
    assert (info["text_type"], info["text"]) == ("str", "b\u00f6dy")
    assert info["is_request"] is True
    headers = info["headers"]
    assert headers["x-custom-thing"] == "custom value"
    assert headers["content-type"] == "text/weird"
    assert headers["content-length"] == str(len("b\u00f6dy".encode()))
    assert all(name == name.lower() for name in headers)
    assert info["header_exact"] == info["header_lower"] == info["header_upper"] == "custom value"
    assert info["missing"] is None
    assert info["missing_default"] == "fallback"


def test_request_without_query_or_body(routes, http):
    info = get(http, routes.url("/info/x")).json()
    assert (info["method"], info["path"], info["query"]) == ("GET", "/info/x", "")
    assert (info["body_hex"], info["text"]) == ("", "")


def test_request_json_parses_the_body(routes, http):
    payload = {"a": [1, 2, {"b": None}], "s": "\u2713"}
    r = post(http, routes.url("/json"), data=json.dumps(payload).encode())
    assert r.status_code == 200
    assert r.json() == {"got": payload}


def test_request_json_with_invalid_json_is_500(routes, http):
    r = post(http, routes.url("/json"), data=b"{not json")
    assert r.status_code == 500
    assert routes.wait_for_output("ValueError"), routes.output()


def test_request_used_after_its_handler_returned_raises_runtime_error(routes, http):
    assert get(http, routes.url("/keep?x=1"), headers={"X-A": "b"}).text == "kept /keep"
    r = get(http, routes.url("/use-saved"))
    assert r.status_code == 200
    results = r.json()
    assert set(results) == {"method", "path", "query", "body", "text", "headers", "header", "json"}
    for name, outcome in results.items():
        assert outcome.startswith("RuntimeError"), (name, outcome)


# ---------------------------------------------------------------------------------------------
# Return values


@pytest.mark.parametrize(
    "name, status, content_type, body",
    [
        ("str", 200, TEXT, b"hello"),
        ("unicode", 200, TEXT, "h\u00e9llo \u2713".encode()),
        ("bytes", 200, "application/octet-stream", b"\x00\x01\xfe\xff"),
        ("bytearray", 200, "application/octet-stream", b"byte\x80array"),
        ("memoryview", 200, "application/octet-stream", b"234"),
        ("tuple2", 201, TEXT, b"created"),
    ],
)
def test_return_value_sets_status_content_type_and_body(routes, http, name, status, content_type, body):
    r = get(http, routes.url("/ret/" + name))
    assert r.status_code == status
    assert r.headers["Content-Type"] == content_type
    assert r.headers["Content-Length"] == str(len(body))
    assert r.content == body


@pytest.mark.parametrize(
    "name, status, value",
    [("dict", 200, {"a": 1, "b": [True, None, "x"]}), ("list", 200, [1, "two", 3.5]), ("tuple-json", 418, {"teapot": True})],
)
def test_dict_and_list_are_json(routes, http, name, status, value):
    r = get(http, routes.url("/ret/" + name))
    assert r.status_code == status
    assert r.headers["Content-Type"] == "application/json"
    assert json.loads(r.content) == value


def test_none_is_204_without_body(routes):
    raw = raw_bytes(routes.port, b"GET /ret/none HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    (response,), leftover = parse_responses(raw)
    assert leftover == b""
    assert response.status == 204
    assert response.body == b""
    assert response.headers.get("content-length", "0") == "0"


def test_none_204_does_not_break_keep_alive(routes):
    responses = raw_responses(
        routes.port, b"GET /ret/none HTTP/1.1\r\nHost: t\r\n\r\nGET /ret/str HTTP/1.1\r\nHost: t\r\n\r\n", 2
    )
    assert [r.status for r in responses] == [204, 200]
    assert responses[1].body == b"hello"


def test_tuple_with_headers_sets_status_and_headers(routes, http):
    r = get(http, routes.url("/ret/tuple3"))
    assert r.status_code == 202
    assert r.headers["X-One"] == "1"
    assert r.headers["X-Num"] == "7"
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.content == b"raw"


@pytest.mark.parametrize("name, expected", [("ctype", "text/html"), ("ctype-lower", "application/x-custom")])
def test_content_type_header_replaces_the_default(routes, name, expected):
    raw = raw_bytes(routes.port, f"GET /ret/{name} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    (response,), _ = parse_responses(raw)
    assert response.status == 200
    content_types = [line for line in response.raw_head.split("\r\n") if line.lower().startswith("content-type:")]
    assert len(content_types) == 1, response.raw_head
    assert content_types[0].split(":", 1)[1].strip() == expected


@pytest.mark.parametrize("name", ["crlf-value", "lf-value", "crlf-name"])
def test_cr_or_lf_in_reply_headers_is_500_and_not_injected(routes, name):
    raw = raw_bytes(routes.port, f"GET /ret/{name} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    (response,), leftover = parse_responses(raw)
    assert response.status == 500
    assert "injected" not in response.headers
    assert leftover == b""
    assert routes.wait_for_output("mongoose: a callback raised an exception:")


@pytest.mark.parametrize("name, type_name", [("int", "int"), ("float", "float")])
def test_unsupported_return_type_is_500_with_printed_type_error(routes, http, name, type_name):
    r = get(http, routes.url("/ret/" + name))
    assert r.status_code == 500
    assert routes.wait_for_output(f"TypeError: handler returned {type_name}; expected"), routes.output()
    assert get(http, routes.url("/ret/str")).text == "hello"


@pytest.mark.parametrize("name", ["tuple1", "status-out-of-range"])
def test_malformed_reply_tuple_is_500(routes, http, name):
    r = get(http, routes.url("/ret/" + name))
    assert r.status_code == 500
    assert routes.wait_for_output("mongoose: a callback raised an exception:")


def test_handler_exception_traceback_goes_to_stdout(start_server, http):
    server = start_server(ROUTES, split_stderr=True)
    assert get(http, server.url("/boom?out")).status_code == 500
    assert server.wait_for_output("ValueError: boom-out"), (server.output(), server.stderr())
    out = server.output()
    assert out.index("mongoose: a callback raised an exception:") < out.index("Traceback (most recent call last):")
    assert "boom" not in server.stderr()


def test_handler_exception_is_500_with_traceback_and_server_keeps_serving(routes, http):
    r = get(http, routes.url("/boom?first"))
    assert r.status_code == 500
    assert routes.wait_for_output("ValueError: boom-first"), routes.output()
    out = routes.output()
    marker = "mongoose: a callback raised an exception:"
    assert marker in out
    after = out[out.index(marker):]
    assert "Traceback (most recent call last):" in after
    assert "in boom" in after
    # Keeps serving, including the same failing route.
    assert get(http, routes.url("/boom?second")).status_code == 500
    assert routes.wait_for_output("ValueError: boom-second")
    assert get(http, routes.url("/ret/str")).text == "hello"
    assert routes.alive()


def test_handler_that_collects_garbage_before_returning(routes, http):
    for i in range(5):
        r = get(http, routes.url(f"/gc?n={i}"))
        assert (r.status_code, r.text) == (200, f"gc ok n={i} 200")


def test_poll_close_and_init_inside_a_handler_raise_runtime_error(routes, http):
    r = get(http, routes.url("/reenter"))
    assert r.status_code == 200
    outcome = r.json()
    assert outcome["poll"].startswith("RuntimeError"), outcome
    assert outcome["close"].startswith("RuntimeError"), outcome
    assert outcome["init"].startswith("RuntimeError"), outcome
    # The server was neither closed nor re-entered.
    assert get(http, routes.url("/ret/str")).text == "hello"


# ---------------------------------------------------------------------------------------------
# Protocol-level statuses (raw sockets)


def test_head_reply_has_no_body(routes):
    # A HEAD reply carries the headers GET would, and no body bytes: the next reply on the same
    # connection must start right after the head.
    raw = raw_bytes(
        routes.port,
        b"HEAD /any HTTP/1.1\r\nHost: t\r\n\r\nGET /ret/str HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), raw
    assert rest.startswith(b"HTTP/1.1 200"), raw
    (second,), leftover = parse_responses(rest)
    assert (second.body, leftover) == (b"hello", b"")


@pytest.mark.parametrize(
    "request_line",
    [b"GARBAGE\r\n\r\n", b"GET /\r\n\r\n", b"GET / FTP/1.1\r\n\r\n", b"GET / HTTP/x.y\r\n\r\n", b" / HTTP/1.1\r\n\r\n"],
    ids=["one-word", "no-version", "wrong-protocol", "bad-version", "no-method"],
)
def test_malformed_request_line_is_400(routes, request_line):
    raw = raw_bytes(routes.port, request_line)
    assert raw.startswith(b"HTTP/1.1 400"), raw
    assert routes.alive()


def test_headers_over_default_max_header_size_are_431(routes):
    request = b"GET /any HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
    raw = raw_bytes(routes.port, request)
    assert raw.startswith(b"HTTP/1.1 431"), raw[:200]


def test_headers_within_default_max_header_size_are_served(routes):
    request = b"GET /any HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Big: " + b"a" * 7000 + b"\r\n\r\n"
    raw = raw_bytes(routes.port, request)
    assert raw.startswith(b"HTTP/1.1 200"), raw[:200]


def test_header_bytes_that_never_end_are_431_before_the_end_arrives(routes):
    with socket.create_connection(("127.0.0.1", routes.port), timeout=5) as s:
        s.sendall(b"GET /any HTTP/1.1\r\nX-Endless: " + b"b" * 10000)
        raw = read_all(s, timeout=3)
    assert raw.startswith(b"HTTP/1.1 431"), raw[:200]


def test_content_length_over_default_max_body_size_is_413(routes):
    raw = raw_bytes(routes.port, b"POST /bodylen HTTP/1.1\r\nHost: t\r\nContent-Length: 65537\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 413"), raw[:200]


def test_body_of_exactly_max_body_size_is_served(routes, http):
    r = post(http, routes.url("/bodylen"), data=b"z" * 65536)
    assert (r.status_code, r.text) == (200, "65536")


def test_chunked_transfer_encoding_is_411(routes):
    raw = raw_bytes(
        routes.port, b"POST /bodylen HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    assert raw.startswith(b"HTTP/1.1 411"), raw[:200]


def test_request_with_many_headers_is_not_misframed(routes):
    # 35 headers, then Content-Length: the body must be read as this request's body (or the
    # request refused), never served as a second, smuggled request.
    smuggled = b"GET /ret/str HTTP/1.1\r\nHost: t\r\n\r\n"
    head = b"POST /bodylen HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-H%d: v%d\r\n" % (i, i) for i in range(35))
    raw = raw_bytes(routes.port, head + b"Content-Length: %d\r\n\r\n" % len(smuggled) + smuggled, timeout=2)
    responses, _ = parse_responses(raw)
    assert len(responses) == 1, raw
    assert responses[0].status in (200, 400, 431), raw
    if responses[0].status == 200:
        assert responses[0].body == str(len(smuggled)).encode()


def test_post_without_content_length_has_an_empty_body(routes):
    responses = raw_responses(routes.port, b"POST /bodylen HTTP/1.1\r\nHost: t\r\n\r\n", 1)
    assert [(r.status, r.body) for r in responses] == [(200, b"0")]


LIMITS = """
import mongoose
mongoose.init(url=URL, max_header_size=256, max_body_size=10)
mongoose.route("/len", lambda r: str(len(r.body)))
while True:
    mongoose.poll(20)
"""


def test_custom_max_header_size_is_enforced(start_server):
    server = start_server(LIMITS)
    ok = raw_bytes(server.port, b"GET /len HTTP/1.1\r\nConnection: close\r\nX-A: " + b"a" * 150 + b"\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200"), ok
    big = raw_bytes(server.port, b"GET /len HTTP/1.1\r\nConnection: close\r\nX-A: " + b"a" * 300 + b"\r\n\r\n")
    assert big.startswith(b"HTTP/1.1 431"), big


def test_custom_max_body_size_is_enforced(start_server, http):
    server = start_server(LIMITS)
    r = post(http, server.url("/len"), data=b"0123456789")
    assert (r.status_code, r.text) == (200, "10")
    r = post(http, server.url("/len"), data=b"0123456789X")
    assert r.status_code == 413


# ---------------------------------------------------------------------------------------------
# Connections


def test_connection_close_gets_reply_then_close(routes):
    with socket.create_connection(("127.0.0.1", routes.port), timeout=5) as s:
        s.sendall(b"GET /ret/str HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        raw = read_all(s, timeout=3)  # returns at EOF: the server closed
        start = time.monotonic()
        s.settimeout(3)
        eof = s.recv(10) == b""
    (response,), leftover = parse_responses(raw)
    assert (response.status, response.body, leftover) == (200, b"hello", b"")
    assert response.headers["connection"].lower() == "close"
    assert eof and time.monotonic() - start < 1


def test_http10_closes_after_the_reply(routes):
    raw = raw_bytes(routes.port, b"GET /ret/str HTTP/1.0\r\n\r\n", timeout=3)
    (response,), leftover = parse_responses(raw)
    assert (response.status, response.body, leftover) == (200, b"hello", b"")


def test_keep_alive_serves_many_requests_on_one_connection(routes):
    with socket.create_connection(("127.0.0.1", routes.port), timeout=5) as s:
        for i in range(5):
            s.sendall(f"GET /info/k{i} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            (response,) = read_responses(s, 1)
            assert response.status == 200
            assert json.loads(response.body)["path"] == f"/info/k{i}"
            assert "connection" not in response.headers or response.headers["connection"].lower() != "close"


def test_pipelined_requests_are_answered_in_order(routes):
    requests_ = b"".join(
        f"POST /info/p{i} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(str(i))}\r\n\r\n{i}".encode() for i in range(8)
    )
    responses = raw_responses(routes.port, requests_ + b"GET /ret/str HTTP/1.1\r\nHost: t\r\n\r\n", 9)
    assert len(responses) == 9
    for i, response in enumerate(responses[:8]):
        info = json.loads(response.body)
        assert (info["path"], info["text"]) == (f"/info/p{i}", str(i))
    assert responses[8].body == b"hello"


def test_pipelined_request_after_connection_close_is_not_served(routes):
    raw = raw_bytes(
        routes.port,
        b"GET /ret/str HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\nGET /info/after HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    responses, leftover = parse_responses(raw)
    assert [r.status for r in responses] == [200]
    assert leftover == b""


# ---------------------------------------------------------------------------------------------
# Lifecycle and argument errors (one-shot scripts)

CHECK = """
import mongoose


def f(data):
    return data


{setup}
try:
    {code}
except Exception as e:
    print("RAISED", type(e).__name__, e)
else:
    print("NO ERROR")
"""


@pytest.mark.parametrize(
    "setup, code, expected",
    [
        ("mongoose.init(url=URL)", "mongoose.init(url=URL)", "RuntimeError"),
        ("", "mongoose.poll(0)", "RuntimeError"),
        ("", "mongoose.poll()", "RuntimeError"),
        ("", "mongoose.route('/x', f)", "RuntimeError"),
        ("mongoose.init(url=URL); mongoose.close()", "mongoose.poll(0)", "RuntimeError"),
        ("mongoose.init(url=URL); mongoose.close()", "mongoose.route('/x', f)", "RuntimeError"),
        ("", "mongoose.init(5, url=URL)", "TypeError"),
        ("", "mongoose.init('notcallable', url=URL)", "TypeError"),
        ("", "mongoose.init(f, 'notcallable', url=URL)", "TypeError"),
        ("", "mongoose.init({'a': 1}, url=URL)", "TypeError"),
        ("", "mongoose.init({1: f}, url=URL)", "TypeError"),
        ("", "mongoose.init({'a/b': f}, url=URL)", "ValueError"),
        ("", "mongoose.init({'': f}, url=URL)", "ValueError"),
        ("", "mongoose.init(url=8000)", "TypeError"),
        ("", "mongoose.init(url=URL, max_header_size='big')", "TypeError"),
        ("", "mongoose.init(url=URL, max_header_size=10)", "ValueError"),
        ("", "mongoose.init(url=URL, max_body_size=0)", "ValueError"),
        ("mongoose.init(url=URL)", "mongoose.route('/x', f, methods='FETCH')", "ValueError"),
        ("mongoose.init(url=URL)", "mongoose.route('/x', f, methods=['GET', 'FETCH'])", "ValueError"),
        ("mongoose.init(url=URL)", "mongoose.route('/x', f, methods=[])", "ValueError"),
        ("mongoose.init(url=URL)", "mongoose.route('/x', 5)", "TypeError"),
        ("mongoose.init(url=URL)", "mongoose.route(5, f)", "TypeError"),
        ("mongoose.init(url=URL)", "mongoose.route('', f)", "ValueError"),
        ("mongoose.init(url=URL)", "mongoose.poll('soon')", "TypeError"),
        ("mongoose.init(url=URL)", "mongoose.poll(-1)", "ValueError"),
        ("", "mongoose.close(); mongoose.close()", "NO ERROR"),
        ("mongoose.init(url=URL)", "mongoose.close(); mongoose.close()", "NO ERROR"),
        ("mongoose.init(url=URL); mongoose.close()", "mongoose.init(url=URL)", "NO ERROR"),
        ("mongoose.init(url=URL)", "mongoose.route('/x', f, methods=['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])", "NO ERROR"),
        ("\ntry:\n    mongoose.init(5, url=URL)\nexcept TypeError:\n    pass", "mongoose.init(f, url=URL)", "NO ERROR"),
        ("\ntry:\n    mongoose.init({'a/b': f}, url=URL)\nexcept ValueError:\n    pass", "mongoose.poll(0)", "RuntimeError"),
    ],
    ids=[
        "init-twice",
        "poll-before-init",
        "poll-no-arg-before-init",
        "route-before-init",
        "poll-after-close",
        "route-after-close",
        "init-api-int",
        "init-api-str",
        "init-auth-not-callable",
        "init-dict-value-not-callable",
        "init-dict-key-not-str",
        "init-dict-key-with-slash",
        "init-dict-key-empty",
        "init-url-int",
        "init-max-header-size-str",
        "init-max-header-size-too-small",
        "init-max-body-size-zero",
        "route-unknown-method",
        "route-unknown-method-in-list",
        "route-empty-method-list",
        "route-handler-not-callable",
        "route-pattern-int",
        "route-pattern-empty",
        "poll-str",
        "poll-negative",
        "close-before-init-is-idempotent",
        "close-twice-is-idempotent",
        "init-after-close",
        "route-all-methods",
        "init-after-failed-init",
        "failed-init-starts-nothing",
    ],
)
def test_lifecycle_and_argument_errors(run_script, setup, code, expected):
    rc, out = run_script(CHECK.format(setup=setup, code=code), timeout=10)
    assert rc == 0, out
    lines = [line for line in out.splitlines() if line.startswith(("RAISED", "NO ERROR"))]
    assert len(lines) == 1, out
    if expected == "NO ERROR":
        assert lines[0] == "NO ERROR", out
    else:
        assert lines[0].startswith(f"RAISED {expected} "), out


def test_init_twice_message_mentions_close(run_script):
    rc, out = run_script(CHECK.format(setup="mongoose.init(url=URL)", code="mongoose.init(url=URL)"))
    assert "RAISED RuntimeError" in out and "close()" in out, out


def test_init_on_busy_port_is_oserror(run_script):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        rc, out = run_script(
            CHECK.format(setup="", code="mongoose.init(url=URL)\n    print('listening anyway')"), port=port
        )
    assert "RAISED OSError" in out, out
    assert "listening anyway" not in out


def test_init_on_busy_port_leaves_module_usable(run_script):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        busy = holder.getsockname()[1]
        free = free_port()
        body = f"""
import mongoose
try:
    mongoose.init(url="http://127.0.0.1:{busy}")
except OSError as e:
    print("first OSError")
try:
    mongoose.poll(0)
except RuntimeError:
    print("not running")
mongoose.init(url="http://127.0.0.1:{free}")
print("second init ok")
mongoose.close()
"""
        rc, out = run_script(body)
    assert rc == 0, out
    assert out.splitlines()[-3:] == ["first OSError", "not running", "second init ok"], out


RESTART = """
import mongoose

switch = [False]


def flip(r):
    switch[0] = True
    return "switching"


mongoose.init({"v": lambda d: "first"}, lambda u, p: False, url=URL)
mongoose.route("/switch", flip, auth=False)
mongoose.route("/only-first", lambda r: "old", auth=False)
while not switch[0]:
    mongoose.poll(20)
for _ in range(10):
    mongoose.poll(10)  # flush the reply
mongoose.close()
mongoose.close()
mongoose.init({"v": lambda d: "second"}, url=URL)
print("reinit ok")
while True:
    mongoose.poll(20)
"""


def test_close_then_init_again_serves_fresh_routes_on_the_same_port(start_server, http):
    server = start_server(RESTART)
    assert get(http, server.url("/api/v")).status_code == 401  # first instance's auth rejects
    assert get(http, server.url("/only-first")).text == "old"
    http.close()
    assert raw_bytes(server.port, b"GET /switch HTTP/1.1\r\nConnection: close\r\n\r\n").endswith(b"switching")
    assert server.wait_for_output("reinit ok"), server.output()
    r = get(http, server.url("/api/v"))
    assert (r.status_code, r.text) == (200, "second")  # new handler, and no auth any more
    assert get(http, server.url("/only-first")).status_code == 404


def test_a_request_prints_its_method_and_path_and_after_the_call_says_finished(start_server, http):
    server = start_server("""
import mongoose
kept = []
def show(req):
    kept.append(req)
    print("DURING", req)
    return "ok"
mongoose.init(url=URL)
mongoose.route("/show/#", show, auth=False)
while True:
    mongoose.poll(100)
    if kept:
        print("AFTER", kept.pop())
""")
    assert http.get(server.url("/show/a/b?q=1"), timeout=10).text == "ok"
    assert server.wait_for_output("AFTER <Request (finished)>"), server.output()
    assert "DURING <Request GET /show/a/b>" in server.output()
