//! TLS decisions made around Mongoose's built-in TLS 1.3 (`MG_TLS_BUILTIN`), before and after it
//! runs: which PEM keys and certificates it can use (checked when `init`, `listen` or `connect`
//! is called, so a key it cannot use is a `ValueError` there and not a failed handshake later),
//! whether the wall clock can date a certificate, and what Mongoose's handshake errors mean for
//! the user (the reason text, and whether retrying could help). Pure logic: no FFI, no Mongoose.

use alloc::vec::Vec;

/// 2024-01-01T00:00:00Z in Unix milliseconds. A clock before it was never set (a board boots at
/// 1970 or 2000): certificate dates cannot be checked against it.
pub const MIN_WALL_CLOCK_MS: u64 = 1_704_067_200_000;

const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_ED448: &[u8] = &[0x2b, 0x65, 0x71];

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_CONTEXT_0: u8 = 0xa0;
const TAG_CONTEXT_1: u8 = 0xa1;

/// A key or certificate the built-in TLS cannot use, or PEM text that is not one.
pub type CredentialError = &'static str;

/// The kinds of public key the built-in TLS signs and verifies with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    EcP256,
    Rsa,
}

/// One `-----BEGIN label-----` ... `-----END label-----` block, base64-decoded.
struct PemBlock<'a> {
    label: &'a [u8],
    der: Vec<u8>,
}

/// Every PEM block of `text`, in order. Text outside the blocks (comments, `openssl`'s
/// "Bag Attributes") is skipped; a block with bad base64 or no END line is an error.
fn pem_blocks(text: &[u8]) -> Result<Vec<PemBlock<'_>>, CredentialError> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const END: &[u8] = b"-----END ";
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = find(rest, BEGIN) {
        let after_begin = rest.get(start + BEGIN.len()..).unwrap_or(&[]);
        let label_end = find(after_begin, b"-----").ok_or("malformed PEM: a BEGIN line without its closing dashes")?;
        let label = after_begin.get(..label_end).unwrap_or(&[]);
        let body_and_rest = after_begin.get(label_end + 5..).unwrap_or(&[]);
        let end = find(body_and_rest, END).ok_or("malformed PEM: a block without its END line")?;
        let der = base64_decode(body_and_rest.get(..end).unwrap_or(&[])).ok_or("malformed PEM: bad base64 in a block")?;
        blocks.push(PemBlock { label, der });
        let after_end = body_and_rest.get(end + END.len()..).unwrap_or(&[]);
        rest = match find(after_end, b"-----") {
            Some(close) => after_end.get(close + 5..).unwrap_or(&[]),
            None => return Err("malformed PEM: an END line without its closing dashes"),
        };
    }
    Ok(blocks)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// A PEM body: standard base64 (the Basic-auth decoder's) once the line breaks are gone.
fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let compact: Vec<u8> = text.iter().copied().filter(|byte| !byte.is_ascii_whitespace()).collect();
    crate::http::auth::decode_base64(&compact).filter(|bytes| !bytes.is_empty())
}

/// One DER element: its tag, its value and what follows it.
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (length, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let mut length = 0usize;
        for index in 0..count {
            length = (length << 8) | usize::from(*input.get(2 + index)?);
        }
        (length, 2 + count)
    };
    let value = input.get(header..header.checked_add(length)?)?;
    let rest = input.get(header + length..)?;
    Some((tag, value, rest))
}

/// The value of the element with `tag` at the start of `input`, and what follows.
fn der_expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (found, value, rest) = der_next(input)?;
    (found == tag).then_some((value, rest))
}

/// An `AlgorithmIdentifier`'s kind of key, from its OID and (for EC) its curve.
fn key_kind_of(algorithm: &[u8]) -> Result<KeyKind, CredentialError> {
    let (oid, parameters) = der_expect(algorithm, TAG_OID).ok_or("unreadable key algorithm")?;
    if oid == OID_RSA {
        return Ok(KeyKind::Rsa);
    }
    if oid == OID_ED25519 || oid == OID_ED448 {
        return Err("Ed25519/Ed448 keys are not supported by the built-in TLS: use an EC P-256 key (openssl ecparam -name prime256v1 -genkey -noout)");
    }
    if oid != OID_EC_PUBLIC_KEY {
        return Err("unsupported key algorithm: use an EC P-256 key (or RSA)");
    }
    match der_expect(parameters, TAG_OID) {
        Some((curve, _)) if curve == OID_P256 => Ok(KeyKind::EcP256),
        Some((curve, _)) if curve == OID_P384 => Err("P-384 keys are not supported by the built-in TLS: use an EC P-256 key (prime256v1)"),
        _ => Err("unsupported EC curve: use an EC P-256 key (prime256v1)"),
    }
}

