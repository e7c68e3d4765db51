//! The HTTP listener: frames requests out of each connection's receive buffer (our own loop over
//! `mg_http_parse`, so malformed and oversized requests get a status instead of a silent close),
//! resolves routes, checks Basic auth through the Python callback, calls the handler and writes
//! the reply.

mod upload;

use alloc::vec::Vec;
use core::ffi::{c_int, c_void, CStr};

use super::event_loop;
use super::file_stream::{self, OpenError, Pumped};
use super::mongoose::{self as mg, mg_connection, mg_http_message};
use super::push;
use super::tls::{self as net_tls, ServerCredentials};
use crate::abi::shim::{self, PgCallOutcome};
use super::{mg_str_bytes, send_now, VmThreadCell, TLS, WEB};
use super::NetError;
use crate::abi::types::{PgBytes, PgFileKind, PgFileStat, PgReply, PgReplyStream, PgRequest};
use crate::heap;
use crate::http::auth::BasicCredentials;
use crate::http::limits::{header_line_count, ConnectionClock, Framing, Limits, ParsedHead, Timeout};
use crate::http::reply::{reason_phrase, ReplyHead};
use crate::http::routes::{HandlerRef, Resolution, Route, RouteTable};
use crate::http::static_files::{self, FileKind, Mount, RequestFacts, StaticPlan, StaticTable};

const TEXT_PLAIN: &[u8] = b"text/plain; charset=utf-8";
const OUT_OF_MEMORY_REPLY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 14\r\nConnection: close\r\n\r\nOut of memory\n";
const AUTH_CHALLENGE: &[u8] = b"WWW-Authenticate: Basic realm=\"pythongoose\", charset=\"UTF-8\"\r\n";

/// Routing and policy: only touched in short borrows, never across a call into Python.
struct HttpPolicy {
    routes: RouteTable,
    statics: StaticTable,
    limits: Limits,
    auth_enabled: bool,
    /// The CORS header lines every reply carries (empty: CORS is off).
    cors_lines: Vec<u8>,
    /// Some route streams its body (`on_chunk`) or has a body limit of its own: heads are
    /// resolved before their body is buffered.
    body_rules: bool,
}

/// The running server (its listeners live in the shared event loop's manager).
struct Server {
    policy: HttpPolicy,
    /// One entry per listener, in the order they were opened: its TLS credentials, or None for
    /// plain HTTP. A listener's `fn_data` (inherited by what it accepts) is its index + 1.
    listeners: Vec<Option<ServerCredentials>>,
}

static SERVER: VmThreadCell<Option<Server>> = VmThreadCell::new(None);

/// Some connection holds requests back because a stop request was pending.
static BACKLOG: VmThreadCell<bool> = VmThreadCell::new(false);

/// Runs `f` with the server, if one runs; the borrow ends when `f` returns. `f` must not call
/// Mongoose or the shim (either may re-enter the module).
fn with_server<R>(f: impl FnOnce(&mut Server) -> R) -> Option<R> {
    // SAFETY: VM-thread only (see VmThreadCell); per this function's contract no other borrow of
    // SERVER is alive while `f` runs.
    unsafe { (*SERVER.get()).as_mut() }.map(f)
}

fn limits() -> Option<Limits> {
    with_server(|server| server.policy.limits)
}

pub fn is_running() -> bool {
    with_server(|_| ()).is_some()
}

/// Whether requests were held back by a stop (and clears the mark): the next poll serves them
/// without waiting for I/O first.
pub fn take_backlog() -> bool {
    // SAFETY: VM-thread only; a plain swap of a bool.
    unsafe { core::mem::replace(&mut *BACKLOG.get(), false) }
}

fn note_backlog() {
    // SAFETY: VM-thread only; a plain store.
    unsafe { *BACKLOG.get() = true };
}

/// Opens a listener whose connections are served with listener slot `slot` (index + 1).
fn open_listener(listen_url: &CStr, slot: usize) -> Result<(), NetError> {
    let manager = event_loop::manager();
    // SAFETY: the manager is initialised; the URL is NUL-terminated; the handler is a plain fn;
    // fn_data is a number, never dereferenced.
    let listener = unsafe { mg::mg_listen(manager, listen_url.as_ptr(), Some(on_event), slot as *mut c_void) };
    if listener.is_null() {
        return Err(NetError::ListenFailed);
    }
    Ok(())
}

pub fn start(
    listen_url: &CStr,
    tls: Option<ServerCredentials>,
    limits: Limits,
    auth_enabled: bool,
    cors_origin: &[u8],
) -> Result<(), NetError> {
    if is_running() {
        return Err(NetError::AlreadyStarted);
    }
    if let Err(error) = open_listener(listen_url, 1) {
        event_loop::release_if_unused();
        return Err(error);
    }
    let mut cors_lines = Vec::new();
    if !cors_origin.is_empty() {
        cors_lines.extend_from_slice(b"Access-Control-Allow-Origin: ");
        cors_lines.extend_from_slice(cors_origin);
        cors_lines.extend_from_slice(b"\r\n");
        if cors_origin != b"*" {
            cors_lines.extend_from_slice(b"Vary: Origin\r\n");
        }
    }
    let policy = HttpPolicy {
        routes: RouteTable::default(),
        statics: StaticTable::default(),
        limits,
        auth_enabled,
        cors_lines,
        body_rules: false,
    };
    // SAFETY: VM-thread only; nothing else borrows SERVER here.
    unsafe { *SERVER.get() = Some(Server { policy, listeners: alloc::vec![tls] }) };
    Ok(())
}

