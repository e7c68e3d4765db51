//! Unit tests of the MQTT session state machine (`super::session`), one behaviour per test.

use super::*;
use alloc::string::ToString;
use alloc::vec;

/// An owned view of what the session sent, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sent {
    Connect {
        client_id: String,
        clean_session: bool,
        keep_alive_secs: u16,
    },
    Publish {
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
        dup: bool,
        packet_id: u16,
    },
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    Subscribe {
        packet_id: u16,
        filters: Vec<(String, QoS)>,
    },
    Unsubscribe {
        packet_id: u16,
        filters: Vec<String>,
    },
    PingReq,
    Disconnect,
}

fn sent(session: &mut Session) -> Vec<Sent> {
    let bytes = session.take_outgoing();
    let mut rest = bytes.as_slice();
    let mut packets = Vec::new();
    while !rest.is_empty() {
        let (packet, used) = decode_packet(rest, usize::MAX).unwrap().unwrap();
        packets.push(match packet {
            Packet::Connect(c) => Sent::Connect {
                client_id: c.client_id.to_string(),
                clean_session: c.clean_session,
                keep_alive_secs: c.keep_alive_secs,
            },
            Packet::Publish(p) => Sent::Publish {
                topic: p.topic.to_string(),
                payload: p.payload.to_vec(),
                qos: p.qos,
                retain: p.retain,
                dup: p.dup,
                packet_id: p.packet_id,
            },
            Packet::PubAck(id) => Sent::PubAck(id),
            Packet::PubRec(id) => Sent::PubRec(id),
            Packet::PubRel(id) => Sent::PubRel(id),
            Packet::PubComp(id) => Sent::PubComp(id),
            Packet::Subscribe(s) => Sent::Subscribe {
                packet_id: s.packet_id,
                filters: s
                    .filters
                    .iter()
                    .map(|f| (f.filter.to_string(), f.qos))
                    .collect(),
            },
            Packet::Unsubscribe(u) => Sent::Unsubscribe {
                packet_id: u.packet_id,
                filters: u.filters.iter().map(|f| f.to_string()).collect(),
            },
            Packet::PingReq => Sent::PingReq,
            Packet::Disconnect => Sent::Disconnect,
            other => panic!("a client never sends {other:?}"),
        });
        rest = &rest[used..];
    }
    packets
}

fn feed(session: &mut Session, packet: Packet<'_>, now_ms: u64) {
    let mut bytes = Vec::new();
    packet.encode(&mut bytes).unwrap();
    assert_eq!(session.handle_bytes(&bytes, now_ms), bytes.len());
}

fn connack(session_present: bool, code: ConnectReturnCode) -> Packet<'static> {
    Packet::ConnAck(ConnAck {
        session_present,
        code,
    })
}

fn server_publish(
    topic: &str,
    payload: &'static [u8],
    qos: QoS,
    packet_id: u16,
    dup: bool,
) -> Packet<'static> {
    // Leak is fine in tests: gives the borrowed topic a 'static lifetime.
    let topic: &'static str = alloc::boxed::Box::leak(topic.to_string().into_boxed_str());
    Packet::Publish(Publish {
        dup,
        qos,
        retain: false,
        topic,
        packet_id,
        payload,
    })
}

fn test_config() -> SessionConfig {
    SessionConfig {
        client_id: "test-client".into(),
        keep_alive_secs: 10,
        ack_timeout_ms: 5_000,
        max_attempts: 3,
        connect_timeout_ms: 3_000,
        ping_timeout_ms: 2_000,
        reconnect_min_ms: 1_000,
        reconnect_max_ms: 16_000,
        max_inflight: 2,
        max_queued: 3,
        ..SessionConfig::default()
    }
}

/// Connects a session at time `now_ms` with the given CONNACK session-present flag.
fn connect_session(session: &mut Session, session_present: bool, now_ms: u64) {
    session.connect(now_ms);
    assert_eq!(
        session.take_transport_command(),
        Some(TransportCommand::Open)
    );
    session.on_transport_connected(now_ms);
    let packets = sent(session);
    assert!(
        matches!(packets.first(), Some(Sent::Connect { .. })),
        "{packets:?}"
    );
    feed(
        session,
        connack(session_present, ConnectReturnCode::Accepted),
        now_ms,
    );
    assert_eq!(session.state(), ConnectionState::Connected);
}

fn connected(config: SessionConfig) -> Session {
    let mut session = Session::new(config, 42).unwrap();
    connect_session(&mut session, false, 0);
    session.drain_events();
    session
}

fn status(packet_id: u16, status: DeliveryStatus) -> Event {
    Event::Status { packet_id, status }
}

/// Loses the link and reconnects (poll at the reconnect time), CONNACK with the flag.
fn reconnect(session: &mut Session, session_present: bool, now_ms: u64) -> u64 {
    session.on_transport_closed(now_ms);
    let at = session.next_wakeup_ms().unwrap();
    session.poll(at);
    assert_eq!(
        session.take_transport_command(),
        Some(TransportCommand::Open)
    );
    session.on_transport_connected(at);
    assert!(matches!(sent(session).first(), Some(Sent::Connect { .. })));
    feed(
        session,
        connack(session_present, ConnectReturnCode::Accepted),
        at,
    );
    at
}

#[test]
fn module_doc_example_flow_works() {
    let config = SessionConfig {
        client_id: "esp32-1".into(),
        ..SessionConfig::default()
    };
    let mut session = Session::new(config, 0x1234_5678).unwrap();
    session.connect(0);
    assert_eq!(
        session.take_transport_command(),
        Some(TransportCommand::Open)
    );
    session.on_transport_connected(5);
    let connect_bytes = session.take_outgoing();
    assert_eq!(connect_bytes.first(), Some(&0x10));
    let used = session.handle_bytes(&[0x20, 0x02, 0x00, 0x00], 20);
    assert_eq!(used, 4);
    assert_eq!(
        session.drain_events(),
        vec![Event::Connected {
            session_present: false
        }]
    );
    let _subscribe_id = session
        .subscribe(&[("sensors/+", QoS::AtLeastOnce)], 21)
        .unwrap();
    let pid = session
        .publish("sensors/t", b"21.5", QoS::AtLeastOnce, false, 22)
        .unwrap();
    let _ = session.take_outgoing();
    session.handle_bytes(&[0x40, 0x02, (pid >> 8) as u8, pid as u8], 30);
    assert_eq!(
        session.drain_events(),
        vec![status(pid, DeliveryStatus::Delivered)]
    );
    let wake_at = session.next_wakeup_ms().unwrap();
    session.poll(wake_at);
}

