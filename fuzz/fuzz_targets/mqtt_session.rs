//! The MQTT session driven by a byte program: user calls, transport events, clock steps and
//! broker bytes (garbage included) in any order. It never panics, keeps its bounds, consumes no
//! more than it was given, every byte it asks to send decodes as well-formed MQTT, and due
//! timers settle within a few polls.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pythongoose::mqtt::codec::{decode_packet, QoS};
use pythongoose::mqtt::session::{Event, Session, SessionConfig, TransportCommand, Will};

struct Program<'a> {
    bytes: &'a [u8],
}

impl Program<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(first)
    }
    fn below(&mut self, bound: usize) -> usize {
        self.byte().map_or(0, |b| usize::from(b) % bound.max(1))
    }
    fn take(&mut self, count: usize) -> &[u8] {
        let (taken, rest) = self.bytes.split_at(count.min(self.bytes.len()));
        self.bytes = rest;
        taken
    }
}

const TOPICS: [&str; 8] = ["a/b", "a", "", "bad/#", "ok/+", "#", "a/+/c", "sport/tennis/player1"];

fn qos(choice: usize) -> QoS {
    QoS::from_u8((choice % 3) as u8).unwrap_or(QoS::AtMostOnce)
}

fn check_outgoing(outgoing: &[u8]) {
    let mut rest = outgoing;
    while !rest.is_empty() {
        match decode_packet(rest, usize::MAX) {
            Ok(Some((_, used))) => rest = &rest[used..],
            other => panic!("the session sent bytes that do not decode: {other:?} in {outgoing:02x?}"),
        }
    }
}

/// What the event layer does after each call: send the session's bytes (checked here) and open
/// or close the transport (a closed one drops the broker bytes not yet handed over).
fn carry_out(session: &mut Session, transport_open: &mut bool, input: &mut Vec<u8>) {
    check_outgoing(&session.take_outgoing());
    match session.take_transport_command() {
        Some(TransportCommand::Open) => *transport_open = true,
        Some(TransportCommand::Close) => {
            *transport_open = false;
            input.clear();
        }
        None => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let mut program = Program { bytes: data };
    let config = SessionConfig {
        client_id: "fuzz".into(),
        keep_alive_secs: program.below(4) as u16,
        clean_session: program.below(2) == 0,
        will: (program.below(3) == 0).then(|| Will {
            topic: "will/t".into(),
            message: b"gone".to_vec(),
            qos: qos(program.below(3)),
            retain: program.below(2) == 0,
        }),
        max_inflight: 1 + program.below(4),
        max_queued: program.below(5),
        max_pending_requests: program.below(4),
        ack_timeout_ms: 1 + program.below(4) as u64 * 500,
        max_attempts: 1 + program.below(3) as u8,
        connect_timeout_ms: 1 + program.below(4) as u64 * 700,
        ping_timeout_ms: 1 + program.below(4) as u64 * 300,
        reconnect_min_ms: program.below(4) as u64 * 100,
        reconnect_max_ms: program.below(4) as u64 * 1000,
        auto_reconnect: program.below(4) != 0,
        max_incoming_packet_size: 1 + program.below(256),
        max_inbound_qos2: program.below(4),
        ..SessionConfig::default()
    };
    let max_inflight = config.max_inflight;
    let max_queued = config.max_queued;
    let Ok(mut session) = Session::new(config, 7) else { return };
    let mut now: u64 = if program.below(8) == 0 { u64::MAX - 5_000 } else { 0 };
    let mut transport_open = false;
    let mut input: Vec<u8> = Vec::new();
    while !program.bytes.is_empty() {
        now = now.saturating_add(program.below(64) as u64 * 50);
        match program.below(12) {
            0 => session.connect(now),
            1 => session.on_transport_connected(now),
            2 => {
                if transport_open {
                    session.on_transport_closed(now);
                    transport_open = false;
                    input.clear();
                }
            }
            3 => {
                let topic = TOPICS[program.below(TOPICS.len())];
                let length = program.below(40);
                let payload = program.take(length).to_vec();
                let chosen_qos = qos(program.below(3));
                if let Err(error) = session.publish(topic, &payload, chosen_qos, program.below(2) == 0, now) {
                    assert!(!error.message().is_empty());
                }
            }
            4 => {
                let first = TOPICS[program.below(TOPICS.len())];
                let second = TOPICS[program.below(TOPICS.len())];
                let _ = session.subscribe(&[(first, qos(program.below(3))), (second, qos(program.below(3)))], now);
            }
            5 => {
                let _ = session.unsubscribe(&[TOPICS[program.below(TOPICS.len())]], now);
            }
            6 => session.disconnect(now),
            7 | 8 => {
                let length = program.below(64);
                input.extend_from_slice(program.take(length));
            }
            _ => session.poll(now),
        }
        if !input.is_empty() && transport_open {
            let offered = program.below(input.len() + 1);
            let used = session.handle_bytes(&input[..offered], now);
            assert!(used <= offered);
            input.drain(..used);
            if input.len() > 512 {
                input.clear();
            }
        }
        carry_out(&mut session, &mut transport_open, &mut input);
        assert!(session.inflight_len() <= max_inflight);
        assert!(session.queued_len() <= max_queued);
        // The user sees every message; the held-back acknowledgements then go out.
        for event in session.drain_events() {
            if let Event::Message { qos, packet_id, .. } = event {
                session.message_handled(qos, packet_id, now);
            }
        }
        // Due timers settle within a few polls at the same time (a zero reconnect delay takes
        // two: the reconnect, then the attempt's deadline), or the event loop would spin.
        let mut polls = 0;
        while now < u64::MAX && session.next_wakeup_ms().is_some_and(|wakeup| wakeup <= now) {
            polls += 1;
            assert!(polls <= 8, "still due at {now} after 8 polls: {:?}", session.state());
            session.poll(now);
            carry_out(&mut session, &mut transport_open, &mut input);
            let _ = session.drain_events();
        }
    }
});
