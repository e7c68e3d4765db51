//! Differential tests of [`super::codec`] against the `mqttbytes` 0.6 crate (v4 = MQTT 3.1.1):
//! for fixed and randomized packets, ours encodes → mqttbytes decodes, mqttbytes encodes → ours
//! decodes, the fields compare equal, and both encoders produce identical bytes.
//!
//! Generated data stays inside what both sides accept: non-zero packet ids, topics valid per
//! 3.1.1, no NUL, a password only with a non-empty user name (mqttbytes drops empty ones).

use std::string::String;
use std::vec::Vec;

use bytes::{Bytes, BytesMut};
use mqttbytes::v4 as theirs;

use super::codec::{
    decode_packet, ConnAck, Connect, ConnectReturnCode, LastWill, Packet, ProtocolVersion, Publish,
    QoS, SubAck, SubackReturnCode, Subscribe, SubscribeFilter, Unsubscribe,
};
use super::test_support::TestRng;

const MAX: usize = 1 << 24;
const ROUNDS: usize = 400;

fn their_qos(qos: QoS) -> mqttbytes::QoS {
    match qos {
        QoS::AtMostOnce => mqttbytes::QoS::AtMostOnce,
        QoS::AtLeastOnce => mqttbytes::QoS::AtLeastOnce,
        QoS::ExactlyOnce => mqttbytes::QoS::ExactlyOnce,
    }
}

fn their_connack_code(code: ConnectReturnCode) -> theirs::ConnectReturnCode {
    use theirs::ConnectReturnCode as T;
    match code {
        ConnectReturnCode::Accepted => T::Success,
        ConnectReturnCode::UnacceptableProtocolVersion => T::RefusedProtocolVersion,
        ConnectReturnCode::IdentifierRejected => T::BadClientId,
        ConnectReturnCode::ServerUnavailable => T::ServiceUnavailable,
        ConnectReturnCode::BadUserNameOrPassword => T::BadUserNamePassword,
        ConnectReturnCode::NotAuthorized => T::NotAuthorized,
    }
}

fn their_suback_code(code: SubackReturnCode) -> theirs::SubscribeReasonCode {
    match code {
        SubackReturnCode::Granted(qos) => theirs::SubscribeReasonCode::Success(their_qos(qos)),
        SubackReturnCode::Failure => theirs::SubscribeReasonCode::Failure,
    }
}

/// Builds the mqttbytes twin of one of our packets.
fn to_theirs(packet: &Packet<'_>) -> theirs::Packet {
    match packet {
        Packet::Connect(connect) => theirs::Packet::Connect(theirs::Connect {
            protocol: mqttbytes::Protocol::V4,
            keep_alive: connect.keep_alive_secs,
            client_id: connect.client_id.into(),
            clean_session: connect.clean_session,
            last_will: connect.last_will.map(|will| theirs::LastWill {
                topic: will.topic.into(),
                message: Bytes::copy_from_slice(will.message),
                qos: their_qos(will.qos),
                retain: will.retain,
            }),
            login: connect.username.map(|username| theirs::Login {
                username: username.into(),
                password: connect
                    .password
                    .map(|p| String::from_utf8(p.to_vec()).unwrap())
                    .unwrap_or_default(),
            }),
        }),
        Packet::ConnAck(connack) => theirs::Packet::ConnAck(theirs::ConnAck {
            session_present: connack.session_present,
            code: their_connack_code(connack.code),
        }),
        Packet::Publish(publish) => theirs::Packet::Publish(theirs::Publish {
            dup: publish.dup,
            qos: their_qos(publish.qos),
            retain: publish.retain,
            topic: publish.topic.into(),
            pkid: publish.packet_id,
            payload: Bytes::copy_from_slice(publish.payload),
        }),
        Packet::PubAck(id) => theirs::Packet::PubAck(theirs::PubAck { pkid: *id }),
        Packet::PubRec(id) => theirs::Packet::PubRec(theirs::PubRec { pkid: *id }),
        Packet::PubRel(id) => theirs::Packet::PubRel(theirs::PubRel { pkid: *id }),
        Packet::PubComp(id) => theirs::Packet::PubComp(theirs::PubComp { pkid: *id }),
        Packet::Subscribe(subscribe) => theirs::Packet::Subscribe(theirs::Subscribe {
            pkid: subscribe.packet_id,
            filters: subscribe
                .filters
                .iter()
                .map(|entry| {
                    theirs::SubscribeFilter::new(entry.filter.into(), their_qos(entry.qos))
                })
                .collect(),
        }),
        Packet::SubAck(suback) => theirs::Packet::SubAck(theirs::SubAck {
            pkid: suback.packet_id,
            return_codes: suback
                .return_codes
                .iter()
                .map(|c| their_suback_code(*c))
                .collect(),
        }),
        Packet::Unsubscribe(unsubscribe) => theirs::Packet::Unsubscribe(theirs::Unsubscribe {
            pkid: unsubscribe.packet_id,
            topics: unsubscribe
                .filters
                .iter()
                .map(|f| String::from(*f))
                .collect(),
        }),
        Packet::UnsubAck(id) => theirs::Packet::UnsubAck(theirs::UnsubAck { pkid: *id }),
        Packet::PingReq => theirs::Packet::PingReq,
        Packet::PingResp => theirs::Packet::PingResp,
        Packet::Disconnect => theirs::Packet::Disconnect,
    }
}

