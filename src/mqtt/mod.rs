//! Sans-I/O MQTT 3.1.1 client core: packet codec, topic rules and the client session.
//!
//! Nothing here does I/O, reads a clock, calls FFI or Mongoose: the event layer feeds bytes,
//! transport events, user requests and `now_ms` (a monotonic millisecond clock of its choice) in,
//! and takes bytes to send, a transport command, user events and the next wakeup time out.
//! `#![no_std]` + `alloc`, no dependencies, no panics reachable from input.
//!
//! * [`codec`]: encode/decode every MQTT 3.1.1 packet ([`codec::Packet`],
//!   [`codec::decode_packet`], [`codec::Packet::encode`]).
//! * [`topic`]: topic name / filter validation and [`topic::topic_matches`].
//! * [`session`]: the client state machine [`session::Session`].
//!
//! # Driving a session (the event layer's loop)
//!
//! After **every** call into the session, the event layer does the same four things, in order:
//! 1. `let bytes = session.take_outgoing();` and writes them to the current connection;
//! 2. `session.take_transport_command()`: `Some(Open)` → dial the broker; `Some(Close)` → close
//!    the current connection after flushing what was written (the session already considers it
//!    gone; ignore later events of that old connection);
//! 3. `for event in session.drain_events()` → dispatch to Python (Connected, Message, Status...);
//! 4. `session.next_wakeup_ms()` → arm a timer; when it fires call `session.poll(now_ms)`.
//!
//! Transport callbacks map 1:1: connection established → [`session::Session::on_transport_connected`],
//! connection closed or dial failed → [`session::Session::on_transport_closed`], bytes received →
//! [`session::Session::handle_bytes`] (returns how many bytes it consumed; keep the rest, e.g.
//! `mg_iobuf_del(&c->recv, 0, consumed)`).
//!
//! ```ignore
//! // (crate::mqtt paths; the same flow runs as the unit test `module_doc_example_flow_works`)
//! use crate::mqtt::session::{Session, SessionConfig, TransportCommand, Event};
//! use crate::mqtt::codec::QoS;
//!
//! let config = SessionConfig { client_id: "esp32-1".into(), ..SessionConfig::default() };
//! let mut session = Session::new(config, 0x1234_5678 /* random seed for jitter */).unwrap();
//! session.connect(0);                                    // user called client.connect()
//! assert_eq!(session.take_transport_command(), Some(TransportCommand::Open));
//! session.on_transport_connected(5);                     // TCP is up
//! let connect_bytes = session.take_outgoing();           // CONNECT, write it
//! assert_eq!(connect_bytes.first(), Some(&0x10));
//! let used = session.handle_bytes(&[0x20, 0x02, 0x00, 0x00], 20); // CONNACK accepted
//! assert_eq!(used, 4);
//! assert_eq!(session.drain_events(), vec![Event::Connected { session_present: false }]);
//! let packet_id = session.subscribe(&[("sensors/+", QoS::AtLeastOnce)], 21).unwrap();
//! let pid = session.publish("sensors/t", b"21.5", QoS::AtLeastOnce, false, 22).unwrap();
//! let _ = session.take_outgoing();                       // SUBSCRIBE + PUBLISH
//! session.handle_bytes(&[0x40, 0x02, (pid >> 8) as u8, pid as u8], 30); // PUBACK
//! // -> Event::Status { packet_id: pid, status: DeliveryStatus::Delivered }
//! let wake_at = session.next_wakeup_ms();                // keepalive / ack timeout
//! session.poll(wake_at.unwrap());                        // may emit PINGREQ, resends...
//! # let _ = packet_id;
//! ```
//!
//! # Timeouts, keepalive and reconnect (all configurable in [`session::SessionConfig`])
//! * Connect: from [`TransportCommand::Open`](session::TransportCommand::Open) until CONNACK at
//!   most `connect_timeout_ms`, else the attempt fails (`Event::ConnectFailed`) and is retried.
//! * Keepalive (`keep_alive_secs` > 0): a PINGREQ goes out when nothing was sent **or** nothing
//!   was received for `keep_alive_secs`; if then nothing at all arrives within `ping_timeout_ms`
//!   the link is declared dead (`Disconnected { KeepaliveTimeout }`, `Close`, reconnect).
//! * Acks: a PUBLISH/PUBREL/SUBSCRIBE/UNSUBSCRIBE unacknowledged for `ack_timeout_ms` is resent
//!   (PUBLISH with DUP=1); a packet is sent at most `max_attempts` times in total (counting
//!   resends after reconnects), after which its status is `TimedOut` and the inflight slot is
//!   freed.
//! * Reconnect (`auto_reconnect`): after a lost link or failed attempt, wait
//!   `reconnect_min_ms * 2^failures` capped at `reconnect_max_ms`, drawn uniformly from
//!   [delay/2, delay] with a xorshift generator seeded by the caller's random `u32`; the failure
//!   count resets on an accepted CONNACK. A refused CONNACK stops the session except for
//!   "server unavailable", which is retried.
//! * After CONNACK: when the broker did not keep the session (`session_present == 0`, always so
//!   with `clean_session`), all granted subscriptions are re-subscribed (an internal SUBSCRIBE
//!   with no `Delivered` status; refusals are still reported). Pending SUBSCRIBE/UNSUBSCRIBE
//!   are resent, then unacknowledged QoS 1/2 PUBLISH are resent with DUP=1 and QoS 2 publishes
//!   that already got PUBREC resend PUBREL (this is done whether or not the session was kept:
//!   QoS 1/2 stay at-least-once across a lost session); then the queue drains into the window.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod codec;
pub mod session;
pub mod topic;

#[cfg(test)]
mod test_support;

#[cfg(test)]
mod differential_tests;

#[cfg(test)]
mod robustness_tests;

pub use codec::{decode_packet, DecodeError, EncodeError, Packet, ProtocolVersion, QoS};
pub use session::{
    ConnectionState, DeliveryStatus, DisconnectReason, Event, FailReason, RequestError, Session,
    SessionConfig, TransportCommand,
};
pub use topic::{topic_matches, validate_topic_filter, validate_topic_name, TopicError};