/// Adds a listener for the running server's routes (e.g. HTTPS beside HTTP).
pub fn listen(listen_url: &CStr, tls: Option<ServerCredentials>) -> Result<(), NetError> {
    let slot = with_server(|server| server.listeners.len() + 1).ok_or(NetError::NotStarted)?;
    open_listener(listen_url, slot)?;
    with_server(|server| server.listeners.push(tls));
    Ok(())
}

/// Starts TLS on a connection accepted by a TLS listener (its `fn_data` names the listener).
fn start_tls_if_listener_has_it(connection: *mut mg_connection) {
    if !TLS {
        return;
    }
    // SAFETY: Mongoose passes a live connection; fn_data is the listener slot number we set.
    let slot = unsafe { (*connection).fn_data } as usize;
    // The credentials are cloned out of the short borrow only as far as a pointer: the server
    // (and its listeners) cannot be dropped by anything mg_tls_init calls.
    let credentials = with_server(|server| {
        server.listeners.get(slot.wrapping_sub(1)).and_then(Option::as_ref).map(|tls| tls as *const ServerCredentials)
    })
    .flatten();
    if let Some(credentials) = credentials {
        // SAFETY: points into SERVER, which only `forget` (teardown, outside any poll) drops.
        net_tls::start_server(connection, unsafe { &*credentials });
    }
}

/// Adds a route; returns the route it replaced, if any.
pub fn add_route(route: Route) -> Result<Option<Route>, NetError> {
    with_server(|server| {
        server.policy.body_rules |= route.on_chunk.is_some() || route.max_body.is_some();
        server.policy.routes.add(route)
    })
    .ok_or(NetError::NotStarted)
}

/// Adds (or replaces) a static-file mount.
#[cfg_attr(not(feature = "web"), allow(dead_code))]
pub fn add_static(mount: Mount) -> Result<(), NetError> {
    match with_server(|server| server.policy.statics.add(mount)) {
        None => Err(NetError::NotStarted),
        Some(Err(message)) => Err(NetError::Invalid(message)),
        Some(Ok(())) => Ok(()),
    }
}

/// Drops the server's state; the event loop's teardown closes its connections.
pub fn forget() {
    if WEB {
        push::forget_all();
        file_stream::forget_all();
    }
    upload::forget_all();
    // SAFETY: VM-thread only; called by the teardown, outside any poll.
    unsafe { *SERVER.get() = None };
}

unsafe extern "C" fn on_event(connection: *mut mg_connection, event: c_int, event_data: *mut c_void) {
    // A connection of a server that was closed (teardown in progress) is left alone.
    if connection.is_null() || !is_running() {
        return;
    }
    // The clock is read only by the events that need it: a WebSocket message (many per read)
    // does not (its peer's last-seen time is set once per read).
    let now = event_loop::now_ms;
    match event as u32 {
        mg::MG_EV_ACCEPT => {
            set_clock(connection, ConnectionClock { last_activity_ms: now(), request_started_ms: 0 });
            start_tls_if_listener_has_it(connection);
        }
        // A WebSocket or event-stream peer: its bytes are not HTTP requests any more.
        mg::MG_EV_READ if WEB && push::is_peer(connection) => push::on_read(connection),
        mg::MG_EV_READ => {
            // SAFETY: Mongoose passes a live connection to its own handler.
            unsafe { serve_buffered_requests(connection) };
            note_arrival(connection, now());
        }
        // SAFETY: as above.
        mg::MG_EV_WRITE if unsafe { (*connection).is_accepted() } != 0 => continue_stream(connection, now()),
        // SAFETY: as above; for MG_EV_POLL the event data is the poll's time.
        mg::MG_EV_POLL if WEB && push::is_peer(connection) => push::on_poll(connection, unsafe { poll_time(event_data) }),
        // SAFETY: as above.
        mg::MG_EV_POLL if unsafe { (*connection).is_accepted() } != 0 => {
            // SAFETY: as above.
            let now = unsafe { poll_time(event_data) };
            continue_stream(connection, now);
            if take_held_back(connection) && !event_loop::stop_pending() {
                // SAFETY: as above.
                unsafe { serve_buffered_requests(connection) };
                note_arrival(connection, now);
            }
            enforce_timeouts(connection, now)
        }
        mg::MG_EV_CLOSE => {
            upload::on_close(connection);
            if WEB {
                file_stream::on_close(connection);
                push::on_close(connection);
            }
        }
        _ => {}
    }
}

/// The time Mongoose hands every connection's MG_EV_POLL (it reads the clock once per poll), or
/// the clock when there is none.
///
/// # Safety
/// `event_data` is MG_EV_POLL's: null or a pointer to a `u64` of milliseconds.
unsafe fn poll_time(event_data: *mut c_void) -> u64 {
    // SAFETY: per the contract.
    unsafe { (event_data as *const u64).as_ref() }.copied().unwrap_or_else(event_loop::now_ms)
}

/// Refills a streaming reply's send buffer; when its last bytes are queued, the requests
/// pipelined behind it are served.
fn continue_stream(connection: *mut mg_connection, now: u64) {
    if !WEB {
        return;
    }
    if let Pumped::Done = file_stream::pump(connection) {
        let mut clock = read_clock(connection);
        clock.last_activity_ms = now;
        set_clock(connection, clock);
        // SAFETY: a live connection inside the poll.
        unsafe { serve_buffered_requests(connection) };
        note_arrival(connection, now);
    }
}

