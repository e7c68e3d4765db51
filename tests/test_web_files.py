"""Web apps on the unix port: mongoose.static(), File and Template replies, CORS. Files are read
through MicroPython's VFS and streamed as the socket drains: the C heap does not grow with the
file, a slow reader does not stall the others, pipelined requests wait their turn."""

import gzip
import hashlib
import socket
import time

import pytest

from support.http_client import raw_bytes, raw_responses

BIG_SIZE = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def www(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    (root / "index.html").write_text("<h1>home</h1>\n")
    (root / "style.css").write_text("body { color: red }\n")
    (root / "app.js").write_text("console.log('app')\n")
    (root / "data.json").write_text('{"a": 1}')
    (root / "blob.weird").write_bytes(b"\x00\x01")
    (root / "docs").mkdir()
    (root / "docs" / "index.html").write_text("docs index")
    (root / "docs" / "page.txt").write_text("a page")
    (root / "empty").mkdir()
    (root / "zipped.js").write_text("plain js " * 50)
    (root / "zipped.js.gz").write_bytes(gzip.compress(b"plain js " * 50))
    (root / "big.bin").write_bytes(bytes(range(256)) * (BIG_SIZE // 256))
    (root / "page.html").write_text("<p>{{ greeting }}, {{name}}! {{name}} is {{age}}. {{missing_braces}</p>")
    (root / "secret").mkdir()
    (root / "secret" / "key.txt").write_text("the key")
    outside = tmp_path_factory.mktemp("outside")
    (outside / "private.txt").write_text("PRIVATE")
    return root, outside


SERVER = """
import mongoose

WWW = {www!r}
mongoose.init(auth=lambda user, pwd: (user, pwd) == ("admin", "pw"), url=URL, cors={cors!r})
mongoose.static("/", WWW)
mongoose.static("/assets", WWW, max_age=60)
mongoose.static("/assets/locked", WWW + "/secret", auth=True)
mongoose.route("/api/hello", lambda r: "routed", auth=False)
mongoose.route("/docs/page.txt", lambda r: "a route wins", auth=False)
mongoose.route("/file", lambda r: mongoose.File(WWW + "/style.css", headers={{"X-Extra": "1"}}), auth=False)
mongoose.route("/file-typed", lambda r: mongoose.File(WWW + "/blob.weird", content_type="image/x-test"), auth=False)
mongoose.route("/file-missing", lambda r: mongoose.File(WWW + "/nope.txt"), auth=False)
mongoose.route("/tpl", lambda r: mongoose.Template(WWW + "/page.html", {{"greeting": "Hi & bye", "name": "<b>Bob</b>", "age": 42}}), auth=False)
mongoose.route("/tpl-missing", lambda r: mongoose.Template(WWW + "/page.html", {{"greeting": "x"}}), auth=False)
mongoose.route("/mem", lambda r: mongoose.memory(), auth=False)
print("serving")
while True:
    mongoose.poll(1000)
"""


@pytest.fixture
def site(start_server, www):
    root, _ = www
    return start_server(SERVER.format(www=str(root), cors=None))


def get(http, server, path, **kwargs):
    return http.get(server.url(path), timeout=10, **kwargs)


def test_files_are_served_with_type_length_etag_and_cache_control(site, http):
    r = get(http, site, "/style.css")
    assert (r.status_code, r.text) == (200, "body { color: red }\n")
    assert r.headers["Content-Type"] == "text/css; charset=utf-8"
    assert r.headers["Content-Length"] == "20"
    assert r.headers["Cache-Control"] == "max-age=3600"
    assert r.headers["ETag"].startswith('"14-')
    assert get(http, site, "/app.js").headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert get(http, site, "/data.json").headers["Content-Type"] == "application/json"
    assert get(http, site, "/blob.weird").headers["Content-Type"] == "application/octet-stream"
    assert get(http, site, "/assets/style.css").headers["Cache-Control"] == "max-age=60"


def test_a_directory_serves_its_index_and_a_missing_file_is_404(site, http):
    assert get(http, site, "/").text == "<h1>home</h1>\n"
    assert get(http, site, "/docs/").text == "docs index"
    assert get(http, site, "/docs").text == "docs index"
    assert get(http, site, "/empty/").status_code == 404
    assert get(http, site, "/nothing.html").status_code == 404


def test_a_directory_asked_for_without_its_slash_is_redirected_so_its_relative_links_work(site, http):
    r = get(http, site, "/docs", allow_redirects=False)
    assert (r.status_code, r.headers["Location"]) == (301, "/docs/")
    assert get(http, site, "/docs?tab=2&x", allow_redirects=False).headers["Location"] == "/docs/?tab=2&x"
    assert get(http, site, "/assets", allow_redirects=False).headers["Location"] == "/assets/"  # a mount's root
    assert get(http, site, "/assets/docs", allow_redirects=False).headers["Location"] == "/assets/docs/"
    assert http.head(site.url("/empty"), timeout=10).headers["Location"] == "/empty/"
    followed = get(http, site, "/assets/docs")
    assert [h.status_code for h in followed.history] == [301]
    assert (followed.url, followed.text) == (site.url("/assets/docs/"), "docs index")
    # A link relative to the index page ("page.txt") now resolves inside the directory.
    assert get(http, site, "/assets/docs/page.txt").text == "a page"
    # Behind auth, the credentials come first: no redirect (and no hint the directory exists).
    assert get(http, site, "/assets/locked", allow_redirects=False).status_code == 401
    # A control byte in the query never reaches the Location header.
    with socket.create_connection(("127.0.0.1", site.port), timeout=10) as s:
        s.sendall(b"GET /docs?a\x01b HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 400 ")


def test_if_none_match_gives_304_without_a_body(site, http):
    etag = get(http, site, "/style.css").headers["ETag"]
    r = get(http, site, "/style.css", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["ETag"] == etag
    assert get(http, site, "/style.css", headers={"If-None-Match": '"other"'}).status_code == 200


def test_range_gives_206_and_a_bad_range_416(site, http):
    r = get(http, site, "/big.bin", headers={"Range": "bytes=256-511"})
    assert r.status_code == 206
    assert r.content == bytes(range(256))
    assert r.headers["Content-Range"] == f"bytes 256-511/{BIG_SIZE}"
    r = get(http, site, "/big.bin", headers={"Range": "bytes=-3"})
    assert (r.status_code, r.content) == (206, bytes([253, 254, 255]))
    r = get(http, site, "/big.bin", headers={"Range": f"bytes={BIG_SIZE}-"})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == f"bytes */{BIG_SIZE}"


def test_gzip_sibling_is_served_to_clients_that_accept_it(site, http):
    r = get(http, site, "/zipped.js", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.headers["Vary"] == "Accept-Encoding"
    assert r.text == "plain js " * 50  # requests decodes it
    raw = raw_bytes(site.port, b"GET /zipped.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"Content-Encoding" not in raw and raw.endswith(b"plain js " * 50)


def test_head_gives_the_headers_only(site):
    raw = raw_bytes(site.port, b"HEAD /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Length: 20\r\n" in raw
    assert raw.endswith(b"\r\n\r\n")


def test_other_methods_on_a_file_are_405(site, http):
    r = http.post(site.url("/style.css"), data=b"x", timeout=10)
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", [
    b"/../outside/private.txt",
    b"/%2e%2e/outside/private.txt",
    b"/docs/%2E%2e/%2e%2e/outside/private.txt",
    b"/docs/..%2f..%2foutside/private.txt",
    b"/..\\outside\\private.txt",
    b"/docs/%5c..%5c..%5coutside/private.txt",
    b"/style.css%00.txt",
    b"//etc/passwd",
    b"/%2fetc/passwd",
    b"/C:/windows/win.ini",
])
def test_no_byte_from_outside_the_directory(site, www, path):
    raw = raw_bytes(site.port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status = int(raw.split(b" ", 2)[1])
    assert status in (400, 404), raw[:200]
    assert b"PRIVATE" not in raw and b"root:" not in raw


def test_routes_win_over_static_files_and_the_longest_prefix_wins(site, http):
    assert get(http, site, "/api/hello").text == "routed"
    assert get(http, site, "/docs/page.txt").text == "a route wins"
    assert get(http, site, "/assets/locked/key.txt").status_code == 401  # the longer, locked mount
    r = get(http, site, "/assets/locked/key.txt", auth=("admin", "pw"))
    assert (r.status_code, r.text) == (200, "the key")
    assert get(http, site, "/secret/key.txt").text == "the key"  # the root mount needs no auth


def test_a_5_mb_file_streams_whole_with_a_flat_c_heap(site, http, www):
    root, _ = www
    before = get(http, site, "/mem").json()
    [response] = raw_responses(site.port, b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n", 1, timeout=20)
    body = response.body
    assert len(body) == BIG_SIZE
    assert hashlib.sha256(body).digest() == hashlib.sha256((root / "big.bin").read_bytes()).digest()
    after = get(http, site, "/mem").json()
    # The send buffer holds a few chunks at most: the peak does not grow with the file.
    assert after["peak"] - before["used"] < 256 * 1024, (before, after)


def test_a_slow_reader_does_not_stall_other_clients(site, http):
    slow = socket.create_connection(("127.0.0.1", site.port))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.3)  # the slow client reads nothing: its socket and send buffer fill up
    started = time.monotonic()
    for _ in range(20):
        assert get(http, site, "/style.css").status_code == 200
    assert time.monotonic() - started < 5
    slow.close()
    assert get(http, site, "/style.css").status_code == 200


def test_requests_pipelined_behind_a_file_are_answered_in_order(site):
    pipeline = b"".join(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % p for p in (b"/big.bin", b"/style.css", b"/api/hello"))
    responses = raw_responses(site.port, pipeline, 3, timeout=10)
    assert [r.status for r in responses] == [200, 200, 200]
    assert len(responses[0].body) == BIG_SIZE
    assert responses[1].body == b"body { color: red }\n"
    assert responses[2].body == b"routed"


def test_a_client_that_leaves_mid_file_frees_its_stream(site, http):
    baseline = get(http, site, "/mem").json()["used"]
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", site.port)) as s:
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(1000)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        used = get(http, site, "/mem").json()["used"]
        if used <= baseline + 1024:
            break
        time.sleep(0.1)
    assert used <= baseline + 1024, (baseline, used)


def test_file_reply_streams_with_its_headers_and_type(site, http):
    r = get(http, site, "/file")
    assert (r.status_code, r.text) == (200, "body { color: red }\n")
    assert r.headers["X-Extra"] == "1"
    assert r.headers["Content-Type"] == "text/css; charset=utf-8"
    assert "ETag" in r.headers
    assert get(http, site, "/file", headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    typed = get(http, site, "/file-typed")
    assert (typed.headers["Content-Type"], typed.content) == ("image/x-test", b"\x00\x01")
    assert get(http, site, "/file-missing").status_code == 404


def test_template_fills_escaped_values(site, http):
    r = get(http, site, "/tpl")
    assert r.status_code == 200
    assert r.text == "<p>Hi &amp; bye, &lt;b&gt;Bob&lt;/b&gt;! &lt;b&gt;Bob&lt;/b&gt; is 42. {{missing_braces}</p>"
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert int(r.headers["Content-Length"]) == len(r.content)


def test_template_with_an_unknown_name_is_500_with_a_printed_error(site, http):
    assert get(http, site, "/tpl-missing").status_code == 500
    assert site.wait_for_output("page.html: no value for {{name}}"), site.output()
    assert get(http, site, "/tpl").status_code == 200


def test_file_and_template_arguments_are_checked(run_script):
    rc, out = run_script("""
import mongoose
for make in (lambda: mongoose.File(""), lambda: mongoose.File(5), lambda: mongoose.File("a", headers=[]),
             lambda: mongoose.File("a", content_type="x\\r\\ny"), lambda: mongoose.Template("a"),
             lambda: mongoose.static("/x", "/tmp"), lambda: mongoose.static("x", "/tmp")):
    try:
        make()
        print("NO ERROR")
    except Exception as e:
        print("RAISED", type(e).__name__)
mongoose.init(url=URL)
for args in (("x", "/tmp"), ("/x", ""), ("/x", "/tmp", "a/b")):
    try:
        mongoose.static(args[0], args[1], index=args[2] if len(args) > 2 else "index.html")
        print("NO ERROR")
    except ValueError as e:
        print("VALUE", e)
f = mongoose.File("/a/b.txt", content_type="text/x")
print("ATTRS", f.path, f.content_type, f.headers, mongoose.Template("t.html", {}).path)
""")
    lines = out.splitlines()
    assert lines[:7] == ["RAISED ValueError", "RAISED TypeError", "RAISED TypeError", "RAISED ValueError",
                         "RAISED TypeError", "RAISED RuntimeError", "RAISED RuntimeError"], out
    assert all(line.startswith("VALUE mongoose: ") for line in lines[7:10]), out
    assert "ATTRS /a/b.txt text/x None t.html" in out


def test_cors_adds_the_origin_and_answers_preflight(start_server, www, http):
    root, _ = www
    server = start_server(SERVER.format(www=str(root), cors="*"))
    r = get(http, server, "/api/hello")
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert get(http, server, "/style.css").headers["Access-Control-Allow-Origin"] == "*"
    assert get(http, server, "/nothing").headers["Access-Control-Allow-Origin"] == "*"
    r = http.options(server.url("/assets/locked/key.txt"), timeout=10, headers={
        "Origin": "http://app.example", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "Authorization, X-Token"})
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "PUT" in r.headers["Access-Control-Allow-Methods"]
    assert r.headers["Access-Control-Allow-Headers"] == "Authorization, X-Token"
    plain = start_server(SERVER.format(www=str(root), cors=None))
    assert "Access-Control-Allow-Origin" not in get(http, plain, "/api/hello").headers
    one = start_server(SERVER.format(www=str(root), cors="https://app.example"))
    r = get(http, one, "/api/hello")
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert r.headers["Vary"] == "Origin"


def test_a_large_template_streams_with_a_flat_c_heap(start_server, http, tmp_path):
    # 300 KB of template with 20 000 placeholders: filled exactly, Content-Length right, and the
    # C heap never holds more than a few chunks of it.
    page = tmp_path / "big.html"
    line = "<li>{{item}} and {{ other }}</li>\n"
    page.write_text(line * 10000)
    server = start_server(f"""
import mongoose
mongoose.init(url=URL)
mongoose.route("/big", lambda r: mongoose.Template({str(page)!r}, {{"item": "a<b", "other": 7}}), auth=False)
mongoose.route("/mem", lambda r: mongoose.memory(), auth=False)
while True:
    mongoose.poll(1000)
""")
    before = http.get(server.url("/mem"), timeout=10).json()
    r = http.get(server.url("/big"), timeout=30)
    assert r.status_code == 200
    assert r.text == "<li>a&lt;b and 7</li>\n" * 10000
    assert int(r.headers["Content-Length"]) == len(r.content)
    after = http.get(server.url("/mem"), timeout=10).json()
    assert after["peak"] - before["used"] < 128 * 1024, (before, after)
