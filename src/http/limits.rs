//! Request size limits and the status a request that breaks them gets.

/// Per-server limits on what one request may buffer and how long a connection may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Request line plus headers, in bytes (431 when exceeded).
    pub max_header_bytes: usize,
    /// Body (`Content-Length`), in bytes (413 when exceeded).
    pub max_body_bytes: usize,
    /// From the first byte of a request to its last; 408 when exceeded (0: no limit). Stops
    /// clients that trickle a request byte by byte from holding a connection for ever.
    pub request_timeout_ms: u64,
    /// A keep-alive connection with no request for this long is closed (0: never).
    pub idle_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_header_bytes: 8 * 1024, max_body_bytes: 64 * 1024, request_timeout_ms: 10_000, idle_timeout_ms: 60_000 }
    }
}

/// When a connection was last heard from, and when the request it is sending began.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionClock {
    pub last_activity_ms: u64,
    /// 0 while no request is partly buffered.
    pub request_started_ms: u64,
}

/// What the timers say about a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// Within its limits.
    None,
    /// A request took too long to arrive: reply 408 and close.
    RequestTooSlow,
    /// Idle keep-alive connection: close it quietly.
    Idle,
}

impl Limits {
    pub fn timeout(&self, clock: ConnectionClock, now_ms: u64) -> Timeout {
        let elapsed = |since: u64| now_ms.saturating_sub(since);
        if clock.request_started_ms != 0 {
            if self.request_timeout_ms != 0 && elapsed(clock.request_started_ms) > self.request_timeout_ms {
                return Timeout::RequestTooSlow;
            }
        } else if self.idle_timeout_ms != 0 && elapsed(clock.last_activity_ms) > self.idle_timeout_ms {
            return Timeout::Idle;
        }
        Timeout::None
    }
}

/// How far a connection's receive buffer holds the next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// More bytes are needed.
    Incomplete,
    /// A whole request: `head_len` bytes of request line and headers, then `body_len` bytes.
    Complete { head_len: usize, body_len: usize },
    /// The request cannot be served; reply with this status and close.
    Reject(u16),
}

/// What the parser saw of the buffered bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParsedHead {
    /// Malformed request line or headers.
    Malformed,
    /// The end of the headers has not arrived yet.
    Partial,
    /// More header lines than the parser keeps (a later `Content-Length` would be missed).
    TooManyHeaders,
    /// Headers complete.
    Headers { head_len: usize, body_len: usize, chunked: bool },
}

impl Limits {
    /// Decides what to do with `buffered` bytes given what the parser saw of them.
    pub fn frame(&self, parsed: ParsedHead, buffered: usize) -> Framing {
        match parsed {
            ParsedHead::Malformed => Framing::Reject(400),
            ParsedHead::Partial if buffered > self.max_header_bytes => Framing::Reject(431),
            ParsedHead::Partial => Framing::Incomplete,
            ParsedHead::TooManyHeaders => Framing::Reject(431),
            ParsedHead::Headers { head_len, .. } if head_len > self.max_header_bytes => Framing::Reject(431),
            ParsedHead::Headers { chunked: true, .. } => Framing::Reject(411),
            ParsedHead::Headers { body_len, .. } if body_len > self.max_body_bytes => Framing::Reject(413),
            ParsedHead::Headers { head_len, body_len, .. } => match head_len.checked_add(body_len) {
                Some(total) if buffered >= total => Framing::Complete { head_len, body_len },
                Some(_) => Framing::Incomplete,
                None => Framing::Reject(413),
            },
        }
    }
}

/// Header lines in a complete request head (request line and final blank line excluded).
pub fn header_line_count(head: &[u8]) -> usize {
    head.iter().filter(|b| **b == b'\n').count().saturating_sub(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_header_bytes: 100, max_body_bytes: 10, request_timeout_ms: 1000, idle_timeout_ms: 5000 };

    #[test]
    fn a_request_trickling_in_past_the_request_timeout_is_408_even_with_recent_bytes() {
        let clock = ConnectionClock { last_activity_ms: 10_990, request_started_ms: 10_000 };
        assert_eq!(LIMITS.timeout(clock, 11_000), Timeout::None);
        let clock = ConnectionClock { last_activity_ms: 10_999, request_started_ms: 10_000 };
        assert_eq!(LIMITS.timeout(clock, 11_001), Timeout::RequestTooSlow);
    }

    #[test]
    fn idle_keep_alive_connections_close_after_the_idle_timeout_and_zero_disables_both() {
        let idle = ConnectionClock { last_activity_ms: 1_000, request_started_ms: 0 };
        assert_eq!(LIMITS.timeout(idle, 6_000), Timeout::None);
        assert_eq!(LIMITS.timeout(idle, 6_001), Timeout::Idle);
        let never = Limits { request_timeout_ms: 0, idle_timeout_ms: 0, ..LIMITS };
        assert_eq!(never.timeout(idle, u64::MAX), Timeout::None);
        let slow = ConnectionClock { last_activity_ms: 1, request_started_ms: 1 };
        assert_eq!(never.timeout(slow, u64::MAX), Timeout::None);
    }

    #[test]
    fn partial_headers_wait_until_they_pass_the_header_limit() {
        assert_eq!(LIMITS.frame(ParsedHead::Partial, 100), Framing::Incomplete);
        assert_eq!(LIMITS.frame(ParsedHead::Partial, 101), Framing::Reject(431));
    }

    #[test]
    fn body_over_the_limit_is_rejected_before_it_arrives() {
        let head = ParsedHead::Headers { head_len: 50, body_len: 11, chunked: false };
        assert_eq!(LIMITS.frame(head, 50), Framing::Reject(413));
    }

    #[test]
    fn complete_only_when_the_whole_body_is_buffered() {
        let head = ParsedHead::Headers { head_len: 50, body_len: 10, chunked: false };
        assert_eq!(LIMITS.frame(head, 59), Framing::Incomplete);
        assert_eq!(LIMITS.frame(head, 60), Framing::Complete { head_len: 50, body_len: 10 });
    }

    #[test]
    fn malformed_is_400_and_chunked_bodies_need_a_length() {
        assert_eq!(LIMITS.frame(ParsedHead::Malformed, 5), Framing::Reject(400));
        let head = ParsedHead::Headers { head_len: 50, body_len: 0, chunked: true };
        assert_eq!(LIMITS.frame(head, 50), Framing::Reject(411));
    }

    #[test]
    fn more_headers_than_the_parser_keeps_is_431() {
        assert_eq!(LIMITS.frame(ParsedHead::TooManyHeaders, 50), Framing::Reject(431));
    }

    /// Header lines in a complete head (request line and blank line excluded).
    #[test]
    fn header_lines_are_counted() {
        assert_eq!(header_line_count(b"GET / HTTP/1.1\r\nA: b\r\nC: d\r\n\r\n"), 2);
        assert_eq!(header_line_count(b"GET / HTTP/1.1\n\n"), 0);
    }

    #[test]
    fn absurd_content_length_does_not_overflow() {
        let limits = Limits { max_body_bytes: usize::MAX, ..LIMITS };
        let head = ParsedHead::Headers { head_len: 50, body_len: usize::MAX, chunked: false };
        assert_eq!(limits.frame(head, 60), Framing::Reject(413));
    }
}
