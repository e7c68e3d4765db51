use super::*;
use alloc::vec;
use alloc::vec::Vec;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A client frame: `first` is FIN/RSV/opcode, the payload masked with MASK.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    match payload.len() {
        len if len < 126 => out.push(0x80 | len as u8),
        len if len < 65536 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().zip(MASK.iter().cycle()).map(|(b, m)| b ^ m));
    out
}

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Text(Vec<u8>),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, Vec<u8>),
}

fn seen(event: Event<'_>) -> Seen {
    match event {
        Event::Message { binary: false, data } => Seen::Text(data.to_vec()),
        Event::Message { binary: true, data } => Seen::Binary(data.to_vec()),
        Event::Ping(data) => Seen::Ping(data.to_vec()),
        Event::Pong(data) => Seen::Pong(data.to_vec()),
        Event::Close { code, reason } => Seen::Close(code, reason.to_vec()),
    }
}

/// Feeds `stream` in pieces of `cuts` (the rest in one piece), as reads would bring it, keeping
/// the buffer between reads as a connection does. Returns the events and the first fault.
fn feed(stream: &[u8], cuts: &[usize], max_message: usize) -> (Vec<Seen>, Option<Fault>, Vec<u8>) {
    let mut buffer = Vec::new();
    let mut reassembly = Reassembly::default();
    let mut events = Vec::new();
    let mut at = 0;
    for piece in cuts.iter().copied().chain([stream.len()]) {
        let next = (at + piece).min(stream.len());
        buffer.extend_from_slice(&stream[at..next]);
        at = next;
        let outcome = read_frames(&mut buffer, &mut reassembly, max_message, |event| {
            events.push(seen(event));
            Flow::Continue
        });
        buffer.truncate(outcome.kept);
        if outcome.fault.is_some() {
            return (events, outcome.fault, buffer);
        }
        if at == stream.len() {
            break;
        }
    }
    (events, None, buffer)
}

#[test]
fn unmasking_matches_the_byte_by_byte_rule_at_every_length() {
    for len in 0..40 {
        let plain: Vec<u8> = (0..len as u8).map(|b| b.wrapping_mul(37)).collect();
        let mut masked: Vec<u8> = plain.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]).collect();
        unmask(&mut masked, MASK);
        assert_eq!(masked, plain, "length {len}");
    }
}

#[test]
fn headers_of_each_length_form_are_read_once_complete() {
    for (len, header_len) in [(0usize, 6usize), (125, 6), (126, 8), (65535, 8), (65536, 14)] {
        let bytes = frame(0x82, &vec![7u8; len]);
        for cut in 0..header_len {
            assert_eq!(parse_head(&bytes[..cut]), Ok(None), "{len} cut at {cut}");
        }
        let head = parse_head(&bytes).unwrap().unwrap();
        assert_eq!(head, FrameHead { fin: true, opcode: OP_BINARY, header_len, payload_len: len as u64, mask: MASK });
    }
}

#[test]
fn frames_that_break_the_rules_are_protocol_errors() {
    let mut unmasked = frame(0x81, b"hi");
    unmasked[1] &= 0x7f;
    let mut huge = vec![0x82, 0x80 | 127];
    huge.extend_from_slice(&(1u64 << 63).to_be_bytes());
    huge.extend_from_slice(&MASK);
    let long_ping = frame(0x89, &[0; 126]);
    for (name, bytes) in [
        ("RSV1", frame(0xc1, b"x")),
        ("RSV3", frame(0x91, b"x")),
        ("opcode 3", frame(0x83, b"x")),
        ("opcode 11", frame(0x8b, b"x")),
        ("unmasked", unmasked),
        ("fragmented ping", frame(0x09, b"x")),
        ("126-byte ping", long_ping),
        ("64-bit length with its top bit", huge),
    ] {
        assert_eq!(parse_head(&bytes), Err(Fault::Protocol), "{name}");
        let (events, fault, _) = feed(&bytes, &[], 1 << 20);
        assert_eq!((events, fault), (vec![], Some(Fault::Protocol)), "{name}");
    }
}

#[test]
fn many_frames_in_one_read_come_out_in_order_and_the_buffer_is_emptied() {
    let mut stream = Vec::new();
    for i in 0..100u8 {
        stream.extend(frame(0x81, &[b'a' + i % 26; 64]));
    }
    stream.extend(frame(0x89, b"are you there"));
    stream.extend(frame(0x82, &[0, 1, 2]));
    stream.extend(frame(0x8a, b""));
    let (events, fault, left) = feed(&stream, &[], 16384);
    assert_eq!((fault, left.len()), (None, 0));
    assert_eq!(events.len(), 103);
    assert_eq!(events[99], Seen::Text(vec![b'a' + 99 % 26; 64]));
    assert_eq!(events[100..], [Seen::Ping(b"are you there".to_vec()), Seen::Binary(vec![0, 1, 2]), Seen::Pong(vec![])]);
}

