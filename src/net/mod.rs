//! The Mongoose event layer: one manager, the HTTP listener and its connections. It carries
//! bytes between Mongoose and the sans-I/O logic in `crate::http`, and calls Python only through
//! the shim's protected-call functions (`shim`), which never raise.

pub mod event_loop;
// Without `web` these still compile (their code is unreachable: see `WEB`).
#[cfg_attr(not(feature = "web"), allow(dead_code))]
pub mod file_stream;
pub mod http_server;
#[cfg_attr(not(feature = "web"), allow(dead_code))]
pub mod push;
pub mod tls;
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
    pub fn acknowledge_before_wait() {}
    pub fn acknowledge_quiet_links() {}
    pub fn forget_all() {}
    pub fn deliver() {}
}

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

/// Why the event layer could not do what was asked (the FFI layer turns it into a status code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetError {
    /// The HTTP server already runs.
    AlreadyStarted,
    /// Nothing runs: no server (for a route), no loop (for a poll).
    NotStarted,
    /// Mongoose could not listen on the URL (port in use, unknown address...).
    ListenFailed,
    /// Called from inside a callback while the loop runs.
    Reentered,
    /// An argument the logic refused, with the reason.
    Invalid(&'static str),
}
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

/// Sends `bytes` on a connection: straight to the socket when nothing is queued before them
/// (saving the copy into the send buffer, and the two epoll_ctl calls per reply or packet that
/// waiting for the next poll's writability costs), queueing whatever the socket does not take
/// now; Mongoose's poll sends the rest when the socket is writable.
pub fn send_now(connection: *mut mg_connection, bytes: &[u8]) {
    if connection.is_null() || bytes.is_empty() {
        return;
    }
    // SAFETY: a live connection of ours; mg_io_send writes at most `bytes.len()` bytes to its
    // socket and returns how many (or a negative code); mg_send copies the rest into its buffer.
    unsafe {
        // A TLS connection's bytes go through its send buffer: Mongoose encrypts them when it
        // writes (and holds them until the handshake is done).
        let ready = (*connection).send.len == 0
            && (*connection).is_connecting() == 0
            && (*connection).is_resolving() == 0
            && (*connection).is_tls() == 0;
        let written = if ready {
            usize::try_from(mongoose::mg_io_send(connection, bytes.as_ptr() as *const c_void, bytes.len())).unwrap_or(0)
        } else {
            0
        };
        if let Some(rest) = bytes.get(written..).filter(|rest| !rest.is_empty()) {
            // A reply or packet cut short is worse than none: when Mongoose cannot queue the rest
            // (its buffer is out of memory or budget), the connection closes.
            if !mongoose::mg_send(connection, rest.as_ptr() as *const c_void, rest.len()) {
                (*connection).set_is_closing(1);
            }
        }
    }
}

/// How long a connection stays quiet (nothing received) before `release_idle_buffers` runs for
/// it: a busy link keeps its buffers, as reallocating (and zeroing) them per request or message
/// would cost more than it saves.
pub const IDLE_BUFFER_RELEASE_MS: u64 = 1000;

/// Whether the web-app features are built in (cargo feature `web`). Without them the event layer
/// guards every way into static files, streamed replies and push peers with this constant, so
/// the compiler drops that code from the lean build (the modules still compile, for the tests).
pub const WEB: bool = cfg!(feature = "web");

/// Whether TLS is built in (cargo feature `tls`): without it no connection starts TLS (the FFI
/// layer refuses https:// and mqtts:// first), and the compiler drops the TLS glue.
pub const TLS: bool = cfg!(feature = "tls");

/// Frees a quiet connection's empty buffers (receive, send and, for TLS, the record buffer):
/// Mongoose sizes them in steps of `MG_IO_SIZE` (16 KB on unix) and never shrinks them, so an
/// idle TLS link would hold 48 KB doing nothing; the next read or send allocates again. Call it
/// between polls or from the connection's own poll event, once it has been quiet for
/// `IDLE_BUFFER_RELEASE_MS`.
pub fn release_idle_buffers(connection: *mut mg_connection) {
    if connection.is_null() {
        return;
    }
    // SAFETY: a live connection of ours, between polls (Mongoose holds no pointer into its
    // buffers then); only empty buffers are freed, and never during a TLS handshake, whose state
    // refers to positions in the record buffer.
    unsafe {
        if (*connection).is_tls_hs() != 0 {
            return;
        }
        if (*connection).recv.len == 0 && (*connection).recv.size > 0 {
            mongoose::mg_iobuf_resize(&mut (*connection).recv, 0);
        }
        if (*connection).rtls.len == 0 && (*connection).rtls.size > 0 {
            mongoose::mg_iobuf_resize(&mut (*connection).rtls, 0);
        }
        if (*connection).send.len == 0 && (*connection).send.size > 0 {
            mongoose::mg_iobuf_resize(&mut (*connection).send, 0);
        }
    }
}

/// Writes what a connection has queued straight to its socket (a DISCONNECT must leave even if
/// the script stops polling right after `disconnect()`); what does not fit stays queued.
#[cfg(feature = "mqtt")]
pub fn write_through(connection: *mut mg_connection) {
    if connection.is_null() {
        return;
    }
    // SAFETY: a live connection of ours; mg_io_send writes at most `len` bytes of its own send
    // buffer to the socket and returns how many it wrote (or a negative error).
    unsafe {
        let send = &mut (*connection).send;
        if send.len == 0
            || (*connection).is_connecting() != 0
            || (*connection).is_resolving() != 0
            || (*connection).is_tls() != 0
        {
            return;
        }
        let written = mongoose::mg_io_send(connection, send.buf as *const c_void, send.len);
        if let Ok(written) = usize::try_from(written) {
            mongoose::mg_iobuf_del(send, 0, written);
        }
    }
}
