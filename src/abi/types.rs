//! `#[repr(C)]` types shared with the C shim (cbindgen writes them into `include/pythongoose.h`).

use core::ffi::{c_char, c_void};

/// Status codes of every `pg_*` entry point. Stable numbers; `pg_status_message` describes each.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgStatus {
    Ok = 0,
    /// `pg_server_start` when a server already runs.
    AlreadyStarted = 1,
    /// A server call before `pg_server_start`.
    NotStarted = 2,
    /// Mongoose could not listen on the URL (bad URL, port in use, ...).
    ListenFailed = 3,
    /// An argument is out of range or malformed.
    InvalidArgument = 4,
    /// Called from inside a handler while the event loop is running (poll or close re-entered).
    Reentered = 5,
    /// QoS 0 publish (never queued) while the MQTT client is not connected.
    MqttNotConnected = 6,
    /// The MQTT client's inflight window and queue are full: poll, then retry.
    MqttQueueFull = 7,
    /// The MQTT client is not running (never connected, disconnected, or stopped for good).
    MqttNoSuchClient = 8,
    /// The platform's resolver does not know a host name (`pg_last_error_message` names it).
    HostNotFound = 9,
    /// The memory budget (`pg_heap_set_limit`) or the heap cannot hold what was asked.
    OutOfMemory = 10,
    /// A WebSocket or SSE peer that is closed (or was dropped for reading too slowly).
    PeerClosed = 11,
}

/// The module's C-heap figures (`mongoose.memory()`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PgHeapStats {
    /// Bytes Rust and Mongoose hold now.
    pub used: usize,
    /// The most they held at once.
    pub peak: usize,
    /// The budget (0: none).
    pub limit: usize,
    /// Allocations the budget refused so far.
    pub refused: usize,
}

/// A borrowed byte string: `len` bytes at `ptr` (`ptr` may be null when `len` is 0).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PgBytes {
    pub ptr: *const u8,
    pub len: usize,
}

impl PgBytes {
    pub const EMPTY: PgBytes = PgBytes { ptr: core::ptr::null(), len: 0 };

    pub fn from_slice(bytes: &[u8]) -> Self {
        PgBytes { ptr: bytes.as_ptr(), len: bytes.len() }
    }

    /// # Safety
    /// `ptr` must point to `len` readable bytes that outlive the returned slice.
    pub unsafe fn as_slice<'a>(&self) -> &'a [u8] {
        if self.ptr.is_null() || self.len == 0 {
            &[]
        } else {
            // SAFETY: the caller guarantees `ptr` holds `len` bytes for 'a.
            unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
        }
    }
}

impl Default for PgBytes {
    fn default() -> Self {
        PgBytes::EMPTY
    }
}

/// The request a handler sees. Valid only during the handler call (it points into the
/// connection's receive buffer).
#[repr(C)]
#[derive(Debug)]
pub struct PgRequest {
    pub method: PgBytes,
    /// Path without the query string, as sent (not percent-decoded).
    pub path: PgBytes,
    /// Query string without the `?` (empty when absent).
    pub query: PgBytes,
    pub body: PgBytes,
    /// The parsed message, for header look-ups through `pg_request_header*` (opaque to C).
    pub message: *const c_void,
}

/// What a handler returned, converted by the shim. Pointers are valid until the next Python
/// allocation; the event layer copies them into the send buffer at once.
#[repr(C)]
#[derive(Debug)]
pub struct PgReply {
    pub status: i32,
    /// Empty: no `Content-Type` header (the handler set one in `extra_headers`); for a streamed
    /// reply, empty means "from the file name's extension".
    pub content_type: PgBytes,
    /// Header lines, each `Name: value\r\n`, already checked for CR/LF/NUL by the shim.
    pub extra_headers: PgBytes,
    pub body: PgBytes,
    /// A `PgReplyStream` value: the body is not `body` but a file read through the VFS.
    pub stream: u8,
    /// The file of a streamed reply (`File(path)`, `Template(path, values)`).
    pub stream_path: PgBytes,
}

impl Default for PgReply {
    fn default() -> Self {
        PgReply {
            status: 200,
            content_type: PgBytes::EMPTY,
            extra_headers: PgBytes::EMPTY,
            body: PgBytes::EMPTY,
            stream: PgReplyStream::None as u8,
            stream_path: PgBytes::EMPTY,
        }
    }
}

/// What a handler's reply streams from a file (`PgReply::stream`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgReplyStream {
    /// A plain reply: `body` holds it.
    None = 0,
    /// `mongoose.File`: the file, served like a static file (ETag, Range, gzip sibling).
    File = 1,
    /// `mongoose.Template`: the file with each `{{name}}` replaced by its escaped value.
    Template = 2,
}

/// What a path names, for `pg_shim_file_stat` (`PgFileStat::kind`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgFileKind {
    Missing = 0,
    File = 1,
    Directory = 2,
}

