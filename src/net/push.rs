//! Server push: WebSocket and Server-Sent Events endpoints (`mongoose.websocket`, `mongoose.sse`)
//! and their live peers. Mongoose does the WebSocket handshake and frames what is sent; what a
//! client sends is read by `http::ws` (checked, unmasked and reassembled in place, every frame of
//! a read in one pass): Mongoose's own reader is taken off the connection at the upgrade. This
//! layer answers pings and close frames and adds what a board needs: a message size limit
//! (1009, from the frame header), protocol errors (1002), UTF-8 checks for text (1007), server
//! pings that close a peer that stopped answering, SSE keepalives, and a send-buffer limit that
//! drops a peer reading too slowly instead of buffering for it without bound. Python sees each
//! peer as an object the shim makes on `Opened` and forgets on `Closed`.

use alloc::vec::Vec;
use core::ffi::{c_int, c_void};

use super::event_loop;
use super::mongoose::{self as mg, mg_connection, mg_http_message};
use super::{mg_str_bytes, send_now, VmThreadCell};
use crate::abi::shim::{self, PgCallOutcome};
use crate::abi::types::{PgBytes, PgPushEvent, PgPushEventKind, PgPushKind};
use crate::heap;
use crate::http::routes::pattern_matches;
use crate::http::sse;
use crate::http::ws::{self, Event, Flow, Reassembly};

const OP_TEXT: c_int = ws::OP_TEXT as c_int;
const OP_BINARY: c_int = ws::OP_BINARY as c_int;
const OP_CLOSE: c_int = ws::OP_CLOSE as c_int;
const OP_PING: c_int = ws::OP_PING as c_int;
const OP_PONG: c_int = ws::OP_PONG as c_int;

/// A peer whose send buffer holds more than this is reading too slowly: it is dropped.
#[cfg(target_os = "none")]
pub const MAX_PENDING_SEND: usize = 16 * 1024;
#[cfg(not(target_os = "none"))]
pub const MAX_PENDING_SEND: usize = 256 * 1024;

/// Close codes (RFC 6455, 7.4.1).
const CLOSE_ABNORMAL: u16 = 1006;
const CLOSE_NO_STATUS: u16 = 1005;
const CLOSE_INVALID_TEXT: u16 = 1007;
/// "Policy violation": the peer did not read what it was sent (dropped, not buffered without bound).
const CLOSE_TOO_SLOW: u16 = 1008;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    WebSocket { max_message: usize },
    EventStream,
}

/// One registered endpoint.
pub struct Endpoint {
    pub pattern: Vec<u8>,
    pub kind: Kind,
    pub needs_auth: bool,
    pub on_open: u32,
    pub on_message: u32,
    pub on_close: u32,
    /// Ping (WebSocket) or keepalive (SSE) interval; 0: never.
    pub interval_ms: u64,
}

struct Peer {
    id: u32,
    /// Live until its MG_EV_CLOSE, when the peer is removed.
    connection: *mut mg_connection,
    endpoint: usize,
    /// When the peer last sent anything (a pong included).
    last_seen_ms: u64,
    /// When the last ping or keepalive went out (or the peer opened).
    last_tick_ms: u64,
    /// A ping went out at `last_tick_ms`: the peer must have sent something since by the next.
    pinged: bool,
    /// The close code Python will see: the peer's, ours, or 1006 when the link just dropped.
    close_code: u16,
    /// Python called close() or the server dropped it: sends are refused from then on.
    closing: bool,
    /// A fragmented message being received (its bytes at the front of the receive buffer).
    reassembly: Reassembly,
}

struct Push {
    endpoints: Vec<Endpoint>,
    peers: Vec<Peer>,
    next_id: u32,
}

static PUSH: VmThreadCell<Push> = VmThreadCell::new(Push { endpoints: Vec::new(), peers: Vec::new(), next_id: 1 });

