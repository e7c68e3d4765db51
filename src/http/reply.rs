//! Reply heads: status line and headers, written without `core::fmt` (it costs flash).

use alloc::vec::Vec;

/// The reason phrase for the statuses the server sends; "Unknown" for others (still valid HTTP).
pub fn reason_phrase(status: u16) -> &'static [u8] {
    match status {
        200 => b"OK",
        201 => b"Created",
        202 => b"Accepted",
        204 => b"No Content",
        206 => b"Partial Content",
        301 => b"Moved Permanently",
        302 => b"Found",
        304 => b"Not Modified",
        400 => b"Bad Request",
        401 => b"Unauthorized",
        403 => b"Forbidden",
        404 => b"Not Found",
        405 => b"Method Not Allowed",
        408 => b"Request Timeout",
        409 => b"Conflict",
        411 => b"Length Required",
        413 => b"Content Too Large",
        416 => b"Range Not Satisfiable",
        422 => b"Unprocessable Content",
        429 => b"Too Many Requests",
        431 => b"Request Header Fields Too Large",
        500 => b"Internal Server Error",
        501 => b"Not Implemented",
        503 => b"Service Unavailable",
        _ => b"Unknown",
    }
}

/// Appends the decimal digits of `value`.
pub fn push_decimal(out: &mut Vec<u8>, value: usize) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = value;
    loop {
        start -= 1;
        if let Some(slot) = digits.get_mut(start) {
            *slot = b'0' + (rest % 10) as u8;
        }
        rest /= 10;
        if rest == 0 || start == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

/// What goes into a reply head besides the status.
pub struct ReplyHead<'a> {
    pub status: u16,
    /// Empty: no `Content-Type` header.
    pub content_type: &'a [u8],
    pub content_length: usize,
    /// Extra header lines, each ending in CRLF (already validated by the caller).
    pub extra_headers: &'a [u8],
    /// More header lines after those (the server's own, e.g. CORS), each ending in CRLF.
    pub server_headers: &'a [u8],
    pub close: bool,
}

impl ReplyHead<'_> {
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(out, usize::from(self.status));
        out.push(b' ');
        out.extend_from_slice(reason_phrase(self.status));
        out.extend_from_slice(b"\r\n");
        if !self.content_type.is_empty() {
            out.extend_from_slice(b"Content-Type: ");
            out.extend_from_slice(self.content_type);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"Content-Length: ");
        push_decimal(out, self.content_length);
        out.extend_from_slice(b"\r\n");
        if self.close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(self.extra_headers);
        out.extend_from_slice(self.server_headers);
        out.extend_from_slice(b"\r\n");
    }
}

/// True when `bytes` may go into a header name or value: no CR, LF or NUL (header injection).
pub fn is_safe_header_text(bytes: &[u8]) -> bool {
    !bytes.iter().any(|b| matches!(b, b'\r' | b'\n' | 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_has_status_type_length_and_extras() {
        let mut out = Vec::new();
        ReplyHead {
            status: 401,
            content_type: b"text/plain",
            content_length: 13,
            extra_headers: b"WWW-Authenticate: Basic realm=\"x\"\r\n",
            server_headers: b"Vary: Origin\r\n",
            close: false,
        }
        .write(&mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nWWW-Authenticate: Basic realm=\"x\"\r\nVary: Origin\r\n\r\n"
        );
    }

    #[test]
    fn decimals() {
        for (value, text) in [(0usize, "0"), (7, "7"), (10, "10"), (65536, "65536"), (usize::MAX, "18446744073709551615")] {
            let mut out = Vec::new();
            push_decimal(&mut out, value);
            assert_eq!(out, text.as_bytes());
        }
    }

    #[test]
    fn header_injection_is_detected() {
        assert!(is_safe_header_text(b"X-A: b"));
        assert!(!is_safe_header_text(b"a\r\nSet-Cookie: x"));
    }
}
