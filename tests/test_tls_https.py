"""HTTPS listeners (mongoose.init(url="https://...", cert=, key=) and mongoose.listen()) on
Mongoose's built-in TLS 1.3, against real clients: curl, Python's ssl and requests.

Every server presents a certificate from the session's throwaway PKI (support/pki.py: EC P-256,
SAN DNS:localhost IP:127.0.0.1) and every client verifies it against ca.pem, so a test that
passes also proves the chain and the name verify. Loopback only."""

import concurrent.futures
import os
import socket
import ssl
import subprocess
import threading
import time

import pytest
import requests

from support.http_client import curl, read_responses
from support.runner import free_port, wait_until
from test_http_seed import CHALLENGE, SEED_MAIN, curl_head_and_body

# Prepended to every HTTPS server script: where its credentials are, and its https:// URL (the
# fixture's URL global is the http:// one on the same port).
TLS_PRELUDE = """
HTTPS_URL = "https://127.0.0.1:%d" % PORT
CERT = open({cert!r}).read()
KEY = open({key!r}).read()
"""

# The seed's server on https:// (the seed script itself, its init given the TLS URL and keys).
SEED_INIT = "mongoose.init(f1, auth, url=URL)"
assert SEED_INIT in SEED_MAIN, "the seed script changed: update SEED_INIT"
SEED_TLS_MAIN = SEED_MAIN.replace(SEED_INIT, "mongoose.init(f1, auth, url=HTTPS_URL, cert=CERT, key=KEY)")

# A server whose /api/<name> answers "echo <body length>" (Basic admin:istrator); init() also gets
# the test's INIT_OPTIONS (timeouts).
ECHO_MAIN = """
import mongoose


def handler(body):
    return "echo %d" % len(body)


mongoose.init(handler, lambda user, pwd: user == "admin" and pwd == "istrator", url=HTTPS_URL, cert=CERT,
              key=KEY, **INIT_OPTIONS)
while True:
    mongoose.poll(1000)
"""


def tls_server(start_server, pki, body, *, cert="server.pem", key="server.key", init_options="{}", **kw):
    """Starts `body` with TLS_PRELUDE (its CERT/KEY read from the PKI's `cert`/`key` files)."""
    prelude = TLS_PRELUDE.format(cert=str(pki.directory / cert), key=str(pki.directory / key))
    return start_server(prelude + f"INIT_OPTIONS = {init_options}\n" + body, **kw)


def https(server, path="/"):
    return f"https://127.0.0.1:{server.port}{path}"


def client_context(pki, ca="ca.pem"):
    """A verifying TLS client context that trusts only `ca` (in the PKI directory)."""
    context = ssl.create_default_context(cafile=str(pki.directory / ca))
    context.check_hostname = True
    return context


def tls_connect(port, context, *, server_hostname="127.0.0.1", timeout=10.0):
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return context.wrap_socket(sock, server_hostname=server_hostname)
    except BaseException:
        sock.close()
        raise


def api_request(path="/api/x", body=b"", auth=True):
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
    if auth:
        head += "Authorization: Basic YWRtaW46aXN0cmF0b3I=\r\n"  # admin:istrator
    return head.encode() + b"\r\n" + body


def requests_session():
    session = requests.Session()
    session.trust_env = False
    return session


def curl_ok(server, pki, ca="ca.pem"):
    """curl --cacert ca.pem https://.../ with the answer it must give: 200 OK."""
    done = curl("-s", "--cacert", str(pki.directory / ca), https(server, "/"))
    return done.returncode == 0 and done.stdout == b"OK"


def read_until_closed(sock, timeout):
    """Reads until the peer closes (returns (data, True)) or `timeout` passes (data, False). A
    reset counts as closed."""
    sock.settimeout(0.2)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def client_hello_bytes(pki):
    """A real TLS 1.3 ClientHello (what Python's ssl sends first), captured with memory BIOs."""
    context = client_context(pki)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    hello = outgoing.read()
    assert hello[:1] == b"\x16" and len(hello) > 100, hello[:16]
    return hello