#[test]
fn connect_asks_for_a_transport_then_sends_connect_with_credentials_and_will() {
    let config = SessionConfig {
        username: Some("hans".into()),
        password: Some(b"letmein".to_vec()),
        will: Some(Will {
            topic: "/hans/will".into(),
            message: b"unexpected exit".to_vec(),
            qos: QoS::ExactlyOnce,
            retain: true,
        }),
        clean_session: false,
        ..test_config()
    };
    let mut session = Session::new(config, 1).unwrap();
    assert_eq!(session.state(), ConnectionState::Disconnected);
    assert_eq!(session.next_wakeup_ms(), None);
    session.connect(100);
    assert_eq!(session.state(), ConnectionState::Connecting);
    assert_eq!(
        session.take_transport_command(),
        Some(TransportCommand::Open)
    );
    assert!(!session.has_outgoing());
    session.on_transport_connected(150);
    assert_eq!(session.state(), ConnectionState::AwaitingConnAck);
    let bytes = session.take_outgoing();
    let Packet::Connect(connect) = decode_packet(&bytes, usize::MAX).unwrap().unwrap().0 else {
        panic!("expected CONNECT")
    };
    assert_eq!(connect.client_id, "test-client");
    assert_eq!(connect.keep_alive_secs, 10);
    assert!(!connect.clean_session);
    assert_eq!(connect.username, Some("hans"));
    assert_eq!(connect.password, Some(&b"letmein"[..]));
    let will = connect.last_will.unwrap();
    assert_eq!(
        (will.topic, will.message, will.qos, will.retain),
        (
            "/hans/will",
            &b"unexpected exit"[..],
            QoS::ExactlyOnce,
            true
        )
    );
}

#[test]
fn connack_accepted_reports_connected_with_session_present_flag() {
    let config = SessionConfig {
        clean_session: false,
        ..test_config()
    };
    let mut session = Session::new(config, 1).unwrap();
    connect_session(&mut session, true, 0);
    assert_eq!(
        session.drain_events(),
        vec![Event::Connected {
            session_present: true
        }]
    );
    assert!(session.is_connected());
}

#[test]
fn connack_refusals_report_the_code_and_stop_reconnecting() {
    for code in [
        ConnectReturnCode::UnacceptableProtocolVersion,
        ConnectReturnCode::IdentifierRejected,
        ConnectReturnCode::BadUserNameOrPassword,
        ConnectReturnCode::NotAuthorized,
    ] {
        let mut session = Session::new(test_config(), 1).unwrap();
        let queued = session
            .publish("t", b"x", QoS::AtLeastOnce, false, 0)
            .unwrap();
        session.connect(0);
        session.take_transport_command();
        session.on_transport_connected(0);
        sent(&mut session);
        feed(&mut session, connack(false, code), 10);
        assert_eq!(
            session.take_transport_command(),
            Some(TransportCommand::Close)
        );
        assert_eq!(session.state(), ConnectionState::Disconnected);
        assert_eq!(
            session.drain_events(),
            vec![
                Event::ConnectRefused { code },
                status(
                    queued,
                    DeliveryStatus::Failed(FailReason::ConnectionRefused(code))
                ),
            ]
        );
        assert_eq!(session.next_wakeup_ms(), None);
        session.poll(1_000_000);
        assert_eq!(session.take_transport_command(), None);
        assert!(!code.message().is_empty());
    }
}

#[test]
fn a_permanent_transport_failure_stops_the_session_like_a_refusal() {
    let reason = "tls: certificate verify failed: test";
    let mut session = Session::new(test_config(), 1).unwrap();
    let queued = session.publish("t", b"x", QoS::AtLeastOnce, false, 0).unwrap();
    session.connect(0);
    assert_eq!(session.take_transport_command(), Some(TransportCommand::Open));
    session.on_transport_connected(0);
    sent(&mut session);
    session.on_transport_failed(reason, true, 5);
    assert_eq!(session.state(), ConnectionState::Disconnected);
    assert_eq!(
        session.drain_events(),
        vec![
            Event::ConnectFailed { reason: DisconnectReason::TransportFailed(reason) },
            status(queued, DeliveryStatus::Failed(FailReason::TransportRefused(reason))),
        ]
    );
    assert_eq!(DisconnectReason::TransportFailed(reason).message(), reason);
    // No retry: nothing to wake up for, ever; the closing link's own CLOSE changes nothing.
    assert_eq!(session.next_wakeup_ms(), None);
    session.on_transport_closed(6);
    session.poll(1_000_000);
    assert_eq!(session.take_transport_command(), None);
    assert!(session.drain_events().is_empty());
}

#[test]
fn a_transient_transport_failure_is_retried_with_backoff_and_its_reason() {
    let reason = "tls: handshake failed (test)";
    let mut session = Session::new(test_config(), 1).unwrap();
    session.connect(0);
    session.take_transport_command();
    session.on_transport_connected(0);
    sent(&mut session);
    session.on_transport_failed(reason, false, 5);
    assert_eq!(session.state(), ConnectionState::WaitingToReconnect);
    assert_eq!(session.drain_events(), vec![Event::ConnectFailed { reason: DisconnectReason::TransportFailed(reason) }]);
    let wake = session.next_wakeup_ms().unwrap();
    assert!(wake > 5);
    session.on_transport_closed(6);
    assert!(session.drain_events().is_empty());
    session.poll(wake);
    assert_eq!(session.take_transport_command(), Some(TransportCommand::Open));
}

#[test]
fn connack_server_unavailable_is_retried_with_backoff() {
    let mut session = Session::new(test_config(), 1).unwrap();
    session.connect(0);
    session.take_transport_command();
    session.on_transport_connected(0);
    feed(
        &mut session,
        connack(false, ConnectReturnCode::ServerUnavailable),
        10,
    );
    assert_eq!(
        session.take_transport_command(),
        Some(TransportCommand::Close)
    );
    assert_eq!(session.state(), ConnectionState::WaitingToReconnect);
    let at = session.next_wakeup_ms().unwrap();
    assert!((510..=1_010).contains(&at), "{at}");
    session.poll(at);
    assert_eq!(
        session.take_transport_command(),
        Some(TransportCommand::Open)
    );
}

#[test]
fn qos0_publish_is_sent_at_once_and_refused_while_offline() {
    let mut offline = Session::new(test_config(), 1).unwrap();
    assert_eq!(
        offline.publish("a/b", b"x", QoS::AtMostOnce, false, 0),
        Err(RequestError::NotConnected)
    );
    let mut session = connected(test_config());
    assert_eq!(
        session.publish("a/b", b"hello", QoS::AtMostOnce, true, 5),
        Ok(0)
    );
    assert_eq!(
        sent(&mut session),
        vec![Sent::Publish {
            topic: "a/b".into(),
            payload: b"hello".to_vec(),
            qos: QoS::AtMostOnce,
            retain: true,
            dup: false,
            packet_id: 0
        }]
    );
    assert!(session.drain_events().is_empty());
}

