"""A throwaway PKI for TLS tests and the TLS benchmark: make_pki(directory) -> Pki, and the
session-scoped `pki` fixture (registered by tests/conftest.py).

Everything is made with the `openssl` command-line tool (OpenSSL 3.0): EC P-256 keys (SEC1
"EC PRIVATE KEY" PEM unless said otherwise) and SHA-256 signatures. Certificates are issued with
`openssl ca`, because `openssl x509` in 3.0 cannot set a start date: -startdate/-enddate give every
certificate a validity that starts yesterday (so a board or a peer whose clock is a little behind
still accepts it) and let one certificate be expired. A minimal CA configuration and database are
written per issuer into the directory.

Files (all in `directory`):
  ca.pem/.key                 the CA the tests trust (CA:TRUE critical, keyCertSign+cRLSign), 10 years
  server.pem/.key             CN=localhost, SAN DNS:localhost IP:127.0.0.1 IP:10.0.2.2 (the host as a
                              QEMU user-net guest sees it), serverAuth, 2 years
  server.pkcs8.key            the same key as server.key in PKCS#8 ("PRIVATE KEY")
  server-chain.pem            server.pem followed by ca.pem
  client.pem/.key             CN=pythongoose-client, clientAuth
  wrong-ca.pem/.key           a second CA that signs only wrong-server
  wrong-server.pem/.key       like server, but signed by wrong-ca (consistent, untrusted)
  expired.pem/.key            like server, valid from 400 days ago until 30 days ago
  other-host.pem/.key         CN=other.example, SAN DNS:other.example only
  self-signed.pem/.key        self-signed, CN=localhost, SAN DNS:localhost IP:127.0.0.1 (insecure tests)
  rsa.pem/.key                RSA 2048 (key in PKCS#1 "RSA PRIVATE KEY"), SAN as server
  ed25519.pem/.key            Ed25519 (key in PKCS#8, the only PEM form OpenSSL writes for it), SAN as server
"""

import dataclasses
import datetime
import subprocess
from pathlib import Path

import pytest

OPENSSL = "openssl"
OPENSSL_TIMEOUT_S = 30
CURVE = "prime256v1"

SERVER_SAN = "DNS:localhost,IP:127.0.0.1,IP:10.0.2.2"
SELF_SIGNED_SAN = "DNS:localhost,IP:127.0.0.1"

# One extensions file for every certificate; `openssl ca -extensions NAME` picks a section.
EXTENSIONS = f"""\
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = serverAuth
subjectAltName = {SERVER_SAN}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[rsa_server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = {SERVER_SAN}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ed25519_server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = {SERVER_SAN}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[other_host_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[self_signed_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = serverAuth
subjectAltName = {SELF_SIGNED_SAN}
subjectKeyIdentifier = hash
"""

# The CA configuration `openssl ca` needs: a database, where copies of issued certificates go,
# random serial numbers, any subject (several certificates share CN=localhost).
CA_CONFIG = """\
[ca]
default_ca = this_ca

[this_ca]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/issued
rand_serial = yes
unique_subject = no
default_md = sha256
policy = any_subject
email_in_dn = no
copy_extensions = none

[any_subject]
commonName = supplied
"""


@dataclasses.dataclass(frozen=True)
class Pki:
    directory: Path
    ca: Path
    ca_key: Path
    server: Path
    server_key: Path
    server_pkcs8_key: Path
    server_chain: Path
    client: Path
    client_key: Path
    wrong_ca: Path
    wrong_ca_key: Path
    wrong_server: Path
    wrong_server_key: Path
    expired: Path
    expired_key: Path
    other_host: Path
    other_host_key: Path
    self_signed: Path
    self_signed_key: Path
    rsa: Path
    rsa_key: Path
    ed25519: Path
    ed25519_key: Path

    def read(self, name):
        """The PEM text of a file, by file name ("server.key") or field name ("server_key")."""
        path = getattr(self, name, None) if name.isidentifier() else None
        if not isinstance(path, Path):
            path = self.directory / name
        return path.read_text()


def _openssl(*args, stdin=None):
    result = subprocess.run([OPENSSL, *map(str, args)], input=stdin, capture_output=True, text=True,
                            timeout=OPENSSL_TIMEOUT_S)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(map(str, args))} failed ({result.returncode}):\n"
                           f"{result.stdout}{result.stderr}")
    return result.stdout


def _asn1_time(moment):
    """The -startdate/-enddate form: UTCTime before 2050, GeneralizedTime from then on (RFC 5280)."""
    moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%y%m%d%H%M%SZ" if moment.year < 2050 else "%Y%m%d%H%M%SZ")