# ---------------------------------------------------------------------------------------------
# The seed's session over TLS


def test_seed_curl_session_over_https_is_401_with_challenge_then_the_handler_reply(start_server, pki):
    server = tls_server(start_server, pki, SEED_TLS_MAIN)
    ca = str(pki.ca)
    status, headers, body = curl_head_and_body("--cacert", ca, https(server, "/api/x"))
    assert (status, body) == (401, b"Auth required")
    assert headers["www-authenticate"] == CHALLENGE
    posted = curl("-s", "--cacert", ca, "-u", "admin:istrator", "-d", "f1 r u there ?", https(server, "/api/x"))
    assert posted.returncode == 0, posted.stderr
    assert posted.stdout == b"f1 says hello\n"
    assert server.wait_for_output("f1 f1 r u there ?\n"), server.output()
    # by name too: the certificate's DNS SAN
    by_name = curl("-s", "--cacert", ca, f"https://localhost:{server.port}/")
    assert (by_name.returncode, by_name.stdout) == (0, b"OK"), by_name.stderr
    assert server.alive()


def test_plain_http_to_the_https_port_gets_no_http_answer(start_server, pki):
    server = tls_server(start_server, pki, SEED_TLS_MAIN)
    done = curl("-s", server.url("/"))
    assert done.returncode != 0, done.stdout
    assert b"OK" not in done.stdout
    assert curl_ok(server, pki)


# ---------------------------------------------------------------------------------------------
# Python's ssl and requests; chains and key formats


def test_python_ssl_verifies_the_server_and_negotiates_tls13(start_server, pki):
    server = tls_server(start_server, pki, ECHO_MAIN)
    with tls_connect(server.port, client_context(pki)) as tls:
        assert tls.version() == "TLSv1.3"
        peer = tls.getpeercert()
        assert ("DNS", "localhost") in peer["subjectAltName"]
        tls.sendall(api_request(body=b"12345"))
        [response] = read_responses(tls, 1)
    assert (response.status, response.body) == (200, b"echo 5")


def test_requests_with_verify_ca_gets_the_reply_and_401_without_auth(start_server, pki):
    server = tls_server(start_server, pki, SEED_TLS_MAIN)
    with requests_session() as session:
        anonymous = session.get(https(server, "/api/x"), verify=str(pki.ca), timeout=5)
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"] == CHALLENGE
        reply = session.post(https(server, "/api/x"), data=b"via requests", auth=("admin", "istrator"),
                             verify=str(pki.ca), timeout=5)
        assert (reply.status_code, reply.text) == (200, "f1 says hello\n")
    assert server.wait_for_output("f1 via requests\n"), server.output()


def test_requests_with_the_wrong_ca_fails_with_ssl_error_and_the_server_keeps_serving(start_server, pki):
    server = tls_server(start_server, pki, SEED_TLS_MAIN)
    with requests_session() as session:
        with pytest.raises(requests.exceptions.SSLError):
            session.get(https(server, "/"), verify=str(pki.wrong_ca), timeout=5)
        assert session.get(https(server, "/"), verify=str(pki.ca), timeout=5).text == "OK"


def test_server_chain_pem_with_its_key_is_served_and_verifies(start_server, pki):
    server = tls_server(start_server, pki, SEED_TLS_MAIN, cert="server-chain.pem")
    with requests_session() as session:
        assert session.get(https(server, "/"), verify=str(pki.ca), timeout=5).text == "OK"
    assert curl_ok(server, pki)


def test_pkcs8_private_key_is_accepted_and_serves(start_server, pki):
    server = tls_server(start_server, pki, SEED_TLS_MAIN, key="server.pkcs8.key")
    assert curl_ok(server, pki)
    with requests_session() as session:
        reply = session.post(https(server, "/api/x"), data=b"pkcs8", auth=("admin", "istrator"),
                             verify=str(pki.ca), timeout=5)
        assert reply.text == "f1 says hello\n"