fn their_encode(packet: &theirs::Packet) -> Vec<u8> {
    let mut buffer = BytesMut::new();
    let result = match packet {
        theirs::Packet::Connect(p) => p.write(&mut buffer),
        theirs::Packet::ConnAck(p) => p.write(&mut buffer),
        theirs::Packet::Publish(p) => p.write(&mut buffer),
        theirs::Packet::PubAck(p) => p.write(&mut buffer),
        theirs::Packet::PubRec(p) => p.write(&mut buffer),
        theirs::Packet::PubRel(p) => p.write(&mut buffer),
        theirs::Packet::PubComp(p) => p.write(&mut buffer),
        theirs::Packet::Subscribe(p) => p.write(&mut buffer),
        theirs::Packet::SubAck(p) => p.write(&mut buffer),
        theirs::Packet::Unsubscribe(p) => p.write(&mut buffer),
        theirs::Packet::UnsubAck(p) => p.write(&mut buffer),
        theirs::Packet::PingReq => theirs::PingReq.write(&mut buffer),
        theirs::Packet::PingResp => theirs::PingResp.write(&mut buffer),
        theirs::Packet::Disconnect => theirs::Disconnect.write(&mut buffer),
    };
    result.expect("mqttbytes encodes");
    buffer.to_vec()
}

fn their_decode(bytes: &[u8]) -> theirs::Packet {
    let mut buffer = BytesMut::from(bytes);
    let packet = theirs::read(&mut buffer, MAX).expect("mqttbytes decodes our bytes");
    assert!(buffer.is_empty(), "mqttbytes left {} bytes", buffer.len());
    packet
}

/// Encodes with both, compares bytes, and cross-decodes in both directions.
fn check_both_ways(ours: &Packet<'_>) {
    let expected_theirs = to_theirs(ours);

    let mut our_bytes = Vec::new();
    ours.encode(&mut our_bytes).expect("we encode");
    assert_eq!(
        their_decode(&our_bytes),
        expected_theirs,
        "ours -> mqttbytes"
    );

    let their_bytes = their_encode(&expected_theirs);
    let (decoded, used) = decode_packet(&their_bytes, MAX)
        .expect("we decode mqttbytes output")
        .expect("complete");
    assert_eq!(used, their_bytes.len());
    assert_eq!(&decoded, ours, "mqttbytes -> ours");

    assert_eq!(our_bytes, their_bytes, "identical encodings for {ours:?}");
}

// --- random generators -----------------------------------------------------------------------

const LEVEL_CHARS: &[&str] = &[
    "a", "b", "Z", "0", "9", "_", "-", " ", "$", "é", "°", "ü", "中", "x",
];

fn random_level(rng: &mut TestRng) -> String {
    let length = rng.below(6);
    (0..length)
        .map(|_| LEVEL_CHARS[rng.below(LEVEL_CHARS.len())])
        .collect()
}

fn random_topic_name(rng: &mut TestRng) -> String {
    loop {
        let levels = 1 + rng.below(5);
        let topic: Vec<String> = (0..levels).map(|_| random_level(rng)).collect();
        let topic = topic.join("/");
        if !topic.is_empty() {
            return topic;
        }
    }
}