/// Runs `f` with the push state; the borrow ends when `f` returns. `f` must not call Mongoose or
/// the shim.
fn with_push<R>(f: impl FnOnce(&mut Push) -> R) -> R {
    // SAFETY: VM-thread only (see VmThreadCell); per this function's contract no other borrow of
    // PUSH is alive while `f` runs.
    f(unsafe { &mut *PUSH.get() })
}

/// Adds (or replaces, same pattern) an endpoint.
pub fn add_endpoint(endpoint: Endpoint) -> Result<(), &'static str> {
    with_push(|push| {
        if let Some(existing) = push.endpoints.iter_mut().find(|e| e.pattern == endpoint.pattern) {
            *existing = endpoint;
            return Ok(());
        }
        push.endpoints.try_reserve(1).map_err(|_| "out of memory")?;
        push.endpoints.push(endpoint);
        Ok(())
    })
}

/// The server is torn down: endpoints and peers go (their connections are freed by the teardown).
pub fn forget_all() {
    with_push(|push| {
        push.endpoints = Vec::new();
        push.peers = Vec::new();
    });
}

/// The endpoint a GET of `path` reaches: its index, kind and whether it needs credentials.
pub fn find_endpoint(path: &[u8]) -> Option<(usize, Kind, bool)> {
    with_push(|push| {
        push.endpoints
            .iter()
            .enumerate()
            .find(|(_, e)| pattern_matches(&e.pattern, path))
            .map(|(index, e)| (index, e.kind, e.needs_auth))
    })
}

fn peer_of(c: *mut mg_connection) -> Option<u32> {
    with_push(|push| push.peers.iter().find(|p| p.connection == c).map(|p| p.id))
}

/// Whether `c` is a push peer (its incoming bytes are not HTTP requests any more).
pub fn is_peer(c: *mut mg_connection) -> bool {
    peer_of(c).is_some()
}

/// Hands an event to the shim.
fn deliver(event: &PgPushEvent) {
    // SAFETY: the event and the bytes it points to outlive the call.
    let outcome = PgCallOutcome::from_code(unsafe { shim::pg_shim_push_event(event) });
    event_loop::note_outcome(outcome);
}

fn event(kind: PgPushEventKind, peer: u32, endpoint: &Endpoint, callback: u32) -> PgPushEvent {
    PgPushEvent {
        kind: kind as u8,
        peer_kind: match endpoint.kind {
            Kind::WebSocket { .. } => PgPushKind::WebSocket as u8,
            Kind::EventStream => PgPushKind::EventStream as u8,
        },
        peer,
        callback_slot: callback,
        path: PgBytes::EMPTY,
        query: PgBytes::EMPTY,
        data: PgBytes::EMPTY,
        binary: false,
        code: 0,
    }
}