# ---------------------------------------------------------------------------------------------
# Many connections, stalled and hostile clients


def test_1000_sequential_handshakes_all_verify_with_python_ssl(start_server, pki):
    """Every handshake verifies: a server CertificateVerify that is wrong for some signatures or
    transcripts shows up as a rare SSLError (BAD_SIGNATURE) here."""
    server = tls_server(start_server, pki, ECHO_MAIN)
    context = client_context(pki)
    failures = []
    for index in range(1000):
        try:
            with tls_connect(server.port, context, timeout=5):
                pass
        except (OSError, ssl.SSLError) as e:
            failures.append((index, repr(e)))
    assert failures == [], f"{len(failures)} of 1000 handshakes failed: {failures[:5]}"
    assert curl_ok(server, pki)


def test_200_concurrent_tls_keepalive_connections_each_get_two_answers_then_the_server_still_serves(
        start_server, pki):
    server = tls_server(start_server, pki, ECHO_MAIN)
    count = 200
    context = client_context(pki)
    # every connection is open (and has had its first answer) before any sends its second
    barrier = threading.Barrier(count, timeout=60)

    def one(index):
        # a connection that fails still reaches the barrier, so the others carry on and the
        # failure is reported with its error
        try:
            tls = tls_connect(server.port, context, timeout=60)
        except (OSError, ssl.SSLError) as e:
            barrier.wait()
            return [f"handshake: {e!r}"]
        with tls:
            try:
                tls.sendall(api_request(f"/api/c{index}", b"a" * (index % 7)))
                first = read_responses(tls, 1, timeout=60)
            finally:
                barrier.wait()
            tls.sendall(api_request(f"/api/c{index}", b"b" * (index % 5 + 10)))
            second = read_responses(tls, 1, timeout=60)
        return [(r.status, r.body) for r in first + second]

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        results = list(pool.map(one, range(count), timeout=120))
    expected = [[(200, b"echo %d" % (i % 7)), (200, b"echo %d" % (i % 5 + 10))] for i in range(count)]
    wrong = [(i, got) for i, (got, want) in enumerate(zip(results, expected)) if got != want]
    assert wrong == [], f"{len(wrong)} of {count} connections answered wrongly, e.g. {wrong[:5]}"
    assert curl_ok(server, pki)
    assert server.alive()


def test_20_clients_stalled_mid_handshake_do_not_delay_a_normal_request_and_are_closed_by_the_timeout(
        start_server, pki):
    server = tls_server(start_server, pki, ECHO_MAIN, init_options='{"request_timeout_ms": 1500, "idle_timeout_ms": 3000}')
    hello = client_hello_bytes(pki)
    stalled = []
    try:
        for index in range(20):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            stalled.append(sock)
            if index % 2:
                sock.sendall(hello[: len(hello) // 2])  # half a ClientHello, then silence
        # every socket is connected and silent; a normal client is served at once
        started = time.monotonic()
        assert curl_ok(server, pki)
        assert time.monotonic() - started < 2.0, "a request waited behind the stalled handshakes"
        with requests_session() as session:
            assert session.get(https(server, "/"), verify=str(pki.ca), timeout=5).text == "OK"
        # the server's timeouts close the stalled connections (idle 3 s at most): nothing was
        # answered on them
        outcomes = [read_until_closed(sock, 10.0) for sock in stalled]
        still_open = [i for i, (_, closed) in enumerate(outcomes) if not closed]
        assert still_open == [], f"stalled handshakes not closed by the server within ~10 s: {still_open}"
        assert all(b"HTTP/" not in data for data, _ in outcomes)
    finally:
        for sock in stalled:
            sock.close()
    assert curl_ok(server, pki)


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"POST /api/x HTTP/1.1\r\nAuthorization: Basic YWRtaW46aXN0cmF0b3I=\r\nContent-Length: 2\r\n\r\nhi",
        os.urandom(4096),
        b"\x16\x03\x01\x00\x05" + b"\x01\x00\x00\x01\x00",  # a record that claims to be a ClientHello
        b"\x16\x03\x01\xff\xff" + b"\x00" * 64,  # a handshake record longer than anything sent
        b"\x00" * 2000,
    ],
    ids=["plaintext-get", "plaintext-post-with-auth", "random-4k", "truncated-hello", "oversized-record", "zeros"],
)
def test_garbage_instead_of_client_hello_is_never_answered_in_plaintext_and_is_closed(start_server, pki, garbage):
    server = tls_server(start_server, pki, ECHO_MAIN, init_options='{"request_timeout_ms": 2000, "idle_timeout_ms": 3000}')
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        try:
            sock.sendall(garbage)
        except (ConnectionResetError, BrokenPipeError):
            pass
        data, closed = read_until_closed(sock, 8.0)
    assert b"HTTP/" not in data, data[:200]
    assert b"echo" not in data
    assert closed, f"the server kept the connection open after {garbage[:20]!r}..."
    assert curl_ok(server, pki)
    assert server.alive()