#[test]
fn publish_with_invalid_topic_is_rejected_with_a_message() {
    let mut session = connected(test_config());
    let error = session
        .publish("a/+", b"x", QoS::AtLeastOnce, false, 0)
        .unwrap_err();
    assert_eq!(
        error,
        RequestError::InvalidTopic(TopicError::WildcardInTopicName)
    );
    assert_eq!(error.message(), "topic name must not contain '+' or '#'");
    assert_eq!(
        session.publish("", b"x", QoS::AtMostOnce, false, 0),
        Err(RequestError::InvalidTopic(TopicError::Empty))
    );
    assert_eq!(
        session.subscribe(&[("a/#/b", QoS::AtMostOnce)], 0),
        Err(RequestError::InvalidTopic(
            TopicError::MisplacedMultiLevelWildcard
        ))
    );
    assert_eq!(session.subscribe(&[], 0), Err(RequestError::NoFilters));
    assert_eq!(session.unsubscribe(&[], 0), Err(RequestError::NoFilters));
    assert!(!session.has_outgoing());
}

#[test]
fn qos1_publish_is_delivered_on_puback() {
    let mut session = connected(test_config());
    let pid = session
        .publish("t", b"p", QoS::AtLeastOnce, false, 10)
        .unwrap();
    assert_eq!(
        sent(&mut session),
        vec![Sent::Publish {
            topic: "t".into(),
            payload: b"p".to_vec(),
            qos: QoS::AtLeastOnce,
            retain: false,
            dup: false,
            packet_id: pid
        }]
    );
    assert_eq!(session.inflight_len(), 1);
    feed(&mut session, Packet::PubAck(pid), 20);
    assert_eq!(
        session.drain_events(),
        vec![status(pid, DeliveryStatus::Delivered)]
    );
    assert_eq!(session.inflight_len(), 0);
    // a second PUBACK for the same id is ignored
    feed(&mut session, Packet::PubAck(pid), 21);
    assert!(session.drain_events().is_empty());
}

#[test]
fn qos2_publish_completes_pubrec_pubrel_pubcomp_handshake() {
    let mut session = connected(test_config());
    let pid = session
        .publish("t", b"p", QoS::ExactlyOnce, false, 10)
        .unwrap();
    assert!(matches!(
        sent(&mut session).as_slice(),
        [Sent::Publish {
            qos: QoS::ExactlyOnce,
            ..
        }]
    ));
    feed(&mut session, Packet::PubComp(pid), 15); // PUBCOMP before PUBREC: ignored
    assert!(session.drain_events().is_empty());
    feed(&mut session, Packet::PubRec(pid), 20);
    assert_eq!(sent(&mut session), vec![Sent::PubRel(pid)]);
    assert!(session.drain_events().is_empty());
    feed(&mut session, Packet::PubRec(pid), 21); // duplicate PUBREC: PUBREL again
    assert_eq!(sent(&mut session), vec![Sent::PubRel(pid)]);
    feed(&mut session, Packet::PubComp(pid), 30);
    assert_eq!(
        session.drain_events(),
        vec![status(pid, DeliveryStatus::Delivered)]
    );
    assert_eq!(session.inflight_len(), 0);
}

#[test]
fn qos1_inbound_is_delivered_and_acknowledged_with_puback_once_handled() {
    let mut session = connected(test_config());
    feed(
        &mut session,
        server_publish("s/t", b"data", QoS::AtLeastOnce, 77, false),
        5,
    );
    assert_eq!(
        session.drain_events(),
        vec![Event::Message {
            topic: "s/t".into(),
            payload: b"data".to_vec(),
            qos: QoS::AtLeastOnce,
            retain: false,
            dup: false,
            packet_id: 77,
        }]
    );
    assert_eq!(sent(&mut session), vec![], "no PUBACK before the user has the message");
    session.message_handled(QoS::AtLeastOnce, 77, 6);
    assert_eq!(sent(&mut session), vec![Sent::PubAck(77)]);
    session.message_handled(QoS::AtLeastOnce, 77, 7);
    assert_eq!(sent(&mut session), vec![], "one PUBACK per message");
}

#[test]
fn inbound_acks_wait_for_each_message_in_order_of_handling() {
    let mut session = connected(test_config());
    for id in 1..=3u16 {
        feed(&mut session, server_publish("s", b"m", QoS::AtLeastOnce, id, false), 5);
    }
    assert_eq!(session.drain_events().len(), 3);
    session.message_handled(QoS::AtLeastOnce, 1, 6);
    assert_eq!(sent(&mut session), vec![Sent::PubAck(1)]);
    // messages 2 and 3 not handled yet (the script stopped): nothing acknowledged for them
    assert_eq!(sent(&mut session), vec![]);
    session.message_handled(QoS::AtLeastOnce, 3, 7);
    session.message_handled(QoS::AtLeastOnce, 2, 7);
    assert_eq!(sent(&mut session), vec![Sent::PubAck(3), Sent::PubAck(2)]);
}

#[test]
fn a_qos1_message_handled_after_its_link_dropped_is_not_acknowledged_on_the_next_link() {
    let config = SessionConfig { clean_session: false, ..test_config() };
    let mut session = Session::new(config, 3).unwrap();
    connect_session(&mut session, false, 0);
    feed(&mut session, server_publish("s", b"m", QoS::AtLeastOnce, 4, false), 1);
    session.drain_events();
    reconnect(&mut session, true, 10);
    session.message_handled(QoS::AtLeastOnce, 4, 3_000);
    assert_eq!(sent(&mut session), vec![], "the broker resends it on this link");
}

#[test]
fn qos0_inbound_is_delivered_without_reply() {
    let mut session = connected(test_config());
    feed(
        &mut session,
        server_publish("s", b"", QoS::AtMostOnce, 0, false),
        5,
    );
    assert_eq!(session.drain_events().len(), 1);
    assert!(!session.has_outgoing());
}

#[test]
fn qos2_inbound_is_delivered_once_until_pubrel() {
    let mut session = connected(test_config());
    feed(
        &mut session,
        server_publish("q2", b"once", QoS::ExactlyOnce, 9, false),
        5,
    );
    assert_eq!(session.drain_events().len(), 1);
    assert_eq!(sent(&mut session), vec![], "no PUBREC before the user has the message");
    // resent before it was handled: neither delivered again nor acknowledged
    feed(
        &mut session,
        server_publish("q2", b"once", QoS::ExactlyOnce, 9, true),
        5,
    );
    assert!(session.drain_events().is_empty());
    assert_eq!(sent(&mut session), vec![]);
    session.message_handled(QoS::ExactlyOnce, 9, 5);
    assert_eq!(sent(&mut session), vec![Sent::PubRec(9)]);
    // the broker resends (DUP) before PUBREL: acknowledged again, not delivered again
    feed(
        &mut session,
        server_publish("q2", b"once", QoS::ExactlyOnce, 9, true),
        6,
    );
    assert!(session.drain_events().is_empty());
    assert_eq!(sent(&mut session), vec![Sent::PubRec(9)]);
    feed(&mut session, Packet::PubRel(9), 7);
    assert_eq!(sent(&mut session), vec![Sent::PubComp(9)]);
    // after PUBREL the id is free: a new message with id 9 is a new message
    feed(
        &mut session,
        server_publish("q2", b"again", QoS::ExactlyOnce, 9, false),
        8,
    );
    assert_eq!(session.drain_events().len(), 1);
}

