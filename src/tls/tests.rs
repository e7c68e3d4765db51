use super::*;

use super::fixtures::*;

#[test]
fn ec_p256_keys_in_sec1_and_pkcs8_pair_with_their_certificate() {
    assert_eq!(check_credentials(EC_PEM, EC_KEY), Ok(()));
    assert_eq!(check_credentials(EC_PEM, EC_PKCS8_KEY), Ok(()));
    // A chain: the leaf first, then more certificates.
    let mut chain = EC_PEM.to_vec();
    chain.extend_from_slice(RSA_PEM);
    assert_eq!(check_credentials(&chain, EC_KEY), Ok(()));
}

#[test]
fn rsa_keys_are_refused_by_name_in_pkcs8_and_pkcs1_form() {
    // Mongoose's handshakes signed with an RSA key never complete (tests/test_tls_https.py).
    for key in [RSA_KEY, RSA_PKCS1_KEY] {
        let error = check_credentials(RSA_PEM, key).unwrap_err();
        assert!(error.starts_with("RSA keys do not work"), "{error}");
    }
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused() {
    let error = check_credentials(EC_PEM, OTHER_KEY).unwrap_err();
    assert!(error.contains("not the certificate's private key"), "{error}");
    let error = check_credentials(RSA_PEM, EC_KEY).unwrap_err();
    assert!(error.contains("one is EC, the other RSA"), "{error}");
}

#[test]
fn key_types_the_builtin_tls_cannot_use_are_named() {
    let error = check_credentials(EC_PEM, ED_KEY).unwrap_err();
    assert!(error.starts_with("Ed25519"), "{error}");
    let error = check_credentials(EC_PEM, P384_KEY).unwrap_err();
    assert!(error.starts_with("P-384"), "{error}");
    let error = check_credentials(P384_PEM, P384_KEY).unwrap_err();
    assert!(error.starts_with("P-384"), "the key's kind is named first: {error}");
    let error = check_credentials(P384_PEM, EC_KEY).unwrap_err();
    assert!(error.contains("certificate's key is of a kind"), "{error}");
    let error = check_credentials(EC_PEM, ENC_KEY).unwrap_err();
    assert!(error.starts_with("encrypted private keys"), "{error}");
}

#[test]
fn missing_or_mangled_pem_is_refused_with_what_was_expected() {
    assert!(check_credentials(b"", EC_KEY).unwrap_err().starts_with("cert: no PEM certificate"));
    assert!(check_credentials(EC_PEM, b"not a key").unwrap_err().starts_with("key: no PEM private key"));
    assert!(check_credentials(EC_KEY, EC_KEY).unwrap_err().starts_with("cert: no PEM certificate"));
    let mut mangled = EC_PEM.to_vec();
    let index = mangled.iter().position(|&byte| byte == b'\n').unwrap() + 5;
    mangled[index] = b'*';
    assert!(check_credentials(&mangled, EC_KEY).unwrap_err().contains("bad base64"));
    let truncated = &EC_PEM[..EC_PEM.len() - 30];
    assert!(check_credentials(truncated, EC_KEY).unwrap_err().contains("without its END line"));
    // A certificate block whose DER is cut short.
    let short = b"-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJ\n-----END CERTIFICATE-----\n";
    assert_eq!(check_credentials(short, EC_KEY), Err("unreadable certificate"));
}

#[test]
fn a_ca_is_one_or_more_readable_certificates() {
    assert_eq!(check_ca(EC_PEM), Ok(()));
    let mut bundle = EC_PEM.to_vec();
    bundle.extend_from_slice(b"\n# a comment between blocks\n");
    bundle.extend_from_slice(RSA_PEM);
    assert_eq!(check_ca(&bundle), Ok(()));
    assert!(check_ca(EC_KEY).unwrap_err().starts_with("ca: no PEM certificate"));
    assert!(check_ca(P384_PEM).unwrap_err().starts_with("ca: a certificate"));
}

#[test]
fn base64_decodes_pem_bodies_and_rejects_garbage() {
    assert_eq!(base64_decode(b"aGVs\nbG8=").as_deref(), Some(&b"hello"[..]));
    assert_eq!(base64_decode(b"aGVsbA==").as_deref(), Some(&b"hell"[..]));
    assert_eq!(base64_decode(b"aGVsbA==QQ"), None);
    assert_eq!(base64_decode(b"a$b"), None);
    assert_eq!(base64_decode(b""), None);
}

#[test]
fn der_lengths_beyond_the_input_are_not_read() {
    assert_eq!(der_next(&[0x30, 0x05, 1, 2]), None);
    assert_eq!(der_next(&[0x30, 0x85, 0, 0, 0, 0, 1]), None);
    assert_eq!(der_next(&[0x30, 0x81, 0x02, 7, 8, 9]), Some((0x30, &[7u8, 8][..], &[9u8][..])));
    assert_eq!(der_next(&[0x30]), None);
}

#[test]
fn mongoose_handshake_errors_map_to_reasons_and_retry_policy() {
    assert_eq!(classify_client_error(b"failed to verify hostname", true), Some(HOST_NAME_MISMATCH));
    assert_eq!(classify_client_error(b"failed to verify CA", true), Some(NOT_TRUSTED));
    assert_eq!(classify_client_error(b"failed to find issuing CA in bundle", true), Some(NOT_TRUSTED));
    assert_eq!(classify_client_error(b"failed to verify certificate chain ", true), Some(NOT_TRUSTED));
    assert_eq!(classify_client_error(b"failed to parse certificate", true), Some(NOT_VALID_NOW));
    assert_eq!(classify_client_error(b"failed to parse CA certificate", true), Some(CA_NOT_VALID_NOW));
    assert_eq!(classify_client_error(b"TLS Fatal alert", true), Some(REFUSED_BY_PEER));
    assert_eq!(classify_client_error(b"time sync failed", true), Some(CLOCK_NOT_SET));
    // During the handshake anything else is a transient failure; after it, or a plain socket
    // error, it is no TLS matter.
    assert_eq!(classify_client_error(b"TLS recv error", true), Some(HANDSHAKE_FAILED));
    assert_eq!(classify_client_error(b"TLS recv error", true).map(|failure| failure.permanent), Some(false));
    assert_eq!(classify_client_error(b"socket error", false), None);
    for failure in [HOST_NAME_MISMATCH, NOT_TRUSTED, NOT_VALID_NOW, CA_NOT_VALID_NOW, REFUSED_BY_PEER, CLOCK_NOT_SET] {
        assert!(failure.permanent && failure.reason.starts_with("tls: "), "{failure:?}");
    }
}