# ---------------------------------------------------------------------------------------------
# listen(): more listeners for the same routes


LISTEN_MAIN = """
import mongoose


def handler(body):
    return "api " + body


mongoose.init(handler, None, url=HTTPS_URL, cert=CERT, key=KEY)
mongoose.route("/hello", lambda request: "hello " + request.method, auth=False)
mongoose.listen("http://127.0.0.1:%d" % PLAIN_PORT)
mongoose.listen("https://127.0.0.1:%d" % SECOND_TLS_PORT, cert=open(SECOND_CERT).read(), key=open(SECOND_KEY).read())
for port in (PORT, PLAIN_PORT, SECOND_TLS_PORT):
    try:
        mongoose.listen("http://127.0.0.1:%d" % port)
        print("USED", port, "no error")
    except OSError as e:
        print("USED", port, "OSError")
    except Exception as e:
        print("USED", port, type(e).__name__, e)
print("READY")
while True:
    mongoose.poll(1000)
"""


def test_https_init_plus_listen_http_and_a_second_https_port_serve_the_same_routes(start_server, pki):
    plain_port, second_port = free_port(), free_port()
    body = (f"PLAIN_PORT = {plain_port}\nSECOND_TLS_PORT = {second_port}\n"
            f"SECOND_CERT = {str(pki.self_signed)!r}\nSECOND_KEY = {str(pki.self_signed_key)!r}\n" + LISTEN_MAIN)
    server = tls_server(start_server, pki, body)
    assert server.wait_for_output("READY"), server.output()
    # listen() on a port already taken (by each of the three listeners) is an OSError
    for port in (server.port, plain_port, second_port):
        assert f"USED {port} OSError" in server.output(), server.output()
    with requests_session() as session:
        for base, verify in ((f"https://127.0.0.1:{server.port}", str(pki.ca)),
                             (f"http://127.0.0.1:{plain_port}", True),
                             (f"https://127.0.0.1:{second_port}", str(pki.self_signed))):
            assert session.get(base + "/hello", verify=verify, timeout=5).text == "hello GET", base
            assert session.post(base + "/api/e", data=b"x", verify=verify, timeout=5).text == "api x", base
            assert session.get(base + "/", verify=verify, timeout=5).text == "OK", base
    # each TLS listener presents its own certificate
    for port, cert, ca in ((server.port, pki.server, "ca.pem"), (second_port, pki.self_signed, "self-signed.pem")):
        with tls_connect(port, client_context(pki, ca)) as tls:
            assert tls.getpeercert(binary_form=True) == ssl.PEM_cert_to_DER_cert(cert.read_text()), port
    # the plain port speaks no TLS, the TLS ports no plaintext
    done = curl("-s", f"http://127.0.0.1:{second_port}/hello")
    assert done.returncode != 0 and b"hello" not in done.stdout