class _Issuer:
    """An `openssl ca` setup (config + database) in its own subdirectory of the PKI directory."""

    def __init__(self, directory, name, extfile):
        self.dir = directory / f".{name}-db"
        (self.dir / "issued").mkdir(parents=True, exist_ok=True)
        (self.dir / "index.txt").write_text("")
        self.config = self.dir / "ca.cnf"
        self.config.write_text(CA_CONFIG.format(dir=self.dir))
        self.extfile = extfile

    def issue(self, csr, out, *, extensions, start, end, cert=None, key):
        """Signs `csr` with `key` (and `cert`, or self-signed when cert is None)."""
        issuer = ["-selfsign"] if cert is None else ["-cert", cert]
        _openssl("ca", "-batch", "-notext", "-config", self.config, "-in", csr, "-out", out, "-keyfile", key,
                 *issuer, "-extfile", self.extfile, "-extensions", extensions, "-md", "sha256",
                 "-startdate", _asn1_time(start), "-enddate", _asn1_time(end))


def _ec_key(path):
    _openssl("ecparam", "-name", CURVE, "-genkey", "-noout", "-out", path)


def _csr(key, subject, out):
    _openssl("req", "-new", "-key", key, "-subj", subject, "-out", out)


def make_pki(directory):
    """Writes the files listed in the module docstring into `directory`; returns their paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    extfile = d / ".extensions.cnf"
    extfile.write_text(EXTENSIONS)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    yesterday = now - datetime.timedelta(days=1)
    ca_end = yesterday + datetime.timedelta(days=3650)
    leaf_end = yesterday + datetime.timedelta(days=730)
    csr = d / ".request.csr"

    def path(name):
        return d / name

    # The two CAs.
    good = _Issuer(d, "ca", extfile)
    wrong = _Issuer(d, "wrong-ca", extfile)
    for issuer, name, cn in ((good, "ca", "pythongoose test CA"), (wrong, "wrong-ca", "pythongoose wrong CA")):
        _ec_key(path(f"{name}.key"))
        _csr(path(f"{name}.key"), f"/CN={cn}", csr)
        issuer.issue(csr, path(f"{name}.pem"), extensions="ca_ext", start=yesterday, end=ca_end,
                     key=path(f"{name}.key"))

    def leaf(name, cn, extensions, *, issuer=good, ca="ca", start=yesterday, end=leaf_end, key_kind="ec"):
        key = path(f"{name}.key")
        if key_kind == "ec":
            _ec_key(key)
        elif key_kind == "rsa":
            _openssl("genrsa", "-traditional", "-out", key, "2048")
        else:
            _openssl("genpkey", "-algorithm", "ed25519", "-out", key)
        _csr(key, f"/CN={cn}", csr)
        issuer.issue(csr, path(f"{name}.pem"), extensions=extensions, start=start, end=end,
                     cert=path(f"{ca}.pem"), key=path(f"{ca}.key"))

    leaf("server", "localhost", "server_ext")
    leaf("client", "pythongoose-client", "client_ext")
    leaf("wrong-server", "localhost", "server_ext", issuer=wrong, ca="wrong-ca")
    leaf("expired", "localhost", "server_ext", start=now - datetime.timedelta(days=400),
         end=now - datetime.timedelta(days=30))
    leaf("other-host", "other.example", "other_host_ext")
    leaf("rsa", "localhost", "rsa_server_ext", key_kind="rsa")
    leaf("ed25519", "localhost", "ed25519_server_ext", key_kind="ed25519")

    _ec_key(path("self-signed.key"))
    _csr(path("self-signed.key"), "/CN=localhost", csr)
    _Issuer(d, "self-signed", extfile).issue(csr, path("self-signed.pem"), extensions="self_signed_ext",
                                              start=yesterday, end=leaf_end, key=path("self-signed.key"))
    csr.unlink()

    _openssl("pkcs8", "-topk8", "-nocrypt", "-in", path("server.key"), "-out", path("server.pkcs8.key"))
    path("server-chain.pem").write_text(path("server.pem").read_text() + path("ca.pem").read_text())

    return Pki(
        directory=d,
        ca=path("ca.pem"), ca_key=path("ca.key"),
        server=path("server.pem"), server_key=path("server.key"), server_pkcs8_key=path("server.pkcs8.key"),
        server_chain=path("server-chain.pem"),
        client=path("client.pem"), client_key=path("client.key"),
        wrong_ca=path("wrong-ca.pem"), wrong_ca_key=path("wrong-ca.key"),
        wrong_server=path("wrong-server.pem"), wrong_server_key=path("wrong-server.key"),
        expired=path("expired.pem"), expired_key=path("expired.key"),
        other_host=path("other-host.pem"), other_host_key=path("other-host.key"),
        self_signed=path("self-signed.pem"), self_signed_key=path("self-signed.key"),
        rsa=path("rsa.pem"), rsa_key=path("rsa.key"),
        ed25519=path("ed25519.pem"), ed25519_key=path("ed25519.key"),
    )


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """One throwaway PKI for the whole test session (see make_pki)."""
    return make_pki(tmp_path_factory.mktemp("pki"))
