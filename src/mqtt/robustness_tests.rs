//! "Never panics on garbage": thousands of random, truncated and mutated byte strings go
//! through the decoder and through a live session (with random time steps and user calls).
//! Any panic fails the test; the decoder must also be consistent (a decoded packet re-encodes
//! to a prefix-consistent frame, `used` never exceeds the input).

use std::vec::Vec;

use super::codec::QoS;
use super::codec::{decode_packet, Packet};
use super::session::{DisconnectReason, Event, Session, SessionConfig, TransportCommand};
use super::test_support::TestRng;

/// A corpus of valid packets (client- and broker-side) to truncate and mutate.
fn valid_frames() -> Vec<Vec<u8>> {
    let frames: [&[u8]; 14] = [
        &[0x20, 2, 1, 0],                               // CONNACK session present
        &[0x20, 2, 0, 5],                               // CONNACK refused
        &[0x30, 6, 0, 3, b'a', b'/', b'b', b'x'],       // PUBLISH QoS 0
        &[0x32, 8, 0, 3, b'a', b'/', b'b', 0, 7, b'x'], // PUBLISH QoS 1
        &[0x3D, 6, 0, 1, b'q', 0, 9, b'y'],             // PUBLISH QoS 2 DUP RETAIN
        &[0x40, 2, 0, 1],
        &[0x50, 2, 0, 2],
        &[0x62, 2, 0, 9],
        &[0x70, 2, 0, 2],
        &[0x90, 5, 0, 1, 0, 0x80, 2],
        &[0xB0, 2, 0, 3],
        &[0xD0, 0],
        &[
            0x10, 16, 0, 4, b'M', b'Q', b'T', b'T', 4, 0xC2, 0, 60, 0, 1, b'c', 0, 1, b'u', 0, 0,
        ],
        &[0x82, 8, 0, 4, 0, 3, b'a', b'/', b'#', 1],
    ];
    frames.iter().map(|f| f.to_vec()).collect()
}

fn garbage(rng: &mut TestRng, corpus: &[Vec<u8>]) -> Vec<u8> {
    match rng.below(4) {
        0 => {
            let length = rng.below(40);
            rng.bytes(length)
        }
        1 => {
            // truncated valid frame
            let frame = &corpus[rng.below(corpus.len())];
            frame[..rng.below(frame.len() + 1)].to_vec()
        }
        2 => {
            // valid frame with a few bytes flipped
            let mut frame = corpus[rng.below(corpus.len())].clone();
            for _ in 0..1 + rng.below(3) {
                let index = rng.below(frame.len());
                frame[index] ^= 1 << rng.below(8);
            }
            frame
        }
        _ => {
            // several valid frames, one corrupted byte somewhere, random tail
            let mut stream = Vec::new();
            for _ in 0..1 + rng.below(4) {
                stream.extend_from_slice(&corpus[rng.below(corpus.len())]);
            }
            let index = rng.below(stream.len());
            stream[index] = rng.next_u32() as u8;
            let tail = rng.below(8);
            stream.extend(rng.bytes(tail));
            stream
        }
    }
}

#[test]
fn decoder_never_panics_on_random_truncated_or_mutated_bytes() {
    let mut rng = TestRng::new(0xBAD_5EED);
    let corpus = valid_frames();
    let mut decoded = 0usize;
    for _ in 0..50_000 {
        let input = garbage(&mut rng, &corpus);
        let max = [0usize, 3, 64, usize::MAX][rng.below(4)];
        if let Ok(Some((packet, used))) = decode_packet(&input, max) {
            assert!(used <= input.len());
            decoded += 1;
            // what we accept we can re-encode, to the same bytes when the varint was minimal
            let mut again = Vec::new();
            packet
                .encode(&mut again)
                .expect("decoded packets re-encode");
            let (reparsed, _) = decode_packet(&again, usize::MAX).unwrap().unwrap();
            assert_eq!(reparsed, packet);
        }
    }
    assert!(
        decoded > 1_000,
        "the corpus should still decode sometimes: {decoded}"
    );
}

#[test]
fn decoder_accepts_nothing_from_an_empty_or_one_byte_input() {
    for byte in 0..=255u8 {
        let input = [byte];
        assert!(matches!(
            decode_packet(&input, usize::MAX),
            Ok(None) | Err(_)
        ));
    }
    assert_eq!(decode_packet(&[], usize::MAX), Ok(None));
    let _ = Packet::PingReq;
}