/// Accepts a request for endpoint `index` on `c` (credentials already checked): upgrades it to
/// a WebSocket or starts the event stream, then runs `on_open`. False when the request was not a
/// WebSocket handshake (the caller answers it).
///
/// # Safety
/// `c` is live and `message` points into its receive buffer.
pub unsafe fn open(c: *mut mg_connection, message: &mut mg_http_message, index: usize, server_headers: &[u8]) -> bool {
    let Some(kind) = with_push(|push| push.endpoints.get(index).map(|e| e.kind)) else {
        return false;
    };
    match kind {
        Kind::WebSocket { .. } => {
            // SAFETY: per the contract.
            let upgrade = unsafe { header(message, c"Upgrade") };
            // SAFETY: as above.
            let key = unsafe { header(message, c"Sec-WebSocket-Key") };
            if !upgrade.is_some_and(|u| u.eq_ignore_ascii_case(b"websocket")) || key.is_none() {
                return false;
            }
            // SAFETY: a live connection and its parsed request; Mongoose writes the 101 reply.
            // Its frame reader (the protocol handler it sets) is taken off again: `on_read` reads
            // the frames.
            unsafe {
                mg::mg_ws_upgrade(c, message, core::ptr::null());
                (*c).pfn = None;
                (*c).pfn_data = core::ptr::null_mut();
            }
        }
        Kind::EventStream => {
            let mut head = Vec::new();
            if !heap::admit(256) || head.try_reserve(160 + server_headers.len()).is_err() {
                return false;
            }
            sse::stream_head(server_headers, &mut head);
            send_now(c, &head);
        }
    }
    let now = event_loop::now_ms();
    let id = with_push(|push| {
        let id = push.next_id;
        push.next_id = push.next_id.checked_add(1).unwrap_or(1);
        if push.peers.try_reserve(1).is_err() {
            return None;
        }
        push.peers.push(Peer {
            id,
            connection: c,
            endpoint: index,
            last_seen_ms: now,
            last_tick_ms: now,
            pinged: false,
            close_code: CLOSE_ABNORMAL,
            closing: false,
            reassembly: Reassembly::default(),
        });
        Some(id)
    });
    let Some(id) = id else {
        // SAFETY: a live connection that cannot be tracked: it goes.
        unsafe { (*c).set_is_closing(1) };
        return true;
    };
    let Some(mut opened) =
        with_push(|push| push.endpoints.get(index).map(|e| event(PgPushEventKind::Opened, id, e, e.on_open)))
    else {
        return true;
    };
    // SAFETY: per the contract, the path and query point into the live receive buffer.
    unsafe {
        opened.path = PgBytes::from_slice(mg_str_bytes(&message.uri));
        opened.query = PgBytes::from_slice(mg_str_bytes(&message.query));
    }
    deliver(&opened);
    true
}

/// # Safety
/// `message` points into a live buffer.
unsafe fn header<'a>(message: &mut mg_http_message, name: &core::ffi::CStr) -> Option<&'a [u8]> {
    // SAFETY: `message` is a parsed message; the name is NUL-terminated.
    let value = unsafe { mg::mg_http_get_header(message, name.as_ptr()) };
    // SAFETY: a non-null result points into `message`'s header array, whose bytes live in the buffer.
    unsafe { value.as_ref().map(|v| mg_str_bytes(v)) }
}