#[test]
fn inbound_qos2_store_survives_a_kept_session_and_is_cleared_when_lost() {
    let config = SessionConfig {
        clean_session: false,
        ..test_config()
    };
    let mut session = Session::new(config, 3).unwrap();
    connect_session(&mut session, false, 0);
    feed(
        &mut session,
        server_publish("q", b"m", QoS::ExactlyOnce, 5, false),
        1,
    );
    session.drain_events();
    reconnect(&mut session, true, 10);
    feed(
        &mut session,
        server_publish("q", b"m", QoS::ExactlyOnce, 5, true),
        2_000,
    );
    let events = session.drain_events();
    assert!(
        !events.iter().any(|e| matches!(e, Event::Message { .. })),
        "{events:?}"
    );
    reconnect(&mut session, false, 3_000);
    feed(
        &mut session,
        server_publish("q", b"m", QoS::ExactlyOnce, 5, false),
        10_000,
    );
    assert!(session
        .drain_events()
        .iter()
        .any(|e| matches!(e, Event::Message { .. })));
}

#[test]
fn too_many_unreleased_inbound_qos2_is_a_protocol_error() {
    let mut session = connected(SessionConfig {
        max_inbound_qos2: 2,
        ..test_config()
    });
    for id in 1..=3u16 {
        feed(
            &mut session,
            server_publish("q", b"m", QoS::ExactlyOnce, id, false),
            1,
        );
    }
    let events = session.drain_events();
    assert_eq!(
        events.last(),
        Some(&Event::Disconnected {
            reason: DisconnectReason::ProtocolError(ProtocolViolation::TooManyInboundQos2)
        })
    );
    assert_eq!(
        session.take_transport_command(),
        Some(TransportCommand::Close)
    );
}

#[test]
fn subscribe_sends_all_filters_and_reports_delivered_on_suback() {
    let mut session = connected(test_config());
    let pid = session
        .subscribe(&[("a/+", QoS::AtLeastOnce), ("b/#", QoS::ExactlyOnce)], 1)
        .unwrap();
    assert_eq!(
        sent(&mut session),
        vec![Sent::Subscribe {
            packet_id: pid,
            filters: vec![
                ("a/+".into(), QoS::AtLeastOnce),
                ("b/#".into(), QoS::ExactlyOnce)
            ]
        }]
    );
    feed(
        &mut session,
        Packet::SubAck(SubAck {
            packet_id: pid,
            return_codes: vec![
                SubackReturnCode::Granted(QoS::AtLeastOnce),
                SubackReturnCode::Granted(QoS::AtLeastOnce),
            ],
        }),
        2,
    );
    assert_eq!(
        session.drain_events(),
        vec![status(pid, DeliveryStatus::Delivered)]
    );
    assert_eq!(
        session.subscriptions(),
        &[
            ("a/+".into(), QoS::AtLeastOnce),
            ("b/#".into(), QoS::ExactlyOnce)
        ]
    );
}

#[test]
fn suback_failure_0x80_reports_failed_with_the_topic() {
    let mut session = connected(test_config());
    let pid = session
        .subscribe(
            &[("ok/#", QoS::AtMostOnce), ("denied", QoS::AtLeastOnce)],
            1,
        )
        .unwrap();
    sent(&mut session);
    feed(
        &mut session,
        Packet::SubAck(SubAck {
            packet_id: pid,
            return_codes: vec![
                SubackReturnCode::Granted(QoS::AtMostOnce),
                SubackReturnCode::Failure,
            ],
        }),
        2,
    );
    assert_eq!(
        session.drain_events(),
        vec![status(
            pid,
            DeliveryStatus::Failed(FailReason::SubscriptionRefused {
                filter: "denied".into()
            })
        )]
    );
    assert_eq!(session.subscriptions(), &[("ok/#".into(), QoS::AtMostOnce)]);
}

#[test]
fn suback_with_wrong_number_of_codes_is_a_protocol_error() {
    let mut session = connected(test_config());
    let pid = session
        .subscribe(&[("a", QoS::AtMostOnce), ("b", QoS::AtMostOnce)], 1)
        .unwrap();
    sent(&mut session);
    feed(
        &mut session,
        Packet::SubAck(SubAck {
            packet_id: pid,
            return_codes: vec![SubackReturnCode::Granted(QoS::AtMostOnce)],
        }),
        2,
    );
    assert_eq!(
        session.drain_events(),
        vec![Event::Disconnected {
            reason: DisconnectReason::ProtocolError(ProtocolViolation::SubackCountMismatch)
        }]
    );
    assert_eq!(session.state(), ConnectionState::WaitingToReconnect);
}

#[test]
fn unsubscribe_reports_delivered_and_forgets_the_filter() {
    let mut session = connected(test_config());
    let sub = session
        .subscribe(&[("a", QoS::AtMostOnce), ("b", QoS::AtMostOnce)], 1)
        .unwrap();
    feed(
        &mut session,
        Packet::SubAck(SubAck {
            packet_id: sub,
            return_codes: vec![SubackReturnCode::Granted(QoS::AtMostOnce); 2],
        }),
        2,
    );
    session.drain_events();
    sent(&mut session);
    let unsub = session.unsubscribe(&["a"], 3).unwrap();
    assert_eq!(
        sent(&mut session),
        vec![Sent::Unsubscribe {
            packet_id: unsub,
            filters: vec!["a".into()]
        }]
    );
    assert_eq!(session.subscriptions(), &[("b".into(), QoS::AtMostOnce)]);
    feed(&mut session, Packet::UnsubAck(unsub), 4);
    assert_eq!(
        session.drain_events(),
        vec![status(unsub, DeliveryStatus::Delivered)]
    );
}

#[test]
fn packet_ids_wrap_past_65535_skip_zero_and_ids_in_flight() {
    let mut session = connected(SessionConfig {
        max_inflight: 10,
        ..test_config()
    });
    session.last_packet_id = 65_533;
    let first = session
        .publish("t", b"", QoS::AtLeastOnce, false, 1)
        .unwrap();
    let second = session
        .publish("t", b"", QoS::AtLeastOnce, false, 1)
        .unwrap();
    assert_eq!((first, second), (65_534, 65_535));
    // id 1 is still in flight from a long time ago? make it so, then wrap
    session.last_packet_id = 65_535;
    let third = session
        .publish("t", b"", QoS::AtLeastOnce, false, 1)
        .unwrap();
    assert_eq!(third, 1);
    session.last_packet_id = 65_533;
    let fourth = session.subscribe(&[("x", QoS::AtMostOnce)], 1).unwrap();
    assert_eq!(
        fourth, 2,
        "skips 65534, 65535 (in flight), 0 and 1 (in flight)"
    );
}