/// Updates the clocks after requests were read (and served): a partial request left in the
/// buffer starts (or keeps) the request timer.
fn note_arrival(connection: *mut mg_connection, now: u64) {
            let mut clock = read_clock(connection);
            clock.last_activity_ms = now;
            // SAFETY: as above.
            let partial = unsafe { (*connection).recv.len } > 0;
            clock.request_started_ms = match (partial, clock.request_started_ms) {
                (false, _) => 0,
                // A streamed upload's timer restarts with each arrival: its whole body may take long.
                (true, _) if upload::is_uploading(connection) => now.max(1),
                (true, 0) => now.max(1),
                (true, started) => started,
            };
            set_clock(connection, clock);
}

/// What the server keeps per connection, in its scratch space (`c->data`, zeroed by Mongoose):
/// no allocation, gone with the connection.
#[derive(Clone, Copy)]
#[repr(C)]
struct ConnectionNotes {
    clock: ConnectionClock,
    /// Requests wait in the receive buffer because a stop request was pending.
    held_back: bool,
}

const _: () = assert!(core::mem::size_of::<ConnectionNotes>() <= super::mongoose::MG_DATA_SIZE as usize);

fn read_notes(c: *mut mg_connection) -> ConnectionNotes {
    // SAFETY: `data` is MG_DATA_SIZE bytes of the live connection, at least the notes' size
    // (checked above); read unaligned because `data` is a byte array. Every bit pattern Mongoose
    // leaves there (zeroes) or we wrote is a valid ConnectionNotes (the bool is only ever 0 or 1).
    unsafe { core::ptr::read_unaligned((*c).data.as_ptr() as *const ConnectionNotes) }
}

fn write_notes(c: *mut mg_connection, notes: ConnectionNotes) {
    // SAFETY: as in `read_notes`.
    unsafe { core::ptr::write_unaligned((*c).data.as_mut_ptr() as *mut ConnectionNotes, notes) }
}

fn read_clock(c: *mut mg_connection) -> ConnectionClock {
    read_notes(c).clock
}

fn set_clock(c: *mut mg_connection, clock: ConnectionClock) {
    write_notes(c, ConnectionNotes { clock, ..read_notes(c) });
}

/// Leaves the rest of the receive buffer for the next poll (a stop request is pending).
fn hold_back(c: *mut mg_connection) {
    write_notes(c, ConnectionNotes { held_back: true, ..read_notes(c) });
    note_backlog();
}

fn take_held_back(c: *mut mg_connection) -> bool {
    let notes = read_notes(c);
    if notes.held_back {
        write_notes(c, ConnectionNotes { held_back: false, ..notes });
    }
    notes.held_back
}

/// 408 for a request that takes too long to arrive; quiet close for an idle keep-alive one.
fn enforce_timeouts(c: *mut mg_connection, now: u64) {
    let Some(limits) = limits() else { return };
    // A TLS handshake must end within the request timeout of the accept (a peer that stops
    // half-way would otherwise hold the socket until the idle timeout). Nothing can be answered
    // yet: the connection just closes.
    // SAFETY: a live accepted connection.
    if unsafe { (*c).is_tls_hs() } != 0 {
        let accepted = read_clock(c).last_activity_ms;
        if limits.request_timeout_ms != 0 && now.saturating_sub(accepted) > limits.request_timeout_ms {
            // SAFETY: as above; Mongoose frees it on its next iteration.
            unsafe { (*c).set_is_closing(1) };
        }
        return;
    }
    // SAFETY: a live accepted connection.
    let busy = unsafe { (*c).is_draining() != 0 || (*c).is_closing() != 0 || (*c).send.len > 0 }
        || (WEB && file_stream::is_streaming(c));
    if busy {
        return;
    }
    let clock = read_clock(c);
    // A keep-alive connection quiet for a while gives its empty buffers back (busy ones keep
    // them: reallocating per request would cost more than it saves).
    if now.saturating_sub(clock.last_activity_ms) >= super::IDLE_BUFFER_RELEASE_MS {
        super::release_idle_buffers(c);
    }
    match limits.timeout(clock, now) {
        Timeout::None => {}
        Timeout::RequestTooSlow => {
            let replier = Replier { connection: c, head_only: false, close: true };
            replier.text(408, reason_phrase(408), b"");
            // SAFETY: as above; the partial request is dropped.
            unsafe { (*c).recv.len = 0 };
        }
        // SAFETY: as above; Mongoose frees it on its next iteration.
        Timeout::Idle => unsafe { (*c).set_is_closing(1) },
    }
}