def test_listen_before_init_is_runtime_error(run_script, pki):
    code, output = run_script(f"CERT = open({str(pki.server)!r}).read()\nKEY = open({str(pki.server_key)!r}).read()\n" + """
import mongoose
for url, kwargs in (("http://127.0.0.1:%d" % PORT, {}), ("https://127.0.0.1:%d" % PORT, {"cert": CERT, "key": KEY})):
    try:
        mongoose.listen(url, **kwargs)
        print("no error")
    except Exception as e:
        print(type(e).__name__)
""")
    assert code == 0, output
    assert output.split() == ["RuntimeError", "RuntimeError"], output


def test_listen_https_without_credentials_or_http_with_them_is_value_error(start_server, pki):
    other = free_port()
    server = tls_server(start_server, pki, f"OTHER = {other}\n" + """
import mongoose
mongoose.init(None, None, url=HTTPS_URL, cert=CERT, key=KEY)
for kwargs in ({}, {"cert": CERT}, {"key": KEY}):
    try:
        mongoose.listen("https://127.0.0.1:%d" % OTHER, **kwargs)
        print("CASE no error")
    except Exception as e:
        print("CASE", type(e).__name__, e)
try:
    mongoose.listen("http://127.0.0.1:%d" % OTHER, cert=CERT, key=KEY)
    print("CASE no error")
except Exception as e:
    print("CASE", type(e).__name__, e)
print("READY")
while True:
    mongoose.poll(1000)
""")
    assert server.wait_for_output("READY"), server.output()
    cases = [line for line in server.output().splitlines() if line.startswith("CASE")]
    assert len(cases) == 4, server.output()
    assert all(line.startswith("CASE ValueError") for line in cases), cases
    assert all("https:// needs cert= and key=" in line for line in cases[:3]), cases
    assert "cert= and key= are for https://" in cases[3], cases
    assert curl_ok(server, pki)


# ---------------------------------------------------------------------------------------------
# init()'s ValueErrors


@pytest.fixture(scope="module")
def odd_keys(pki, tmp_path_factory):
    """A P-384 key and an encrypted PKCS#8 copy of server.key (the PKI has neither)."""
    directory = tmp_path_factory.mktemp("odd-keys")
    p384 = directory / "p384.key"
    encrypted = directory / "encrypted.key"
    for args in (["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", p384],
                 ["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:secret", "-in", pki.server_key,
                  "-out", encrypted]):
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=30)
    return {"p384": p384, "encrypted": encrypted}


INIT_ERROR_MAIN = """
import mongoose

HTTPS = "https://127.0.0.1:%d" % PORT


def read(path):
    return open(path).read()


kwargs = {}
if CERT_PATH is not None:
    kwargs["cert"] = read(CERT_PATH)
if KEY_PATH is not None:
    kwargs["key"] = read(KEY_PATH).encode()  # bytes PEM as well as str
try:
    mongoose.init(None, None, url=URL_GIVEN or HTTPS, **kwargs)
    print("RESULT no error")
except Exception as e:
    print("RESULT", type(e).__name__, "|", e)
# the refused init() left no server behind: a good one starts and serves
mongoose.init(None, None, url=HTTPS, cert=read(SERVER), key=read(SERVER_KEY))
print("STARTED")
while True:
    mongoose.poll(1000)
"""