#[test]
fn inflight_window_queues_excess_publishes_and_sends_them_as_acks_arrive() {
    let mut session = connected(test_config()); // window 2, queue 3
    let ids: Vec<u16> = (0..4)
        .map(|i| {
            session
                .publish("t", &[i], QoS::AtLeastOnce, false, 1)
                .unwrap()
        })
        .collect();
    assert_eq!(sent(&mut session).len(), 2);
    assert_eq!((session.inflight_len(), session.queued_len()), (2, 2));
    feed(&mut session, Packet::PubAck(ids[0]), 2);
    assert_eq!(
        sent(&mut session),
        vec![Sent::Publish {
            topic: "t".into(),
            payload: vec![2],
            qos: QoS::AtLeastOnce,
            retain: false,
            dup: false,
            packet_id: ids[2]
        }]
    );
    feed(&mut session, Packet::PubAck(ids[1]), 3);
    feed(&mut session, Packet::PubAck(ids[2]), 3);
    assert_eq!(sent(&mut session).len(), 1);
    feed(&mut session, Packet::PubAck(ids[3]), 4);
    let delivered: Vec<u16> = session
        .drain_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Status {
                packet_id,
                status: DeliveryStatus::Delivered,
            } => Some(packet_id),
            _ => None,
        })
        .collect();
    assert_eq!(delivered, ids);
}

#[test]
fn full_queue_rejects_publish_with_an_error() {
    let mut session = connected(test_config()); // window 2, queue 3
    for _ in 0..5 {
        session
            .publish("t", b"x", QoS::ExactlyOnce, false, 1)
            .unwrap();
    }
    assert_eq!(
        session.publish("t", b"x", QoS::AtLeastOnce, false, 1),
        Err(RequestError::QueueFull)
    );
    assert_eq!(RequestError::QueueFull.message(), "publish queue full");
    // QoS 0 is not subject to the window
    assert_eq!(session.publish("t", b"x", QoS::AtMostOnce, false, 1), Ok(0));
}

#[test]
fn the_queue_holds_at_most_max_queued_bytes_of_encoded_publishes() {
    // 100-byte payload on topic "t": 2 + 1 + 2 + 100 = 105 bytes remaining, 107 encoded.
    let config = SessionConfig { max_queued: 10, max_queued_bytes: 3 * 107, ..test_config() };
    let mut session = connected(config); // window 2
    let payload = [7u8; 100];
    for _ in 0..2 + 3 {
        session.publish("t", &payload, QoS::AtLeastOnce, false, 1).unwrap();
    }
    assert_eq!(session.queued_len(), 3);
    assert_eq!(
        session.publish("t", &payload, QoS::AtLeastOnce, false, 1),
        Err(RequestError::QueueFull)
    );
    // a smaller message does not fit either: the budget is full to the byte
    assert_eq!(
        session.publish("t", b"", QoS::AtLeastOnce, false, 1),
        Err(RequestError::QueueFull)
    );
    // one acknowledgement moves a queued publish into the window: room for one more
    let first = sent(&mut session)
        .into_iter()
        .find_map(|packet| match packet {
            Sent::Publish { packet_id, .. } => Some(packet_id),
            _ => None,
        })
        .unwrap();
    feed(&mut session, Packet::PubAck(first), 2);
    assert_eq!(session.queued_len(), 2);
    session.publish("t", &payload, QoS::AtLeastOnce, false, 2).unwrap();
    assert_eq!(session.queued_len(), 3);
}

#[test]
fn a_message_larger_than_the_queue_budget_is_refused_only_when_it_must_wait() {
    let config = SessionConfig { max_queued_bytes: 50, ..test_config() };
    let mut session = connected(config); // window 2: these two go out at once
    session.publish("t", &[1u8; 100], QoS::AtLeastOnce, false, 1).unwrap();
    session.publish("t", &[1u8; 100], QoS::AtLeastOnce, false, 1).unwrap();
    assert_eq!(
        session.publish("t", &[1u8; 100], QoS::AtLeastOnce, false, 1),
        Err(RequestError::QueueFull)
    );
    session.publish("t", &[1u8; 40], QoS::AtLeastOnce, false, 1).unwrap();
    assert_eq!(session.queued_len(), 1);
}

#[test]
fn offline_qos1_publishes_are_queued_and_sent_after_connect() {
    let mut session = Session::new(test_config(), 5).unwrap();
    let a = session
        .publish("t", b"a", QoS::AtLeastOnce, false, 0)
        .unwrap();
    let b = session
        .publish("t", b"b", QoS::ExactlyOnce, false, 0)
        .unwrap();
    let c = session
        .publish("t", b"c", QoS::AtLeastOnce, false, 0)
        .unwrap();
    assert_eq!(
        session.publish("t", b"d", QoS::AtLeastOnce, false, 0),
        Err(RequestError::QueueFull)
    );
    assert!(!session.has_outgoing());
    let sub = session.subscribe(&[("in", QoS::AtLeastOnce)], 0).unwrap();
    session.connect(1);
    session.take_transport_command();
    session.on_transport_connected(2);
    sent(&mut session);
    feed(&mut session, connack(false, ConnectReturnCode::Accepted), 3);
    let packets = sent(&mut session);
    assert_eq!(packets.len(), 3, "{packets:?}"); // SUBSCRIBE + window of 2
    assert!(matches!(&packets[0], Sent::Subscribe { packet_id, .. } if *packet_id == sub));
    assert!(
        matches!(&packets[1], Sent::Publish { packet_id, dup: false, .. } if *packet_id == a)
    );
    assert!(
        matches!(&packets[2], Sent::Publish { packet_id, dup: false, .. } if *packet_id == b)
    );
    feed(&mut session, Packet::PubAck(a), 4);
    assert!(
        matches!(sent(&mut session).as_slice(), [Sent::Publish { packet_id, .. }] if *packet_id == c)
    );
}

#[test]
fn keepalive_sends_pingreq_when_idle_for_the_interval() {
    let mut session = connected(test_config()); // keepalive 10 s, connected at 0
    assert_eq!(session.next_wakeup_ms(), Some(10_000));
    session.poll(9_999);
    assert!(!session.has_outgoing());
    session.poll(10_000);
    assert_eq!(sent(&mut session), vec![Sent::PingReq]);
    assert_eq!(session.next_wakeup_ms(), Some(12_000)); // ping timeout
    feed(&mut session, Packet::PingResp, 10_050);
    assert_eq!(session.next_wakeup_ms(), Some(20_000));
    session.poll(15_000);
    assert!(!session.has_outgoing());
    assert!(session.is_connected());
}

#[test]
fn keepalive_pings_when_nothing_is_received_even_while_sending() {
    let mut session = connected(test_config());
    for second in 1..=10u64 {
        session
            .publish("t", b"x", QoS::AtMostOnce, false, second * 1000)
            .unwrap();
        session.poll(second * 1000);
    }
    let packets = sent(&mut session);
    assert_eq!(packets.last(), Some(&Sent::PingReq));
}

#[test]
fn keepalive_zero_never_pings() {
    let mut session = connected(SessionConfig {
        keep_alive_secs: 0,
        ..test_config()
    });
    assert_eq!(session.next_wakeup_ms(), None);
    session.poll(1_000_000_000);
    assert!(!session.has_outgoing());
}

