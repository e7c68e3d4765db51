//! `#[repr(C)]` types shared with the C shim (cbindgen writes them into `include/pythongoose.h`).

use core::ffi::{c_char, c_void};

/// Status codes of every `pg_*` entry point. Stable numbers; `pg_status_message` describes each.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgStatus {
    Ok = 0,
    /// `pg_server_start` when a server already runs.
    AlreadyStarted = 1,
    /// A server call before `pg_server_start`.
    NotStarted = 2,
    /// Mongoose could not listen on the URL (bad URL, port in use, ...).
    ListenFailed = 3,
    /// An argument is out of range or malformed.
    InvalidArgument = 4,
    /// Called from inside a handler while the event loop is running (poll or close re-entered).
    Reentered = 5,
}

/// A borrowed byte string: `len` bytes at `ptr` (`ptr` may be null when `len` is 0).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PgBytes {
    pub ptr: *const u8,
    pub len: usize,
}

impl PgBytes {
    pub const EMPTY: PgBytes = PgBytes { ptr: core::ptr::null(), len: 0 };

    pub fn from_slice(bytes: &[u8]) -> Self {
        PgBytes { ptr: bytes.as_ptr(), len: bytes.len() }
    }

    /// # Safety
    /// `ptr` must point to `len` readable bytes that outlive the returned slice.
    pub unsafe fn as_slice<'a>(&self) -> &'a [u8] {
        if self.ptr.is_null() || self.len == 0 {
            &[]
        } else {
            // SAFETY: the caller guarantees `ptr` holds `len` bytes for 'a.
            unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
        }
    }
}

impl Default for PgBytes {
    fn default() -> Self {
        PgBytes::EMPTY
    }
}

/// The request a handler sees. Valid only during the handler call (it points into the
/// connection's receive buffer).
#[repr(C)]
#[derive(Debug)]
pub struct PgRequest {
    pub method: PgBytes,
    /// Path without the query string, as sent (not percent-decoded).
    pub path: PgBytes,
    /// Query string without the `?` (empty when absent).
    pub query: PgBytes,
    pub body: PgBytes,
    /// The parsed message, for header look-ups through `pg_request_header*` (opaque to C).
    pub message: *const c_void,
}

/// What a handler returned, converted by the shim. Pointers are valid until the next Python
/// allocation; the event layer copies them into the send buffer at once.
#[repr(C)]
#[derive(Debug)]
pub struct PgReply {
    pub status: i32,
    /// Empty: no `Content-Type` header (the handler set one in `extra_headers`).
    pub content_type: PgBytes,
    /// Header lines, each `Name: value\r\n`, already checked for CR/LF/NUL by the shim.
    pub extra_headers: PgBytes,
    pub body: PgBytes,
}

impl Default for PgReply {
    fn default() -> Self {
        PgReply { status: 200, content_type: PgBytes::EMPTY, extra_headers: PgBytes::EMPTY, body: PgBytes::EMPTY }
    }
}

/// Options of `pg_server_start`.
#[repr(C)]
#[derive(Debug)]
pub struct PgServerConfig {
    /// Listen URL, NUL-terminated, e.g. `http://0.0.0.0:8000`.
    pub listen_url: *const c_char,
    pub max_header_bytes: usize,
    pub max_body_bytes: usize,
    /// When false, no route asks for credentials (no auth callback was given).
    pub auth_enabled: bool,
}