/// Serves every complete request in the receive buffer (pipelining), in order.
///
/// # Safety
/// `c` is a live Mongoose connection, inside `mg_mgr_poll`.
unsafe fn serve_buffered_requests(c: *mut mg_connection) {
    loop {
        // SAFETY: `c` is live; we read its receive buffer fields.
        let (buf, len, draining) = unsafe { ((*c).recv.buf, (*c).recv.len, (*c).is_draining() != 0) };
        if WEB && push::is_peer(c) {
            // Upgraded by the request just served: frames that came with it are read now, not
            // at the next read (which may never come if the client waits for their answers).
            if len > 0 && !draining {
                push::on_read(c);
            }
            return;
        }
        if len == 0 || draining || (WEB && file_stream::is_streaming(c)) {
            return;
        }
        if upload::is_uploading(c) {
            // SAFETY: `c` is live, inside the poll.
            match unsafe { upload::feed(c) } {
                upload::Fed::Answered => continue,
                upload::Fed::Waiting | upload::Fed::Stopped => return,
            }
        }
        if event_loop::stop_pending() {
            hold_back(c);
            return;
        }
        let mut message = mg_http_message::default();
        // SAFETY: `buf` holds `len` bytes; `message` receives pointers into it.
        let parsed_len = unsafe { mg::mg_http_parse(buf as *const _, len, &mut message) };
        let parsed = match parsed_len {
            n if n < 0 => ParsedHead::Malformed,
            0 => ParsedHead::Partial,
            // The parser keeps MG_MAX_HTTP_HEADERS headers and silently skips the rest.
            // SAFETY: `message.head` points into the live receive buffer.
            _ if message.headers.last().is_some_and(|h| !h.name.buf.is_null())
                && header_line_count(unsafe { mg_str_bytes(&message.head) }) > message.headers.len() =>
            {
                ParsedHead::TooManyHeaders
            }
            n => ParsedHead::Headers {
                head_len: n as usize,
                body_len: message.body.len,
                // SAFETY: `message` points into the live receive buffer.
                chunked: unsafe { header(&mut message, c"Transfer-Encoding") }.is_some(),
            },
        };
        let Some(mut limits) = limits() else { return };
        if let ParsedHead::Headers { head_len, chunked, .. } = parsed {
            if head_len <= limits.max_header_bytes {
                // SAFETY: `message` points into the live receive buffer.
                match unsafe { body_rule(&message) } {
                    BodyRule::Upload(route) => {
                        // SAFETY: as above.
                        if !unsafe { upload::start(c, &mut message, head_len, chunked, route) } {
                            // SAFETY: `c` is live; the refused request is dropped.
                            unsafe { (*c).recv.len = 0 };
                            return;
                        }
                        continue;
                    }
                    BodyRule::Limit(max) => limits.max_body_bytes = usize::try_from(max).unwrap_or(usize::MAX),
                    BodyRule::Server => {}
                }
            }
        }
        match limits.frame(parsed, len) {
            Framing::Incomplete => return,
            Framing::Reject(status) => {
                let replier = Replier { connection: c, head_only: false, close: true };
                replier.text(status, reason_phrase(status), b"");
                // SAFETY: `c` is live; what is left of the broken request is dropped.
                unsafe { (*c).recv.len = 0 };
                return;
            }
            Framing::Complete { head_len, body_len } => {
                // SAFETY: the message is complete in the buffer and stays there during the call.
                let Served::Replied { close } = (unsafe { serve_request(c, &mut message) }) else {
                    // Not handed to Python: it stays in the buffer for the next poll.
                    hold_back(c);
                    return;
                };
                // SAFETY: `c` is live; the request's bytes are consumed only after it was served.
                unsafe {
                    mg::mg_iobuf_del(&mut (*c).recv, 0, head_len + body_len);
                    if close {
                        (*c).set_is_draining(1);
                    }
                }
            }
        }
    }
}

/// How a request's body is taken, by its route.
enum BodyRule {
    /// Buffered whole, within the server's limit.
    Server,
    /// Buffered whole, within the route's own limit.
    Limit(u64),
    /// Streamed to the route's `on_chunk`.
    Upload(upload::UploadRoute),
}

/// The body rule of the route a complete head reaches.
///
/// # Safety
/// `message` points into the live receive buffer.
unsafe fn body_rule(message: &mg_http_message) -> BodyRule {
    // SAFETY: per the contract.
    let (method, path) = unsafe { (mg_str_bytes(&message.method), mg_str_bytes(&message.uri)) };
    with_server(|server| {
        if !server.policy.body_rules {
            return BodyRule::Server;
        }
        match server.policy.routes.resolve(method, path) {
            Resolution::Found(route) => match (route.on_chunk, route.max_body) {
                (Some(on_chunk), max_body) => BodyRule::Upload(upload::UploadRoute {
                    on_chunk,
                    max_body,
                    check_credentials: route.needs_auth && server.policy.auth_enabled,
                }),
                (None, Some(max)) => BodyRule::Limit(max),
                (None, None) => BodyRule::Server,
            },
            _ => BodyRule::Server,
        }
    })
    .unwrap_or(BodyRule::Server)
}

/// A header's value, looked up case-insensitively.
///
/// # Safety
/// `message` points into a live buffer.
unsafe fn header<'a>(message: &mut mg_http_message, name: &CStr) -> Option<&'a [u8]> {
    // SAFETY: `message` is a parsed message; the name is NUL-terminated.
    let value = unsafe { mg::mg_http_get_header(message, name.as_ptr()) };
    // SAFETY: a non-null result points into `message`'s header array, whose bytes live in the buffer.
    unsafe { value.as_ref().map(|v| mg_str_bytes(v)) }
}

/// Whether the client asked for the connection to close after this reply.
fn wants_close(protocol: &[u8], connection_header: Option<&[u8]>) -> bool {
    match connection_header {
        Some(value) if value.eq_ignore_ascii_case(b"close") => true,
        Some(value) if value.eq_ignore_ascii_case(b"keep-alive") => false,
        _ => protocol.eq_ignore_ascii_case(b"HTTP/1.0"),
    }
}

enum Admission {
    Serve { handler: HandlerRef, check_credentials: bool },
    /// A static-file mount matched: the mount (a copy) and where the rest of the path starts.
    Static { mount: Mount, rest_start: usize, check_credentials: bool },
    Reply(u16, Vec<u8>),
}