#[test]
fn missing_pingresp_declares_the_link_dead_and_reconnects() {
    let mut session = connected(test_config());
    session.poll(10_000);
    assert_eq!(sent(&mut session), vec![Sent::PingReq]);
    session.poll(11_999);
    assert!(session.is_connected());
    session.poll(12_000);
    assert_eq!(session.state(), ConnectionState::WaitingToReconnect);
    assert_eq!(
        session.take_transport_command(),
        Some(TransportCommand::Close)
    );
    assert_eq!(
        session.drain_events(),
        vec![Event::Disconnected {
            reason: DisconnectReason::KeepaliveTimeout
        }]
    );
    let at = session.next_wakeup_ms().unwrap();
    session.poll(at);
    assert_eq!(
        session.take_transport_command(),
        Some(TransportCommand::Open)
    );
}

#[test]
fn any_packet_after_pingreq_counts_as_alive() {
    let mut session = connected(test_config());
    session.poll(10_000);
    sent(&mut session);
    feed(
        &mut session,
        server_publish("x", b"", QoS::AtMostOnce, 0, false),
        11_000,
    );
    session.poll(12_500);
    assert!(session.is_connected());
}

#[test]
fn backoff_grows_exponentially_with_jitter_and_resets_after_connect() {
    let mut session = Session::new(test_config(), 7).unwrap(); // 1 s .. 16 s
    session.connect(0);
    let mut now = 0u64;
    let mut delays = Vec::new();
    for _ in 0..7 {
        assert_eq!(
            session.take_transport_command(),
            Some(TransportCommand::Open)
        );
        session.on_transport_closed(now); // dial failed
        assert!(matches!(
            session.drain_events().as_slice(),
            [Event::ConnectFailed {
                reason: DisconnectReason::TransportClosed
            }]
        ));
        let at = session.next_wakeup_ms().unwrap();
        delays.push(at - now);
        now = at;
        session.poll(now);
    }
    for (failures, delay) in delays.iter().enumerate() {
        let nominal = (1_000u64 << failures).min(16_000);
        assert!(
            (nominal / 2..=nominal).contains(delay),
            "attempt {failures}: {delay} vs {nominal}"
        );
    }
    // jitter: the sequence is not exactly the nominal one
    assert!(delays
        .iter()
        .enumerate()
        .any(|(i, d)| *d != (1_000u64 << i).min(16_000)));
    session.on_transport_connected(now);
    feed(
        &mut session,
        connack(false, ConnectReturnCode::Accepted),
        now,
    );
    session.on_transport_closed(now + 1);
    let delay = session.next_wakeup_ms().unwrap() - (now + 1);
    assert!(
        (500..=1_000).contains(&delay),
        "reset after connect: {delay}"
    );
}

#[test]
fn jitter_depends_on_the_caller_random_seed() {
    let delay_for = |seed: u32| {
        let mut session = Session::new(test_config(), seed).unwrap();
        session.connect(0);
        session.on_transport_closed(0);
        session.next_wakeup_ms().unwrap()
    };
    let delays: Vec<u64> = (1..20).map(delay_for).collect();
    assert!(delays.iter().any(|d| *d != delays[0]));
    assert_eq!(delay_for(1234), delay_for(1234));
}

#[test]
fn connect_timeout_without_connack_fails_the_attempt_and_retries() {
    let mut session = Session::new(test_config(), 1).unwrap();
    session.connect(0);
    session.take_transport_command();
    session.on_transport_connected(100);
    assert_eq!(session.next_wakeup_ms(), Some(3_000));
    session.poll(3_000);
    assert_eq!(
        session.take_transport_command(),
        Some(TransportCommand::Close)
    );
    assert_eq!(
        session.drain_events(),
        vec![Event::ConnectFailed {
            reason: DisconnectReason::ConnectTimeout
        }]
    );
    assert_eq!(session.state(), ConnectionState::WaitingToReconnect);
}

#[test]
fn resubscribes_after_reconnect_when_the_broker_lost_the_session() {
    let mut session = connected(test_config());
    let pid = session
        .subscribe(&[("a/#", QoS::AtLeastOnce), ("b", QoS::AtMostOnce)], 1)
        .unwrap();
    feed(
        &mut session,
        Packet::SubAck(SubAck {
            packet_id: pid,
            return_codes: vec![SubackReturnCode::Granted(QoS::AtLeastOnce); 2],
        }),
        2,
    );
    session.drain_events();
    sent(&mut session);
    reconnect(&mut session, false, 100);
    let packets = sent(&mut session);
    let [Sent::Subscribe { packet_id, filters }] = packets.as_slice() else {
        panic!("{packets:?}")
    };
    assert_eq!(
        filters,
        &vec![
            ("a/#".to_string(), QoS::AtLeastOnce),
            ("b".to_string(), QoS::AtMostOnce)
        ]
    );
    feed(
        &mut session,
        Packet::SubAck(SubAck {
            packet_id: *packet_id,
            return_codes: vec![
                SubackReturnCode::Granted(QoS::AtLeastOnce),
                SubackReturnCode::Failure,
            ],
        }),
        5_000,
    );
    let events = session.drain_events();
    assert!(
        events.contains(&status(
            *packet_id,
            DeliveryStatus::Failed(FailReason::SubscriptionRefused { filter: "b".into() })
        )),
        "{events:?}"
    );
    assert!(!events.contains(&status(*packet_id, DeliveryStatus::Delivered)));
}

#[test]
fn no_resubscribe_when_the_broker_kept_the_session() {
    let config = SessionConfig {
        clean_session: false,
        ..test_config()
    };
    let mut session = Session::new(config, 1).unwrap();
    connect_session(&mut session, false, 0);
    let pid = session.subscribe(&[("a", QoS::AtLeastOnce)], 1).unwrap();
    feed(
        &mut session,
        Packet::SubAck(SubAck {
            packet_id: pid,
            return_codes: vec![SubackReturnCode::Granted(QoS::AtLeastOnce)],
        }),
        2,
    );
    sent(&mut session);
    reconnect(&mut session, true, 100);
    assert!(sent(&mut session).is_empty());
    assert_eq!(
        session.drain_events().last(),
        Some(&Event::Connected {
            session_present: true
        })
    );
}

#[test]
fn clean_session_always_resubscribes_even_if_broker_claims_session_present() {
    let mut session = connected(test_config()); // clean_session = true
    let pid = session.subscribe(&[("a", QoS::AtLeastOnce)], 1).unwrap();
    feed(
        &mut session,
        Packet::SubAck(SubAck {
            packet_id: pid,
            return_codes: vec![SubackReturnCode::Granted(QoS::AtLeastOnce)],
        }),
        2,
    );
    sent(&mut session);
    reconnect(&mut session, true, 100);
    assert!(matches!(
        sent(&mut session).as_slice(),
        [Sent::Subscribe { .. }]
    ));
}