/// A file's facts from the VFS (`os.stat`): kind (a `PgFileKind` value), size, modification time.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PgFileStat {
    pub kind: u8,
    pub size: u64,
    pub mtime: u64,
}

/// One `mongoose.route(...)`, for `pg_server_add_route`.
#[repr(C)]
#[derive(Debug)]
pub struct PgRoute {
    pub pattern: PgBytes,
    /// A mask of `pg_method_bit` values, 0 for any method.
    pub methods: u32,
    pub needs_auth: bool,
    /// The handler's slot in the shim's rooted handler list.
    pub handler_slot: u32,
    /// 0 calls `handler(body_text)`, 1 calls `handler(request)`.
    pub convention: u8,
    /// The `on_chunk` callback's slot (a streamed upload), or `UINT32_MAX` for none.
    pub chunk_slot: u32,
    /// This route's body limit in bytes, or -1 for the default (the server's; none for uploads).
    pub max_body: i64,
}

/// The handler slots of a route that `pg_server_add_route` replaced (`UINT32_MAX`: none).
#[repr(C)]
#[derive(Debug)]
pub struct PgReplacedSlots {
    pub handler_slot: u32,
    pub chunk_slot: u32,
}

/// What a push endpoint serves (`PgPushEndpoint::kind`, `PgPushEvent::peer_kind`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgPushKind {
    /// `mongoose.websocket(...)`.
    WebSocket = 0,
    /// `mongoose.sse(...)`: Server-Sent Events.
    EventStream = 1,
}

/// One `mongoose.websocket(...)` or `mongoose.sse(...)` endpoint, for `pg_push_add_endpoint`.
#[repr(C)]
#[derive(Debug)]
pub struct PgPushEndpoint {
    pub pattern: PgBytes,
    /// A `PgPushKind` value.
    pub kind: u8,
    pub needs_auth: bool,
    /// Callback slots in the shim's rooted handler list, `UINT32_MAX` for none.
    pub on_open_slot: u32,
    pub on_message_slot: u32,
    pub on_close_slot: u32,
    /// WebSocket: the largest message accepted (bigger: closed with 1009).
    pub max_message_size: u32,
    /// WebSocket: ping interval; SSE: keepalive comment interval (seconds, 0: never).
    pub interval_s: u32,
}

/// What happened to a WebSocket or SSE peer, for its Python callbacks (`PgPushEvent::kind`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgPushEventKind {
    /// A peer connected: `path`, `query` are set; the shim makes its Python object.
    Opened = 0,
    /// A message arrived: `data`, `binary`.
    Message = 1,
    /// The peer is gone: `code` (WebSocket close code); the shim forgets its object.
    Closed = 2,
}

/// One event of a push peer.
#[repr(C)]
#[derive(Debug)]
pub struct PgPushEvent {
    /// A `PgPushEventKind` value.
    pub kind: u8,
    /// A `PgPushKind` value.
    pub peer_kind: u8,
    pub peer: u32,
    /// The callback to run (`UINT32_MAX`: none, the event only updates the object).
    pub callback_slot: u32,
    pub path: PgBytes,
    pub query: PgBytes,
    pub data: PgBytes,
    pub binary: bool,
    pub code: u16,
}

/// What `ws.send`, `stream.send` and `broadcast` send (`PgPushMessage::kind`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgPushPayload {
    /// A text frame; to an event stream, an event without a name.
    Text = 0,
    /// A binary frame (WebSocket only).
    Binary = 1,
    /// An SSE event with an optional name and id; to a WebSocket, a text frame of `data`.
    Event = 2,
}

/// A message for push peers.
#[repr(C)]
#[derive(Debug)]
pub struct PgPushMessage {
    /// A `PgPushPayload` value.
    pub kind: u8,
    pub data: PgBytes,
    pub has_event: bool,
    pub event: PgBytes,
    pub has_id: bool,
    pub id: PgBytes,
}

/// One `mongoose.static(prefix, directory, ...)` mount, for `pg_server_add_static`.
#[repr(C)]
#[derive(Debug)]
pub struct PgStaticMount {
    pub prefix: PgBytes,
    pub directory: PgBytes,
    /// The file served for a directory (`index.html`).
    pub index: PgBytes,
    /// `Cache-Control: max-age` (0: `no-cache`).
    pub max_age_s: u32,
    /// Whether the server's auth callback guards the files.
    pub auth: bool,
}

