//! The Mongoose event layer: one manager, the HTTP listener and its connections. It carries
//! bytes between Mongoose and the sans-I/O logic in `crate::http`, and calls Python only through
//! the shim's protected-call functions (`shim`), which never raise.

pub mod event_loop;
pub mod http_server;
#[cfg(feature = "mqtt")]
pub mod mqtt_client;
/// A build without MQTT (`--no-default-features --features mongoose`): no clients, no timers.
#[cfg(not(feature = "mqtt"))]
pub mod mqtt_client {
    pub fn any_running() -> bool {
        false
    }
    pub fn next_wakeup_ms() -> Option<u64> {
        None
    }
    pub fn run_due_timers(_now: u64) {}
    pub fn forget_all() {}
}
pub mod shim;

#[allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    dead_code,
    clippy::all,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]
pub mod mongoose {
    include!(concat!(env!("OUT_DIR"), "/mongoose_bindings.rs"));

}

use core::cell::UnsafeCell;
use core::ffi::c_void;

use mongoose::mg_connection;

/// A global touched only from the thread that runs MicroPython's VM (MicroPython's unix and
/// ESP32 ports call into the module from that one thread; `_thread` users must not share it).
pub struct VmThreadCell<T>(UnsafeCell<T>);

// SAFETY: see the type's doc: every access happens on the VM thread, never concurrently.
unsafe impl<T> Sync for VmThreadCell<T> {}

impl<T> VmThreadCell<T> {
    pub const fn new(value: T) -> Self {
        VmThreadCell(UnsafeCell::new(value))
    }

    /// Raw access; callers keep each borrow short and never hold one across a call into Python
    /// or Mongoose's poll (either may re-enter the module).
    pub fn get(&self) -> *mut T {
        self.0.get()
    }
}

/// Bytes of a Mongoose string (empty for a null pointer).
///
/// # Safety
/// `s.buf` must point to `s.len` readable bytes that outlive the returned slice.
pub unsafe fn mg_str_bytes<'a>(s: &mongoose::mg_str) -> &'a [u8] {
    if s.buf.is_null() || s.len == 0 {
        &[]
    } else {
        // SAFETY: the caller guarantees `buf` holds `len` bytes for 'a.
        unsafe { core::slice::from_raw_parts(s.buf as *const u8, s.len) }
    }
}

/// Writes what a connection has queued straight to its socket. Writing at once saves the two
/// epoll_ctl calls per reply or packet that waiting for the next poll's writability costs, and
/// a DISCONNECT leaves even if the script stops polling right after `disconnect()`. What does
/// not fit now stays queued; Mongoose's poll sends it when the socket is writable.
pub fn write_through(connection: *mut mg_connection) {
    if connection.is_null() {
        return;
    }
    // SAFETY: a live connection of ours; mg_io_send writes at most `len` bytes of its own send
    // buffer to the socket and returns how many it wrote (or a negative error).
    unsafe {
        let send = &mut (*connection).send;
        if send.len == 0 || (*connection).is_connecting() != 0 || (*connection).is_resolving() != 0 {
            return;
        }
        let written = mongoose::mg_io_send(connection, send.buf as *const c_void, send.len);
        if let Ok(written) = usize::try_from(written) {
            mongoose::mg_iobuf_del(send, 0, written);
        }
    }
}