/// Bytes arrived on a push peer. A WebSocket's complete frames are read (`ws::read_frames`):
/// each message goes to Python's `on_message`, pings are answered, a close frame is answered and
/// the connection drains; a broken rule closes it (1002, 1009, or 1007 for text that is not
/// UTF-8). An event stream's client has nothing to say, and a WebSocket being closed nothing
/// more to be heard: what they send is dropped.
pub fn on_read(c: *mut mg_connection) {
    let now = event_loop::now_ms();
    let found = with_push(|push| {
        let peer = push.peers.iter_mut().find(|p| p.connection == c)?;
        peer.last_seen_ms = now;
        let endpoint = push.endpoints.get(peer.endpoint)?;
        let received = event(PgPushEventKind::Message, peer.id, endpoint, endpoint.on_message);
        Some((peer.id, peer.closing, peer.reassembly, endpoint.kind, received))
    });
    let Some((id, closing, mut reassembly, kind, mut received)) = found else { return };
    let max_message = match kind {
        Kind::WebSocket { max_message } if !closing => max_message,
        _ => {
            // SAFETY: a live connection; its received bytes are dropped.
            unsafe { (*c).recv.len = 0 };
            return;
        }
    };
    // SAFETY: a live connection.
    let (buf, len) = unsafe { ((*c).recv.buf, (*c).recv.len) };
    if buf.is_null() || len == 0 {
        return;
    }
    // SAFETY: the receive buffer holds `len` bytes, and nothing else touches it while the frames
    // are read: Python's callbacks can only queue sends or mark the connection closing (a nested
    // poll() is refused), and only Mongoose's poll, after this event, reads into it or frees it.
    let bytes = unsafe { core::slice::from_raw_parts_mut(buf, len) };
    let mut invalid_text = false;
    let outcome = ws::read_frames(bytes, &mut reassembly, max_message, |event| match event {
        Event::Message { binary, data } => {
            // ASCII first: a word at a time, where from_utf8 goes byte by byte at opt-level "z".
            if !binary && !data.is_ascii() && core::str::from_utf8(data).is_err() {
                invalid_text = true;
                return Flow::Stop;
            }
            received.data = PgBytes::from_slice(data);
            received.binary = binary;
            deliver(&received);
            // The callback may have closed the peer (close(), or a send that found it too slow).
            if is_closing(c) {
                Flow::Stop
            } else {
                Flow::Continue
            }
        }
        Event::Ping(data) => {
            // SAFETY: a live WebSocket connection; Mongoose frames the pong.
            unsafe { mg::mg_ws_send(c, data.as_ptr() as *const c_void, data.len(), OP_PONG) };
            Flow::Continue
        }
        Event::Pong(_) => Flow::Continue, // its arrival counted: `last_seen_ms` above
        Event::Close { code, .. } => {
            on_peer_close(c, code);
            Flow::Stop
        }
    });
    // SAFETY: a live connection; `kept` is at most the length it had.
    unsafe { (*c).recv.len = outcome.kept };
    with_push(|push| {
        if let Some(peer) = push.peers.iter_mut().find(|p| p.id == id) {
            peer.reassembly = reassembly;
        }
    });
    if let Some(fault) = outcome.fault {
        close_peer(c, fault.close_code(), fault.reason());
    } else if invalid_text {
        close_peer(c, CLOSE_INVALID_TEXT, b"invalid UTF-8");
    }
}

/// Whether the connection is on its way out (draining what is queued, or closing at once).
fn is_closing(c: *mut mg_connection) -> bool {
    // SAFETY: a live connection; reading two flags.
    unsafe { (*c).is_closing() != 0 || (*c).is_draining() != 0 }
}

/// The peer's close frame: Python will see its code. Unless the server sent its own close first,
/// it answers with the same code (RFC 6455, 5.5.1); then the connection drains and closes.
fn on_peer_close(c: *mut mg_connection, code: u16) {
    let answer = with_push(|push| {
        let peer = push.peers.iter_mut().find(|p| p.connection == c)?;
        if peer.closing {
            return None;
        }
        peer.closing = true;
        peer.close_code = code;
        Some(code)
    });
    if let Some(code) = answer {
        // 1005 ("no status") is what the peer's empty close means; an empty close answers it.
        let payload = code.to_be_bytes();
        let len = if code == CLOSE_NO_STATUS { 0 } else { payload.len() };
        // SAFETY: a live WebSocket connection; Mongoose frames the close.
        unsafe { mg::mg_ws_send(c, payload.as_ptr() as *const c_void, len, OP_CLOSE) };
    }
    // SAFETY: a live connection; draining sends what is queued, then closes.
    unsafe { (*c).set_is_draining(1) };
}

/// Timers of a push peer, on each poll: WebSocket pings (and closing a peer that did not answer
/// the last one), SSE keepalives.
pub fn on_poll(c: *mut mg_connection, now: u64) {
    let due = with_push(|push| {
        let peer = push.peers.iter_mut().find(|p| p.connection == c && !p.closing)?;
        let endpoint = push.endpoints.get(peer.endpoint)?;
        if endpoint.interval_ms == 0 || now.saturating_sub(peer.last_tick_ms) < endpoint.interval_ms {
            return None;
        }
        let unanswered = peer.pinged && peer.last_seen_ms < peer.last_tick_ms;
        peer.last_tick_ms = now;
        peer.pinged = true;
        Some((endpoint.kind, unanswered))
    });
    match due {
        Some((Kind::WebSocket { .. }, true)) => {
            // Nothing came back since the last ping: the peer is gone (a half-open link).
            with_push(|push| {
                if let Some(peer) = push.peers.iter_mut().find(|p| p.connection == c) {
                    peer.close_code = CLOSE_ABNORMAL;
                    peer.closing = true;
                }
            });
            // SAFETY: a live connection; it is freed on this poll, then MG_EV_CLOSE tells Python.
            unsafe { (*c).set_is_closing(1) };
        }
        Some((Kind::WebSocket { .. }, false)) => {
            // SAFETY: a live WebSocket connection; Mongoose frames the ping.
            unsafe { mg::mg_ws_send(c, core::ptr::null(), 0, OP_PING) };
        }
        Some((Kind::EventStream, _)) => queue(c, sse::KEEPALIVE),
        None => {}
    }
}