/// What became of a complete request.
enum Served {
    /// Answered; `close`: the connection closes after the reply.
    Replied { close: bool },
    /// Not handed to Python (a stop request is pending): it stays for the next poll.
    HeldBack,
}

const CORS_PREFLIGHT_HEADERS: &[u8] =
    b"Access-Control-Allow-Methods: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS\r\nAccess-Control-Max-Age: 600\r\n";

/// Serves one complete request.
///
/// # Safety
/// `c` is live and `message` points into its receive buffer, which is not touched until return.
unsafe fn serve_request(c: *mut mg_connection, message: &mut mg_http_message) -> Served {
    // SAFETY: all of `message`'s strings point into the live receive buffer.
    let (method, path, protocol) =
        unsafe { (mg_str_bytes(&message.method), mg_str_bytes(&message.uri), mg_str_bytes(&message.proto)) };
    // SAFETY: as above.
    let close = wants_close(protocol, unsafe { header(message, c"Connection") });
    let reply_to = Replier { connection: c, head_only: method == b"HEAD", close };

    // SAFETY: as above.
    let preflight = method == b"OPTIONS" && unsafe { header(message, c"Access-Control-Request-Method") }.is_some();
    if preflight && with_server(|server| !server.policy.cors_lines.is_empty()) == Some(true) {
        // A browser's CORS preflight: answered before routes and auth (it never carries credentials).
        // SAFETY: as above.
        let asked = unsafe { header(message, c"Access-Control-Request-Headers") }
            .filter(|h| crate::http::reply::is_safe_header_text(h));
        let mut extra = Vec::new();
        extra.extend_from_slice(CORS_PREFLIGHT_HEADERS);
        extra.extend_from_slice(b"Access-Control-Allow-Headers: ");
        extra.extend_from_slice(asked.unwrap_or(b"Authorization, Content-Type"));
        extra.extend_from_slice(b"\r\n");
        reply_to.send(&ReplyHead { status: 204, content_type: b"", content_length: 0, extra_headers: &extra, server_headers: b"", close }, b"");
        return Served::Replied { close };
    }

    if WEB && method == b"GET" {
        if let Some((index, _, needs_auth)) = push::find_endpoint(path) {
            if needs_auth && with_server(|server| server.policy.auth_enabled) == Some(true) {
                // SAFETY: `message` points into the live buffer.
                if let Err(served) = unsafe { check_auth(message, &reply_to) } {
                    return served;
                }
            }
            let cors = with_server(|server| server.policy.cors_lines.clone()).unwrap_or_default();
            // SAFETY: as above.
            if unsafe { push::open(c, message, index, &cors) } {
                return Served::Replied { close: false };
            }
            reply_to.text(400, b"Bad Request: a WebSocket handshake was expected", b"");
            return Served::Replied { close };
        }
    }

    // Resolve with a short borrow of the policy, copying out what the rest needs. Explicit
    // routes win over static mounts.
    let admission = with_server(|server| match server.policy.routes.resolve(method, path) {
            Resolution::Found(route) => Admission::Serve {
                handler: route.handler,
                check_credentials: route.needs_auth && server.policy.auth_enabled,
            },
            Resolution::MethodNotAllowed(allowed) => {
                let mut allow = Vec::new();
                allowed.write_names(&mut allow);
                Admission::Reply(405, allow)
            }
            Resolution::NotFound => match if WEB { server.policy.statics.find(path) } else { None } {
                Some((_, mount, rest)) => Admission::Static {
                    mount: mount.clone(),
                    rest_start: path.len() - rest.len(),
                    check_credentials: mount.auth && server.policy.auth_enabled,
                },
                None if path == b"/" => Admission::Reply(200, Vec::new()),
                None => Admission::Reply(404, Vec::new()),
            },
    });
    let Some(admission) = admission else { return Served::Replied { close: true } };
    let (handler, check_credentials) = match admission {
        Admission::Reply(405, allow) => {
            let mut extra = Vec::with_capacity(allow.len() + 9);
            extra.extend_from_slice(b"Allow: ");
            extra.extend_from_slice(&allow);
            extra.extend_from_slice(b"\r\n");
            reply_to.text(405, b"Method Not Allowed", &extra);
            return Served::Replied { close };
        }
        Admission::Reply(status, _) => {
            let body: &[u8] = if status == 200 { b"OK" } else { reason_phrase(status) };
            reply_to.text(status, body, b"");
            return Served::Replied { close };
        }
        Admission::Static { mount, rest_start, check_credentials } => {
            if check_credentials {
                // SAFETY: `message` points into the live buffer.
                if let Err(served) = unsafe { check_auth(message, &reply_to) } {
                    return served;
                }
            }
            let relative = match static_files::safe_relative_path(path.get(rest_start..).unwrap_or_default()) {
                Ok(relative) => relative,
                Err(static_files::PathError::BadRequest) => {
                    reply_to.text(400, reason_phrase(400), b"");
                    return Served::Replied { close };
                }
                Err(static_files::PathError::NotFound) => {
                    reply_to.text(404, reason_phrase(404), b"");
                    return Served::Replied { close };
                }
            };
            // SAFETY: `message` points into the live buffer.
            return unsafe { serve_file(message, &reply_to, &mount, &relative, None) };
        }
        Admission::Serve { handler, check_credentials } => (handler, check_credentials),
    };

    if check_credentials {
        // SAFETY: `message` points into the live buffer.
        if let Err(served) = unsafe { check_auth(message, &reply_to) } {
            return served;
        }
    }

    // SAFETY: `message`'s strings point into the live buffer.
    let request = unsafe {
        PgRequest {
            method: PgBytes::from_slice(method),
            path: PgBytes::from_slice(path),
            query: PgBytes::from_slice(mg_str_bytes(&message.query)),
            body: PgBytes::from_slice(mg_str_bytes(&message.body)),
            message: message as *const mg_http_message as *const c_void,
        }
    };
    let mut reply = PgReply::default();
    // SAFETY: `request` and `reply` outlive the call; the shim fills `reply`.
    let outcome = PgCallOutcome::from_code(unsafe {
        shim::pg_shim_call_handler(handler.slot, handler.convention as u8, &request, &mut reply)
    });
    event_loop::note_outcome(outcome);
    if outcome != Some(PgCallOutcome::Ok) {
        return reply_to.failed_call(outcome);
    }
    let status = u16::try_from(reply.status).ok().filter(|s| (100..=599).contains(s)).unwrap_or(500);
    if WEB && reply.stream != PgReplyStream::None as u8 {
        // SAFETY: the reply's pointers are valid until the next Python allocation: copied first.
        let (file_path, content_type, extra) = unsafe {
            (reply.stream_path.as_slice().to_vec(), reply.content_type.as_slice().to_vec(), reply.extra_headers.as_slice().to_vec())
        };
        let custom = StreamedReply { content_type, extra_headers: extra };
        if reply.stream == PgReplyStream::Template as u8 {
            return serve_template(&reply_to, &file_path, &custom);
        }
        let (directory, name) = split_file_path(&file_path);
        let mount = Mount { prefix: b"/".to_vec(), directory, index: b"index.html".to_vec(), max_age_s: 0, auth: false };
        // SAFETY: `message` points into the live buffer.
        return unsafe { serve_file(message, &reply_to, &mount, &name, Some(&custom)) };
    }
    // SAFETY: the reply's pointers are valid until the next Python allocation; sending copies them
    // into Mongoose's (C heap) send buffer first.
    unsafe {
        let (content_type, extra, body) =
            (reply.content_type.as_slice(), reply.extra_headers.as_slice(), reply.body.as_slice());
        // 1xx, 204 and 304 carry no body.
        let body = if status < 200 || status == 204 || status == 304 { &[][..] } else { body };
        reply_to.send(
            &ReplyHead { status, content_type, content_length: body.len(), extra_headers: extra, server_headers: b"", close },
            body,
        );
    }
    Served::Replied { close }
}

