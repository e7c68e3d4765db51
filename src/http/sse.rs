//! Server-Sent Events on the wire (the `text/event-stream` format): an event is optional
//! `event:` and `id:` lines, one `data:` line per line of the text, and a blank line.

use alloc::vec::Vec;

/// The reply head that opens an event stream (no Content-Length: the stream ends when the
/// connection does). `server_headers` (CORS) are added before the blank line.
pub fn stream_head(server_headers: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n");
    out.extend_from_slice(server_headers);
    out.extend_from_slice(b"\r\n");
}

/// Why an event cannot be written: a name or id with a line break would start another field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineBreakInField;

/// At most the bytes `encode` writes (to reserve room first).
pub fn encoded_len(data: &[u8], event: Option<&[u8]>, id: Option<&[u8]>) -> usize {
    let lines = 1 + data.iter().filter(|b| matches!(b, b'\r' | b'\n')).count();
    event.map_or(0, |e| 8 + e.len()) + id.map_or(0, |i| 5 + i.len()) + data.len() + lines * 7 + 1
}

/// Appends one event. `\r\n` and `\r` line breaks in `data` count as `\n`.
pub fn encode(data: &[u8], event: Option<&[u8]>, id: Option<&[u8]>, out: &mut Vec<u8>) -> Result<(), LineBreakInField> {
    let breaks = |field: &[u8]| field.iter().any(|b| matches!(b, b'\r' | b'\n' | 0));
    if event.is_some_and(breaks) || id.is_some_and(breaks) {
        return Err(LineBreakInField);
    }
    if let Some(event) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(event);
        out.push(b'\n');
    }
    if let Some(id) = id {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(id);
        out.push(b'\n');
    }
    let mut rest = data;
    loop {
        let end = rest.iter().position(|b| matches!(b, b'\r' | b'\n')).unwrap_or(rest.len());
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(rest.get(..end).unwrap_or_default());
        out.push(b'\n');
        let Some(&separator) = rest.get(end) else { break };
        let skip = if separator == b'\r' && rest.get(end + 1) == Some(&b'\n') { 2 } else { 1 };
        rest = rest.get(end + skip..).unwrap_or_default();
    }
    out.push(b'\n');
    Ok(())
}

/// A comment line that keeps idle proxies and the client's reconnect logic from giving up.
pub const KEEPALIVE: &[u8] = b": keepalive\n\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: &str, event_name: Option<&str>, id: Option<&str>) -> Vec<u8> {
        let mut out = Vec::new();
        encode(data.as_bytes(), event_name.map(str::as_bytes), id.map(str::as_bytes), &mut out).unwrap();
        assert!(out.len() <= encoded_len(data.as_bytes(), event_name.map(str::as_bytes), id.map(str::as_bytes)));
        out
    }

    #[test]
    fn one_data_line_per_line_of_text_then_a_blank_line() {
        assert_eq!(event("hello", None, None), b"data: hello\n\n");
        assert_eq!(event("a\nb", Some("tick"), Some("7")), b"event: tick\nid: 7\ndata: a\ndata: b\n\n");
        assert_eq!(event("a\r\nb\rc", None, None), b"data: a\ndata: b\ndata: c\n\n");
        assert_eq!(event("", None, None), b"data: \n\n");
        assert_eq!(event("end\n", None, None), b"data: end\ndata: \n\n");
    }

    #[test]
    fn a_line_break_in_the_event_name_or_id_is_refused() {
        let mut out = Vec::new();
        assert_eq!(encode(b"x", Some(b"a\nb"), None, &mut out), Err(LineBreakInField));
        assert_eq!(encode(b"x", None, Some(b"1\r"), &mut out), Err(LineBreakInField));
        assert!(out.is_empty());
    }

    #[test]
    fn the_head_has_the_event_stream_type_and_no_length() {
        let mut out = Vec::new();
        stream_head(b"Access-Control-Allow-Origin: *\r\n", &mut out);
        assert_eq!(
            out,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nAccess-Control-Allow-Origin: *\r\n\r\n"
        );
    }
}