/// The connection is gone: Python's `on_close` runs with the code, the peer is forgotten.
pub fn on_close(c: *mut mg_connection) {
    let Some(closed) = with_push(|push| {
        let index = push.peers.iter().position(|p| p.connection == c)?;
        let peer = push.peers.swap_remove(index);
        let endpoint = push.endpoints.get(peer.endpoint)?;
        let mut closed = event(PgPushEventKind::Closed, peer.id, endpoint, endpoint.on_close);
        closed.code = peer.close_code;
        Some(closed)
    }) else {
        return;
    };
    deliver(&closed);
}

/// Starts closing a peer: a WebSocket gets a close frame with `code` and `reason`, then the
/// connection drains and closes.
pub fn close_peer(c: *mut mg_connection, code: u16, reason: &[u8]) {
    let websocket = with_push(|push| {
        let peer = push.peers.iter_mut().find(|p| p.connection == c)?;
        if peer.closing {
            return None;
        }
        peer.closing = true;
        peer.close_code = code;
        Some(matches!(push.endpoints.get(peer.endpoint)?.kind, Kind::WebSocket { .. }))
    });
    if websocket == Some(true) {
        // A control frame's payload is at most 125 bytes: the code and up to 123 of reason.
        let reason = reason.get(..reason.len().min(123)).unwrap_or_default();
        let mut payload = [0u8; 125];
        for (slot, byte) in payload.iter_mut().zip(code.to_be_bytes().iter().chain(reason)) {
            *slot = *byte;
        }
        // SAFETY: a live WebSocket connection; Mongoose frames the close payload.
        unsafe { mg::mg_ws_send(c, payload.as_ptr() as *const c_void, 2 + reason.len(), OP_CLOSE) };
    }
    // SAFETY: a live connection; draining sends what is queued, then closes.
    unsafe { (*c).set_is_draining(1) };
}

fn queue(c: *mut mg_connection, bytes: &[u8]) {
    // SAFETY: a live connection; mg_send copies the bytes (a failure closes the connection).
    if !unsafe { mg::mg_send(c, bytes.as_ptr() as *const c_void, bytes.len()) } {
        // SAFETY: as above.
        unsafe { (*c).set_is_closing(1) };
    }
}