/// Options of `pg_server_start`.
#[repr(C)]
#[derive(Debug)]
pub struct PgServerConfig {
    /// Listen URL, NUL-terminated, e.g. `http://0.0.0.0:8000`.
    pub listen_url: *const c_char,
    pub max_header_bytes: usize,
    pub max_body_bytes: usize,
    /// First to last byte of a request, else 408 (0: no limit).
    pub request_timeout_ms: u32,
    /// Keep-alive connections idle this long are closed (0: never).
    pub idle_timeout_ms: u32,
    /// When false, no route asks for credentials (no auth callback was given).
    pub auth_enabled: bool,
    /// Empty: no CORS. Else the `Access-Control-Allow-Origin` of every reply (e.g. `*`), and
    /// preflight `OPTIONS` requests are answered 204.
    pub cors_origin: PgBytes,
    /// `https://` only: the server's certificate chain and private key (PEM).
    pub tls_cert: PgBytes,
    pub tls_key: PgBytes,
}

/// Another listener for the running server's routes (`mongoose.listen`).
#[repr(C)]
#[derive(Debug)]
pub struct PgListenConfig {
    /// NUL-terminated, e.g. `https://0.0.0.0:8443`.
    pub listen_url: *const c_char,
    /// `https://` only: the certificate chain and private key (PEM).
    pub tls_cert: PgBytes,
    pub tls_key: PgBytes,
}

/// Options of `pg_mqtt_connect`. Byte strings may be empty; `has_*` tell absent from empty.
#[repr(C)]
#[derive(Debug)]
pub struct PgMqttConfig {
    /// Broker URL, NUL-terminated, e.g. `mqtt://127.0.0.1:1883`.
    pub url: *const c_char,
    /// Empty: one is generated (`pythongoose-` + 8 random hex digits).
    pub client_id: PgBytes,
    pub has_username: bool,
    pub username: PgBytes,
    pub has_password: bool,
    pub password: PgBytes,
    pub has_will: bool,
    pub will_topic: PgBytes,
    pub will_message: PgBytes,
    pub will_qos: u8,
    pub will_retain: bool,
    pub keepalive_s: u16,
    pub clean_session: bool,
    pub auto_reconnect: bool,
    pub max_inflight: u32,
    pub max_queued: u32,
    /// Most bytes the queued publishes hold together (0: the session's default).
    pub max_queued_bytes: u32,
    /// Most inbound QoS 2 messages awaiting PUBREL (0: the session's default).
    pub max_inbound_qos2: u32,
    pub ack_timeout_ms: u32,
    pub connect_timeout_ms: u32,
    pub reconnect_min_ms: u32,
    pub reconnect_max_ms: u32,
    pub max_packet_size: u32,
    /// `mqtts://` only: the CA certificates (PEM) the broker's chain must verify against.
    pub tls_ca: PgBytes,
    /// `mqtts://` only: a client certificate chain and its key (PEM), both or neither.
    pub tls_cert: PgBytes,
    pub tls_key: PgBytes,
    /// `mqtts://` only: the name sent as SNI and checked against the certificate (else the URL's host).
    pub has_server_name: bool,
    pub server_name: PgBytes,
    /// `mqtts://` only: skip the certificate and host name checks.
    pub tls_insecure: bool,
}

/// One subscription request: topic filter and maximum QoS.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PgMqttFilter {
    pub topic: PgBytes,
    pub qos: u8,
}

/// What happened to an MQTT client, for its Python callbacks.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgMqttEventKind {
    /// CONNACK accepted: `session_present` is set.
    Connected = 0,
    /// A message arrived: `topic`, `payload`, `qos`, `retain`, `dup`.
    Message = 1,
    /// A QoS>0 publish, subscribe or unsubscribe finished: `packet_id`, `status`, `text`.
    Status = 2,
    /// The link went down, an attempt failed, or the broker refused: `text` says why;
    /// `final_stop` when the client stopped for good (no more reconnects) for a reason other than
    /// the user's own `disconnect()`.
    Disconnected = 3,
    /// The client stopped for good and Rust forgot it: the shim unroots the Python object.
    Released = 4,
}

/// Outcome of a QoS>0 publish / subscribe / unsubscribe.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgDeliveryStatus {
    Delivered = 0,
    Failed = 1,
    TimedOut = 2,
}

#[repr(C)]
#[derive(Debug)]
pub struct PgMqttEvent {
    pub kind: PgMqttEventKind,
    pub session_present: bool,
    pub final_stop: bool,
    pub packet_id: u16,
    pub status: PgDeliveryStatus,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    pub topic: PgBytes,
    pub payload: PgBytes,
    /// A reason or status text (UTF-8).
    pub text: PgBytes,
}

impl PgMqttEvent {
    pub fn new(kind: PgMqttEventKind) -> Self {
        PgMqttEvent {
            kind,
            session_present: false,
            final_stop: false,
            packet_id: 0,
            status: PgDeliveryStatus::Delivered,
            qos: 0,
            retain: false,
            dup: false,
            topic: PgBytes::EMPTY,
            payload: PgBytes::EMPTY,
            text: PgBytes::EMPTY,
        }
    }
}