/// A private key the built-in TLS can sign with, and its public part when the key holds it
/// (EC: the uncompressed point; RSA: the modulus), to check it against the certificate.
struct PrivateKey {
    kind: KeyKind,
    public: Option<Vec<u8>>,
}

/// SEC1 `ECPrivateKey` (RFC 5915): version 1, a 32-byte scalar, optional curve and public key.
fn parse_sec1(der: &[u8], curve_known: bool) -> Result<PrivateKey, CredentialError> {
    const NOT_P256: CredentialError = "unsupported EC key: use an EC P-256 key (prime256v1)";
    let (body, _) = der_expect(der, TAG_SEQUENCE).ok_or(NOT_P256)?;
    let (version, rest) = der_expect(body, TAG_INTEGER).ok_or(NOT_P256)?;
    let (scalar, mut rest) = der_expect(rest, TAG_OCTET_STRING).ok_or(NOT_P256)?;
    let mut curve_ok = curve_known;
    let mut public = None;
    while let Some((tag, value, next)) = der_next(rest) {
        match tag {
            TAG_CONTEXT_0 => {
                let (curve, _) = der_expect(value, TAG_OID).ok_or(NOT_P256)?;
                if curve == OID_P384 {
                    return Err("P-384 keys are not supported by the built-in TLS: use an EC P-256 key (prime256v1)");
                }
                curve_ok = curve == OID_P256;
            }
            TAG_CONTEXT_1 => {
                let (bits, _) = der_expect(value, TAG_BIT_STRING).ok_or(NOT_P256)?;
                public = bits.get(1..).map(<[u8]>::to_vec);
            }
            _ => {}
        }
        rest = next;
    }
    // Mongoose reads the key by its fixed prefix: a short-form SEQUENCE length, version 1 and
    // a 32-byte scalar (what openssl writes for P-256).
    if !curve_ok || version != [1] || scalar.len() != 32 || der.get(1).is_some_and(|length| length & 0x80 != 0) {
        return Err(NOT_P256);
    }
    Ok(PrivateKey { kind: KeyKind::EcP256, public })
}

/// PKCS#1 `RSAPrivateKey`: its modulus is the second integer.
fn parse_pkcs1(der: &[u8]) -> Result<PrivateKey, CredentialError> {
    const BAD: CredentialError = "unreadable RSA private key";
    let (body, _) = der_expect(der, TAG_SEQUENCE).ok_or(BAD)?;
    let (_, rest) = der_expect(body, TAG_INTEGER).ok_or(BAD)?;
    let (modulus, _) = der_expect(rest, TAG_INTEGER).ok_or(BAD)?;
    Ok(PrivateKey { kind: KeyKind::Rsa, public: Some(strip_leading_zeros(modulus).to_vec()) })
}

/// PKCS#8 `PrivateKeyInfo`: an algorithm, then the key in its own format.
fn parse_pkcs8(der: &[u8]) -> Result<PrivateKey, CredentialError> {
    const BAD: CredentialError = "unreadable PKCS#8 private key";
    let (body, _) = der_expect(der, TAG_SEQUENCE).ok_or(BAD)?;
    let (_, rest) = der_expect(body, TAG_INTEGER).ok_or(BAD)?;
    let (algorithm, rest) = der_expect(rest, TAG_SEQUENCE).ok_or(BAD)?;
    let kind = key_kind_of(algorithm)?;
    let (inner, _) = der_expect(rest, TAG_OCTET_STRING).ok_or(BAD)?;
    match kind {
        KeyKind::EcP256 => parse_sec1(inner, true),
        KeyKind::Rsa => parse_pkcs1(inner),
    }
}