fn random_topic_filter(rng: &mut TestRng) -> String {
    let levels = 1 + rng.below(5);
    let mut parts: Vec<String> = Vec::new();
    for index in 0..levels {
        let last = index + 1 == levels;
        let part = match rng.below(6) {
            0 => String::from("+"),
            1 if last => String::from("#"),
            _ => random_level(rng),
        };
        parts.push(part);
    }
    let filter = parts.join("/");
    if filter.is_empty() {
        String::from("#")
    } else {
        filter
    }
}

fn random_text(rng: &mut TestRng, max_length: usize) -> String {
    let length = rng.below(max_length + 1);
    (0..length)
        .map(|_| LEVEL_CHARS[rng.below(LEVEL_CHARS.len())])
        .collect()
}

fn random_qos(rng: &mut TestRng) -> QoS {
    QoS::from_u8(rng.below(3) as u8).unwrap()
}

fn random_packet_id(rng: &mut TestRng) -> u16 {
    1 + rng.below(65_535) as u16
}

fn random_payload(rng: &mut TestRng) -> Vec<u8> {
    let length = match rng.below(10) {
        0 => 0,
        1 => 100 + rng.below(20_000), // multi-byte remaining length
        _ => rng.below(64),
    };
    rng.bytes(length)
}

/// Owned storage a random packet borrows from.
struct Storage {
    strings: Vec<String>,
    blobs: Vec<Vec<u8>>,
}

fn random_storage(rng: &mut TestRng) -> Storage {
    let mut strings = Vec::new();
    for _ in 0..8 {
        strings.push(random_topic_name(rng));
    }
    for _ in 0..8 {
        strings.push(random_topic_filter(rng));
    }
    for _ in 0..4 {
        strings.push(random_text(rng, 30));
    }
    // the last one is the password: mqttbytes models passwords as String
    let blobs = std::vec![
        random_payload(rng),
        random_payload(rng),
        random_text(rng, 12).into_bytes()
    ];
    Storage { strings, blobs }
}

fn random_packet<'a>(rng: &mut TestRng, storage: &'a Storage, kind: usize) -> Packet<'a> {
    let topic = |index: usize| storage.strings[index % 8].as_str();
    let filter = |index: usize| storage.strings[8 + index % 8].as_str();
    let text = |index: usize| storage.strings[16 + index % 4].as_str();
    match kind {
        0 => {
            let username = if rng.chance(1, 2) {
                Some(text(0)).filter(|u| !u.is_empty())
            } else {
                None
            };
            let password = if username.is_some() && rng.chance(1, 2) && !storage.blobs[2].is_empty()
            {
                Some(storage.blobs[2].as_slice())
            } else {
                None
            };
            Packet::Connect(Connect {
                protocol: ProtocolVersion::V3_1_1,
                client_id: text(1),
                keep_alive_secs: rng.next_u32() as u16,
                clean_session: rng.chance(1, 2),
                last_will: if rng.chance(1, 2) {
                    Some(LastWill {
                        topic: topic(rng.below(8)),
                        message: &storage.blobs[0],
                        qos: random_qos(rng),
                        retain: rng.chance(1, 2),
                    })
                } else {
                    None
                },
                username,
                password,
            })
        }
        1 => Packet::ConnAck(ConnAck {
            session_present: rng.chance(1, 2),
            code: ConnectReturnCode::from_u8(rng.below(6) as u8).unwrap(),
        }),
        2 => {
            let qos = random_qos(rng);
            Packet::Publish(Publish {
                dup: qos != QoS::AtMostOnce && rng.chance(1, 2),
                qos,
                retain: rng.chance(1, 2),
                topic: topic(rng.below(8)),
                packet_id: if qos == QoS::AtMostOnce {
                    0
                } else {
                    random_packet_id(rng)
                },
                payload: &storage.blobs[1],
            })
        }
        3 => Packet::PubAck(random_packet_id(rng)),
        4 => Packet::PubRec(random_packet_id(rng)),
        5 => Packet::PubRel(random_packet_id(rng)),
        6 => Packet::PubComp(random_packet_id(rng)),
        7 => {
            let count = 1 + rng.below(6);
            Packet::Subscribe(Subscribe {
                packet_id: random_packet_id(rng),
                filters: (0..count)
                    .map(|_| SubscribeFilter {
                        filter: filter(rng.below(8)),
                        qos: random_qos(rng),
                    })
                    .collect(),
            })
        }
        8 => {
            let count = 1 + rng.below(8);
            Packet::SubAck(SubAck {
                packet_id: random_packet_id(rng),
                return_codes: (0..count)
                    .map(|_| SubackReturnCode::from_u8([0, 1, 2, 0x80][rng.below(4)]).unwrap())
                    .collect(),
            })
        }
        9 => {
            let count = 1 + rng.below(6);
            Packet::Unsubscribe(Unsubscribe {
                packet_id: random_packet_id(rng),
                filters: (0..count).map(|_| filter(rng.below(8))).collect(),
            })
        }
        10 => Packet::UnsubAck(random_packet_id(rng)),
        11 => Packet::PingReq,
        12 => Packet::PingResp,
        _ => Packet::Disconnect,
    }
}

