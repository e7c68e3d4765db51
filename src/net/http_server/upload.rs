//! Streamed uploads: a route with `on_chunk` gets its request body as it arrives instead of
//! buffered whole. The head stays at the front of the receive buffer (the `Request` Python sees is
//! parsed from it); each run of body bytes after it is handed to `on_chunk(request, chunk)` and
//! dropped, so a body of any size goes through a receive buffer of a few KB. When the body is
//! complete, the route's handler runs with an empty body and answers as usual. Content-Length and
//! chunked bodies are both accepted.

use alloc::vec::Vec;
use core::ffi::c_void;

use super::{event_loop, header, hold_back, mg, mg_connection, mg_http_message, reason_phrase, serve_request};
use super::{Replier, Served, VmThreadCell};
use crate::abi::shim::{self, PgCallOutcome};
use crate::abi::types::{PgBytes, PgRequest};
use crate::http::chunked::ChunkedDecoder;
use crate::http::routes::HandlerRef;
use crate::net::mg_str_bytes;

enum Body {
    /// Content-Length: bytes still to come.
    Length(u64),
    Chunked(ChunkedDecoder),
}

struct Upload {
    connection_id: usize,
    head_len: usize,
    body: Body,
    received: u64,
    max_body: Option<u64>,
    on_chunk: HandlerRef,
}

static UPLOADS: VmThreadCell<Vec<Upload>> = VmThreadCell::new(Vec::new());

/// Runs `f` with the upload table; the borrow ends when `f` returns. `f` must not call Mongoose
/// or the shim.
fn with_uploads<R>(f: impl FnOnce(&mut Vec<Upload>) -> R) -> R {
    // SAFETY: VM-thread only (see VmThreadCell); per this function's contract no other borrow
    // of UPLOADS is alive while `f` runs.
    f(unsafe { &mut *UPLOADS.get() })
}

fn connection_id(c: *mut mg_connection) -> usize {
    // SAFETY: a live connection.
    unsafe { (*c).id as usize }
}

/// Whether `c` is receiving a streamed upload.
pub fn is_uploading(c: *mut mg_connection) -> bool {
    let id = connection_id(c);
    with_uploads(|uploads| uploads.iter().any(|u| u.connection_id == id))
}

/// The connection is gone (or the server): its upload is forgotten.
pub fn on_close(c: *mut mg_connection) {
    let id = connection_id(c);
    with_uploads(|uploads| uploads.retain(|u| u.connection_id != id));
}

pub fn forget_all() {
    with_uploads(|uploads| *uploads = Vec::new());
}

/// What a streamed-upload route asks of its requests.
#[derive(Clone, Copy)]
pub struct UploadRoute {
    pub on_chunk: HandlerRef,
    pub max_body: Option<u64>,
    pub check_credentials: bool,
}

