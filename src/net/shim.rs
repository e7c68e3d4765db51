//! The C shim's side of the boundary: protected calls into Python. Each returns an outcome code
//! and never raises (the shim runs the Python call under `nlr_push`).

use crate::ffi::types::{PgReply, PgRequest};

/// The Python call returned normally.
pub const PG_CALL_OK: i32 = 0;
/// The Python call raised; the traceback is printed. HTTP answers 500.
pub const PG_CALL_FAILED: i32 = 1;
/// `KeyboardInterrupt`/`SystemExit` (or one is pending): kept by the shim, raised out of `poll()`.
pub const PG_CALL_STOPPING: i32 = 2;
/// The body is not UTF-8 but the handler takes text: 400.
pub const PG_CALL_BAD_BODY_TEXT: i32 = 3;

/// Auth verdicts.
pub const PG_AUTH_REJECTED: i32 = 0;
pub const PG_AUTH_ACCEPTED: i32 = 1;

extern "C" {
    /// Calls the handler in `slot` with `request`, filling `reply` (pointers stay valid until the
    /// next Python allocation: copy them out before anything else calls the shim).
    pub fn pg_shim_call_handler(slot: u32, convention: u8, request: *const PgRequest, reply: *mut PgReply) -> i32;
    /// Runs the auth callback with `(user, password)`; AUTH_* or PG_CALL_FAILED / PG_CALL_STOPPING.
    pub fn pg_shim_check_auth(user: *const u8, user_len: usize, password: *const u8, password_len: usize) -> i32;
}
