//! Every `extern "C"` entry point the C shim calls. Arguments arrive as plain C values (the shim
//! converted them from Python objects); results leave as `PgStatus` codes (the shim raises).
//!
//! Panic boundary: the crate is built with `panic = "abort"` and panics are designed out (clippy
//! denies unwrap/expect/panic/indexing outside tests); should one still happen, the panic handler
//! prints a line and aborts, so no unwinding ever reaches C or MicroPython frames.

mod last_error;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "web")]
pub mod push;

#[cfg(test)]
mod header_drift;

use core::ffi::{c_char, c_int, CStr};

use crate::http::limits::Limits;
use crate::http::routes::{CallingConvention, HandlerRef, MethodSet, Route};
#[cfg(feature = "web")]
use crate::http::static_files::Mount;
use crate::net::tls::{ServerCredentials, TlsText};
use crate::net::{event_loop, http_server, NetError};
use crate::url::{Transport, UrlRole};
use crate::abi::types::{
    PgBytes, PgHeapStats, PgListenConfig, PgReplacedSlots, PgRequest, PgRoute, PgServerConfig, PgStatus,
};
#[cfg(feature = "web")]
use crate::abi::types::PgStaticMount;

fn status_of(result: Result<(), NetError>) -> PgStatus {
    match result {
        Ok(()) => PgStatus::Ok,
        Err(NetError::AlreadyStarted) => PgStatus::AlreadyStarted,
        Err(NetError::NotStarted) => PgStatus::NotStarted,
        Err(NetError::ListenFailed) => PgStatus::ListenFailed,
        Err(NetError::Reentered) => PgStatus::Reentered,
        Err(NetError::Invalid(message)) => last_error::set(PgStatus::InvalidArgument, message),
    }
}

/// A NUL-terminated, static description of a status code.
#[no_mangle]
pub extern "C" fn pg_status_message(status: PgStatus) -> *const c_char {
    let text: &CStr = match status {
        PgStatus::Ok => c"ok",
        PgStatus::AlreadyStarted => c"the server is already running (call mongoose.close() first)",
        PgStatus::NotStarted => c"the server is not running (call mongoose.init() first)",
        PgStatus::ListenFailed => c"cannot listen on that URL (malformed, or the address/port is in use)",
        PgStatus::InvalidArgument => c"invalid argument",
        PgStatus::Reentered => c"cannot be called from inside a callback, or from another thread, while the event loop runs",
        PgStatus::MqttNotConnected => c"the MQTT client is not connected (QoS 0 messages are not queued)",
        PgStatus::MqttQueueFull => c"the MQTT publish queue is full: poll() and retry",
        PgStatus::MqttNoSuchClient => c"the MQTT client is not running: call connect() first",
        PgStatus::HostNotFound => c"cannot resolve the host name",
        PgStatus::OutOfMemory => c"not enough memory (see mongoose.memory())",
        PgStatus::PeerClosed => c"the connection is closed",
    };
    text.as_ptr()
}

/// Starts the HTTP server (one per process).
///
/// # Safety
/// `config` is null or points to a valid config whose `listen_url` is null or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn pg_server_start(config: *const PgServerConfig) -> PgStatus {
    // SAFETY: per the contract, `config` is null or valid.
    let Some(config) = (unsafe { config.as_ref() }) else { return last_error::null_argument() };
    if config.listen_url.is_null() || config.max_header_bytes < 64 || config.max_body_bytes == 0 {
        return last_error::set(PgStatus::InvalidArgument, "a listen URL, max_header_size >= 64 and max_body_size >= 1");
    }
    // SAFETY: non-null and NUL-terminated per the contract.
    let url = unsafe { CStr::from_ptr(config.listen_url) };
    // SAFETY: per the contract, the credentials are readable for their lengths.
    let tls = match listener_credentials(url, unsafe { config.tls_cert.as_slice() }, unsafe { config.tls_key.as_slice() }) {
        Ok(tls) => tls,
        Err(status) => return status,
    };
    let limits = Limits {
        max_header_bytes: config.max_header_bytes,
        max_body_bytes: config.max_body_bytes,
        request_timeout_ms: u64::from(config.request_timeout_ms),
        idle_timeout_ms: u64::from(config.idle_timeout_ms),
    };
    // SAFETY: per the contract, `cors_origin` is readable for its length.
    let cors_origin = unsafe { config.cors_origin.as_slice() };
    if !crate::http::reply::is_safe_header_text(cors_origin) {
        return last_error::set(PgStatus::InvalidArgument, "cors must not hold CR, LF or NUL");
    }
    status_of(http_server::start(url, tls, limits, config.auth_enabled, cors_origin))
}