/// What a send to a peer may carry.
pub enum Payload<'a> {
    Text(&'a [u8]),
    Binary(&'a [u8]),
    Event { data: &'a [u8], event: Option<&'a [u8]>, id: Option<&'a [u8]> },
}

/// Why a send did not go out.
#[derive(Debug, PartialEq, Eq)]
pub enum SendError {
    /// The peer is closed, closing, or was dropped for reading too slowly.
    Closed,
    /// The payload does not suit the peer (binary to an event stream, a line break in an id).
    Invalid(&'static str),
    OutOfMemory,
}

fn connection_of(id: u32) -> Option<(*mut mg_connection, Kind)> {
    with_push(|push| {
        let peer = push.peers.iter().find(|p| p.id == id && !p.closing)?;
        Some((peer.connection, push.endpoints.get(peer.endpoint)?.kind))
    })
}

/// Sends to one peer; a peer whose send buffer is past `MAX_PENDING_SEND` is dropped instead.
pub fn send(id: u32, payload: &Payload<'_>) -> Result<(), SendError> {
    let (c, kind) = connection_of(id).ok_or(SendError::Closed)?;
    send_to(c, kind, payload)
}

fn send_to(c: *mut mg_connection, kind: Kind, payload: &Payload<'_>) -> Result<(), SendError> {
    // SAFETY: a live connection (peers are removed when their connection closes).
    if unsafe { (*c).send.len } > MAX_PENDING_SEND {
        // Dropped at once: draining would wait for a buffer this peer does not read.
        with_push(|push| {
            if let Some(peer) = push.peers.iter_mut().find(|p| p.connection == c) {
                peer.closing = true;
                peer.close_code = CLOSE_TOO_SLOW;
            }
        });
        // SAFETY: a live connection; Mongoose frees it on this poll (MG_EV_CLOSE tells Python).
        unsafe { (*c).set_is_closing(1) };
        return Err(SendError::Closed);
    }
    match (kind, payload) {
        (Kind::WebSocket { .. }, Payload::Text(data) | Payload::Event { data, .. }) => ws_send(c, data, OP_TEXT),
        (Kind::WebSocket { .. }, Payload::Binary(data)) => ws_send(c, data, OP_BINARY),
        (Kind::EventStream, Payload::Binary(_)) => Err(SendError::Invalid("an event stream carries text only")),
        (Kind::EventStream, Payload::Text(data)) => sse_send(c, data, None, None),
        (Kind::EventStream, Payload::Event { data, event, id }) => sse_send(c, data, *event, *id),
    }
}

fn ws_send(c: *mut mg_connection, data: &[u8], op: c_int) -> Result<(), SendError> {
    if !heap::admit(data.len().saturating_add(14)) {
        return Err(SendError::OutOfMemory);
    }
    // SAFETY: a live WebSocket connection; Mongoose copies and frames the data.
    unsafe { mg::mg_ws_send(c, data.as_ptr() as *const c_void, data.len(), op) };
    Ok(())
}

fn sse_send(c: *mut mg_connection, data: &[u8], event: Option<&[u8]>, id: Option<&[u8]>) -> Result<(), SendError> {
    let size = sse::encoded_len(data, event, id);
    let mut bytes = Vec::new();
    if !heap::admit(size) || bytes.try_reserve_exact(size).is_err() {
        return Err(SendError::OutOfMemory);
    }
    sse::encode(data, event, id, &mut bytes).map_err(|_| SendError::Invalid("an event name or id holds a line break"))?;
    queue(c, &bytes);
    Ok(())
}

/// Sends to every open peer of the endpoint registered with exactly `pattern`; how many got it
/// (peers dropped for reading too slowly are not counted).
pub fn broadcast(pattern: &[u8], payload: &Payload<'_>) -> Result<usize, SendError> {
    let targets: Vec<(*mut mg_connection, Kind)> = with_push(|push| {
        let Some(index) = push.endpoints.iter().position(|e| e.pattern == pattern) else { return Vec::new() };
        let kind = push.endpoints.get(index).map(|e| e.kind);
        push.peers
            .iter()
            .filter(|p| p.endpoint == index && !p.closing)
            .filter_map(|p| Some((p.connection, kind?)))
            .collect()
    });
    let mut sent = 0;
    for (c, kind) in targets {
        match send_to(c, kind, payload) {
            Ok(()) => sent += 1,
            Err(SendError::Closed) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(sent)
}

/// Whether peer `id` is open (not closed, closing or dropped).
pub fn is_open(id: u32) -> bool {
    connection_of(id).is_some()
}

/// Python asked to close peer `id`.
pub fn close(id: u32, code: u16, reason: &[u8]) {
    if let Some((c, _)) = connection_of(id) {
        close_peer(c, code, reason);
    }
}