#[test]
fn session_never_panics_on_garbage_and_random_calls() {
    let mut rng = TestRng::new(0x5E55_1017);
    let corpus = valid_frames();
    let (mut connected_events, mut messages, mut statuses, mut protocol_errors) = (0, 0, 0, 0);
    for round in 0..300 {
        let config = SessionConfig {
            client_id: "fuzz".into(),
            keep_alive_secs: rng.below(3) as u16,
            clean_session: rng.chance(1, 2),
            max_inflight: 1 + rng.below(3),
            max_queued: rng.below(4),
            max_pending_requests: rng.below(3),
            ack_timeout_ms: 1 + rng.below(3_000) as u64,
            max_attempts: 1 + rng.below(3) as u8,
            connect_timeout_ms: 1 + rng.below(3_000) as u64,
            ping_timeout_ms: 1 + rng.below(3_000) as u64,
            reconnect_min_ms: rng.below(500) as u64,
            reconnect_max_ms: rng.below(5_000) as u64,
            auto_reconnect: rng.chance(3, 4),
            max_incoming_packet_size: 1 + rng.below(100),
            max_inbound_qos2: rng.below(4),
            ..SessionConfig::default()
        };
        let mut session = Session::new(config, rng.next_u32()).unwrap();
        // start near the top of the clock range sometimes, to exercise saturation
        let mut now: u64 = if round % 10 == 0 {
            u64::MAX - 10_000
        } else {
            0
        };
        let mut connected_transport = false;
        let mut pending_input: Vec<u8> = Vec::new();
        for _ in 0..200 {
            now = now.saturating_add(rng.below(1_500) as u64);
            match rng.below(13) {
                0 => session.connect(now),
                1 => {
                    if connected_transport {
                        session.on_transport_closed(now);
                        connected_transport = false;
                    }
                }
                2 => {
                    let qos = QoS::from_u8(rng.below(3) as u8).unwrap();
                    let topic = ["a/b", "x", "", "bad/#", "ok/+"][rng.below(5)];
                    if let Err(error) =
                        session.publish(topic, b"payload", qos, rng.chance(1, 2), now)
                    {
                        assert!(!error.message().is_empty());
                    }
                }
                3 => {
                    let _ = session
                        .subscribe(&[("a/#", QoS::AtLeastOnce), ("b/+", QoS::ExactlyOnce)], now);
                }
                4 => {
                    let _ = session.unsubscribe(&["a/#"], now);
                }
                5 => session.disconnect(now),
                6 => {
                    // a valid CONNACK (sometimes refused) to get into the connected state
                    let code = [0u8, 0, 0, 3, 5][rng.below(5)];
                    pending_input.extend_from_slice(&[0x20, 2, rng.below(2) as u8, code]);
                }
                7 | 8 => {
                    // acks for ids that may be in flight
                    let id = 1 + rng.below(8) as u8;
                    let kind = [0x40u8, 0x50, 0x62, 0x70, 0xB0][rng.below(5)];
                    pending_input.extend_from_slice(&[kind, 2, 0, id]);
                    if rng.chance(1, 3) {
                        pending_input.extend_from_slice(&[0x90, 4, 0, id, 1, 0x80]);
                    }
                }
                9 => pending_input.extend(garbage(&mut rng, &corpus)),
                10 => pending_input.extend_from_slice(&corpus[2 + rng.below(3)]), // PUBLISH
                _ => session.poll(now),
            }
            if !pending_input.is_empty() {
                let cut = rng.below(pending_input.len() + 1);
                let used = session.handle_bytes(&pending_input[..cut], now);
                assert!(used <= cut);
                pending_input.drain(..used);
                if pending_input.len() > 256 {
                    pending_input.clear();
                }
            }
            let _ = session.take_outgoing();
            for event in session.drain_events() {
                match event {
                    Event::Connected { .. } => connected_events += 1,
                    Event::Message { .. } => messages += 1,
                    Event::Status { .. } => statuses += 1,
                    Event::Disconnected {
                        reason: DisconnectReason::ProtocolError(_),
                    } => protocol_errors += 1,
                    _ => {}
                }
            }
            if let Some(wake) = session.next_wakeup_ms() {
                if rng.chance(1, 4) {
                    now = now.max(wake);
                    session.poll(now);
                }
            }
            match session.take_transport_command() {
                Some(TransportCommand::Open) => {
                    if rng.chance(4, 5) {
                        session.on_transport_connected(now);
                        connected_transport = true;
                    } else {
                        session.on_transport_closed(now);
                    }
                    pending_input.clear();
                }
                Some(TransportCommand::Close) => {
                    connected_transport = false;
                    pending_input.clear();
                }
                None => {}
            }
            assert!(session.inflight_len() <= session.config().max_inflight);
            assert!(session.queued_len() <= session.config().max_queued);
        }
    }
    // the walk must reach the interesting states, or it proves little
    assert!(connected_events > 100, "connected {connected_events}");
    assert!(messages > 20, "messages {messages}");
    assert!(statuses > 100, "statuses {statuses}");
    assert!(protocol_errors > 50, "protocol errors {protocol_errors}");
}
