//! The MQTT 3.1.1 client session: a state machine that never does I/O and never reads a clock.
//!
//! See the module documentation of [`crate::mqtt`] for the calling protocol. In short: the caller
//! feeds it transport events, received bytes, user requests and the current time; after every
//! call it takes the bytes to send ([`Session::take_outgoing`]), the transport command
//! ([`Session::take_transport_command`]), the events for the user ([`Session::drain_events`]) and
//! arms a timer for [`Session::next_wakeup_ms`], at which it calls [`Session::poll`].

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use super::codec::{
    decode_packet, ConnAck, Connect, ConnectReturnCode, DecodeError, EncodeError, LastWill, Packet,
    ProtocolVersion, Publish, QoS, SubAck, SubackReturnCode, Subscribe, SubscribeFilter,
    Unsubscribe,
};
use super::topic::{validate_topic_filter, validate_topic_name, TopicError};

/// The will message the broker publishes when the link dies without DISCONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    pub topic: String,
    pub message: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
}

/// Everything the session needs to know up front. All durations are in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Client identifier. Generating one is the caller's job (see [`client_id_from_random`]);
    /// empty is allowed only with `clean_session` (the broker then assigns one).
    pub client_id: String,
    /// Keepalive in seconds sent in CONNECT; 0 disables PINGREQ.
    pub keep_alive_secs: u16,
    pub clean_session: bool,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
    pub will: Option<Will>,
    /// Most QoS>0 publishes awaiting their acknowledgement at once (the inflight window), >= 1.
    pub max_inflight: usize,
    /// Most QoS>0 publishes waiting for the window or for a connection; beyond it `publish`
    /// fails with [`RequestError::QueueFull`]. 0 disables queueing.
    pub max_queued: usize,
    /// Most bytes (encoded PUBLISH packets) those queued publishes may hold together; a publish
    /// that would pass it fails with [`RequestError::QueueFull`] like a full queue. Publishes in
    /// the inflight window are not counted (at most `max_inflight` of them).
    pub max_queued_bytes: usize,
    /// Most SUBSCRIBE/UNSUBSCRIBE requests awaiting their acknowledgement (or a connection).
    pub max_pending_requests: usize,
    /// An unacknowledged PUBLISH/PUBREL/SUBSCRIBE/UNSUBSCRIBE is resent after this long.
    pub ack_timeout_ms: u64,
    /// A packet is sent at most this many times (first send, resends after `ack_timeout_ms`,
    /// resends after a reconnect); then it is reported [`DeliveryStatus::TimedOut`]. >= 1.
    pub max_attempts: u8,
    /// From asking for a transport until CONNACK; exceeded means a failed attempt.
    pub connect_timeout_ms: u64,
    /// After a PINGREQ, the link is declared dead if nothing arrives within this time.
    pub ping_timeout_ms: u64,
    /// Reconnect backoff: first delay, doubling per failed attempt up to `reconnect_max_ms`,
    /// each delay drawn uniformly from [delay/2, delay] (jitter).
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    /// Reconnect after a lost link (true) or stop and fail pending requests (false).
    pub auto_reconnect: bool,
    /// Largest remaining length accepted from the broker; larger is a protocol error.
    pub max_incoming_packet_size: usize,
    /// Most inbound QoS 2 messages awaiting PUBREL; more is treated as a protocol error.
    pub max_inbound_qos2: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            client_id: String::new(),
            keep_alive_secs: 60,
            clean_session: true,
            username: None,
            password: None,
            will: None,
            max_inflight: 8,
            max_queued: 32,
            max_queued_bytes: 1 << 20,
            max_pending_requests: 16,
            ack_timeout_ms: 10_000,
            max_attempts: 3,
            connect_timeout_ms: 10_000,
            ping_timeout_ms: 10_000,
            reconnect_min_ms: 1_000,
            reconnect_max_ms: 60_000,
            auto_reconnect: true,
            max_incoming_packet_size: 65_536,
            // A broker cannot have more distinct packet ids unreleased than this: legal traffic
            // never trips the limit; it only bounds memory against a broken broker.
            max_inbound_qos2: 65_535,
        }
    }
}

/// Why a [`SessionConfig`] cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError {
    EmptyClientIdNeedsCleanSession,
    InvalidWillTopic(TopicError),
    ZeroMaxInflight,
    ZeroMaxAttempts,
    /// `ack_timeout_ms`, `connect_timeout_ms` or `ping_timeout_ms` is 0: a deadline equal to the
    /// time it was set would be due at once, forever (e.g. connect attempts with no wait).
    ZeroTimeout,
    /// The CONNECT packet cannot be encoded (string too long, password without user name).
    Encode(EncodeError),
}

impl ConfigError {
    pub fn message(self) -> &'static str {
        match self {
            ConfigError::EmptyClientIdNeedsCleanSession => {
                "an empty client id needs clean_session=True"
            }
            ConfigError::InvalidWillTopic(error) => error.message(),
            ConfigError::ZeroMaxInflight => "max_inflight must be at least 1",
            ConfigError::ZeroMaxAttempts => "max_attempts must be at least 1",
            ConfigError::ZeroTimeout => "timeouts must be at least 1 ms",
            ConfigError::Encode(error) => error.message(),
        }
    }
}

/// Where the session is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Not started, stopped by `disconnect()`, by a final refusal, or link lost without
    /// `auto_reconnect`. Only [`Session::connect`] leaves it.
    Disconnected,
    /// Waiting for the backoff delay before the next attempt.
    WaitingToReconnect,
    /// Asked the caller to open a transport ([`TransportCommand::Open`]).
    Connecting,
    /// CONNECT sent, waiting for CONNACK.
    AwaitingConnAck,
    Connected,
}

/// What the caller must do with the transport (TCP/TLS connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportCommand {
    /// Open a new connection to the broker, then call [`Session::on_transport_connected`]
    /// (or [`Session::on_transport_closed`] if that fails).
    Open,
    /// Send what [`Session::take_outgoing`] returned, then close the connection. The session
    /// already treats it as closed; a later `on_transport_closed` for it is ignored.
    Close,
}