/// Checks the request's Basic credentials with the auth callback: Err with the reply already
/// sent (401, or the failed call's status) when they are not accepted.
///
/// # Safety
/// `message` points into the live receive buffer.
unsafe fn check_auth(message: &mut mg_http_message, reply_to: &Replier) -> Result<(), Served> {
    // SAFETY: per the contract.
    let credentials = unsafe { header(message, c"Authorization") }.and_then(BasicCredentials::from_header);
    let verdict = match &credentials {
        None => Some(PgCallOutcome::AuthRejected),
        // SAFETY: the shim only reads the two byte ranges during the call.
        Some(creds) => PgCallOutcome::from_code(unsafe {
            shim::pg_shim_check_auth(
                creds.user().as_ptr(),
                creds.user().len(),
                creds.password().as_ptr(),
                creds.password().len(),
            )
        }),
    };
    event_loop::note_outcome(verdict);
    match verdict {
        Some(PgCallOutcome::AuthAccepted) => Ok(()),
        Some(PgCallOutcome::AuthRejected) => {
            reply_to.text(401, b"Auth required", AUTH_CHALLENGE);
            Err(Served::Replied { close: reply_to.close })
        }
        other => Err(reply_to.failed_call(other)),
    }
}

/// What a handler's `File(...)` or `Template(...)` set besides the path.
struct StreamedReply {
    /// Empty: from the file name's extension.
    content_type: Vec<u8>,
    /// The handler's header lines.
    extra_headers: Vec<u8>,
}

/// `dir/name` -> (`dir`, `name`); a bare name is in `.`; `/name` is in `/`.
fn split_file_path(path: &[u8]) -> (Vec<u8>, Vec<u8>) {
    match path.iter().rposition(|b| *b == b'/') {
        Some(0) => (b"/".to_vec(), path.get(1..).unwrap_or_default().to_vec()),
        Some(slash) => (path.get(..slash).unwrap_or_default().to_vec(), path.get(slash + 1..).unwrap_or_default().to_vec()),
        None => (b".".to_vec(), path.to_vec()),
    }
}

/// The VFS's answer about `path` (a Python VFS may raise: then it is "missing", and a stop
/// request it raised is kept).
fn stat(path: &[u8]) -> FileKind {
    let mut facts = PgFileStat::default();
    // SAFETY: `path` is readable and `facts` writable during the call.
    let outcome = PgCallOutcome::from_code(unsafe { shim::pg_shim_file_stat(path.as_ptr(), path.len(), &mut facts) });
    event_loop::note_outcome(outcome);
    match (outcome, facts.kind) {
        (Some(PgCallOutcome::Ok), kind) if kind == PgFileKind::File as u8 => FileKind::File { size: facts.size, mtime: facts.mtime },
        (Some(PgCallOutcome::Ok), kind) if kind == PgFileKind::Directory as u8 => FileKind::Directory,
        _ => FileKind::Missing,
    }
}

