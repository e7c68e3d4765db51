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