/// A broker that broke the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolViolation {
    Malformed(DecodeError),
    /// A packet a broker must not send now (type number): e.g. anything before CONNACK.
    UnexpectedPacket(u8),
    /// SUBACK with a different number of return codes than filters subscribed.
    SubackCountMismatch,
    /// More inbound QoS 2 messages awaiting PUBREL than `max_inbound_qos2`.
    TooManyInboundQos2,
}

/// Why a link was closed (or an attempt failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The user called `disconnect()`.
    ClientRequested,
    /// The transport reported the connection closed or failed.
    TransportClosed,
    /// The transport failed for a reason it named (a TLS handshake or certificate check).
    TransportFailed(&'static str),
    /// No packet arrived within `ping_timeout_ms` after a PINGREQ.
    KeepaliveTimeout,
    /// No CONNACK within `connect_timeout_ms`.
    ConnectTimeout,
    /// A received message could not be copied (the heap, or the caller's budget, is full): the
    /// link is dropped so the broker keeps it (QoS 1/2) and resends it on the next link.
    OutOfMemory,
    ProtocolError(ProtocolViolation),
}

impl DisconnectReason {
    pub fn message(self) -> &'static str {
        match self {
            DisconnectReason::ClientRequested => "disconnected by the client",
            DisconnectReason::TransportClosed => "connection closed",
            DisconnectReason::TransportFailed(reason) => reason,
            DisconnectReason::KeepaliveTimeout => "keepalive timeout: broker not responding",
            DisconnectReason::ConnectTimeout => "timed out waiting for CONNACK",
            DisconnectReason::OutOfMemory => "out of memory for a received message",
            DisconnectReason::ProtocolError(ProtocolViolation::Malformed(error)) => error.message(),
            DisconnectReason::ProtocolError(ProtocolViolation::UnexpectedPacket(_)) => {
                "protocol error: unexpected packet from broker"
            }
            DisconnectReason::ProtocolError(ProtocolViolation::SubackCountMismatch) => {
                "protocol error: SUBACK return codes do not match the request"
            }
            DisconnectReason::ProtocolError(ProtocolViolation::TooManyInboundQos2) => {
                "protocol error: too many unreleased QoS 2 messages"
            }
        }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailReason {
    /// SUBACK returned 0x80 for this filter.
    SubscriptionRefused { filter: String },
    /// `disconnect()` was called while the request was pending.
    ClientDisconnected,
    /// The broker refused the connection for good (the session stopped).
    ConnectionRefused(ConnectReturnCode),
    /// The link was lost and `auto_reconnect` is off.
    ConnectionLost,
    /// The transport failed in a way no retry mends (a certificate that does not verify).
    TransportRefused(&'static str),
}

impl FailReason {
    pub fn message(&self) -> &'static str {
        match self {
            FailReason::SubscriptionRefused { .. } => "subscription refused by the broker",
            FailReason::ClientDisconnected => "disconnected before acknowledgement",
            FailReason::ConnectionRefused(code) => code.message(),
            FailReason::ConnectionLost => "connection lost before acknowledgement",
            FailReason::TransportRefused(reason) => reason,
        }
    }
}

/// Outcome of a QoS>0 publish, a subscribe or an unsubscribe, keyed by its packet id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// PUBACK / PUBCOMP / SUBACK (all filters granted) / UNSUBACK received.
    Delivered,
    Failed(FailReason),
    /// Sent `max_attempts` times without acknowledgement.
    TimedOut,
}

/// What happened, for the user. Drained with [`Session::drain_events`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Connected {
        session_present: bool,
    },
    /// CONNACK refused. Reconnects only for `ServerUnavailable`; otherwise the session stops.
    ConnectRefused {
        code: ConnectReturnCode,
    },
    /// A connection attempt failed before CONNACK (retried with backoff when enabled).
    ConnectFailed {
        reason: DisconnectReason,
    },
    /// A message arrived. For QoS 1 and 2 its acknowledgement (PUBACK / PUBREC) is held back
    /// until the caller reports it handled with [`Session::message_handled`]: a message the
    /// broker considers delivered has reached the user.
    Message {
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
        dup: bool,
        /// 0 for QoS 0.
        packet_id: u16,
    },
    /// One per QoS>0 publish and per subscribe/unsubscribe. A SUBSCRIBE gives one `Delivered`
    /// when all filters are granted, else one `Failed(SubscriptionRefused)` per refused filter.
    Status {
        packet_id: u16,
        status: DeliveryStatus,
    },
    /// An established session ended.
    Disconnected {
        reason: DisconnectReason,
    },
}

/// Why `publish`/`subscribe`/`unsubscribe` refused a request (nothing was queued or sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    InvalidTopic(TopicError),
    /// The inflight window and the queue (or the pending request limit) are full.
    QueueFull,
    /// QoS 0 publish while not connected (QoS 0 is never queued).
    NotConnected,
    /// Subscribe/unsubscribe with no filter.
    NoFilters,
    /// The packet cannot be encoded (e.g. larger than the MQTT limit).
    Encode(EncodeError),
    /// Every packet id is in use.
    PacketIdsExhausted,
}

impl RequestError {
    pub fn message(self) -> &'static str {
        match self {
            RequestError::InvalidTopic(error) => error.message(),
            RequestError::QueueFull => "publish queue full",
            RequestError::NotConnected => "not connected",
            RequestError::NoFilters => "at least one topic is required",
            RequestError::Encode(error) => error.message(),
            RequestError::PacketIdsExhausted => "no free packet identifier",
        }
    }
}

