//! The HTTP listener: frames requests out of each connection's receive buffer (our own loop over
//! `mg_http_parse`, so malformed and oversized requests get a status instead of a silent close),
//! resolves routes, checks Basic auth through the Python callback, calls the handler and writes
//! the reply.

use alloc::vec::Vec;
use core::ffi::{c_int, c_void, CStr};

use super::event_loop;
use super::mongoose::{self as mg, mg_connection, mg_http_message};
use crate::abi::shim::{self, PgCallOutcome};
use super::{mg_str_bytes, send_now, VmThreadCell};
use super::NetError;
use crate::abi::types::{PgBytes, PgReply, PgRequest};
use crate::heap;
use crate::http::auth::BasicCredentials;
use crate::http::limits::{header_line_count, ConnectionClock, Framing, Limits, ParsedHead, Timeout};
use crate::http::reply::{reason_phrase, ReplyHead};
use crate::http::routes::{HandlerRef, Resolution, Route, RouteTable};

const TEXT_PLAIN: &[u8] = b"text/plain; charset=utf-8";
const OUT_OF_MEMORY_REPLY: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 14\r\nConnection: close\r\n\r\nOut of memory\n";
const AUTH_CHALLENGE: &[u8] = b"WWW-Authenticate: Basic realm=\"pythongoose\", charset=\"UTF-8\"\r\n";

/// Routing and policy: only touched in short borrows, never across a call into Python.
struct HttpPolicy {
    routes: RouteTable,
    limits: Limits,
    auth_enabled: bool,
}

/// The running server (its listener lives in the shared event loop's manager).
struct Server {
    policy: HttpPolicy,
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

pub fn start(listen_url: &CStr, limits: Limits, auth_enabled: bool) -> Result<(), NetError> {
    if is_running() {
        return Err(NetError::AlreadyStarted);
    }
    let manager = event_loop::manager();
    // SAFETY: the manager is initialised; the URL is NUL-terminated; the handler is a plain fn.
    let listener = unsafe { mg::mg_listen(manager, listen_url.as_ptr(), Some(on_event), core::ptr::null_mut()) };
    if listener.is_null() {
        event_loop::release_if_unused();
        return Err(NetError::ListenFailed);
    }
    let policy = HttpPolicy { routes: RouteTable::default(), limits, auth_enabled };
    // SAFETY: VM-thread only; nothing else borrows SERVER here.
    unsafe { *SERVER.get() = Some(Server { policy }) };
    Ok(())
}

/// Adds a route; returns the handler it replaced, if any.
pub fn add_route(route: Route) -> Result<Option<HandlerRef>, NetError> {
    with_server(|server| server.policy.routes.add(route)).ok_or(NetError::NotStarted)
}

/// Drops the server's state; the event loop's teardown closes its connections.
pub fn forget() {
    // SAFETY: VM-thread only; called by the teardown, outside any poll.
    unsafe { *SERVER.get() = None };
}

unsafe extern "C" fn on_event(connection: *mut mg_connection, event: c_int, _event_data: *mut c_void) {
    // A connection of a server that was closed (teardown in progress) is left alone.
    if connection.is_null() || !is_running() {
        return;
    }
    let now = event_loop::now_ms();
    match event as u32 {
        mg::MG_EV_ACCEPT => set_clock(connection, ConnectionClock { last_activity_ms: now, request_started_ms: 0 }),
        mg::MG_EV_READ => {
            // SAFETY: Mongoose passes a live connection to its own handler.
            unsafe { serve_buffered_requests(connection) };
            note_arrival(connection, now);
        }
        // SAFETY: as above.
        mg::MG_EV_POLL if unsafe { (*connection).is_accepted() } != 0 => {
            if take_held_back(connection) && !event_loop::stop_pending() {
                // SAFETY: as above.
                unsafe { serve_buffered_requests(connection) };
                note_arrival(connection, now);
            }
            enforce_timeouts(connection, now)
        }
        _ => {}
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
    // SAFETY: a live accepted connection.
    let busy = unsafe { (*c).is_draining() != 0 || (*c).is_closing() != 0 || (*c).send.len > 0 };
    if busy {
        return;
    }
    match limits.timeout(read_clock(c), now) {
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
        if len == 0 || draining {
            return;
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
        let Some(limits) = limits() else { return };
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
    Reply(u16, Vec<u8>),
}

/// What became of a complete request.
enum Served {
    /// Answered; `close`: the connection closes after the reply.
    Replied { close: bool },
    /// Not handed to Python (a stop request is pending): it stays for the next poll.
    HeldBack,
}

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

    // Resolve with a short borrow of the policy, copying out what the rest needs.
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
            Resolution::NotFound if path == b"/" => Admission::Reply(200, Vec::new()),
            Resolution::NotFound => Admission::Reply(404, Vec::new()),
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
        Admission::Serve { handler, check_credentials } => (handler, check_credentials),
    };

    if check_credentials {
        // SAFETY: `message` points into the live buffer.
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
            Some(PgCallOutcome::AuthAccepted) => {}
            Some(PgCallOutcome::AuthRejected) => {
                reply_to.text(401, b"Auth required", AUTH_CHALLENGE);
                return Served::Replied { close };
            }
            other => return reply_to.failed_call(other),
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
    // SAFETY: the reply's pointers are valid until the next Python allocation; sending copies them
    // into Mongoose's (C heap) send buffer first.
    unsafe {
        let (content_type, extra, body) =
            (reply.content_type.as_slice(), reply.extra_headers.as_slice(), reply.body.as_slice());
        // 1xx, 204 and 304 carry no body.
        let body = if status < 200 || status == 204 || status == 304 { &[][..] } else { body };
        reply_to.send(&ReplyHead { status, content_type, content_length: body.len(), extra_headers: extra, close }, body);
    }
    Served::Replied { close }
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

    fn text(&self, status: u16, body: &[u8], extra_headers: &[u8]) {
        let close = self.close;
        self.send(&ReplyHead { status, content_type: TEXT_PLAIN, content_length: body.len(), extra_headers, close }, body);
    }

    fn send(&self, head: &ReplyHead<'_>, body: &[u8]) {
        let body = if self.head_only { &[][..] } else { body };
        let size = 128usize.saturating_add(head.extra_headers.len()).saturating_add(body.len());
        let mut bytes = Vec::new();
        if !heap::admit(size) || bytes.try_reserve_exact(size).is_err() {
            // No room for the reply (the budget or the heap is spent): a fixed 503, then close.
            send_now(self.connection, OUT_OF_MEMORY_REPLY);
            // SAFETY: a live connection; draining flushes what was queued, then closes.
            unsafe { (*self.connection).set_is_draining(1) };
            return;
        }
        head.write(&mut bytes);
        bytes.extend_from_slice(body);
        send_now(self.connection, &bytes);
        if self.close {
            // SAFETY: as above; draining flushes the reply, then closes.
            unsafe { (*self.connection).set_is_draining(1) };
        }
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
