//! Starts Mongoose's built-in TLS on a connection: on an accepted connection of an `https://`
//! listener (its certificate and key), and on an `mqtts://` client connection once TCP is up
//! (the CA, the name to check, an optional client certificate). What the credentials may be and
//! what handshake errors mean is decided in `crate::tls`.

use alloc::vec::Vec;

use super::mongoose::{self as mg, mg_connection, mg_str, mg_tls_opts};
#[cfg(feature = "mqtt")]
use crate::abi::shim;
#[cfg(feature = "mqtt")]
use crate::tls::{HandshakeFailure, CLOCK_NOT_SET, MIN_WALL_CLOCK_MS};

/// Bytes handed to Mongoose's TLS, kept with a NUL after them: Mongoose copies the host name
/// with `strncpy` (it reads up to a NUL, not the given length), so every string it gets ends in
/// one. Empty: the option is not given.
pub struct TlsText(Vec<u8>);

impl TlsText {
    pub fn new(bytes: &[u8]) -> TlsText {
        let mut text = Vec::with_capacity(bytes.len() + 1);
        text.extend_from_slice(bytes);
        text.push(0);
        TlsText(text)
    }

    /// The bytes without the NUL, as Mongoose's string (null when empty).
    fn as_mg_str(&self) -> mg_str {
        match self.0.split_last() {
            Some((_, bytes)) if !bytes.is_empty() => mg_str { buf: bytes.as_ptr() as *mut core::ffi::c_char, len: bytes.len() },
            _ => mg_str { buf: core::ptr::null_mut(), len: 0 },
        }
    }
}

/// A server's certificate chain and private key (PEM, checked by `tls::check_credentials`).
pub struct ServerCredentials {
    pub cert: TlsText,
    pub key: TlsText,
}

/// What an `mqtts://` client verifies its broker with, and shows of itself.
#[cfg(feature = "mqtt")]
pub struct ClientOptions {
    /// CA certificates (PEM); empty only when `insecure`.
    pub ca: TlsText,
    /// A client certificate chain and key (PEM), or both empty.
    pub cert: TlsText,
    pub key: TlsText,
    /// Sent as SNI and checked against the certificate (a host name or an IP address).
    pub name: TlsText,
    /// Skip every check (the user asked for it by name).
    pub insecure: bool,
}

/// Starts the server side of the handshake on an accepted connection. Mongoose copies what it
/// needs from the credentials before this returns.
pub fn start_server(connection: *mut mg_connection, credentials: &ServerCredentials) {
    let options = mg_tls_opts { cert: credentials.cert.as_mg_str(), key: credentials.key.as_mg_str(), ..Default::default() };
    // SAFETY: a live connection Mongoose just accepted; the options point into `credentials`,
    // alive for the call, and Mongoose parses them into its own buffers.
    unsafe { mg::mg_tls_init(connection, &options) };
}

/// Starts the client side of the handshake on a connection whose TCP link just came up.
/// Mongoose copies what it needs from `options` before this returns; an error it finds at once
/// arrives as an `MG_EV_ERROR` from inside this call. Mongoose dates certificates with the wall
/// clock: a clock that was never set is an error here, never a skipped check.
#[cfg(feature = "mqtt")]
pub fn start_client(connection: *mut mg_connection, options: &ClientOptions) -> Result<(), HandshakeFailure> {
    // Mongoose dates certificates with mg_now() = mg_millis() + mg_boot_timestamp_ms, even when
    // told to skip verification, and asks a public time server first when that offset is 0 and
    // it verifies: give it the port's clock, which must have been set.
    // SAFETY: a plain read of the port's clock; no Python runs.
    let wall_ms = unsafe { shim::pg_shim_wall_clock_ms() };
    if wall_ms < MIN_WALL_CLOCK_MS {
        return Err(CLOCK_NOT_SET);
    }
    // SAFETY: VM thread only; Mongoose reads this global during its poll, on this thread.
    unsafe { mg::mg_boot_timestamp_ms = wall_ms.saturating_sub(mg::mg_millis()).max(1) };
    let nothing = TlsText::new(&[]);
    let tls_options = mg_tls_opts {
        ca: if options.insecure { nothing.as_mg_str() } else { options.ca.as_mg_str() },
        cert: options.cert.as_mg_str(),
        key: options.key.as_mg_str(),
        name: if options.insecure { nothing.as_mg_str() } else { options.name.as_mg_str() },
        skip_verification: options.insecure,
    };
    // SAFETY: a live client connection in its CONNECT event; the options point into `options`,
    // alive for the call, and Mongoose parses them into its own buffers.
    unsafe { mg::mg_tls_init(connection, &tls_options) };
    Ok(())
}