/// A listener URL's TLS credentials, checked: `https://` needs a certificate and key the
/// built-in TLS can use; `http://` takes none.
fn listener_credentials(url: &CStr, cert: &[u8], key: &[u8]) -> Result<Option<ServerCredentials>, PgStatus> {
    let invalid = |message: &str| last_error::set(PgStatus::InvalidArgument, message);
    match crate::url::check(url.to_bytes(), UrlRole::HttpListener) {
        Err(error) => Err(invalid(error.message(UrlRole::HttpListener))),
        Ok(Transport::Plain) if cert.is_empty() && key.is_empty() => Ok(None),
        Ok(Transport::Plain) => Err(invalid("cert= and key= are for https:// URLs")),
        Ok(Transport::Tls) if !crate::net::TLS => {
            Err(invalid("https:// needs TLS, which this firmware leaves out (built without the `tls` feature): use http://"))
        }
        Ok(Transport::Tls) if cert.is_empty() || key.is_empty() => {
            Err(invalid("https:// needs cert= and key= (the certificate chain and private key, PEM)"))
        }
        Ok(Transport::Tls) => {
            crate::tls::check_credentials(cert, key).map_err(invalid)?;
            Ok(Some(ServerCredentials { cert: TlsText::new(cert), key: TlsText::new(key) }))
        }
    }
}

/// Adds another listener for the running server's routes (`mongoose.listen`).
///
/// # Safety
/// `config` is null or valid: `listen_url` null or NUL-terminated, the credentials readable.
#[no_mangle]
pub unsafe extern "C" fn pg_server_listen(config: *const PgListenConfig) -> PgStatus {
    // SAFETY: per the contract.
    let Some(config) = (unsafe { config.as_ref() }) else { return last_error::null_argument() };
    if config.listen_url.is_null() {
        return last_error::set(PgStatus::InvalidArgument, "a listen URL");
    }
    // SAFETY: non-null and NUL-terminated per the contract.
    let url = unsafe { CStr::from_ptr(config.listen_url) };
    // SAFETY: per the contract, the credentials are readable for their lengths.
    let tls = match listener_credentials(url, unsafe { config.tls_cert.as_slice() }, unsafe { config.tls_key.as_slice() }) {
        Ok(tls) => tls,
        Err(status) => return status,
    };
    status_of(http_server::listen(url, tls))
}

/// Adds (or replaces) a static-file mount: GET/HEAD of files under `mount.directory` for paths
/// under `mount.prefix` (routes win over mounts; the longest prefix wins among mounts).
///
/// # Safety
/// `mount` points to a valid `PgStaticMount` whose byte strings are readable for their lengths.
#[cfg(feature = "web")]
#[no_mangle]
pub unsafe extern "C" fn pg_server_add_static(mount: *const PgStaticMount) -> PgStatus {
    // SAFETY: per the contract.
    let Some(mount) = (unsafe { mount.as_ref() }) else { return last_error::null_argument() };
    // SAFETY: per the contract.
    let (prefix, directory, index) = unsafe { (mount.prefix.as_slice(), mount.directory.as_slice(), mount.index.as_slice()) };
    let mount = Mount {
        prefix: prefix.to_vec(),
        directory: directory.to_vec(),
        index: index.to_vec(),
        max_age_s: mount.max_age_s,
        auth: mount.auth,
    };
    status_of(http_server::add_static(mount))
}