INIT_ERROR_CASES = [
    # (id, url (None: https on PORT), cert file, key file, words the message must hold)
    ("https-no-cert-no-key", None, None, None, ["https:// needs cert= and key="]),
    ("https-cert-only", None, "server.pem", None, ["https:// needs cert= and key="]),
    ("https-key-only", None, None, "server.key", ["https:// needs cert= and key="]),
    ("http-with-cert-and-key", "http://127.0.0.1:1", "server.pem", "server.key", ["cert= and key= are for https://"]),
    ("ed25519-cert-and-key", None, "ed25519.pem", "ed25519.key", ["Ed25519"]),
    ("ed25519-key-with-ec-cert", None, "server.pem", "ed25519.key", ["Ed25519"]),
    ("p384-key", None, "server.pem", "p384.key", ["P-384"]),
    ("encrypted-key", None, "server.pem", "encrypted.key", ["encrypted"]),
    ("another-ec-key", None, "server.pem", "client.key", ["do not match"]),
    ("ec-key-rsa-cert", None, "rsa.pem", "server.key", ["do not match"]),
    # Mongoose's handshake signed with an RSA key never completes (curl, Python's ssl and
    # openssl s_client all saw the connection close after their ClientHello): refused at init.
    ("rsa-cert-and-key", None, "rsa.pem", "rsa.key", ["RSA keys do not work", "EC P-256"]),
    ("rsa-key-ec-cert", None, "server.pem", "rsa.key", ["RSA keys do not work"]),
    ("key-given-as-cert", None, "server.key", "server.key", ["no PEM certificate"]),
    ("cert-given-as-key", None, "server.pem", "server.pem", ["no PEM private key"]),
]


@pytest.mark.parametrize("case", INIT_ERROR_CASES, ids=[case[0] for case in INIT_ERROR_CASES])
def test_init_refuses_unusable_tls_credentials_with_a_value_error_naming_the_problem(start_server, pki, odd_keys, case):
    _, url, cert, key, words = case

    def where(name):
        return None if name is None else str(odd_keys.get(name.split(".")[0]) or pki.directory / name)

    server = start_server(f"URL_GIVEN = {url!r}\nCERT_PATH = {where(cert)!r}\nKEY_PATH = {where(key)!r}\n"
                          f"SERVER = {str(pki.server)!r}\nSERVER_KEY = {str(pki.server_key)!r}\n" + INIT_ERROR_MAIN)
    assert server.wait_for_output("STARTED"), server.output()
    [result] = [line[len("RESULT "):] for line in server.output().splitlines() if line.startswith("RESULT ")]
    kind, _, message = result.partition(" | ")
    assert kind == "ValueError", result
    for word in words:
        assert word in message, f"{message!r} lacks {word!r}"
    assert curl_ok(server, pki)


# ---------------------------------------------------------------------------------------------
# Memory


MEMORY_MAIN = """
import mongoose


def used(request):
    return str(mongoose.memory()["used"])


mongoose.init(lambda body: "x" * 2000, None, url=HTTPS_URL, cert=CERT, key=KEY)
mongoose.listen("http://127.0.0.1:%d" % PLAIN_PORT)
mongoose.route("/used", used, auth=False)
while True:
    mongoose.poll(1000)
"""


def test_memory_used_returns_to_baseline_after_50_closed_https_connections(start_server, pki):
    plain_port = free_port()
    server = tls_server(start_server, pki, f"PLAIN_PORT = {plain_port}\n" + MEMORY_MAIN)
    context = client_context(pki)
    plain = requests_session()

    def used():
        return int(plain.get(f"http://127.0.0.1:{plain_port}/used", timeout=5).text)

    def one_https_exchange():
        with tls_connect(server.port, context) as tls:
            tls.sendall(api_request(auth=False))
            [response] = read_responses(tls, 1)
            assert (response.status, len(response.body)) == (200, 2000)

    try:
        one_https_exchange()  # anything allocated once, on the first TLS connection
        baseline = used()
        # the measure sees TLS connections: 10 open ones hold far more than the slack below
        held = [tls_connect(server.port, context) for _ in range(10)]
        for tls in held:
            tls.sendall(api_request(auth=False))
            assert len(read_responses(tls, 1)) == 1
        while_open = used()
        for tls in held:
            tls.close()
        assert while_open - baseline > 10 * 1024, (baseline, while_open)
        for _ in range(50):
            one_https_exchange()
        slack = 512
        wait_until(lambda: used() <= baseline + slack, 5)
        after = used()
        assert after <= baseline + slack, f"used {baseline} -> {after} bytes after 50 closed HTTPS connections"
    finally:
        plain.close()
