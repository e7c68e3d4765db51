//! The WebSocket frame reader on untrusted input: a stream fed in pieces (cut where the input's
//! first bytes say, as reads would bring it) must give exactly the events, the fault and the
//! leftover bytes that the same stream gives fed whole, and never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pythongoose::http::ws::{read_frames, Event, Fault, Flow, Reassembly};

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Message(bool, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(u16, Vec<u8>),
}

/// Feeds `stream` in pieces of the given sizes (the rest at the end); the events, the first
/// fault and what is left in the buffer.
fn feed(stream: &[u8], pieces: &[usize], max_message: usize) -> (Vec<Seen>, Option<Fault>, Vec<u8>) {
    let mut buffer = Vec::new();
    let mut reassembly = Reassembly::default();
    let mut events = Vec::new();
    let mut at = 0;
    for piece in pieces.iter().copied().chain([stream.len()]) {
        let next = (at + piece).min(stream.len());
        buffer.extend_from_slice(&stream[at..next]);
        at = next;
        let before = buffer.len();
        let outcome = read_frames(&mut buffer, &mut reassembly, max_message, |event| {
            events.push(match event {
                Event::Message { binary, data } => Seen::Message(binary, data.to_vec()),
                Event::Ping(data) => Seen::Ping(data.to_vec()),
                Event::Pong(data) => Seen::Pong(data.to_vec()),
                Event::Close { code, reason } => Seen::Close(code, reason.to_vec()),
            });
            Flow::Continue
        });
        assert!(outcome.kept <= before);
        assert!(reassembly.kept() <= outcome.kept);
        buffer.truncate(outcome.kept);
        if outcome.fault.is_some() {
            return (events, outcome.fault, Vec::new());
        }
        if at == stream.len() {
            break;
        }
    }
    (events, None, buffer)
}

fuzz_target!(|data: &[u8]| {
    let Some((&limit, rest)) = data.split_first() else { return };
    let Some((&cut_count, rest)) = rest.split_first() else { return };
    let cut_count = usize::from(cut_count % 8);
    if rest.len() < cut_count {
        return;
    }
    let (cuts, stream) = rest.split_at(cut_count);
    let pieces: Vec<usize> = cuts.iter().map(|c| usize::from(*c) + 1).collect();
    let max_message = usize::from(limit) * 16;
    let whole = feed(stream, &[], max_message);
    let pieced = feed(stream, &pieces, max_message);
    assert_eq!(whole, pieced);
});