/// Answers with a file of `mount` (a static mount, or the folder of a handler's `File`).
///
/// # Safety
/// `message` points into the receive buffer of `reply_to`'s connection.
unsafe fn serve_file(
    message: &mut mg_http_message,
    reply_to: &Replier,
    mount: &Mount,
    relative: &[u8],
    custom: Option<&StreamedReply>,
) -> Served {
    let close = reply_to.close;
    // SAFETY: per the contract, every header points into the live buffer.
    let facts = unsafe {
        RequestFacts {
            method: mg_str_bytes(&message.method),
            if_none_match: header(message, c"If-None-Match"),
            range: header(message, c"Range"),
            if_range: header(message, c"If-Range"),
            accept_encoding: header(message, c"Accept-Encoding"),
            url_path: custom.is_none().then(|| mg_str_bytes(&message.uri)),
            url_query: mg_str_bytes(&message.query),
        }
    };
    let plan = static_files::plan(mount, relative, &facts, stat);
    if event_loop::stop_pending() {
        // A Python VFS raised KeyboardInterrupt/SystemExit while it was asked: like a handler.
        return reply_to.failed_call(Some(PgCallOutcome::Stopping));
    }
    let user_headers = custom.map(|c| c.extra_headers.as_slice()).unwrap_or_default();
    match plan {
        StaticPlan::Reject { status, extra_headers } => {
            reply_to.text(status, reason_phrase(status), &extra_headers);
            Served::Replied { close }
        }
        StaticPlan::NotModified { extra_headers } => {
            let extra = joined_headers(&extra_headers, user_headers);
            reply_to.send(&ReplyHead { status: 304, content_type: b"", content_length: 0, extra_headers: &extra, server_headers: b"", close }, b"");
            Served::Replied { close }
        }
        StaticPlan::Send { status, file_path, offset, length, content_type, extra_headers } => {
            let content_type = match custom {
                Some(custom) if !custom.content_type.is_empty() => custom.content_type.as_slice(),
                _ => content_type,
            };
            let Ok(content_length) = usize::try_from(length) else {
                reply_to.text(500, b"Internal Server Error: file too large", b"");
                return Served::Replied { close };
            };
            let id = match file_stream::open(&file_path, false) {
                Ok(id) => id,
                Err(error) => return reply_to.failed_open(error),
            };
            if let Err(error) = file_stream::seek(id, offset) {
                file_stream::discard(id);
                return reply_to.failed_open(error);
            }
            let extra = joined_headers(&extra_headers, user_headers);
            let head = ReplyHead { status, content_type, content_length, extra_headers: &extra, server_headers: b"", close };
            reply_to.stream(&head, id, length, None)
        }
    }
}

/// Answers with a handler's `Template(path, values)`: every `{{name}}` replaced by its escaped
/// value. The file is read twice: once for the names (each value is fetched once; a missing one
/// is a 500 before anything is sent) and the length, then streamed.
fn serve_template(reply_to: &Replier, path: &[u8], custom: &StreamedReply) -> Served {
    let close = reply_to.close;
    let id = match file_stream::open(path, true) {
        Ok(id) => id,
        Err(error) => return reply_to.failed_open(error),
    };
    let summary = match file_stream::summarise_template(id) {
        Ok(summary) => summary,
        Err(error) => {
            file_stream::discard(id);
            return reply_to.failed_open(error);
        }
    };
    let values = match file_stream::template_values(id, &summary.names) {
        Ok(values) => values,
        Err(error) => {
            file_stream::discard(id);
            return reply_to.failed_open(error);
        }
    };
    let lengths: Vec<usize> = values.iter().map(|(_, v)| v.len()).collect();
    let Some(length) = crate::http::template::content_length(&summary, &lengths) else {
        file_stream::discard(id);
        reply_to.text(500, b"Internal Server Error: template too large", b"");
        return Served::Replied { close };
    };
    if let Err(error) = file_stream::rewind(id) {
        file_stream::discard(id);
        return reply_to.failed_open(error);
    }
    let content_type = if custom.content_type.is_empty() { static_files::content_type(path) } else { custom.content_type.as_slice() };
    let Ok(content_length) = usize::try_from(length) else {
        file_stream::discard(id);
        reply_to.text(500, b"Internal Server Error: template too large", b"");
        return Served::Replied { close };
    };
    let head = ReplyHead { status: 200, content_type, content_length, extra_headers: &custom.extra_headers, server_headers: b"", close };
    reply_to.stream(&head, id, length, Some(values))
}