/// Adds (or replaces) a route. When it replaces one with the same pattern and methods, the old
/// route's handler slots go to `*replaced_out` (the shim releases them), else `UINT32_MAX`.
///
/// # Safety
/// `route` points to a valid `PgRoute` whose pattern is readable; `replaced_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn pg_server_add_route(route: *const PgRoute, replaced_out: *mut PgReplacedSlots) -> PgStatus {
    // SAFETY: per the contract.
    let (Some(route), Some(replaced_out)) = (unsafe { route.as_ref() }, unsafe { replaced_out.as_mut() }) else {
        return last_error::null_argument();
    };
    *replaced_out = PgReplacedSlots { handler_slot: u32::MAX, chunk_slot: u32::MAX };
    // SAFETY: per the contract.
    let pattern = unsafe { route.pattern.as_slice() };
    if pattern.is_empty() || pattern.contains(&0) {
        return last_error::set(PgStatus::InvalidArgument, "a route pattern is non-empty and has no NUL");
    }
    let convention = match route.convention {
        0 => CallingConvention::BodyText,
        1 => CallingConvention::Request,
        _ => return last_error::set(PgStatus::InvalidArgument, "unknown calling convention"),
    };
    let max_body = match route.max_body {
        -1 => None,
        limit => match u64::try_from(limit) {
            Ok(limit) if limit >= 1 => Some(limit),
            _ => return last_error::set(PgStatus::InvalidArgument, "max_body_size must be >= 1 (or None)"),
        },
    };
    let on_chunk = (route.chunk_slot != u32::MAX)
        .then_some(HandlerRef { slot: route.chunk_slot, convention: CallingConvention::Request });
    let route = Route {
        pattern: pattern.to_vec(),
        methods: MethodSet(route.methods),
        needs_auth: route.needs_auth,
        handler: HandlerRef { slot: route.handler_slot, convention },
        on_chunk,
        max_body,
    };
    match http_server::add_route(route) {
        Ok(replaced) => {
            if let Some(old) = replaced {
                replaced_out.handler_slot = old.handler.slot;
                replaced_out.chunk_slot = old.on_chunk.map_or(u32::MAX, |chunk| chunk.slot);
            }
            PgStatus::Ok
        }
        Err(error) => status_of(Err(error)),
    }
}

/// The mask bit of an HTTP method name (GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS), 0 if unknown.
///
/// # Safety
/// `name` points to `name_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn pg_method_bit(name: *const u8, name_len: usize) -> u32 {
    // SAFETY: per the contract.
    let name = unsafe { PgBytes { ptr: name, len: name_len }.as_slice() };
    MethodSet::bit_of(name).unwrap_or(0)
}

/// Runs the event loop (HTTP server and MQTT clients) once, waiting at most `timeout_ms` (≥ 0)
/// for I/O. `NotStarted` when there is nothing to poll.
#[no_mangle]
pub extern "C" fn pg_poll(timeout_ms: c_int) -> PgStatus {
    if timeout_ms < 0 {
        return last_error::set(PgStatus::InvalidArgument, "poll timeout must be >= 0 ms");
    }
    status_of(event_loop::poll(timeout_ms))
}

/// Closes the HTTP server, every MQTT client and every connection (the module's `close()`).
#[no_mangle]
pub extern "C" fn pg_close() -> PgStatus {
    status_of(event_loop::teardown())
}

#[no_mangle]
pub extern "C" fn pg_server_is_running() -> bool {
    http_server::is_running()
}

/// The module's C-heap figures.
///
/// # Safety
/// `stats` is writable.
#[no_mangle]
pub unsafe extern "C" fn pg_heap_stats(stats: *mut PgHeapStats) {
    let figures = crate::heap::stats();
    // SAFETY: per the contract.
    if let Some(stats) = unsafe { stats.as_mut() } {
        *stats = PgHeapStats { used: figures.used, peak: figures.peak, limit: figures.limit, refused: figures.refused };
    }
}

/// Sets the budget for what network input may make the module allocate (0: none).
#[no_mangle]
pub extern "C" fn pg_heap_set_limit(bytes: usize) {
    crate::heap::set_limit(bytes)
}

