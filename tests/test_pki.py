"""The throwaway PKI (support/pki.py) is what it claims to be, checked with the openssl tool, and
Mosquitto with a TLS listener (Broker(tls=...)) accepts and refuses the clients it should."""

import re
import subprocess

import pytest

OPENSSL_TIMEOUT_S = 30
CLIENT_TIMEOUT_S = 15


def openssl(*args):
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=OPENSSL_TIMEOUT_S)


def verify(pki, cert, cafile=None):
    return openssl("verify", "-CAfile", cafile or pki.ca, cert)


def san(cert):
    """The subjectAltName entries as a set like {"DNS:localhost", "IP:127.0.0.1"}."""
    result = openssl("x509", "-in", cert, "-noout", "-ext", "subjectAltName")
    assert result.returncode == 0, result.stderr
    body = result.stdout.split("\n", 1)[1] if "\n" in result.stdout else ""
    return {entry.strip().replace("IP Address:", "IP:") for entry in body.split(",") if entry.strip()}


def text(cert):
    result = openssl("x509", "-in", cert, "-noout", "-text")
    assert result.returncode == 0, result.stderr
    return result.stdout


SERVER_SAN = {"DNS:localhost", "IP:127.0.0.1", "IP:10.0.2.2"}


@pytest.mark.parametrize("name", ["server", "client", "expired", "other_host", "rsa", "ed25519"])
def test_certificates_signed_by_the_ca_chain_to_it(pki, name):
    cert = getattr(pki, name)
    assert "Issuer: CN = pythongoose test CA" in text(cert)
    if name != "expired":
        result = verify(pki, cert)
        assert result.returncode == 0 and result.stdout.strip() == f"{cert}: OK", result.stdout + result.stderr


def test_chain_file_is_the_server_then_the_ca_and_verifies(pki):
    chain = pki.read("server-chain.pem")
    assert chain == pki.read("server.pem") + pki.read("ca.pem")
    assert chain.count("BEGIN CERTIFICATE") == 2
    # -untrusted: the chain's second certificate is only offered, the trust still comes from ca.pem.
    result = openssl("verify", "-CAfile", pki.ca, "-untrusted", pki.server_chain, pki.server_chain)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ca_is_a_ca_and_signs_with_sha256_on_p256(pki):
    ca = text(pki.ca)
    assert re.search(r"Basic Constraints: critical\s+CA:TRUE", ca)
    assert re.search(r"Key Usage: critical\s+Certificate Sign, CRL Sign", ca)
    for cert in (pki.ca, pki.server, pki.client, pki.wrong_ca, pki.wrong_server, pki.expired, pki.other_host,
                 pki.self_signed, pki.rsa, pki.ed25519):
        assert "Signature Algorithm: ecdsa-with-SHA256" in text(cert), cert
    for cert in (pki.ca, pki.server, pki.client, pki.wrong_ca, pki.expired, pki.other_host, pki.self_signed):
        assert "ASN1 OID: prime256v1" in text(cert), cert


def test_key_forms(pki):
    for key in (pki.ca_key, pki.server_key, pki.client_key, pki.wrong_ca_key, pki.wrong_server_key, pki.expired_key,
                pki.other_host_key, pki.self_signed_key):
        assert key.read_text().startswith("-----BEGIN EC PRIVATE KEY-----"), key
    assert pki.read("server_pkcs8_key").startswith("-----BEGIN PRIVATE KEY-----")
    assert pki.read("rsa.key").startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert pki.read("ed25519.key").startswith("-----BEGIN PRIVATE KEY-----")
    assert "Public-Key: (2048 bit)" in text(pki.rsa)
    assert "Public Key Algorithm: ED25519" in text(pki.ed25519)
    # The PKCS#8 file is the same key as the SEC1 one.
    public = [openssl("pkey", "-in", key, "-pubout").stdout for key in (pki.server_key, pki.server_pkcs8_key)]
    assert public[0] and public[0] == public[1]
    # Every certificate matches its key.
    for name in ("ca", "server", "client", "wrong_ca", "wrong_server", "expired", "other_host", "self_signed", "rsa",
                 "ed25519"):
        cert_public = openssl("x509", "-in", getattr(pki, name), "-noout", "-pubkey").stdout
        key_public = openssl("pkey", "-in", getattr(pki, f"{name}_key"), "-pubout").stdout
        assert cert_public and cert_public == key_public, name