/// A complete head for an upload route: checks it (credentials, declared length), answers
/// `Expect: 100-continue`, and starts taking the body. False when the request was answered
/// instead (the connection then closes: the body that follows is not read).
///
/// # Safety
/// `c` is live and `message` points into its receive buffer.
pub unsafe fn start(c: *mut mg_connection, message: &mut mg_http_message, head_len: usize, chunked: bool, route: UploadRoute) -> bool {
    // Whatever the answer, a refused request's body is never read: the connection closes after it.
    let refuse = Replier { connection: c, head_only: false, close: true };
    let declared = message.body.len as u64;
    if !chunked && route.max_body.is_some_and(|max| declared > max) {
        refuse.text(413, reason_phrase(413), b"");
        return false;
    }
    if route.check_credentials {
        // SAFETY: per the contract.
        if unsafe { super::check_auth(message, &refuse) }.is_err() {
            return false;
        }
    }
    // SAFETY: per the contract.
    if unsafe { header(message, c"Expect") }.is_some_and(|v| v.eq_ignore_ascii_case(b"100-continue")) {
        super::send_now(c, b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let upload = Upload {
        connection_id: connection_id(c),
        head_len,
        body: if chunked { Body::Chunked(ChunkedDecoder::new()) } else { Body::Length(declared) },
        received: 0,
        max_body: route.max_body,
        on_chunk: route.on_chunk,
    };
    with_uploads(|uploads| {
        if uploads.try_reserve(1).is_err() {
            return false;
        }
        uploads.push(upload);
        true
    })
}

/// What feeding the body left.
pub enum Fed {
    /// Waiting for more of the body.
    Waiting,
    /// The body is complete and the request answered: the next request may follow.
    Answered,
    /// Held back (a stop is pending) or refused: nothing more now.
    Stopped,
}

/// Hands the body bytes the receive buffer holds to `on_chunk`, and answers the request when the
/// body is complete.
///
/// # Safety
/// `c` is live, inside the poll.
pub unsafe fn feed(c: *mut mg_connection) -> Fed {
    let id = connection_id(c);
    loop {
        if event_loop::stop_pending() {
            hold_back(c);
            return Fed::Stopped;
        }
        let Some((head_len, on_chunk, done)) = with_uploads(|uploads| {
            let upload = uploads.iter().find(|u| u.connection_id == id)?;
            let done = match &upload.body {
                Body::Length(left) => *left == 0,
                Body::Chunked(decoder) => decoder.is_done(),
            };
            Some((upload.head_len, upload.on_chunk, done))
        }) else {
            return Fed::Waiting;
        };
        // SAFETY: `c` is live; the head is still at the front of its receive buffer.
        let (buf, len) = unsafe { ((*c).recv.buf, (*c).recv.len) };
        let mut message = mg_http_message::default();
        // SAFETY: the first `head_len` bytes are the complete head parsed before.
        if unsafe { mg::mg_http_parse(buf as *const _, head_len, &mut message) } <= 0 {
            return refuse(c, 400);
        }
        message.body = mg::mg_str { buf: core::ptr::null_mut(), len: 0 };
        if done {
            with_uploads(|uploads| uploads.retain(|u| u.connection_id != id));
            // SAFETY: the head is in the buffer; the route's handler runs with an empty body.
            let Served::Replied { close } = (unsafe { serve_request(c, &mut message) }) else {
                hold_back(c);
                return Fed::Stopped;
            };
            // SAFETY: `c` is live; the head is consumed after the request was answered.
            unsafe {
                mg::mg_iobuf_del(&mut (*c).recv, 0, head_len);
                if close {
                    (*c).set_is_draining(1);
                }
            }
            return Fed::Answered;
        }
        let available = len.saturating_sub(head_len);
        if available == 0 {
            return Fed::Waiting;
        }
        // SAFETY: `available` bytes follow the head in the live buffer.
        let body = unsafe { core::slice::from_raw_parts((buf as *const u8).add(head_len), available) };
        let step = with_uploads(|uploads| {
            let upload = uploads.iter_mut().find(|u| u.connection_id == id)?;
            Some(match &mut upload.body {
                Body::Length(left) => {
                    let take = usize::try_from(*left).unwrap_or(usize::MAX).min(available);
                    *left -= take as u64;
                    Ok((take, 0..take))
                }
                Body::Chunked(decoder) => decoder.step(body).map(|step| (step.consumed, step.data.unwrap_or(0..0))),
            })
        });
        let (consumed, data) = match step {
            Some(Ok(step)) => step,
            Some(Err(_)) => return refuse(c, 400),
            None => return Fed::Waiting,
        };
        let chunk = body.get(data).unwrap_or_default();
        if !chunk.is_empty() {
            let too_large = with_uploads(|uploads| {
                let upload = uploads.iter_mut().find(|u| u.connection_id == id)?;
                upload.received = upload.received.saturating_add(chunk.len() as u64);
                Some(upload.max_body.is_some_and(|max| upload.received > max))
            });
            if too_large == Some(true) {
                return refuse(c, 413);
            }
            // SAFETY: the head's strings point into the live buffer, untouched during the call.
            let request = unsafe {
                PgRequest {
                    method: PgBytes::from_slice(mg_str_bytes(&message.method)),
                    path: PgBytes::from_slice(mg_str_bytes(&message.uri)),
                    query: PgBytes::from_slice(mg_str_bytes(&message.query)),
                    body: PgBytes::EMPTY,
                    message: &message as *const mg_http_message as *const c_void,
                }
            };
            // SAFETY: `request` and the chunk outlive the call.
            let outcome = PgCallOutcome::from_code(unsafe {
                shim::pg_shim_call_chunk(on_chunk.slot, &request, chunk.as_ptr(), chunk.len())
            });
            event_loop::note_outcome(outcome);
            match outcome {
                Some(PgCallOutcome::Ok) => {}
                Some(PgCallOutcome::Deferred) => {
                    // Not handed over: the chunk stays for the next poll (undo the count).
                    with_uploads(|uploads| {
                        if let Some(upload) = uploads.iter_mut().find(|u| u.connection_id == id) {
                            upload.received = upload.received.saturating_sub(chunk.len() as u64);
                            if let Body::Length(left) = &mut upload.body {
                                *left = left.saturating_add(consumed as u64);
                            }
                        }
                    });
                    hold_back(c);
                    return Fed::Stopped;
                }
                Some(PgCallOutcome::Stopping) => return refuse(c, 503),
                _ => return refuse(c, 500),
            }
        }
        // SAFETY: `c` is live; the consumed body bytes follow the head.
        unsafe { mg::mg_iobuf_del(&mut (*c).recv, head_len, consumed) };
    }
}

/// Answers an upload that cannot go on and closes the connection (its body is not read further).
fn refuse(c: *mut mg_connection, status: u16) -> Fed {
    let id = connection_id(c);
    with_uploads(|uploads| uploads.retain(|u| u.connection_id != id));
    Replier { connection: c, head_only: false, close: true }.text(status, reason_phrase(status), b"");
    // SAFETY: a live connection; nothing more of this request is read.
    unsafe { (*c).recv.len = 0 };
    Fed::Stopped
}
