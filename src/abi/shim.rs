//! The C shim's side of the boundary: protected calls into Python. Each returns an outcome code
//! and never raises (the shim runs the Python call under `nlr_push`).

#[cfg(feature = "mqtt")]
use super::types::PgMqttEvent;
use super::types::{PgBytes, PgFileStat, PgPushEvent, PgReply, PgRequest};

/// Outcomes of the shim's protected calls (returned as `int32_t`: C may return any value, so
/// Rust compares numbers instead of trusting an enum it did not create).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgCallOutcome {
    /// The Python call returned normally.
    Ok = 0,
    /// The Python call raised; the traceback is printed. HTTP answers 500.
    Failed = 1,
    /// `KeyboardInterrupt`/`SystemExit` (or one is pending): kept by the shim, raised out of `poll()`.
    Stopping = 2,
    /// The body is not UTF-8 but the handler takes text: 400.
    BadBodyText = 3,
    /// The auth callback rejected the credentials.
    AuthRejected = 4,
    /// The auth callback accepted the credentials.
    AuthAccepted = 5,
    /// Not called: a KeyboardInterrupt/SystemExit is still waiting to be raised. The event or
    /// request stays queued for the next `poll()`.
    Deferred = 6,
}

impl PgCallOutcome {
    pub fn from_code(code: i32) -> Option<Self> {
        [
            Self::Ok,
            Self::Failed,
            Self::Stopping,
            Self::BadBodyText,
            Self::AuthRejected,
            Self::AuthAccepted,
            Self::Deferred,
        ]
            .into_iter()
            .find(|outcome| *outcome as i32 == code)
    }
}

extern "C" {
    /// Wall-clock time in milliseconds since 1970 (the port's `time.time()`), for dating
    /// certificates; below `tls::MIN_WALL_CLOCK_MS` when the board's clock was never set.
    pub fn pg_shim_wall_clock_ms() -> u64;
    /// Calls the handler in `slot` with `request`, filling `reply` (pointers stay valid until the
    /// next Python allocation: copy them out before anything else calls the shim).
    /// Returns a `PgCallOutcome` code.
    pub fn pg_shim_call_handler(slot: u32, convention: u8, request: *const PgRequest, reply: *mut PgReply) -> i32;
    /// Hands a WebSocket/SSE peer's event to Python (makes or forgets its object, runs the
    /// callback); returns a `PgCallOutcome` code.
    pub fn pg_shim_push_event(event: *const PgPushEvent) -> i32;
    /// Runs a streamed upload's `on_chunk(request, chunk)`; returns a `PgCallOutcome` code.
    pub fn pg_shim_call_chunk(slot: u32, request: *const PgRequest, chunk: *const u8, chunk_len: usize) -> i32;
    /// Runs the auth callback with `(user, password)`; returns a `PgCallOutcome` code:
    /// AuthAccepted / AuthRejected, or Failed / Stopping when it raised.
    pub fn pg_shim_check_auth(user: *const u8, user_len: usize, password: *const u8, password_len: usize) -> i32;
    /// Hands an MQTT client's event to its Python callbacks; returns a `PgCallOutcome` code.
    #[cfg(feature = "mqtt")]
    pub fn pg_shim_mqtt_event(client: u32, event: *const PgMqttEvent) -> i32;
    /// What `path` names on the VFS (`os.stat`): fills `out` (missing when it does not exist).
    /// Returns a `PgCallOutcome` (a Python VFS may raise).
    pub fn pg_shim_file_stat(path: *const u8, path_len: usize, out: *mut PgFileStat) -> i32;
    /// Opens `path` for reading as stream `stream`; with `with_reply`, the File/Template the
    /// handler just returned is kept with it (a Template's values). Returns a `PgCallOutcome`.
    pub fn pg_shim_stream_open(stream: u32, path: *const u8, path_len: usize, with_reply: bool) -> i32;
    /// Reads at most `len` bytes of the stream into `buf`: the count, 0 at the end, -1 on error.
    pub fn pg_shim_stream_read(stream: u32, buf: *mut u8, len: usize) -> isize;
    /// Moves the stream to `offset` (a Range request). Returns a `PgCallOutcome`.
    pub fn pg_shim_stream_seek(stream: u32, offset: u64) -> i32;
    /// Closes the stream's file and forgets it.
    pub fn pg_shim_stream_close(stream: u32);
    /// The text of a template value, `str(values[name])`: in `out` until the next call into
    /// Python. Returns a `PgCallOutcome` (`Failed` for a name the values lack, printed).
    pub fn pg_shim_template_value(stream: u32, name: *const u8, name_len: usize, out: *mut PgBytes) -> i32;
    /// Looks a host name up with the platform's resolver (blocking, no Python involved): 1 and
    /// the IPv4 address in `address_out`, 0 when the name is unknown, -1 when the port has no
    /// resolver of its own (Mongoose's DNS client then resolves it), -2 when the board has no
    /// name service at all (no name can be resolved there).
    #[cfg(feature = "mqtt")]
    pub fn pg_shim_resolve_ipv4(name: *const u8, name_len: usize, address_out: *mut u8) -> i32;
    /// Whether MicroPython holds an exception to raise at its next check (Ctrl-C's
    /// KeyboardInterrupt, a scheduled callback's): reads its state, runs nothing.
    #[cfg(feature = "mqtt")]
    fn pg_shim_interrupt_pending() -> bool;
}