#[test]
fn a_stream_cut_anywhere_gives_the_same_events() {
    let mut stream = frame(0x01, b"frag");
    stream.extend(frame(0x89, b"ping between"));
    stream.extend(frame(0x00, b"mented "));
    stream.extend(frame(0x80, b"text"));
    stream.extend(frame(0x81, &[b'x'; 300]));
    stream.extend(frame(0x02, &[1; 70_000]));
    stream.extend(frame(0x80, &[2; 10]));
    stream.extend(frame(0x88, &[0x03, 0xe8, b'b', b'y', b'e']));
    let mut whole_binary = vec![1u8; 70_000];
    whole_binary.extend_from_slice(&[2; 10]);
    let expected = vec![
        Seen::Ping(b"ping between".to_vec()),
        Seen::Text(b"fragmented text".to_vec()),
        Seen::Text(vec![b'x'; 300]),
        Seen::Binary(whole_binary),
        Seen::Close(1000, b"bye".to_vec()),
    ];
    for cut in (1..stream.len()).step_by(97).chain([1, 2, 5, 6, 7, 8, 13, 14, 15]) {
        let (events, fault, left) = feed(&stream, &[cut], 1 << 20);
        assert_eq!((&events, fault, left.len()), (&expected, None, 0), "cut at {cut}");
    }
    // And a byte at a time (the first 3 000 bytes, then the rest).
    let (events, fault, _) = feed(&stream, &[1; 3000], 1 << 20);
    assert_eq!((events, fault), (expected, None));
}

#[test]
fn fragments_wait_at_the_front_of_the_buffer_with_the_next_frames_start_after_them() {
    let mut stream = frame(0x01, b"abc");
    stream.extend(frame(0x00, b"def"));
    let partial = frame(0x80, b"ghi");
    stream.extend_from_slice(&partial[..4]);
    let (events, fault, left) = feed(&stream, &[], 100);
    assert_eq!((events, fault), (vec![], None));
    let mut expected = b"abcdef".to_vec();
    expected.extend_from_slice(&partial[..4]);
    assert_eq!(left, expected);
}

#[test]
fn continuation_rules_are_enforced() {
    let (events, fault, _) = feed(&frame(0x80, b"orphan"), &[], 100);
    assert_eq!((events, fault), (vec![], Some(Fault::Protocol)));
    let mut stream = frame(0x01, b"a");
    stream.extend(frame(0x81, b"new message inside a fragmented one"));
    assert_eq!(feed(&stream, &[], 100).1, Some(Fault::Protocol));
    // Control frames may come between fragments; after the last one a new message may start.
    let mut stream = frame(0x01, b"a");
    stream.extend(frame(0x8a, b"pong"));
    stream.extend(frame(0x80, b"b"));
    stream.extend(frame(0x81, b"c"));
    let (events, fault, _) = feed(&stream, &[], 100);
    assert_eq!(fault, None);
    assert_eq!(events, [Seen::Pong(b"pong".to_vec()), Seen::Text(b"ab".to_vec()), Seen::Text(b"c".to_vec())]);
}

#[test]
fn a_message_over_the_limit_is_refused_from_its_header_alone() {
    let big = frame(0x82, &[0; 1000]);
    // Only the header has arrived: already too big, nothing buffered waiting for the payload.
    let (events, fault, _) = feed(&big[..8], &[], 999);
    assert_eq!((events, fault), (vec![], Some(Fault::TooBig)));
    assert_eq!(feed(&big, &[], 1000).1, None);
    // Fragments: the total counts.
    let mut stream = frame(0x01, &[b'a'; 600]);
    stream.extend(frame(0x80, &[b'b'; 401]));
    assert_eq!(feed(&stream, &[], 1000).1, Some(Fault::TooBig));
    // Control frames are not messages: a 100-byte ping with a 10-byte message limit is fine.
    let (events, fault, _) = feed(&frame(0x89, &[9; 100]), &[], 10);
    assert_eq!((events, fault), (vec![Seen::Ping(vec![9; 100])], None));
}

#[test]
fn close_frames_carry_a_code_or_none_and_one_byte_is_an_error() {
    assert_eq!(feed(&frame(0x88, b""), &[], 10).0, [Seen::Close(1005, vec![])]);
    assert_eq!(feed(&frame(0x88, &[0x0f, 0xa1]), &[], 10).0, [Seen::Close(4001, vec![])]);
    assert_eq!(feed(&frame(0x88, &[0x03]), &[], 10).1, Some(Fault::Protocol));
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
        assert_eq!(feed(&frame(0x88, &code.to_be_bytes()), &[], 10).1, Some(Fault::Protocol), "{code}");
    }
    for code in [1000u16, 1001, 1003, 1007, 1011, 1014, 3000, 4999] {
        assert_eq!(feed(&frame(0x88, &code.to_be_bytes()), &[], 10).0, [Seen::Close(code, vec![])], "{code}");
    }
}

#[test]
fn stop_leaves_the_rest_unread() {
    let mut stream = frame(0x81, b"one");
    stream.extend(frame(0x81, b"two"));
    let mut buffer = stream.clone();
    let mut seen_count = 0;
    let outcome = read_frames(&mut buffer, &mut Reassembly::default(), 100, |_| {
        seen_count += 1;
        Flow::Stop
    });
    assert_eq!((seen_count, outcome.fault), (1, None));
    // The second frame is still there, untouched (masked), at the front.
    assert_eq!(buffer[..outcome.kept], frame(0x81, b"two")[..]);
}

#[test]
fn fault_codes_and_reasons() {
    assert_eq!((Fault::Protocol.close_code(), Fault::TooBig.close_code()), (1002, 1009));
    assert_eq!(Fault::TooBig.reason(), b"message too big");
}

#[test]
fn a_buffer_shorter_than_its_reassembly_is_kept_as_it_is_without_a_panic() {
    // Not what a connection hands in, but no caller's mistake may take the board down.
    let mut reassembly = Reassembly::default();
    let mut first = frame(0x01, b"abcdef");
    let outcome = read_frames(&mut first, &mut reassembly, 100, |_| Flow::Continue);
    assert_eq!((outcome.kept, reassembly.kept()), (6, 6));
    let mut shorter = b"abc".to_vec();
    let outcome = read_frames(&mut shorter, &mut reassembly, 100, |_| Flow::Continue);
    assert_eq!(outcome, Outcome { kept: 3, fault: None });
}
