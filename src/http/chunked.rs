//! `Transfer-Encoding: chunked` request bodies, decoded as they arrive (streamed uploads): the
//! decoder is fed whatever the connection buffered and says how many bytes it consumed and which
//! of them are body data, so the caller hands data to Python and drops the rest. Sizes, chunk
//! extensions and trailers are parsed with fixed limits: nothing is buffered here.

/// The longest size line (hex digits, extensions) or trailer line accepted.
pub const MAX_LINE: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading a size line: the size so far, whether a digit was seen, whether in an extension.
    Size { size: u64, digits: bool, extension: bool, line: usize },
    /// Inside a chunk: bytes left.
    Data { left: u64 },
    /// After a chunk's data: its CRLF (`seen_cr`).
    DataEnd { seen_cr: bool },
    /// After the last chunk: trailer lines until an empty one (`line`: bytes in the current one).
    Trailer { line: usize },
    Done,
}

/// Why a chunked body is malformed (the request gets 400).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

/// One step of decoding: `consumed` bytes of the input were used; of them, `data` (a range of the
/// input) is body data, when `Some`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub consumed: usize,
    pub data: Option<core::ops::Range<usize>>,
}

#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: State,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        ChunkedDecoder { state: State::Size { size: 0, digits: false, extension: false, line: 0 } }
    }

    /// Whether the final chunk and the trailers were read: the body is complete.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input` until it yields a run of body data, needs more input or is done.
    /// Call again with the unconsumed rest.
    pub fn step(&mut self, input: &[u8]) -> Result<Step, Malformed> {
        let mut at = 0;
        while let Some(&byte) = input.get(at) {
            match self.state {
                State::Done => break,
                State::Data { left } => {
                    let available = input.len() - at;
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(available);
                    let rest = left - take as u64;
                    self.state = if rest == 0 { State::DataEnd { seen_cr: false } } else { State::Data { left: rest } };
                    return Ok(Step { consumed: at + take, data: Some(at..at + take) });
                }
                State::Size { size, digits, extension, line } => {
                    if line >= MAX_LINE {
                        return Err(Malformed);
                    }
                    let line = line + 1;
                    self.state = match byte {
                        b'\r' => State::Size { size, digits, extension, line },
                        b'\n' if !digits => return Err(Malformed),
                        b'\n' if size == 0 => State::Trailer { line: 0 },
                        b'\n' => State::Data { left: size },
                        _ if extension => State::Size { size, digits, extension, line },
                        b';' | b' ' | b'\t' if digits => State::Size { size, digits, extension: true, line },
                        _ => {
                            let digit = (byte as char).to_digit(16).ok_or(Malformed)?;
                            let size = size.checked_mul(16).and_then(|s| s.checked_add(u64::from(digit))).ok_or(Malformed)?;
                            State::Size { size, digits: true, extension, line }
                        }
                    };
                }
                State::DataEnd { seen_cr } => {
                    self.state = match (byte, seen_cr) {
                        (b'\r', false) => State::DataEnd { seen_cr: true },
                        (b'\n', _) => State::Size { size: 0, digits: false, extension: false, line: 0 },
                        _ => return Err(Malformed),
                    };
                }
                State::Trailer { line } => {
                    if line >= MAX_LINE {
                        return Err(Malformed);
                    }
                    self.state = match byte {
                        b'\n' if line == 0 => State::Done,
                        b'\n' => State::Trailer { line: 0 },
                        // A CR does not start a trailer line: "\r\n" ends the trailers.
                        b'\r' if line == 0 => State::Trailer { line: 0 },
                        _ => State::Trailer { line: line + 1 },
                    };
                }
            }
            at += 1;
        }
        Ok(Step { consumed: at, data: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Decodes `input` fed in pieces of `piece` bytes; the body, or Malformed; None when it
    /// ran out of input before the end.
    fn decode(input: &[u8], piece: usize) -> Option<Result<Vec<u8>, Malformed>> {
        let mut decoder = ChunkedDecoder::new();
        let mut body = Vec::new();
        let mut buffered = Vec::new();
        for part in input.chunks(piece.max(1)) {
            buffered.extend_from_slice(part);
            loop {
                let step = match decoder.step(&buffered) {
                    Ok(step) => step,
                    Err(e) => return Some(Err(e)),
                };
                if let Some(range) = step.data.clone() {
                    body.extend_from_slice(&buffered[range]);
                }
                buffered.drain(..step.consumed);
                if decoder.is_done() {
                    return Some(Ok(body));
                }
                if step.consumed == 0 || (step.data.is_none() && buffered.is_empty()) {
                    break;
                }
            }
        }
        None
    }

    #[test]
    fn a_chunked_body_decodes_the_same_whatever_pieces_it_arrives_in() {
        let input = b"5\r\nhello\r\n7;name=value\r\n, world\r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n";
        for piece in 1..input.len() + 1 {
            assert_eq!(decode(input, piece), Some(Ok(b"hello, world0123456789".to_vec())), "piece {piece}");
        }
    }

    #[test]
    fn upper_and_lower_case_hex_and_an_empty_body() {
        assert_eq!(decode(b"1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n", 3), Some(Ok(b"abcdefghijklmnopqrstuvwxyz".to_vec())));
        assert_eq!(decode(b"1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n", 100), Some(Ok(b"abcdefghijklmnopqrstuvwxyz".to_vec())));
        assert_eq!(decode(b"0\r\n\r\n", 1), Some(Ok(Vec::new())));
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for bad in [
            &b"\r\nhello\r\n0\r\n\r\n"[..], // no size
            b"g\r\n",                       // not hex
            b"5\r\nhelloXY0\r\n\r\n",       // no CRLF after the data
            b"ffffffffffffffffff\r\n",      // overflows
        ] {
            assert_eq!(decode(bad, 1), Some(Err(Malformed)), "{:?}", core::str::from_utf8(bad));
        }
    }

    #[test]
    fn an_endless_size_line_or_trailer_is_refused() {
        let mut line = b"5;".to_vec();
        line.extend(core::iter::repeat_n(b'x', MAX_LINE + 1));
        assert_eq!(decode(&line, 64), Some(Err(Malformed)));
        let mut trailer = b"0\r\n".to_vec();
        trailer.extend(core::iter::repeat_n(b'y', MAX_LINE + 1));
        assert_eq!(decode(&trailer, 64), Some(Err(Malformed)));
    }

    #[test]
    fn an_unfinished_body_is_not_done() {
        assert_eq!(decode(b"5\r\nhel", 2), None);
        assert_eq!(decode(b"5\r\nhello\r\n0\r\n", 2), None);
    }
}