fn strip_leading_zeros(integer: &[u8]) -> &[u8] {
    let zeros = integer.iter().take_while(|&&byte| byte == 0).count();
    integer.get(zeros..).unwrap_or(&[])
}

fn parse_private_key(pem: &[u8]) -> Result<PrivateKey, CredentialError> {
    let blocks = pem_blocks(pem)?;
    for block in &blocks {
        match block.label {
            b"EC PRIVATE KEY" => return parse_sec1(&block.der, false),
            b"PRIVATE KEY" => return parse_pkcs8(&block.der),
            b"RSA PRIVATE KEY" => return parse_pkcs1(&block.der),
            b"ENCRYPTED PRIVATE KEY" => {
                return Err("encrypted private keys are not supported: decrypt it first (openssl pkey -in KEY -out PLAIN)")
            }
            _ => {}
        }
    }
    Err("key: no PEM private key found (-----BEGIN EC PRIVATE KEY----- or -----BEGIN PRIVATE KEY-----)")
}

/// A certificate's subject public key: its kind and its bits (EC point or RSA modulus).
fn certificate_public_key(der: &[u8]) -> Result<(KeyKind, Vec<u8>), CredentialError> {
    const BAD: CredentialError = "unreadable certificate";
    let (certificate, _) = der_expect(der, TAG_SEQUENCE).ok_or(BAD)?;
    let (tbs, _) = der_expect(certificate, TAG_SEQUENCE).ok_or(BAD)?;
    let mut rest = tbs;
    if let Some((_, next)) = der_expect(rest, TAG_CONTEXT_0) {
        rest = next; // version
    }
    // serial, signature algorithm, issuer, validity, subject
    for _ in 0..5 {
        rest = der_next(rest).ok_or(BAD)?.2;
    }
    let (key_info, _) = der_expect(rest, TAG_SEQUENCE).ok_or(BAD)?;
    let (algorithm, rest) = der_expect(key_info, TAG_SEQUENCE).ok_or(BAD)?;
    let kind = key_kind_of(algorithm).map_err(|_| {
        "the certificate's key is of a kind the built-in TLS cannot use: use an EC P-256 (or RSA) certificate"
    })?;
    let (bits, _) = der_expect(rest, TAG_BIT_STRING).ok_or(BAD)?;
    let bits = bits.get(1..).ok_or(BAD)?;
    let public = match kind {
        KeyKind::EcP256 => bits.to_vec(),
        KeyKind::Rsa => {
            let (rsa, _) = der_expect(bits, TAG_SEQUENCE).ok_or(BAD)?;
            let (modulus, _) = der_expect(rsa, TAG_INTEGER).ok_or(BAD)?;
            strip_leading_zeros(modulus).to_vec()
        }
    };
    Ok((kind, public))
}

/// How many PEM certificates `pem` holds (0 is an error for the caller to word).
fn certificate_blocks(pem: &[u8]) -> Result<Vec<Vec<u8>>, CredentialError> {
    Ok(pem_blocks(pem)?.into_iter().filter(|block| block.label == b"CERTIFICATE").map(|block| block.der).collect())
}

/// Checks a certificate chain (PEM, the leaf first) and its private key (PEM: SEC1 or PKCS#8)
/// before anything listens or connects: both readable, of the kind the built-in TLS signs with
/// (EC P-256), and a pair. (RSA is fine in the certificates a client verifies: `check_ca`.)
pub fn check_credentials(cert_pem: &[u8], key_pem: &[u8]) -> Result<(), CredentialError> {
    let certificates = certificate_blocks(cert_pem)?;
    let leaf = certificates.first().ok_or("cert: no PEM certificate found (-----BEGIN CERTIFICATE-----)")?;
    // The key first: its kind is what the user chose and what the message should name.
    let key = parse_private_key(key_pem)?;
    if key.kind == KeyKind::Rsa {
        // Mongoose 7.23 reads RSA keys, but a handshake signed with one never completes (curl,
        // Python's ssl and openssl s_client all see the connection close after their hello).
        return Err("RSA keys do not work with the built-in TLS: use an EC P-256 key (openssl ecparam -name prime256v1 -genkey -noout)");
    }
    let (cert_kind, cert_public) = certificate_public_key(leaf)?;
    if key.kind != cert_kind {
        return Err("key and cert do not match: one is EC, the other RSA");
    }
    if key.public.as_ref().is_some_and(|public| *public != cert_public) {
        return Err("key and cert do not match: the key is not the certificate's private key");
    }
    Ok(())
}

