//! Entry points for WebSocket and SSE endpoints and their peers (`mongoose.websocket`,
//! `mongoose.sse`, `mongoose.broadcast`, `ws.send`...).

use super::last_error;
use crate::abi::types::{PgBytes, PgPushEndpoint, PgPushKind, PgPushMessage, PgPushPayload, PgStatus};
use crate::net::http_server;
use crate::net::push::{self, Endpoint, Kind, Payload, SendError};

/// Adds (or replaces, same pattern) a WebSocket or SSE endpoint of the running server.
///
/// # Safety
/// `endpoint` points to a valid `PgPushEndpoint` whose pattern is readable.
#[no_mangle]
pub unsafe extern "C" fn pg_push_add_endpoint(endpoint: *const PgPushEndpoint) -> PgStatus {
    // SAFETY: per the contract.
    let Some(endpoint) = (unsafe { endpoint.as_ref() }) else { return last_error::null_argument() };
    if !http_server::is_running() {
        return PgStatus::NotStarted;
    }
    // SAFETY: per the contract.
    let pattern = unsafe { endpoint.pattern.as_slice() };
    if pattern.is_empty() || pattern.contains(&0) {
        return last_error::set(PgStatus::InvalidArgument, "a pattern is non-empty and has no NUL");
    }
    let kind = match endpoint.kind {
        k if k == PgPushKind::WebSocket as u8 => {
            if endpoint.max_message_size == 0 {
                return last_error::set(PgStatus::InvalidArgument, "max_message_size must be >= 1");
            }
            Kind::WebSocket { max_message: endpoint.max_message_size as usize }
        }
        k if k == PgPushKind::EventStream as u8 => Kind::EventStream,
        _ => return last_error::set(PgStatus::InvalidArgument, "unknown push endpoint kind"),
    };
    let added = push::add_endpoint(Endpoint {
        pattern: pattern.to_vec(),
        kind,
        needs_auth: endpoint.needs_auth,
        on_open: endpoint.on_open_slot,
        on_message: endpoint.on_message_slot,
        on_close: endpoint.on_close_slot,
        interval_ms: u64::from(endpoint.interval_s) * 1000,
    });
    match added {
        Ok(()) => PgStatus::Ok,
        Err(message) => last_error::set(PgStatus::OutOfMemory, message),
    }
}

/// # Safety
/// `message` is valid and its byte strings readable.
unsafe fn payload_of(message: &PgPushMessage) -> Result<Payload<'_>, PgStatus> {
    // SAFETY: per the contract.
    let (data, event, id) = unsafe { (message.data.as_slice(), message.event.as_slice(), message.id.as_slice()) };
    Ok(match message.kind {
        k if k == PgPushPayload::Text as u8 => Payload::Text(data),
        k if k == PgPushPayload::Binary as u8 => Payload::Binary(data),
        k if k == PgPushPayload::Event as u8 => Payload::Event {
            data,
            event: message.has_event.then_some(event),
            id: message.has_id.then_some(id),
        },
        _ => return Err(last_error::set(PgStatus::InvalidArgument, "unknown payload kind")),
    })
}

fn status_of(error: SendError) -> PgStatus {
    match error {
        SendError::Closed => PgStatus::PeerClosed,
        SendError::Invalid(message) => last_error::set(PgStatus::InvalidArgument, message),
        SendError::OutOfMemory => PgStatus::OutOfMemory,
    }
}

/// Sends to one peer. `PeerClosed` when it is closed, or was just dropped for reading too slowly.
///
/// # Safety
/// `message` points to a valid `PgPushMessage` whose byte strings are readable.
#[no_mangle]
pub unsafe extern "C" fn pg_push_send(peer: u32, message: *const PgPushMessage) -> PgStatus {
    // SAFETY: per the contract.
    let Some(message) = (unsafe { message.as_ref() }) else { return last_error::null_argument() };
    // SAFETY: per the contract.
    let payload = match unsafe { payload_of(message) } {
        Ok(payload) => payload,
        Err(status) => return status,
    };
    match push::send(peer, &payload) {
        Ok(()) => PgStatus::Ok,
        Err(error) => status_of(error),
    }
}

/// Sends to every open peer of the endpoint registered with `pattern`; the count goes to
/// `*sent_out`.
///
/// # Safety
/// `pattern` and `message` are readable; `sent_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn pg_push_broadcast(pattern: PgBytes, message: *const PgPushMessage, sent_out: *mut u32) -> PgStatus {
    // SAFETY: per the contract.
    let (Some(message), Some(sent_out)) = (unsafe { message.as_ref() }, unsafe { sent_out.as_mut() }) else {
        return last_error::null_argument();
    };
    *sent_out = 0;
    // SAFETY: per the contract.
    let (pattern, payload) = match unsafe { (pattern.as_slice(), payload_of(message)) } {
        (pattern, Ok(payload)) => (pattern, payload),
        (_, Err(status)) => return status,
    };
    match push::broadcast(pattern, &payload) {
        Ok(count) => {
            *sent_out = u32::try_from(count).unwrap_or(u32::MAX);
            PgStatus::Ok
        }
        Err(error) => status_of(error),
    }
}

/// Starts closing a peer (a WebSocket gets a close frame with `code` and `reason`).
///
/// # Safety
/// `reason` is readable.
#[no_mangle]
pub unsafe extern "C" fn pg_push_close(peer: u32, code: u16, reason: PgBytes) {
    // SAFETY: per the contract.
    push::close(peer, code, unsafe { reason.as_slice() });
}

/// Whether a peer is open (not closed, closing, or dropped).
#[no_mangle]
pub extern "C" fn pg_push_is_open(peer: u32) -> bool {
    push::is_open(peer)
}
