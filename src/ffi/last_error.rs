//! The detail text of the last failed call (the status code says the kind, this says why).

use core::ffi::c_char;

use crate::abi::types::PgStatus;
use crate::net::VmThreadCell;

const CAPACITY: usize = 320;

static LAST_ERROR: VmThreadCell<[u8; CAPACITY]> = VmThreadCell::new([0; CAPACITY]);

/// Records `message` (truncated to fit) and returns `status`, for `return last_error::set(..)`.
pub fn set(status: PgStatus, message: &str) -> PgStatus {
    // SAFETY: VM-thread only; the buffer is not borrowed elsewhere while we write it.
    let buffer = unsafe { &mut *LAST_ERROR.get() };
    let length = message.len().min(CAPACITY - 1);
    for (slot, byte) in buffer.iter_mut().zip(message.as_bytes().iter().take(length)) {
        *slot = *byte;
    }
    if let Some(terminator) = buffer.get_mut(length) {
        *terminator = 0;
    }
    status
}

/// For a required pointer argument that is null (a shim bug, never the user's input).
pub fn null_argument() -> PgStatus {
    set(PgStatus::InvalidArgument, "internal error: a required argument is missing")
}

pub fn message() -> *const c_char {
    LAST_ERROR.get() as *const c_char
}