/// Checks CA certificates (PEM, one or a bundle) a client verifies its peer against.
pub fn check_ca(ca_pem: &[u8]) -> Result<(), CredentialError> {
    let certificates = certificate_blocks(ca_pem)?;
    if certificates.is_empty() {
        return Err("ca: no PEM certificate found (-----BEGIN CERTIFICATE-----)");
    }
    for certificate in &certificates {
        certificate_public_key(certificate).map_err(|_| "ca: a certificate the built-in TLS cannot read (EC P-256 or RSA only)")?;
    }
    Ok(())
}

/// What a failed TLS handshake means for the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandshakeFailure {
    /// The reason `on_disconnect` receives.
    pub reason: &'static str,
    /// Retrying cannot help (a certificate or a name that does not verify, a peer that refused
    /// us): the client stops, as after a refused CONNACK.
    pub permanent: bool,
}

pub const HOST_NAME_MISMATCH: HandshakeFailure = HandshakeFailure {
    reason: "tls: host name mismatch: the certificate is not for this host (server_name= sets the name checked)",
    permanent: true,
};
pub const NOT_TRUSTED: HandshakeFailure = HandshakeFailure {
    reason: "tls: certificate verify failed: not signed by the CA given in ca=",
    permanent: true,
};
pub const NOT_VALID_NOW: HandshakeFailure = HandshakeFailure {
    reason: "tls: certificate verify failed: a certificate is expired, not yet valid, or unreadable",
    permanent: true,
};
pub const CA_NOT_VALID_NOW: HandshakeFailure = HandshakeFailure {
    reason: "tls: certificate verify failed: the CA in ca= is expired, not yet valid, or unreadable",
    permanent: true,
};
pub const CLOCK_NOT_SET: HandshakeFailure = HandshakeFailure {
    reason: "tls: the clock is not set, and the TLS stack reads certificate dates (even with insecure=True): set it first (ntptime.settime())",
    permanent: true,
};
pub const REFUSED_BY_PEER: HandshakeFailure = HandshakeFailure {
    reason: "tls: handshake refused by the peer (a TLS alert): it may require a client certificate (cert=, key=) or refuse the one given",
    permanent: true,
};
pub const UNSUPPORTED_BY_PEER: HandshakeFailure = HandshakeFailure {
    reason: "tls: handshake failed: the peer does not speak what the built-in TLS needs (TLS 1.3, X25519, AES-GCM or ChaCha20)",
    permanent: true,
};
pub const HANDSHAKE_FAILED: HandshakeFailure =
    HandshakeFailure { reason: "tls: handshake failed (connection error during the handshake)", permanent: false };

/// What Mongoose's `MG_EV_ERROR` text means, for a connection that is a TLS client.
/// `handshaking`: the handshake had not finished. None: not a TLS failure (a refused or reset
/// TCP connection, a resolver error), handled like any closed link.
pub fn classify_client_error(text: &[u8], handshaking: bool) -> Option<HandshakeFailure> {
    let starts = |prefix: &[u8]| text.starts_with(prefix);
    if starts(b"failed to verify hostname") {
        return Some(HOST_NAME_MISMATCH);
    }
    if starts(b"failed to verify CA") || starts(b"failed to find issuing CA") || starts(b"failed to verify certificate chain") {
        return Some(NOT_TRUSTED);
    }
    if starts(b"failed to parse CA") {
        return Some(CA_NOT_VALID_NOW);
    }
    if starts(b"failed to parse certificate") || starts(b"certificate") || starts(b"invalid certificate") || starts(b"truncated certificate") {
        return Some(NOT_VALID_NOW);
    }
    if starts(b"TLS Fatal alert") || starts(b"TLS error alert") {
        return Some(REFUSED_BY_PEER);
    }
    if starts(b"unsupported") || starts(b"TLS unsupported") {
        return Some(UNSUPPORTED_BY_PEER);
    }
    if starts(b"time sync failed") {
        return Some(CLOCK_NOT_SET);
    }
    handshaking.then_some(HANDSHAKE_FAILED)
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod tests;