def test_subject_alternative_names(pki):
    for cert in (pki.server, pki.wrong_server, pki.expired, pki.rsa, pki.ed25519):
        assert san(cert) == SERVER_SAN, cert
    assert san(pki.other_host) == {"DNS:other.example"}
    assert san(pki.self_signed) == {"DNS:localhost", "IP:127.0.0.1"}
    assert "Subject: CN = other.example" in text(pki.other_host)
    assert "Subject: CN = pythongoose-client" in text(pki.client)


def test_extended_key_usages(pki):
    assert re.search(r"Extended Key Usage:\s+TLS Web Server Authentication\n", text(pki.server))
    assert re.search(r"Extended Key Usage:\s+TLS Web Client Authentication\n", text(pki.client))


def test_wrong_server_does_not_verify_against_the_ca_but_does_against_its_own(pki):
    result = verify(pki, pki.wrong_server)
    assert result.returncode != 0
    assert "unable to get local issuer certificate" in result.stdout + result.stderr
    assert verify(pki, pki.wrong_server, cafile=pki.wrong_ca).returncode == 0


def test_expired_certificate_fails_as_expired(pki):
    result = verify(pki, pki.expired)
    assert result.returncode != 0
    assert "certificate has expired" in result.stdout + result.stderr


def test_self_signed_is_its_own_issuer(pki):
    assert "Issuer: CN = localhost" in text(pki.self_signed)
    assert verify(pki, pki.self_signed).returncode != 0


def test_read_by_file_or_field_name(pki):
    assert pki.read("server.pem") == pki.read("server") == pki.server.read_text()
    assert pki.read("server-chain.pem") == pki.read("server_chain")


def mosquitto_pub(broker, *options):
    return subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "t", "-m", "x",
                           *map(str, options)], capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S)


def test_tls_broker_accepts_a_client_that_trusts_its_ca(pki, brokers):
    broker = brokers(tls={"certfile": pki.server, "keyfile": pki.server_key})
    assert broker.url == f"mqtts://127.0.0.1:{broker.port}"
    result = mosquitto_pub(broker, "--cafile", pki.ca)
    assert result.returncode == 0, result.stdout + result.stderr
    assert broker.wait_for_log("Received PUBLISH")


def test_tls_broker_is_refused_by_a_client_that_trusts_another_ca(pki, brokers):
    broker = brokers(tls={"certfile": pki.server, "keyfile": pki.server_key})
    result = mosquitto_pub(broker, "--cafile", pki.wrong_ca)
    assert result.returncode != 0
    assert "TLS error" in result.stdout + result.stderr
    # The client's alert, as the broker logs it: the verification failed, not something else.
    assert broker.wait_for_log("alert unknown ca")
    assert "Received PUBLISH" not in broker.log()


def test_tls_broker_does_not_speak_plain_mqtt(pki, brokers):
    broker = brokers(tls={"certfile": pki.server, "keyfile": pki.server_key})
    result = mosquitto_pub(broker)
    assert result.returncode != 0
    assert "Received PUBLISH" not in broker.log()


def test_tls_broker_requiring_a_certificate(pki, brokers):
    broker = brokers(tls={"certfile": pki.server, "keyfile": pki.server_key, "cafile": pki.ca,
                          "require_certificate": True})
    without = mosquitto_pub(broker, "--cafile", pki.ca)
    assert without.returncode != 0
    assert "Received PUBLISH" not in broker.log()
    wrong = mosquitto_pub(broker, "--cafile", pki.ca, "--cert", pki.wrong_server, "--key", pki.wrong_server_key)
    assert wrong.returncode != 0
    assert "Received PUBLISH" not in broker.log()
    with_cert = mosquitto_pub(broker, "--cafile", pki.ca, "--cert", pki.client, "--key", pki.client_key)
    assert with_cert.returncode == 0, with_cert.stdout + with_cert.stderr
    assert broker.wait_for_log("Received PUBLISH")


def test_plain_broker_url_is_unchanged(brokers):
    assert brokers().url.startswith("mqtt://127.0.0.1:")