/// Builds a client id from a prefix and caller-provided random bytes (hex encoded).
pub fn client_id_from_random(prefix: &str, random_bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(prefix.len() + 2 * random_bytes.len());
    id.push_str(prefix);
    for byte in random_bytes {
        for nibble in [byte >> 4, byte & 0x0F] {
            if let Some(&digit) = HEX.get(usize::from(nibble)) {
                id.push(char::from(digit));
            }
        }
    }
    id
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// The acknowledgement an inflight publish waits for (named after the MQTT packets).
#[allow(clippy::enum_variant_names)]
enum AwaitedAck {
    PubAck,
    PubRec,
    PubComp,
}

/// A QoS>0 publish, queued or inflight. The PUBLISH is kept encoded (one allocation); a resend
/// sets the DUP bit in place. After PUBREC the payload is dropped.
#[derive(Debug)]
struct OutboundPublish {
    packet_id: u16,
    awaiting: AwaitedAck,
    encoded: Vec<u8>,
    /// Times sent so far (0 while queued).
    attempts: u8,
    deadline_ms: u64,
}

#[derive(Debug)]
enum RequestKind {
    Subscribe(Vec<(String, QoS)>),
    Unsubscribe(Vec<String>),
}

#[derive(Debug)]
struct PendingRequest {
    packet_id: u16,
    kind: RequestKind,
    /// A resubscribe the session made itself: no `Delivered` status is reported for it.
    internal: bool,
    attempts: u8,
    deadline_ms: u64,
}

/// Counts one more send of a packet awaiting its acknowledgement, due again after the ack
/// timeout; `false` (and nothing changed) when it was already sent `max_attempts` times.
fn take_attempt(attempts: &mut u8, deadline_ms: &mut u64, config: &SessionConfig, now_ms: u64) -> bool {
    if *attempts >= config.max_attempts {
        return false;
    }
    *attempts = attempts.saturating_add(1);
    *deadline_ms = now_ms.saturating_add(config.ack_timeout_ms);
    true
}

/// Resends the due items of one retransmission list, in order; an item `resend` gives up on
/// (out of attempts) is removed and reported `TimedOut`. Returns whether anything was sent.
fn resend_due<T>(
    items: &mut Vec<T>,
    events: &mut Vec<Event>,
    is_due: impl Fn(&T) -> bool,
    mut resend: impl FnMut(&mut T) -> bool,
    packet_id: impl Fn(&T) -> u16,
) -> bool {
    let mut sent = false;
    let mut index = 0;
    while let Some(item) = items.get_mut(index) {
        if !is_due(item) {
            index += 1;
        } else if resend(item) {
            sent = true;
            index += 1;
        } else {
            let packet_id = packet_id(item);
            items.remove(index);
            events.push(Event::Status { packet_id, status: DeliveryStatus::TimedOut });
        }
    }
    sent
}

fn encode_request(request: &PendingRequest, out: &mut Vec<u8>) {
    // Sizes were checked when the request was made; encoding cannot fail here.
    let _ = match &request.kind {
        RequestKind::Subscribe(filters) => Packet::Subscribe(Subscribe {
            packet_id: request.packet_id,
            filters: filters
                .iter()
                .map(|(filter, qos)| SubscribeFilter {
                    filter: filter.as_str(),
                    qos: *qos,
                })
                .collect(),
        })
        .encode(out),
        RequestKind::Unsubscribe(filters) => Packet::Unsubscribe(Unsubscribe {
            packet_id: request.packet_id,
            filters: filters.iter().map(String::as_str).collect(),
        })
        .encode(out),
    };
}

/// The client session. See the module docs of [`crate::mqtt`].
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    state: ConnectionState,
    outgoing: Vec<u8>,
    events: Vec<Event>,
    transport_command: Option<TransportCommand>,
    reconnect_at_ms: u64,
    connect_deadline_ms: u64,
    last_sent_ms: u64,
    last_received_ms: u64,
    ping_sent_at_ms: Option<u64>,
    failed_attempts: u32,
    random_state: u32,
    last_packet_id: u16,
    inflight: Vec<OutboundPublish>,
    queued: VecDeque<OutboundPublish>,
    requests: Vec<PendingRequest>,
    /// Granted subscriptions, restored when the broker did not keep the session.
    subscriptions: Vec<(String, QoS)>,
    /// Inbound QoS 1 packet ids delivered as events whose PUBACK waits for
    /// [`Session::message_handled`] (on the current link only: a new link forgets them, the
    /// broker resends).
    owed_pubacks: Vec<u16>,
    /// Inbound QoS 2 messages received and not yet released by PUBREL, with whether the user has
    /// handled them (PUBREC sent; a resent PUBLISH is acknowledged again, not delivered again).
    inbound_qos2: Vec<InboundQos2>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InboundQos2 {
    packet_id: u16,
    handled: bool,
}

impl Session {
    /// Validates `config`. `random_seed` seeds the reconnect jitter (any value; mix more in
    /// with [`Session::add_entropy`]).
    pub fn new(config: SessionConfig, random_seed: u32) -> Result<Session, ConfigError> {
        if config.client_id.is_empty() && !config.clean_session {
            return Err(ConfigError::EmptyClientIdNeedsCleanSession);
        }
        if let Some(will) = &config.will {
            validate_topic_name(&will.topic).map_err(ConfigError::InvalidWillTopic)?;
        }
        if config.max_inflight == 0 {
            return Err(ConfigError::ZeroMaxInflight);
        }
        if config.max_attempts == 0 {
            return Err(ConfigError::ZeroMaxAttempts);
        }
        if config.ack_timeout_ms == 0 || config.connect_timeout_ms == 0 || config.ping_timeout_ms == 0 {
            return Err(ConfigError::ZeroTimeout);
        }
        connect_packet(&config)
            .encoded_len()
            .map_err(ConfigError::Encode)?;
        let mut session = Session {
            config,
            state: ConnectionState::Disconnected,
            outgoing: Vec::new(),
            events: Vec::new(),
            transport_command: None,
            reconnect_at_ms: 0,
            connect_deadline_ms: 0,
            last_sent_ms: 0,
            last_received_ms: 0,
            ping_sent_at_ms: None,
            failed_attempts: 0,
            random_state: 0,
            last_packet_id: 0,
            inflight: Vec::new(),
            queued: VecDeque::new(),
            requests: Vec::new(),
            subscriptions: Vec::new(),
            owed_pubacks: Vec::new(),
            inbound_qos2: Vec::new(),
        };
        session.add_entropy(random_seed);
        Ok(session)
    }

    // --- queries -------------------------------------------------------------------------

    pub fn state(&self) -> ConnectionState {
        self.state
    }

    pub fn is_connected(&self) -> bool {
        self.state == ConnectionState::Connected
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// QoS>0 publishes sent and awaiting acknowledgement.
    pub fn inflight_len(&self) -> usize {
        self.inflight.len()
    }

    /// QoS>0 publishes waiting for the window or a connection.
    pub fn queued_len(&self) -> usize {
        self.queued.len()
    }

    /// Granted subscriptions (restored on reconnect when the broker lost the session).
    pub fn subscriptions(&self) -> &[(String, QoS)] {
        &self.subscriptions
    }

    /// When [`Session::poll`] must be called next (absolute, same clock as `now_ms`).
    pub fn next_wakeup_ms(&self) -> Option<u64> {
        match self.state {
            ConnectionState::Disconnected => None,
            ConnectionState::WaitingToReconnect => Some(self.reconnect_at_ms),
            ConnectionState::Connecting | ConnectionState::AwaitingConnAck => {
                Some(self.connect_deadline_ms)
            }
            ConnectionState::Connected => {
                let mut next = self.keepalive_deadline_ms();
                let deadlines = self.inflight.iter().map(|entry| entry.deadline_ms).chain(
                    self.requests
                        .iter()
                        .filter(|request| request.attempts > 0)
                        .map(|request| request.deadline_ms),
                );
                for deadline in deadlines {
                    next = Some(next.map_or(deadline, |current: u64| current.min(deadline)));
                }
                next
            }
        }
    }

    // --- outputs -------------------------------------------------------------------------

    /// Bytes to write to the transport, in order. Empty when there is nothing to send.
    pub fn take_outgoing(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.outgoing)
    }

    pub fn has_outgoing(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// Events for the user since the last call, oldest first.
    pub fn drain_events(&mut self) -> Vec<Event> {
        core::mem::take(&mut self.events)
    }

    /// What to do with the transport, if anything. Execute it after writing `take_outgoing()`.
    pub fn take_transport_command(&mut self) -> Option<TransportCommand> {
        self.transport_command.take()
    }

    /// The caller cannot take in what arrived (its memory budget is spent): drops the link like
    /// a protocol error, with [`DisconnectReason::OutOfMemory`]; the broker resends QoS 1/2
    /// messages on the next link.
    pub fn on_out_of_memory(&mut self, now_ms: u64) {
        if matches!(self.state, ConnectionState::AwaitingConnAck | ConnectionState::Connected) {
            self.drop_link(DisconnectReason::OutOfMemory, true, now_ms);
        }
    }

    /// The user has seen the [`Event::Message`] with this QoS and packet id (its callback
    /// returned or raised): sends the PUBACK (QoS 1) or PUBREC (QoS 2) held back for it. Nothing
    /// for QoS 0, for a message of an earlier link (the broker resends it), or one whose session
    /// the broker dropped.
    pub fn message_handled(&mut self, qos: QoS, packet_id: u16, now_ms: u64) {
        let connected = self.state == ConnectionState::Connected;
        match qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                if let Some(index) = self.owed_pubacks.iter().position(|&id| id == packet_id) {
                    self.owed_pubacks.remove(index);
                    if connected {
                        self.send_packet(&Packet::PubAck(packet_id), now_ms);
                    }
                }
            }
            QoS::ExactlyOnce => {
                let pending = self.inbound_qos2.iter_mut().find(|m| m.packet_id == packet_id && !m.handled);
                if let Some(message) = pending {
                    message.handled = true;
                    if connected {
                        self.send_packet(&Packet::PubRec(packet_id), now_ms);
                    }
                }
            }
        }
    }

    /// Mixes caller-provided randomness into the reconnect jitter generator.
    pub fn add_entropy(&mut self, random: u32) {
        self.random_state ^= random;
        if self.random_state == 0 {
            self.random_state = 0x9E37_79B9;
        }
    }

    // --- inputs: user requests ------------------------------------------------------------

    /// Starts connecting (asks for [`TransportCommand::Open`]). From `WaitingToReconnect` it
    /// skips the remaining backoff; in other states it does nothing.
    pub fn connect(&mut self, now_ms: u64) {
        match self.state {
            ConnectionState::Disconnected => {
                self.failed_attempts = 0;
                self.start_attempt(now_ms);
            }
            ConnectionState::WaitingToReconnect => self.start_attempt(now_ms),
            _ => {}
        }
    }

    /// Clean shutdown: DISCONNECT (when connected), [`TransportCommand::Close`], no more
    /// reconnects. Pending publishes and requests are reported
    /// `Failed(ClientDisconnected)`. Subscriptions are remembered for a later `connect`.
    pub fn disconnect(&mut self, now_ms: u64) {
        match self.state {
            ConnectionState::Connected => {
                self.send_packet(&Packet::Disconnect, now_ms);
                self.transport_command = Some(TransportCommand::Close);
                self.events.push(Event::Disconnected {
                    reason: DisconnectReason::ClientRequested,
                });
            }
            ConnectionState::Connecting | ConnectionState::AwaitingConnAck => {
                self.outgoing.clear();
                self.transport_command = Some(TransportCommand::Close);
            }
            ConnectionState::WaitingToReconnect | ConnectionState::Disconnected => {}
        }
        self.stop(FailReason::ClientDisconnected);
    }

    /// Publishes a message. Returns the packet id (0 for QoS 0) that its
    /// [`Event::Status`] will carry. QoS 0 is sent only while connected. QoS>0 is sent at once
    /// when connected and the inflight window has room, otherwise queued (also while
    /// disconnected); a full queue is an error.
    pub fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        now_ms: u64,
    ) -> Result<u16, RequestError> {
        validate_topic_name(topic).map_err(RequestError::InvalidTopic)?;
        if qos == QoS::AtMostOnce {
            if self.state != ConnectionState::Connected {
                return Err(RequestError::NotConnected);
            }
            let packet = Packet::Publish(Publish {
                dup: false,
                qos,
                retain,
                topic,
                packet_id: 0,
                payload,
            });
            packet
                .encode(&mut self.outgoing)
                .map_err(RequestError::Encode)?;
            self.last_sent_ms = now_ms;
            return Ok(0);
        }
        let sends_now = self.state == ConnectionState::Connected
            && self.queued.is_empty()
            && self.inflight.len() < self.config.max_inflight;
        if !sends_now {
            if self.queued.len() >= self.config.max_queued {
                return Err(RequestError::QueueFull);
            }
            let size = Packet::Publish(Publish { dup: false, qos, retain, topic, packet_id: 1, payload })
                .encoded_len()
                .map_err(RequestError::Encode)?;
            let queued_bytes: usize = self.queued.iter().map(|entry| entry.encoded.len()).sum();
            if queued_bytes.saturating_add(size) > self.config.max_queued_bytes {
                return Err(RequestError::QueueFull);
            }
        }
        let packet_id = self
            .allocate_packet_id()
            .ok_or(RequestError::PacketIdsExhausted)?;
        let mut encoded = Vec::new();
        Packet::Publish(Publish {
            dup: false,
            qos,
            retain,
            topic,
            packet_id,
            payload,
        })
        .encode(&mut encoded)
        .map_err(RequestError::Encode)?;
        let stage = if qos == QoS::AtLeastOnce {
            AwaitedAck::PubAck
        } else {
            AwaitedAck::PubRec
        };
        let entry = OutboundPublish {
            packet_id,
            awaiting: stage,
            encoded,
            attempts: 0,
            deadline_ms: 0,
        };
        if sends_now {
            self.send_publish(entry, now_ms);
        } else {
            self.queued.push_back(entry);
        }
        Ok(packet_id)
    }

    /// Subscribes to one or more filters in one SUBSCRIBE. Returns its packet id. Made while
    /// disconnected, it is sent after the next CONNACK.
    pub fn subscribe(&mut self, filters: &[(&str, QoS)], now_ms: u64) -> Result<u16, RequestError> {
        if filters.is_empty() {
            return Err(RequestError::NoFilters);
        }
        for (filter, _) in filters {
            validate_topic_filter(filter).map_err(RequestError::InvalidTopic)?;
        }
        let probe = Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: filters
                .iter()
                .map(|&(filter, qos)| SubscribeFilter { filter, qos })
                .collect(),
        });
        probe.encoded_len().map_err(RequestError::Encode)?;
        let kind = RequestKind::Subscribe(
            filters
                .iter()
                .map(|&(filter, qos)| (String::from(filter), qos))
                .collect(),
        );
        self.add_request(kind, false, now_ms)
    }

    /// Unsubscribes from one or more filters in one UNSUBSCRIBE. Returns its packet id. The
    /// filters are forgotten at once (not restored on reconnect).
    pub fn unsubscribe(&mut self, filters: &[&str], now_ms: u64) -> Result<u16, RequestError> {
        if filters.is_empty() {
            return Err(RequestError::NoFilters);
        }
        for filter in filters {
            validate_topic_filter(filter).map_err(RequestError::InvalidTopic)?;
        }
        let probe = Packet::Unsubscribe(Unsubscribe {
            packet_id: 1,
            filters: filters.to_vec(),
        });
        probe.encoded_len().map_err(RequestError::Encode)?;
        let kind = RequestKind::Unsubscribe(filters.iter().map(|f| String::from(*f)).collect());
        let packet_id = self.add_request(kind, false, now_ms)?;
        self.subscriptions
            .retain(|(subscribed, _)| !filters.contains(&subscribed.as_str()));
        Ok(packet_id)
    }

    // --- inputs: transport ------------------------------------------------------------------

    /// The transport asked for with [`TransportCommand::Open`] is up: sends CONNECT.
    pub fn on_transport_connected(&mut self, now_ms: u64) {
        if self.state != ConnectionState::Connecting {
            return;
        }
        self.outgoing.clear();
        let _ = connect_packet(&self.config).encode(&mut self.outgoing);
        self.last_sent_ms = now_ms;
        self.last_received_ms = now_ms;
        self.ping_sent_at_ms = None;
        self.state = ConnectionState::AwaitingConnAck;
    }

    /// The transport closed or failed to open. Ignored when no transport is expected.
    pub fn on_transport_closed(&mut self, now_ms: u64) {
        match self.state {
            ConnectionState::Connecting
            | ConnectionState::AwaitingConnAck
            | ConnectionState::Connected => {
                self.drop_link(DisconnectReason::TransportClosed, false, now_ms);
            }
            ConnectionState::WaitingToReconnect | ConnectionState::Disconnected => {}
        }
    }

    /// The transport failed for a reason it names. `permanent`: no retry can mend it (a
    /// certificate or host name that does not verify), so the session stops as after a refused
    /// CONNACK; else it is retried like a closed link. The transport is closing by itself.
    pub fn on_transport_failed(&mut self, reason: &'static str, permanent: bool, now_ms: u64) {
        if !matches!(
            self.state,
            ConnectionState::Connecting | ConnectionState::AwaitingConnAck | ConnectionState::Connected
        ) {
            return;
        }
        if !permanent {
            self.drop_link(DisconnectReason::TransportFailed(reason), false, now_ms);
            return;
        }
        let was_connected = self.state == ConnectionState::Connected;
        self.outgoing.clear();
        self.owed_pubacks.clear();
        self.transport_command = None;
        self.events.push(if was_connected {
            Event::Disconnected { reason: DisconnectReason::TransportFailed(reason) }
        } else {
            Event::ConnectFailed { reason: DisconnectReason::TransportFailed(reason) }
        });
        self.stop(FailReason::TransportRefused(reason));
    }

    /// Feeds received bytes. Handles every complete packet and returns how many bytes it
    /// consumed; the caller keeps the rest and passes it again with more bytes. On a protocol
    /// error the whole input counts as consumed and the link is closed.
    pub fn handle_bytes(&mut self, bytes: &[u8], now_ms: u64) -> usize {
        let mut consumed = 0usize;
        loop {
            if !matches!(
                self.state,
                ConnectionState::AwaitingConnAck | ConnectionState::Connected
            ) {
                return bytes.len();
            }
            let rest = bytes.get(consumed..).unwrap_or(&[]);
            match decode_packet(rest, self.config.max_incoming_packet_size) {
                Ok(None) => return consumed,
                Ok(Some((packet, used))) => {
                    consumed = consumed.saturating_add(used);
                    self.last_received_ms = now_ms;
                    self.ping_sent_at_ms = None;
                    self.handle_packet(packet, now_ms);
                }
                Err(error) => {
                    self.protocol_error(ProtocolViolation::Malformed(error), now_ms);
                    return bytes.len();
                }
            }
        }
    }

    // --- input: time ------------------------------------------------------------------------

    /// Runs the timers: reconnect, connect timeout, keepalive (PINGREQ / dead link) and ack
    /// timeouts (resend or `TimedOut`). Call it at [`Session::next_wakeup_ms`] (calling it more
    /// often is harmless).
    pub fn poll(&mut self, now_ms: u64) {
        match self.state {
            ConnectionState::Disconnected => {}
            ConnectionState::WaitingToReconnect => {
                if now_ms >= self.reconnect_at_ms {
                    self.start_attempt(now_ms);
                }
            }
            ConnectionState::Connecting | ConnectionState::AwaitingConnAck => {
                if now_ms >= self.connect_deadline_ms {
                    self.drop_link(DisconnectReason::ConnectTimeout, true, now_ms);
                }
            }
            ConnectionState::Connected => {
                if let Some(ping_sent_at) = self.ping_sent_at_ms {
                    if now_ms >= ping_sent_at.saturating_add(self.config.ping_timeout_ms) {
                        self.drop_link(DisconnectReason::KeepaliveTimeout, true, now_ms);
                        return;
                    }
                } else if let Some(due) = self.keepalive_deadline_ms() {
                    if now_ms >= due {
                        self.send_packet(&Packet::PingReq, now_ms);
                        self.ping_sent_at_ms = Some(now_ms);
                    }
                }
                self.check_ack_timeouts(now_ms);
                self.pump_queue(now_ms);
            }
        }
    }

    // --- internals ----------------------------------------------------------------------------

    fn keepalive_deadline_ms(&self) -> Option<u64> {
        if self.state != ConnectionState::Connected || self.config.keep_alive_secs == 0 {
            return None;
        }
        if let Some(ping_sent_at) = self.ping_sent_at_ms {
            return Some(ping_sent_at.saturating_add(self.config.ping_timeout_ms));
        }
        let interval = u64::from(self.config.keep_alive_secs) * 1000;
        let idle_since = self.last_sent_ms.min(self.last_received_ms);
        Some(idle_since.saturating_add(interval))
    }

    fn send_packet(&mut self, packet: &Packet<'_>, now_ms: u64) {
        if packet.encode(&mut self.outgoing).is_ok() {
            self.last_sent_ms = now_ms;
        }
    }

    fn start_attempt(&mut self, now_ms: u64) {
        self.outgoing.clear();
        self.state = ConnectionState::Connecting;
        self.connect_deadline_ms = now_ms.saturating_add(self.config.connect_timeout_ms);
        self.transport_command = Some(TransportCommand::Open);
    }

    fn next_random(&mut self) -> u32 {
        // xorshift32; the state is never 0.
        let mut x = self.random_state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.random_state = x;
        x
    }

    /// Delay before the next attempt: min * 2^failures capped at max, drawn from [d/2, d].
    fn reconnect_delay_ms(&mut self) -> u64 {
        let exponent = self.failed_attempts.min(30);
        let doubled = self
            .config
            .reconnect_min_ms
            .saturating_mul(1u64 << exponent);
        let delay = doubled.min(
            self.config
                .reconnect_max_ms
                .max(self.config.reconnect_min_ms),
        );
        let half = delay / 2;
        let spread = delay - half;
        let jitter = u64::from(self.next_random()) % spread.saturating_add(1);
        half + jitter
    }

    /// Ends the current link (or attempt): reports it, then schedules a reconnect or stops.
    fn drop_link(&mut self, reason: DisconnectReason, close_transport: bool, now_ms: u64) {
        let was_connected = self.state == ConnectionState::Connected;
        self.outgoing.clear();
        // The broker resends unacknowledged QoS 1 messages on the next link (or forgot them).
        self.owed_pubacks.clear();
        self.ping_sent_at_ms = None;
        self.transport_command = if close_transport {
            Some(TransportCommand::Close)
        } else {
            None
        };
        self.events.push(if was_connected {
            Event::Disconnected { reason }
        } else {
            Event::ConnectFailed { reason }
        });
        if self.config.auto_reconnect {
            let delay = self.reconnect_delay_ms();
            self.failed_attempts = self.failed_attempts.saturating_add(1);
            self.reconnect_at_ms = now_ms.saturating_add(delay);
            self.state = ConnectionState::WaitingToReconnect;
        } else {
            self.stop(FailReason::ConnectionLost);
        }
    }

    fn protocol_error(&mut self, violation: ProtocolViolation, now_ms: u64) {
        self.drop_link(DisconnectReason::ProtocolError(violation), true, now_ms);
    }

    /// Goes to `Disconnected` for good and fails everything pending with `reason`.
    fn stop(&mut self, reason: FailReason) {
        self.state = ConnectionState::Disconnected;
        self.ping_sent_at_ms = None;
        let publishes = core::mem::take(&mut self.inflight)
            .into_iter()
            .chain(core::mem::take(&mut self.queued));
        for entry in publishes {
            self.events.push(Event::Status {
                packet_id: entry.packet_id,
                status: DeliveryStatus::Failed(reason.clone()),
            });
        }
        for request in core::mem::take(&mut self.requests) {
            if !request.internal {
                self.events.push(Event::Status {
                    packet_id: request.packet_id,
                    status: DeliveryStatus::Failed(reason.clone()),
                });
            }
        }
    }

    fn packet_id_in_use(&self, packet_id: u16) -> bool {
        self.inflight
            .iter()
            .any(|entry| entry.packet_id == packet_id)
            || self.queued.iter().any(|entry| entry.packet_id == packet_id)
            || self
                .requests
                .iter()
                .any(|request| request.packet_id == packet_id)
    }

    /// Next free packet id after the last one, wrapping past 65535 and skipping 0.
    fn allocate_packet_id(&mut self) -> Option<u16> {
        for _ in 0..u16::MAX {
            self.last_packet_id = self.last_packet_id.wrapping_add(1);
            if self.last_packet_id == 0 {
                self.last_packet_id = 1;
            }
            if !self.packet_id_in_use(self.last_packet_id) {
                return Some(self.last_packet_id);
            }
        }
        None
    }

    fn add_request(
        &mut self,
        kind: RequestKind,
        internal: bool,
        now_ms: u64,
    ) -> Result<u16, RequestError> {
        if !internal && self.requests.len() >= self.config.max_pending_requests {
            return Err(RequestError::QueueFull);
        }
        let packet_id = self
            .allocate_packet_id()
            .ok_or(RequestError::PacketIdsExhausted)?;
        let mut request = PendingRequest {
            packet_id,
            kind,
            internal,
            attempts: 0,
            deadline_ms: 0,
        };
        if self.state == ConnectionState::Connected {
            encode_request(&request, &mut self.outgoing);
            self.last_sent_ms = now_ms;
            request.attempts = 1;
            request.deadline_ms = now_ms.saturating_add(self.config.ack_timeout_ms);
        }
        self.requests.push(request);
        Ok(packet_id)
    }

    fn send_publish(&mut self, mut entry: OutboundPublish, now_ms: u64) {
        self.outgoing.extend_from_slice(&entry.encoded);
        self.last_sent_ms = now_ms;
        entry.attempts = 1;
        entry.deadline_ms = now_ms.saturating_add(self.config.ack_timeout_ms);
        self.inflight.push(entry);
    }

    /// Moves queued publishes into the inflight window while it has room.
    fn pump_queue(&mut self, now_ms: u64) {
        while self.state == ConnectionState::Connected
            && self.inflight.len() < self.config.max_inflight
        {
            let Some(entry) = self.queued.pop_front() else {
                break;
            };
            self.send_publish(entry, now_ms);
        }
    }

    /// Resends (or gives up on) one inflight publish; `false` when it was given up.
    fn resend_publish(
        entry: &mut OutboundPublish,
        config: &SessionConfig,
        outgoing: &mut Vec<u8>,
        now_ms: u64,
    ) -> bool {
        if !take_attempt(&mut entry.attempts, &mut entry.deadline_ms, config, now_ms) {
            return false;
        }
        if entry.awaiting == AwaitedAck::PubComp {
            let _ = Packet::PubRel(entry.packet_id).encode(outgoing);
        } else {
            if let Some(first) = entry.encoded.first_mut() {
                *first |= 0x08; // DUP
            }
            outgoing.extend_from_slice(&entry.encoded);
        }
        true
    }

    fn resend_request(
        request: &mut PendingRequest,
        config: &SessionConfig,
        outgoing: &mut Vec<u8>,
        now_ms: u64,
    ) -> bool {
        if !take_attempt(&mut request.attempts, &mut request.deadline_ms, config, now_ms) {
            return false;
        }
        encode_request(request, outgoing);
        true
    }

    /// Resends every pending request and publish whose deadline passed (`only_expired`), or
    /// all of them (after a reconnect), requests first. Gives up on those out of attempts.
    fn resend_pending(&mut self, now_ms: u64, only_expired: bool) {
        let (config, outgoing) = (&self.config, &mut self.outgoing);
        // Requests queued while offline (never sent) are not due for a resend yet.
        let sent_requests = resend_due(
            &mut self.requests,
            &mut self.events,
            |request| !only_expired || (request.attempts != 0 && request.deadline_ms <= now_ms),
            |request| Self::resend_request(request, config, outgoing, now_ms),
            |request| request.packet_id,
        );
        let sent_publishes = resend_due(
            &mut self.inflight,
            &mut self.events,
            |entry| !only_expired || entry.deadline_ms <= now_ms,
            |entry| Self::resend_publish(entry, config, outgoing, now_ms),
            |entry| entry.packet_id,
        );
        if sent_requests || sent_publishes {
            self.last_sent_ms = now_ms;
        }
    }

    fn check_ack_timeouts(&mut self, now_ms: u64) {
        self.resend_pending(now_ms, true);
    }

    fn handle_packet(&mut self, packet: Packet<'_>, now_ms: u64) {
        if self.state == ConnectionState::AwaitingConnAck {
            match packet {
                Packet::ConnAck(connack) => self.on_connack(connack, now_ms),
                other => self.protocol_error(
                    ProtocolViolation::UnexpectedPacket(other.type_number()),
                    now_ms,
                ),
            }
            return;
        }
        match packet {
            Packet::Publish(publish) => self.on_publish(publish, now_ms),
            Packet::PubAck(packet_id) => {
                self.complete_publish(packet_id, AwaitedAck::PubAck, now_ms)
            }
            Packet::PubRec(packet_id) => self.on_pubrec(packet_id, now_ms),
            Packet::PubComp(packet_id) => {
                self.complete_publish(packet_id, AwaitedAck::PubComp, now_ms)
            }
            Packet::PubRel(packet_id) => {
                self.inbound_qos2.retain(|pending| pending.packet_id != packet_id);
                self.send_packet(&Packet::PubComp(packet_id), now_ms);
            }
            Packet::SubAck(suback) => self.on_suback(suback, now_ms),
            Packet::UnsubAck(packet_id) => self.on_unsuback(packet_id),
            Packet::PingResp => {}
            other @ (Packet::Connect(_)
            | Packet::ConnAck(_)
            | Packet::Subscribe(_)
            | Packet::Unsubscribe(_)
            | Packet::PingReq
            | Packet::Disconnect) => self.protocol_error(
                ProtocolViolation::UnexpectedPacket(other.type_number()),
                now_ms,
            ),
        }
    }

    fn on_connack(&mut self, connack: ConnAck, now_ms: u64) {
        if connack.code != ConnectReturnCode::Accepted {
            self.outgoing.clear();
            self.transport_command = Some(TransportCommand::Close);
            self.events
                .push(Event::ConnectRefused { code: connack.code });
            if connack.code == ConnectReturnCode::ServerUnavailable && self.config.auto_reconnect {
                let delay = self.reconnect_delay_ms();
                self.failed_attempts = self.failed_attempts.saturating_add(1);
                self.reconnect_at_ms = now_ms.saturating_add(delay);
                self.state = ConnectionState::WaitingToReconnect;
            } else {
                self.stop(FailReason::ConnectionRefused(connack.code));
            }
            return;
        }
        let session_present = connack.session_present && !self.config.clean_session;
        self.state = ConnectionState::Connected;
        self.failed_attempts = 0;
        self.events.push(Event::Connected {
            session_present: connack.session_present,
        });
        if !session_present {
            // The broker forgot us: its QoS 2 state is gone and subscriptions must be redone.
            self.inbound_qos2.clear();
            self.owed_pubacks.clear();
            self.requests.retain(|request| !request.internal);
            if !self.subscriptions.is_empty() {
                let kind = RequestKind::Subscribe(self.subscriptions.clone());
                if let Some(packet_id) = self.allocate_packet_id() {
                    self.requests.insert(
                        0,
                        PendingRequest {
                            packet_id,
                            kind,
                            internal: true,
                            attempts: 0,
                            deadline_ms: 0,
                        },
                    );
                }
            }
        }
        self.resend_pending(now_ms, false);
        self.pump_queue(now_ms);
    }

    fn on_publish(&mut self, publish: Publish<'_>, now_ms: u64) {
        if publish.qos == QoS::ExactlyOnce {
            let known = self.inbound_qos2.iter().find(|m| m.packet_id == publish.packet_id).copied();
            match known {
                // Handled already: the broker missed our PUBREC.
                Some(InboundQos2 { handled: true, .. }) => {
                    return self.send_packet(&Packet::PubRec(publish.packet_id), now_ms);
                }
                // Still on its way to the user: PUBREC goes out once it is handled.
                Some(InboundQos2 { handled: false, .. }) => return,
                None if self.inbound_qos2.len() >= self.config.max_inbound_qos2 => {
                    return self.protocol_error(ProtocolViolation::TooManyInboundQos2, now_ms);
                }
                None => {}
            }
        }
        // The copies are the one allocation whose size the broker chooses: fallible.
        let Some(event) = message_event(&publish) else {
            return self.drop_link(DisconnectReason::OutOfMemory, true, now_ms);
        };
        match publish.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                if !self.owed_pubacks.contains(&publish.packet_id) {
                    self.owed_pubacks.push(publish.packet_id);
                }
            }
            QoS::ExactlyOnce => self.inbound_qos2.push(InboundQos2 { packet_id: publish.packet_id, handled: false }),
        }
        self.events.push(event);
    }

    fn complete_publish(&mut self, packet_id: u16, expected: AwaitedAck, now_ms: u64) {
        let Some(index) = self
            .inflight
            .iter()
            .position(|entry| entry.packet_id == packet_id && entry.awaiting == expected)
        else {
            return; // late or unknown acknowledgement (e.g. after TimedOut): ignore
        };
        self.inflight.remove(index);
        self.events.push(Event::Status {
            packet_id,
            status: DeliveryStatus::Delivered,
        });
        self.pump_queue(now_ms);
    }

    fn on_pubrec(&mut self, packet_id: u16, now_ms: u64) {
        let ack_timeout_ms = self.config.ack_timeout_ms;
        if let Some(entry) = self
            .inflight
            .iter_mut()
            .find(|entry| entry.packet_id == packet_id)
        {
            match entry.awaiting {
                AwaitedAck::PubAck => return, // PUBREC for a QoS 1 publish: ignore
                AwaitedAck::PubRec => {
                    entry.awaiting = AwaitedAck::PubComp;
                    entry.encoded = Vec::new(); // the broker owns the message now
                    entry.attempts = 1;
                    entry.deadline_ms = now_ms.saturating_add(ack_timeout_ms);
                }
                AwaitedAck::PubComp => {} // duplicate PUBREC: answer again
            }
        }
        // Also answers an unknown PUBREC, which lets the broker finish its side.
        self.send_packet(&Packet::PubRel(packet_id), now_ms);
    }

    fn on_suback(&mut self, suback: SubAck, now_ms: u64) {
        let Some(index) = self.requests.iter().position(|request| {
            request.packet_id == suback.packet_id
                && matches!(request.kind, RequestKind::Subscribe(_))
        }) else {
            return;
        };
        let request = self.requests.remove(index);
        let RequestKind::Subscribe(filters) = request.kind else {
            return;
        };
        if filters.len() != suback.return_codes.len() {
            self.protocol_error(ProtocolViolation::SubackCountMismatch, now_ms);
            return;
        }
        let mut refused_any = false;
        for ((filter, qos), code) in filters.into_iter().zip(suback.return_codes) {
            match code {
                SubackReturnCode::Granted(_) => {
                    if let Some(existing) = self
                        .subscriptions
                        .iter_mut()
                        .find(|(subscribed, _)| *subscribed == filter)
                    {
                        existing.1 = qos;
                    } else {
                        self.subscriptions.push((filter, qos));
                    }
                }
                SubackReturnCode::Failure => {
                    refused_any = true;
                    self.subscriptions
                        .retain(|(subscribed, _)| *subscribed != filter);
                    self.events.push(Event::Status {
                        packet_id: suback.packet_id,
                        status: DeliveryStatus::Failed(FailReason::SubscriptionRefused { filter }),
                    });
                }
            }
        }
        if !refused_any && !request.internal {
            self.events.push(Event::Status {
                packet_id: suback.packet_id,
                status: DeliveryStatus::Delivered,
            });
        }
    }

    fn on_unsuback(&mut self, packet_id: u16) {
        let Some(index) = self.requests.iter().position(|request| {
            request.packet_id == packet_id && matches!(request.kind, RequestKind::Unsubscribe(_))
        }) else {
            return;
        };
        self.requests.remove(index);
        self.events.push(Event::Status {
            packet_id,
            status: DeliveryStatus::Delivered,
        });
    }
}

/// The user's copy of a received PUBLISH; `None` when the heap cannot hold it.
fn message_event(publish: &Publish<'_>) -> Option<Event> {
    let mut topic = String::new();
    let mut payload = Vec::new();
    topic.try_reserve_exact(publish.topic.len()).ok()?;
    payload.try_reserve_exact(publish.payload.len()).ok()?;
    topic.push_str(publish.topic);
    payload.extend_from_slice(publish.payload);
    Some(Event::Message {
        topic,
        payload,
        qos: publish.qos,
        retain: publish.retain,
        dup: publish.dup,
        packet_id: publish.packet_id,
    })
}

fn connect_packet(config: &SessionConfig) -> Packet<'_> {
    Packet::Connect(Connect {
        protocol: ProtocolVersion::V3_1_1,
        client_id: &config.client_id,
        keep_alive_secs: config.keep_alive_secs,
        clean_session: config.clean_session,
        last_will: config.will.as_ref().map(|will| LastWill {
            topic: &will.topic,
            message: &will.message,
            qos: will.qos,
            retain: will.retain,
        }),
        username: config.username.as_deref(),
        password: config.password.as_deref(),
    })
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