/// The plan's header lines, then the handler's (a handler's own Cache-Control replaces ours).
fn joined_headers(plan_headers: &[u8], user_headers: &[u8]) -> Vec<u8> {
    let user_sets_cache = user_headers
        .split(|b| *b == b'\n')
        .any(|line| line.len() >= 14 && line.get(..14).is_some_and(|n| n.eq_ignore_ascii_case(b"cache-control:")));
    let mut out = Vec::with_capacity(plan_headers.len() + user_headers.len());
    for line in plan_headers.split_inclusive(|b| *b == b'\n') {
        let is_cache = line.len() >= 14 && line.get(..14).is_some_and(|n| n.eq_ignore_ascii_case(b"cache-control:"));
        if !(user_sets_cache && is_cache) {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(user_headers);
    out
}

/// Where and how a reply goes: HEAD requests get the head only; `close` adds
/// `Connection: close` and drains the connection after the reply.
#[derive(Clone, Copy)]
struct Replier {
    /// Live for the whole request (the replier never outlives `serve_request`).
    connection: *mut mg_connection,
    head_only: bool,
    close: bool,
}

impl Replier {
    /// Replies to a call that did not return normally (a call that never ran holds the request
    /// back instead). A handler interrupted by KeyboardInterrupt/SystemExit gets 503; the
    /// connection stays open for the requests behind it, served after the stop.
    fn failed_call(&self, outcome: Option<PgCallOutcome>) -> Served {
        let (status, body): (u16, &[u8]) = match outcome {
            Some(PgCallOutcome::Deferred) => return Served::HeldBack,
            Some(PgCallOutcome::Stopping) => (503, b"Service Unavailable"),
            Some(PgCallOutcome::BadBodyText) => (400, b"Bad Request: body is not UTF-8 text"),
            Some(PgCallOutcome::Failed) => (500, b"Internal Server Error"),
            _ => (500, b"Internal Server Error: unexpected outcome"),
        };
        self.text(status, body, b"");
        Served::Replied { close: self.close }
    }

    /// Replies to a file that could not be opened or read before anything was sent.
    fn failed_open(&self, error: OpenError) -> Served {
        match error {
            OpenError::Call(Some(PgCallOutcome::Failed)) => {
                self.text(500, b"Internal Server Error", b"");
                Served::Replied { close: self.close }
            }
            OpenError::Call(outcome) => self.failed_call(outcome),
            OpenError::OutOfMemory => {
                send_now(self.connection, OUT_OF_MEMORY_REPLY);
                // SAFETY: a live connection; draining flushes the reply, then closes.
                unsafe { (*self.connection).set_is_draining(1) };
                Served::Replied { close: true }
            }
        }
    }

    fn text(&self, status: u16, body: &[u8], extra_headers: &[u8]) {
        let close = self.close;
        self.send(
            &ReplyHead { status, content_type: TEXT_PLAIN, content_length: body.len(), extra_headers, server_headers: b"", close },
            body,
        );
    }

    fn send(&self, head: &ReplyHead<'_>, body: &[u8]) {
        let body = if self.head_only { &[][..] } else { body };
        if self.queue(head, body) && self.close {
            // SAFETY: a live connection; draining flushes the reply, then closes.
            unsafe { (*self.connection).set_is_draining(1) };
        }
    }

    /// Sends a streamed reply: its head, then `length` bytes of opened file `id` (a template's
    /// text when `template` holds its values). For HEAD, an empty body, or a head that could not
    /// be queued, the file is closed at once.
    fn stream(&self, head: &ReplyHead<'_>, id: u32, length: u64, template: Option<file_stream::TemplateValues>) -> Served {
        if !self.queue(head, b"") || self.head_only || length == 0 {
            file_stream::discard(id);
            if self.close {
                // SAFETY: a live connection; draining sends the head, then closes.
                unsafe { (*self.connection).set_is_draining(1) };
            }
            return Served::Replied { close: self.close };
        }
        file_stream::start(self.connection, id, length, template, self.close);
        // The stream closes the connection itself when it ends (`close`): not at once.
        Served::Replied { close: false }
    }

    /// Queues head and body, with the server's own header lines (CORS); on no memory a fixed 503
    /// and the connection closes (false).
    fn queue(&self, head: &ReplyHead<'_>, body: &[u8]) -> bool {
        let server_lines = with_server(|server| server.policy.cors_lines.len()).unwrap_or(0);
        let size = 160usize.saturating_add(head.extra_headers.len()).saturating_add(server_lines).saturating_add(body.len());
        let mut bytes = Vec::new();
        if !heap::admit(size) || bytes.try_reserve_exact(size).is_err() {
            // No room for the reply (the budget or the heap is spent): a fixed 503, then close.
            send_now(self.connection, OUT_OF_MEMORY_REPLY);
            // SAFETY: a live connection; draining flushes what was queued, then closes.
            unsafe { (*self.connection).set_is_draining(1) };
            return false;
        }
        let written = with_server(|server| {
            ReplyHead { server_headers: &server.policy.cors_lines, ..*head }.write(&mut bytes);
        });
        if written.is_none() {
            head.write(&mut bytes);
        }
        bytes.extend_from_slice(body);
        send_now(self.connection, &bytes);
        true
    }
}

/// A header of the request being served, for the shim's `request.header(name)`.
///
/// # Safety
/// `request.message` points to the live parsed message of a handler call in progress.
pub unsafe fn request_header<'a>(request: &PgRequest, name: &[u8]) -> Option<&'a [u8]> {
    // SAFETY: per the contract, `message` is the live message of the running call.
    let message = unsafe { (request.message as *const mg_http_message).as_ref()? };
    message.headers.iter().take_while(|h| !h.name.buf.is_null()).find_map(|h| {
        // SAFETY: header strings point into the live receive buffer.
        let header_name = unsafe { mg_str_bytes(&h.name) };
        // SAFETY: as above.
        header_name.eq_ignore_ascii_case(name).then(|| unsafe { mg_str_bytes(&h.value) })
    })
}

/// The `index`th header `(name, value)` of the request being served.
///
/// # Safety
/// As for `request_header`.
pub unsafe fn request_header_at<'a>(request: &PgRequest, index: usize) -> Option<(&'a [u8], &'a [u8])> {
    // SAFETY: per the contract, `message` is the live message of the running call.
    let message = unsafe { (request.message as *const mg_http_message).as_ref()? };
    let header = message.headers.get(index).filter(|h| !h.name.buf.is_null())?;
    // SAFETY: header strings point into the live receive buffer.
    unsafe { Some((mg_str_bytes(&header.name), mg_str_bytes(&header.value))) }
}