#[test]
fn reconnect_with_kept_session_resends_qos1_with_dup_and_qos2_as_publish_or_pubrel() {
    let config = SessionConfig {
        clean_session: false,
        max_inflight: 5,
        ..test_config()
    };
    let mut session = Session::new(config, 1).unwrap();
    connect_session(&mut session, false, 0);
    let q1 = session
        .publish("t", b"one", QoS::AtLeastOnce, false, 1)
        .unwrap();
    let q2_unrec = session
        .publish("t", b"two", QoS::ExactlyOnce, false, 1)
        .unwrap();
    let q2_rec = session
        .publish("t", b"three", QoS::ExactlyOnce, true, 1)
        .unwrap();
    feed(&mut session, Packet::PubRec(q2_rec), 2);
    sent(&mut session);
    session.drain_events();
    reconnect(&mut session, true, 100);
    assert_eq!(
        sent(&mut session),
        vec![
            Sent::Publish {
                topic: "t".into(),
                payload: b"one".to_vec(),
                qos: QoS::AtLeastOnce,
                retain: false,
                dup: true,
                packet_id: q1
            },
            Sent::Publish {
                topic: "t".into(),
                payload: b"two".to_vec(),
                qos: QoS::ExactlyOnce,
                retain: false,
                dup: true,
                packet_id: q2_unrec
            },
            Sent::PubRel(q2_rec),
        ]
    );
    feed(&mut session, Packet::PubAck(q1), 2_000);
    feed(&mut session, Packet::PubRec(q2_unrec), 2_000);
    feed(&mut session, Packet::PubComp(q2_rec), 2_000);
    assert_eq!(sent(&mut session), vec![Sent::PubRel(q2_unrec)]);
    feed(&mut session, Packet::PubComp(q2_unrec), 2_001);
    let delivered = session
        .drain_events()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::Status {
                    status: DeliveryStatus::Delivered,
                    ..
                }
            )
        })
        .count();
    assert_eq!(delivered, 3);
}

#[test]
fn ack_timeout_resends_with_dup_then_reports_timed_out() {
    let mut session = connected(SessionConfig {
        keep_alive_secs: 0,
        ..test_config()
    }); // ack 5 s, 3 attempts
    let pid = session
        .publish("t", b"x", QoS::AtLeastOnce, false, 0)
        .unwrap();
    let queued = [
        session
            .publish("t", b"y", QoS::AtLeastOnce, false, 0)
            .unwrap(),
        session
            .publish("t", b"z", QoS::AtLeastOnce, false, 0)
            .unwrap(),
    ];
    sent(&mut session);
    assert_eq!(session.next_wakeup_ms(), Some(5_000));
    session.poll(5_000);
    let resent = sent(&mut session);
    assert!(
        resent
            .iter()
            .all(|p| matches!(p, Sent::Publish { dup: true, .. })),
        "{resent:?}"
    );
    assert_eq!(resent.len(), 2);
    session.poll(10_000);
    assert_eq!(sent(&mut session).len(), 2);
    session.poll(15_000); // third send unacknowledged: give up, window frees for the queue
    let events = session.drain_events();
    assert!(
        events.contains(&status(pid, DeliveryStatus::TimedOut)),
        "{events:?}"
    );
    let packets = sent(&mut session);
    assert!(
        matches!(packets.as_slice(), [Sent::Publish { packet_id, dup: false, .. }] if *packet_id == queued[1]),
        "{packets:?}"
    );
    // a late PUBACK for the timed-out publish is ignored
    feed(&mut session, Packet::PubAck(pid), 15_001);
    assert!(session.drain_events().is_empty());
}

#[test]
fn subscribe_ack_timeout_resends_then_times_out() {
    let mut session = connected(SessionConfig {
        keep_alive_secs: 0,
        max_attempts: 2,
        ..test_config()
    });
    let pid = session.subscribe(&[("a", QoS::AtMostOnce)], 0).unwrap();
    sent(&mut session);
    session.poll(5_000);
    assert!(matches!(
        sent(&mut session).as_slice(),
        [Sent::Subscribe { .. }]
    ));
    session.poll(10_000);
    assert_eq!(
        session.drain_events(),
        vec![status(pid, DeliveryStatus::TimedOut)]
    );
}

#[test]
fn resends_after_reconnects_count_as_attempts() {
    let mut session = Session::new(
        SessionConfig {
            max_attempts: 2,
            ..test_config()
        },
        9,
    )
    .unwrap();
    connect_session(&mut session, false, 0);
    let pid = session
        .publish("t", b"x", QoS::AtLeastOnce, false, 0)
        .unwrap();
    sent(&mut session);
    let at = reconnect(&mut session, false, 10);
    assert!(matches!(
        sent(&mut session).as_slice(),
        [Sent::Publish { dup: true, .. }]
    ));
    session.drain_events();
    reconnect(&mut session, false, at + 10);
    assert!(session
        .drain_events()
        .contains(&status(pid, DeliveryStatus::TimedOut)));
    assert!(sent(&mut session).is_empty());
}

#[test]
fn malformed_packet_from_broker_is_a_protocol_error_then_reconnects() {
    let mut session = connected(test_config());
    let garbage = [0x40u8, 0x02, 0x00, 0x00]; // PUBACK with packet id 0
    assert_eq!(session.handle_bytes(&garbage, 5), garbage.len());
    assert_eq!(
        session.drain_events(),
        vec![Event::Disconnected {
            reason: DisconnectReason::ProtocolError(ProtocolViolation::Malformed(
                DecodeError::PacketIdZero
            ))
        }]
    );
    assert_eq!(
        session.take_transport_command(),
        Some(TransportCommand::Close)
    );
    assert_eq!(session.state(), ConnectionState::WaitingToReconnect);
    let at = session.next_wakeup_ms().unwrap();
    session.poll(at);
    assert_eq!(
        session.take_transport_command(),
        Some(TransportCommand::Open)
    );
    assert!(
        !DisconnectReason::ProtocolError(ProtocolViolation::Malformed(
            DecodeError::PacketIdZero
        ))
        .message()
        .is_empty()
    );
}

#[test]
fn unexpected_packets_are_protocol_errors() {
    let mut waiting = Session::new(test_config(), 1).unwrap();
    waiting.connect(0);
    waiting.on_transport_connected(0);
    feed(&mut waiting, Packet::PingResp, 1);
    assert_eq!(
        waiting.drain_events(),
        vec![Event::ConnectFailed {
            reason: DisconnectReason::ProtocolError(ProtocolViolation::UnexpectedPacket(13))
        }]
    );
    for packet in [
        Packet::PingReq,
        Packet::Disconnect,
        connack(false, ConnectReturnCode::Accepted),
    ] {
        let mut session = connected(test_config());
        let number = packet.type_number();
        feed(&mut session, packet, 1);
        assert_eq!(
            session.drain_events(),
            vec![Event::Disconnected {
                reason: DisconnectReason::ProtocolError(ProtocolViolation::UnexpectedPacket(
                    number
                ))
            }]
        );
    }
}