/// The shim raised (or dropped) the KeyboardInterrupt/SystemExit a callback left: what was held
/// back (MQTT events, HTTP requests) is delivered again from the next poll on.
#[no_mangle]
pub extern "C" fn pg_stop_raised() {
    event_loop::stop_raised()
}

/// True while `pg_poll` runs, i.e. inside a callback: nothing may wait on the loop then.
#[no_mangle]
pub extern "C" fn pg_is_polling() -> bool {
    event_loop::is_polling()
}

/// Looks up a request header case-insensitively; false when absent.
///
/// # Safety
/// `request` is the request of the handler call in progress; `name` points to `name_len` bytes;
/// `value` is writable.
#[no_mangle]
pub unsafe extern "C" fn pg_request_header(
    request: *const PgRequest,
    name: *const u8,
    name_len: usize,
    value: *mut PgBytes,
) -> bool {
    // SAFETY: per the contract.
    let (Some(request), Some(value)) = (unsafe { request.as_ref() }, unsafe { value.as_mut() }) else {
        return false;
    };
    // SAFETY: per the contract.
    let name = unsafe { PgBytes { ptr: name, len: name_len }.as_slice() };
    // SAFETY: `request` is the live request of the call in progress.
    match unsafe { http_server::request_header(request, name) } {
        Some(found) => {
            *value = PgBytes::from_slice(found);
            true
        }
        None => false,
    }
}

/// The `index`th request header; false past the last one.
///
/// # Safety
/// As for `pg_request_header`; `name` and `value` are writable.
#[no_mangle]
pub unsafe extern "C" fn pg_request_header_at(
    request: *const PgRequest,
    index: usize,
    name: *mut PgBytes,
    value: *mut PgBytes,
) -> bool {
    // SAFETY: per the contract.
    let (Some(request), Some(name), Some(value)) =
        (unsafe { request.as_ref() }, unsafe { name.as_mut() }, unsafe { value.as_mut() })
    else {
        return false;
    };
    // SAFETY: `request` is the live request of the call in progress.
    match unsafe { http_server::request_header_at(request, index) } {
        Some((found_name, found_value)) => {
            *name = PgBytes::from_slice(found_name);
            *value = PgBytes::from_slice(found_value);
            true
        }
        None => false,
    }
}

/// The detail of the last `InvalidArgument` (NUL-terminated, valid until the next call).
#[no_mangle]
pub extern "C" fn pg_last_error_message() -> *const c_char {
    last_error::message()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "mqtt")]
    use crate::abi::types::PgMqttFilter;

    /// An entry point called with arguments it must refuse, named for the failure message.
    type RefusedCall = (&'static str, fn() -> PgStatus);

    fn last_message() -> &'static str {
        // SAFETY: the buffer is NUL-terminated and lives for the whole process.
        unsafe { CStr::from_ptr(pg_last_error_message()) }.to_str().unwrap_or("?")
    }

    #[test]
    fn every_invalid_argument_sets_its_own_message_never_a_stale_one() {
        let calls: &[RefusedCall] = &[
            // SAFETY (each): null pointers are what the functions must refuse, not dereference.
            ("start", || unsafe { pg_server_start(core::ptr::null()) }),
            ("route", || unsafe { pg_server_add_route(core::ptr::null(), core::ptr::null_mut()) }),
            #[cfg(feature = "mqtt")]
            ("publish", || unsafe { mqtt::pg_mqtt_publish(1, PgBytes::EMPTY, PgBytes::EMPTY, 0, false, core::ptr::null_mut()) }),
            #[cfg(feature = "mqtt")]
            ("subscribe", || unsafe {
                mqtt::pg_mqtt_subscribe(1, core::ptr::null::<PgMqttFilter>(), 0, core::ptr::null_mut())
            }),
        ];
        for &(name, call) in calls {
            last_error::set(PgStatus::InvalidArgument, "stale message of an earlier call");
            assert_eq!(call(), PgStatus::InvalidArgument, "{name}");
            assert_ne!(last_message(), "stale message of an earlier call", "{name}");
            assert!(!last_message().is_empty(), "{name}");
        }
    }
}
