//! WebSocket frames from a client (RFC 6455, section 5), read in place from a receive buffer:
//! headers checked, payloads unmasked, fragmented messages reassembled at the front of the
//! buffer, and every complete message, ping, pong and close handed to a callback in order. One
//! pass over what arrived, one move of the leftover at the end: a read holding many small frames
//! costs each frame its own bytes only (Mongoose's reader moves the rest of the buffer down after
//! every frame and zeroes what it freed). No Mongoose, no FFI.

pub const OP_CONTINUATION: u8 = 0;
pub const OP_TEXT: u8 = 1;
pub const OP_BINARY: u8 = 2;
pub const OP_CLOSE: u8 = 8;
pub const OP_PING: u8 = 9;
pub const OP_PONG: u8 = 10;

/// The largest payload a control frame may carry.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame's header, once all of its bytes are there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHead {
    pub fin: bool,
    pub opcode: u8,
    /// 2 to 14 bytes: the two fixed bytes, the extended length, the masking key.
    pub header_len: usize,
    pub payload_len: u64,
    pub mask: [u8; 4],
}

/// Why the client's bytes are not a WebSocket stream this server accepts: each closes the
/// connection with the code `close_code` gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 1002: reserved bits set (no extension was agreed), an unknown opcode, an unmasked frame, a
    /// control frame that is fragmented or longer than 125 bytes, a 64-bit length with its top
    /// bit set, a continuation with no message to continue, a new message inside a fragmented one,
    /// or a close frame with a 1-byte payload or a code no endpoint may send (`may_be_sent`).
    Protocol,
    /// 1009: a message longer than the endpoint's limit (known from the header, before the
    /// payload is buffered).
    TooBig,
}

impl Fault {
    pub fn close_code(self) -> u16 {
        match self {
            Fault::Protocol => 1002,
            Fault::TooBig => 1009,
        }
    }

    pub fn reason(self) -> &'static [u8] {
        match self {
            Fault::Protocol => b"protocol error",
            Fault::TooBig => b"message too big",
        }
    }
}

/// Reads a frame header from the start of `bytes`: `Ok(None)` until all of it has arrived.
pub fn parse_head(bytes: &[u8]) -> Result<Option<FrameHead>, Fault> {
    let (Some(&first), Some(&second)) = (bytes.first(), bytes.get(1)) else { return Ok(None) };
    let opcode = first & 0x0f;
    let fin = first & 0x80 != 0;
    if first & 0x70 != 0 || !matches!(opcode, OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG) {
        return Err(Fault::Protocol);
    }
    if second & 0x80 == 0 {
        return Err(Fault::Protocol); // a client masks every frame (5.1)
    }
    let (length_len, payload_len) = match second & 0x7f {
        126 => (2, None),
        127 => (8, None),
        short => (0, Some(u64::from(short))),
    };
    let is_control = opcode >= OP_CLOSE;
    if is_control && (!fin || length_len != 0) {
        return Err(Fault::Protocol); // a control frame is whole and at most 125 bytes (5.5)
    }
    let header_len = 2 + length_len + 4;
    let Some(header) = bytes.get(..header_len) else { return Ok(None) };
    let payload_len = match payload_len {
        Some(len) => len,
        None => {
            let length_bytes = header.get(2..2 + length_len).unwrap_or_default();
            let len = length_bytes.iter().fold(0u64, |len, byte| (len << 8) | u64::from(*byte));
            if len >> 63 != 0 {
                return Err(Fault::Protocol);
            }
            len
        }
    };
    let mut mask = [0u8; 4];
    mask.copy_from_slice(header.get(header_len - 4..).unwrap_or(&[0; 4]));
    Ok(Some(FrameHead { fin, opcode, header_len, payload_len, mask }))
}

/// Whether a close frame may carry `code` (RFC 6455, 7.4): the defined codes an endpoint sends
/// (not 1004-1006, 1015: reserved or for reporting only), and 3000-4999 (libraries, applications).
pub fn may_be_sent(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// XORs `payload` with the masking key, whose first byte applies to `payload[0]`: a word at a
/// time, then the tail.
pub fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let word_mask = u64::from_ne_bytes([mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3]]);
    let mut chunks = payload.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(word) ^ word_mask).to_ne_bytes());
    }
    // 8 is a multiple of 4: the tail starts at mask[0] again.
    for (byte, key) in chunks.into_remainder().iter_mut().zip(mask.iter().cycle()) {
        *byte ^= key;
    }
}

/// A fragmented message being received: its opcode (text or binary) and how many payload bytes
/// of it are kept, unmasked, at the front of the buffer. The default: none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reassembly {
    opcode: u8,
    len: usize,
}