#[test]
fn handle_bytes_consumes_complete_packets_and_leaves_a_partial_one() {
    let mut session = connected(test_config());
    let mut stream = Vec::new();
    server_publish("a", b"1", QoS::AtMostOnce, 0, false)
        .encode(&mut stream)
        .unwrap();
    server_publish("b", b"2", QoS::AtMostOnce, 0, false)
        .encode(&mut stream)
        .unwrap();
    let partial_start = stream.len();
    server_publish("c", b"3", QoS::AtMostOnce, 0, false)
        .encode(&mut stream)
        .unwrap();
    let cut = stream.len() - 1;
    assert_eq!(session.handle_bytes(&stream[..cut], 1), partial_start);
    assert_eq!(session.drain_events().len(), 2);
    assert_eq!(
        session.handle_bytes(&stream[partial_start..], 2),
        stream.len() - partial_start
    );
    assert_eq!(session.drain_events().len(), 1);
    // byte by byte works too
    let mut pending: Vec<u8> = Vec::new();
    for byte in &stream {
        pending.push(*byte);
        let used = session.handle_bytes(&pending, 3);
        pending.drain(..used);
    }
    assert!(pending.is_empty());
    assert_eq!(session.drain_events().len(), 3);
}

#[test]
fn disconnect_sends_disconnect_stops_reconnecting_and_fails_pending() {
    let mut session = connected(test_config());
    let inflight = session
        .publish("t", b"x", QoS::AtLeastOnce, false, 1)
        .unwrap();
    let sub = session.subscribe(&[("a", QoS::AtMostOnce)], 1).unwrap();
    sent(&mut session);
    session.disconnect(2);
    assert_eq!(sent(&mut session), vec![Sent::Disconnect]);
    assert_eq!(
        session.take_transport_command(),
        Some(TransportCommand::Close)
    );
    assert_eq!(session.state(), ConnectionState::Disconnected);
    assert_eq!(
        session.drain_events(),
        vec![
            Event::Disconnected {
                reason: DisconnectReason::ClientRequested
            },
            status(
                inflight,
                DeliveryStatus::Failed(FailReason::ClientDisconnected)
            ),
            status(sub, DeliveryStatus::Failed(FailReason::ClientDisconnected)),
        ]
    );
    session.on_transport_closed(3); // the close we asked for: ignored
    assert!(session.drain_events().is_empty());
    assert_eq!(session.next_wakeup_ms(), None);
    session.poll(1_000_000);
    assert_eq!(session.take_transport_command(), None);
    // connect() again works
    session.connect(2_000_000);
    assert_eq!(
        session.take_transport_command(),
        Some(TransportCommand::Open)
    );
}

#[test]
fn disconnect_while_waiting_to_reconnect_cancels_the_reconnect() {
    let mut session = connected(test_config());
    session.on_transport_closed(5);
    session.drain_events();
    session.disconnect(6);
    assert_eq!(session.state(), ConnectionState::Disconnected);
    assert_eq!(session.take_transport_command(), None);
    session.poll(1_000_000);
    assert_eq!(session.take_transport_command(), None);
}

#[test]
fn transport_loss_reports_disconnected_and_keeps_pending_publishes() {
    let mut session = connected(test_config());
    let pid = session
        .publish("t", b"x", QoS::AtLeastOnce, false, 1)
        .unwrap();
    session.on_transport_closed(2);
    assert_eq!(
        session.drain_events(),
        vec![Event::Disconnected {
            reason: DisconnectReason::TransportClosed
        }]
    );
    assert_eq!(session.take_transport_command(), None);
    assert!(!session.has_outgoing());
    assert_eq!(session.inflight_len(), 1);
    // bytes arriving from the old connection are ignored
    assert_eq!(session.handle_bytes(&[0x40, 2, 0, 1], 3), 4);
    assert!(session.drain_events().is_empty());
    let _ = pid;
}

#[test]
fn without_auto_reconnect_a_lost_link_stops_and_fails_pending() {
    let mut session = connected(SessionConfig {
        auto_reconnect: false,
        ..test_config()
    });
    let pid = session
        .publish("t", b"x", QoS::AtLeastOnce, false, 1)
        .unwrap();
    session.on_transport_closed(2);
    assert_eq!(
        session.drain_events(),
        vec![
            Event::Disconnected {
                reason: DisconnectReason::TransportClosed
            },
            status(pid, DeliveryStatus::Failed(FailReason::ConnectionLost)),
        ]
    );
    assert_eq!(session.state(), ConnectionState::Disconnected);
    assert_eq!(session.next_wakeup_ms(), None);
}

#[test]
fn next_wakeup_is_the_earliest_timer() {
    let mut session = connected(test_config()); // keepalive 10 s, ack 5 s
    session
        .publish("t", b"x", QoS::AtLeastOnce, false, 1_000)
        .unwrap();
    assert_eq!(session.next_wakeup_ms(), Some(6_000));
}

#[test]
fn config_errors_are_reported() {
    let error = |config: SessionConfig| Session::new(config, 0).unwrap_err();
    assert_eq!(
        error(SessionConfig {
            client_id: String::new(),
            clean_session: false,
            ..test_config()
        }),
        ConfigError::EmptyClientIdNeedsCleanSession
    );
    assert!(Session::new(
        SessionConfig {
            client_id: String::new(),
            ..test_config()
        },
        0
    )
    .is_ok());
    assert_eq!(
        error(SessionConfig {
            max_inflight: 0,
            ..test_config()
        }),
        ConfigError::ZeroMaxInflight
    );
    assert_eq!(
        error(SessionConfig {
            max_attempts: 0,
            ..test_config()
        }),
        ConfigError::ZeroMaxAttempts
    );
    for zeroed in [
        SessionConfig { ack_timeout_ms: 0, ..test_config() },
        SessionConfig { connect_timeout_ms: 0, ..test_config() },
        SessionConfig { ping_timeout_ms: 0, ..test_config() },
    ] {
        assert_eq!(error(zeroed), ConfigError::ZeroTimeout);
    }
    assert_eq!(
        error(SessionConfig {
            password: Some(b"p".to_vec()),
            ..test_config()
        }),
        ConfigError::Encode(EncodeError::PasswordWithoutUsername)
    );
    let will = Will {
        topic: "a/#".into(),
        message: vec![],
        qos: QoS::AtMostOnce,
        retain: false,
    };
    assert_eq!(
        error(SessionConfig {
            will: Some(will),
            ..test_config()
        }),
        ConfigError::InvalidWillTopic(TopicError::WildcardInTopicName)
    );
    assert_eq!(
        ConfigError::ZeroMaxInflight.message(),
        "max_inflight must be at least 1"
    );
}

#[test]
fn client_id_from_random_hex_encodes_the_bytes() {
    assert_eq!(
        client_id_from_random("pg-", &[0x00, 0xAB, 0x7F]),
        "pg-00ab7f"
    );
    assert_eq!(client_id_from_random("", &[]), "");
}