/// Whether a Ctrl-C (or another asynchronous exception) waits to be raised by the shim.
#[cfg(feature = "mqtt")]
pub fn interrupt_pending() -> bool {
    // SAFETY: a read of MicroPython's pending-exception slot; no Python runs, nothing raises.
    unsafe { pg_shim_interrupt_pending() }
}

/// Unit tests link the FFI entry points without the C shim: these stand-ins take its symbols.
/// The tests that reach them check argument handling only; the real shim runs in the pytest
/// suites.
#[cfg(test)]
mod stand_ins {
    use super::PgCallOutcome;
    #[cfg(feature = "mqtt")]
    use crate::abi::types::PgMqttEvent;
    use crate::abi::types::{PgBytes, PgFileStat, PgPushEvent, PgReply, PgRequest};

    #[no_mangle]
    extern "C" fn pg_shim_call_handler(_slot: u32, _convention: u8, _request: *const PgRequest, _reply: *mut PgReply) -> i32 {
        PgCallOutcome::Failed as i32
    }

    #[no_mangle]
    extern "C" fn pg_shim_push_event(_event: *const PgPushEvent) -> i32 {
        PgCallOutcome::Ok as i32
    }

    #[no_mangle]
    extern "C" fn pg_shim_call_chunk(_slot: u32, _request: *const PgRequest, _chunk: *const u8, _chunk_len: usize) -> i32 {
        PgCallOutcome::Failed as i32
    }

    #[no_mangle]
    extern "C" fn pg_shim_check_auth(_user: *const u8, _user_len: usize, _password: *const u8, _password_len: usize) -> i32 {
        PgCallOutcome::AuthRejected as i32
    }

    #[cfg(feature = "mqtt")]
    #[no_mangle]
    extern "C" fn pg_shim_mqtt_event(_client: u32, _event: *const PgMqttEvent) -> i32 {
        PgCallOutcome::Ok as i32
    }

    #[no_mangle]
    extern "C" fn pg_shim_file_stat(_path: *const u8, _path_len: usize, _out: *mut PgFileStat) -> i32 {
        PgCallOutcome::Ok as i32
    }

    #[no_mangle]
    extern "C" fn pg_shim_stream_open(_stream: u32, _path: *const u8, _path_len: usize, _with_reply: bool) -> i32 {
        PgCallOutcome::Failed as i32
    }

    #[no_mangle]
    extern "C" fn pg_shim_stream_read(_stream: u32, _buf: *mut u8, _len: usize) -> isize {
        -1
    }

    #[no_mangle]
    extern "C" fn pg_shim_stream_seek(_stream: u32, _offset: u64) -> i32 {
        PgCallOutcome::Failed as i32
    }

    #[no_mangle]
    extern "C" fn pg_shim_stream_close(_stream: u32) {}

    #[no_mangle]
    extern "C" fn pg_shim_template_value(_stream: u32, _name: *const u8, _name_len: usize, _out: *mut PgBytes) -> i32 {
        PgCallOutcome::Failed as i32
    }

    #[no_mangle]
    extern "C" fn pg_shim_wall_clock_ms() -> u64 {
        0
    }

    #[cfg(feature = "mqtt")]
    #[no_mangle]
    extern "C" fn pg_shim_resolve_ipv4(_name: *const u8, _name_len: usize, _address_out: *mut u8) -> i32 {
        -1
    }

    #[cfg(feature = "mqtt")]
    #[no_mangle]
    extern "C" fn pg_shim_interrupt_pending() -> bool {
        false
    }

    extern "C" {
        fn epoll_wait(epfd: i32, events: *mut core::ffi::c_void, max_events: i32, timeout_ms: i32) -> i32;
    }

    /// Mongoose's `epoll_wait` is renamed to the shim's wrapper on Linux (build.rs); without Python
    /// there is no GIL to release.
    #[cfg(target_os = "linux")]
    #[no_mangle]
    extern "C" fn pg_shim_epoll_wait(epfd: i32, events: *mut core::ffi::c_void, max_events: i32, timeout_ms: i32) -> i32 {
        // SAFETY: the arguments are Mongoose's own, passed through unchanged.
        unsafe { epoll_wait(epfd, events, max_events, timeout_ms) }
    }
}