const PACKET_KINDS: usize = 14;

// --- tests -------------------------------------------------------------------------------------

#[test]
fn differential_fixed_packets_match_mqttbytes() {
    let payload = [7u8; 200];
    let packets = [
        Packet::Connect(Connect {
            protocol: ProtocolVersion::V3_1_1,
            client_id: "client-1",
            keep_alive_secs: 60,
            clean_session: true,
            last_will: Some(LastWill {
                topic: "/hans/will",
                message: b"unexpected exit",
                qos: QoS::ExactlyOnce,
                retain: false,
            }),
            username: Some("hans"),
            password: Some(b"letmein"),
        }),
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "topic/1",
            packet_id: 4314,
            payload: b"temperature:32.5",
        }),
        Packet::Publish(Publish {
            dup: true,
            qos: QoS::ExactlyOnce,
            retain: true,
            topic: "a",
            packet_id: 65535,
            payload: &payload,
        }),
        Packet::SubAck(SubAck {
            packet_id: 4313,
            return_codes: std::vec![
                SubackReturnCode::Granted(QoS::ExactlyOnce),
                SubackReturnCode::Failure
            ],
        }),
        Packet::PingReq,
        Packet::PingResp,
        Packet::Disconnect,
    ];
    for packet in &packets {
        check_both_ways(packet);
    }
}

#[test]
fn differential_random_packets_of_every_type_match_mqttbytes() {
    let mut rng = TestRng::new(0x5EED_0001);
    let mut checked = 0usize;
    for _ in 0..ROUNDS {
        let storage = random_storage(&mut rng);
        for kind in 0..PACKET_KINDS {
            let packet = random_packet(&mut rng, &storage, kind);
            check_both_ways(&packet);
            checked += 1;
        }
    }
    assert_eq!(checked, ROUNDS * PACKET_KINDS);
}

#[test]
fn differential_random_streams_split_anywhere_decode_like_mqttbytes() {
    // Several packets back to back, fed to our decoder in random chunks: the sequence decoded
    // must equal what mqttbytes decodes from the whole stream.
    let mut rng = TestRng::new(0x5EED_0002);
    for _ in 0..100 {
        let storage = random_storage(&mut rng);
        let packets: Vec<Packet<'_>> = (0..6)
            .map(|_| {
                let kind = rng.below(PACKET_KINDS);
                random_packet(&mut rng, &storage, kind)
            })
            .collect();
        let mut stream = Vec::new();
        for packet in &packets {
            packet.encode(&mut stream).unwrap();
        }
        let mut theirs_buffer = BytesMut::from(stream.as_slice());
        let mut decoded_by_them = Vec::new();
        while !theirs_buffer.is_empty() {
            decoded_by_them.push(theirs::read(&mut theirs_buffer, MAX).unwrap());
        }

        let mut received: Vec<u8> = Vec::new();
        let mut start = 0usize;
        let mut decoded_by_us = Vec::new();
        let mut fed = 0usize;
        while fed < stream.len() {
            let chunk = 1 + rng.below(64);
            let end = (fed + chunk).min(stream.len());
            received.extend_from_slice(&stream[fed..end]);
            fed = end;
            while let Some((packet, used)) = decode_packet(&received[start..], MAX).unwrap() {
                decoded_by_us.push(to_theirs(&packet));
                start += used;
            }
        }
        assert_eq!(start, stream.len());
        assert_eq!(decoded_by_us, decoded_by_them);
    }
}