impl Reassembly {
    /// Bytes at the front of the buffer that belong to a message still being received.
    pub fn kept(&self) -> usize {
        self.len
    }
}

/// What `read_frames` hands over, in the order the frames came.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A whole message: a text message's bytes are not checked for UTF-8 here.
    Message { binary: bool, data: &'a [u8] },
    Ping(&'a [u8]),
    Pong(&'a [u8]),
    /// The peer's close frame: its status code (1005 when it sent none) and reason.
    Close { code: u16, reason: &'a [u8] },
}

/// Whether `read_frames` goes on after an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Nothing more is read from this connection (it is closing): what is left stays unread.
    Stop,
}

/// What `read_frames` leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The buffer's new length: a fragmented message's kept bytes, then the start of a frame
    /// not complete yet (everything else was consumed).
    pub kept: usize,
    /// The stream broke a rule: close the connection with this fault (nothing after the bad
    /// frame was read).
    pub fault: Option<Fault>,
}

/// Reads every complete frame in `buf` (the connection's received bytes, with the kept part of
/// `reassembly`'s message at its front), calling `on_event` for each message and control frame,
/// until the bytes run out, a rule is broken, or `on_event` says `Stop`. A message (or a
/// fragmented message so far) longer than `max_message` is `TooBig` as soon as a header says so.
/// The caller then shortens the buffer to `Outcome::kept`.
pub fn read_frames(
    buf: &mut [u8],
    reassembly: &mut Reassembly,
    max_message: usize,
    mut on_event: impl FnMut(Event<'_>) -> Flow,
) -> Outcome {
    let end = buf.len();
    let mut read = reassembly.len.min(end);
    let mut fault = None;
    while let Some(rest) = buf.get(read..) {
        let head = match parse_head(rest) {
            Ok(Some(head)) => head,
            Ok(None) => break,
            Err(error) => {
                fault = Some(error);
                break;
            }
        };
        // (A control frame's 125 bytes at most were checked with its header: no message limit.)
        let limit = if head.opcode >= OP_CLOSE { MAX_CONTROL_PAYLOAD } else { max_message };
        let Some(payload_len) = usize::try_from(head.payload_len).ok().filter(|len| *len <= limit) else {
            fault = Some(Fault::TooBig);
            break;
        };
        if head.opcode < OP_CLOSE {
            let continues = head.opcode == OP_CONTINUATION;
            if continues != (reassembly.opcode != OP_CONTINUATION) {
                fault = Some(Fault::Protocol);
                break;
            }
            if continues && reassembly.len.saturating_add(payload_len) > max_message {
                fault = Some(Fault::TooBig);
                break;
            }
        }
        let frame_len = head.header_len + payload_len;
        if rest.len() < frame_len {
            break;
        }
        let payload_at = read + head.header_len;
        read += frame_len;
        let Some(payload) = buf.get_mut(payload_at..read) else { break };
        unmask(payload, head.mask);
        let flow = match head.opcode {
            OP_PING => on_event(Event::Ping(payload)),
            OP_PONG => on_event(Event::Pong(payload)),
            OP_CLOSE => match payload {
                [] => on_event(Event::Close { code: 1005, reason: &[] }),
                [_] => {
                    fault = Some(Fault::Protocol);
                    break;
                }
                [high, low, reason @ ..] => {
                    let code = u16::from_be_bytes([*high, *low]);
                    if !may_be_sent(code) {
                        fault = Some(Fault::Protocol);
                        break;
                    }
                    on_event(Event::Close { code, reason })
                }
            },
            _ if head.fin && reassembly.opcode == OP_CONTINUATION => {
                on_event(Event::Message { binary: head.opcode == OP_BINARY, data: payload })
            }
            _ => {
                // A fragment: its payload joins the kept part at the front.
                buf.copy_within(payload_at..read, reassembly.len);
                reassembly.len += payload_len;
                if head.opcode != OP_CONTINUATION {
                    reassembly.opcode = head.opcode;
                }
                if head.fin {
                    let message = core::mem::take(reassembly);
                    let data = buf.get(..message.len).unwrap_or_default();
                    on_event(Event::Message { binary: message.opcode == OP_BINARY, data })
                } else {
                    Flow::Continue
                }
            }
        };
        if flow == Flow::Stop {
            break;
        }
    }
    // Keep the fragments so far, then the unread bytes (a frame not complete yet). `read` never
    // passes `end` and never falls behind the kept part (bounded by `end` should a caller hand
    // in a buffer shorter than its reassembly).
    let kept = reassembly.len.min(end);
    if read > kept {
        buf.copy_within(read..end, kept);
    }
    Outcome { kept: kept + end.saturating_sub(read.max(kept)), fault }
}

#[cfg(test)]
#[path = "ws_tests.rs"]
mod tests;
