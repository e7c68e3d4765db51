//! MQTT transport: carries bytes between a Mongoose TCP connection and the sans-I/O session in
//! `crate::mqtt`, opens and closes connections when the session asks, runs its timers from the
//! event loop and hands its events to Python through the shim.
//!
//! Each client lives in a slot of `CLIENTS` from `connect` until it stops for good (user
//! `disconnect()`, a final refusal, or a lost link without reconnect); its connection's
//! `fn_data` holds the slot number, or `DETACHED` once the session gave the connection up.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::{c_int, c_void};

use super::event_loop::{self, now_ms};
use super::mongoose::{self as mg, mg_connection};
use super::shim::{self, PgCallOutcome};
use super::{send_now, write_through, VmThreadCell};
use crate::ffi::types::{PgBytes, PgDeliveryStatus, PgMqttEvent, PgMqttEventKind};
use crate::mqtt::codec::QoS;
use crate::mqtt::session::{
    ConnectionState, DeliveryStatus, DisconnectReason, Event, FailReason, RequestError, Session, SessionConfig, TransportCommand,
};

/// `fn_data` of a connection the session no longer uses: its later events are ignored.
const DETACHED: usize = usize::MAX;

struct MqttClient {
    session: Session,
    /// Broker URL, NUL-terminated.
    url: Vec<u8>,
    /// The connection in use, or null.
    connection: *mut mg_connection,
    /// Data was read since the last prompt acknowledgement (see `acknowledge_promptly`).
    ack_owed: bool,
    /// Data was read during the current `poll`.
    read_this_poll: bool,
}

static CLIENTS: VmThreadCell<Vec<Option<Box<MqttClient>>>> = VmThreadCell::new(Vec::new());

fn clients() -> &'static mut Vec<Option<Box<MqttClient>>> {
    // SAFETY: VM-thread only (see VmThreadCell); borrows are short and never held across a call
    // into Python or `mg_mgr_poll`.
    unsafe { &mut *CLIENTS.get() }
}

fn client(id: u32) -> Option<&'static mut MqttClient> {
    clients().get_mut(id as usize).and_then(|slot| slot.as_deref_mut())
}

/// Why a request could not be made.
pub enum ClientError {
    NoSuchClient,
    /// The PUBLISH would be larger than the client's `max_packet_size`.
    TooLarge,
    Request(RequestError),
}

/// Creates a client; nothing happens on the network until `start`, so the caller can make the
/// client's callbacks reachable first (a connection attempt may fail at once). Returns its id.
pub fn create(url_with_nul: Vec<u8>, config: SessionConfig, random_seed: u32) -> Result<u32, &'static str> {
    let session = Session::new(config, random_seed).map_err(|error| error.message())?;
    event_loop::manager();
    let new_client = Some(Box::new(MqttClient {
        session,
        url: url_with_nul,
        connection: core::ptr::null_mut(),
        ack_owed: false,
        read_this_poll: false,
    }));
    let slots = clients();
    let id = match slots.iter().position(|slot| slot.is_none()) {
        Some(free) => free,
        None => {
            slots.push(None);
            slots.len() - 1
        }
    };
    if let Some(slot) = slots.get_mut(id) {
        *slot = new_client;
    }
    u32::try_from(id).map_err(|_| "too many MQTT clients")
}

/// Starts connecting: from now on the client connects and reconnects by itself.
pub fn start(id: u32) -> bool {
    match client(id) {
        Some(client) => {
            client.session.connect(now_ms());
            pump(id);
            true
        }
        None => false,
    }
}

pub fn publish(id: u32, topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Result<u16, ClientError> {
    let client = client(id).ok_or(ClientError::NoSuchClient)?;
    // Topic length prefix (2) + packet id (2): the PUBLISH's remaining length.
    let packet_size = topic.len().saturating_add(payload.len()).saturating_add(4);
    if packet_size > client.session.config().max_incoming_packet_size {
        return Err(ClientError::TooLarge);
    }
    let result = client.session.publish(topic, payload, qos, retain, now_ms());
    pump(id);
    result.map_err(ClientError::Request)
}

pub fn subscribe(id: u32, filters: &[(&str, QoS)]) -> Result<u16, ClientError> {
    let client = client(id).ok_or(ClientError::NoSuchClient)?;
    let result = client.session.subscribe(filters, now_ms());
    pump(id);
    result.map_err(ClientError::Request)
}

pub fn unsubscribe(id: u32, filters: &[&str]) -> Result<u16, ClientError> {
    let client = client(id).ok_or(ClientError::NoSuchClient)?;
    let result = client.session.unsubscribe(filters, now_ms());
    pump(id);
    result.map_err(ClientError::Request)
}

/// Clean disconnect (DISCONNECT, no will); the client stops for good.
pub fn disconnect(id: u32) -> bool {
    match client(id) {
        Some(client) => {
            client.session.disconnect(now_ms());
            pump(id);
            true
        }
        None => false,
    }
}

pub fn is_connected(id: u32) -> bool {
    client(id).is_some_and(|client| client.session.is_connected())
}

/// QoS>0 publishes not yet acknowledged (in flight plus queued).
pub fn pending(id: u32) -> usize {
    client(id).map_or(0, |client| client.session.inflight_len() + client.session.queued_len())
}

/// Acknowledges at once what every client read since its last prompt acknowledgement; called
/// before `poll` waits, so that a broker holding back its next packets for our ACK (Nagle) does
/// not leave the wait idle until Linux's delayed ACK (~40 ms).
pub fn acknowledge_before_wait() {
    for client in clients().iter_mut().flatten() {
        client.acknowledge_if_owed();
    }
}

/// After a `poll`: acknowledges at once for the clients whose link went quiet (data read before,
/// none in this poll). While data keeps coming, Linux's own ACKs (on our reads and on our
/// outgoing packets) suffice; forcing one per read cost a segment each (~10% of M1's rate).
pub fn acknowledge_quiet_links() {
    for client in clients().iter_mut().flatten() {
        if !core::mem::replace(&mut client.read_this_poll, false) {
            client.acknowledge_if_owed();
        }
    }
}

impl MqttClient {
    fn acknowledge_if_owed(&mut self) {
        if self.ack_owed && !self.connection.is_null() {
            self.ack_owed = false;
            acknowledge_promptly(self.connection);
        }
    }
}

pub fn any_running() -> bool {
    clients().iter().any(Option::is_some)
}

/// The earliest time any client's session wants `poll`.
pub fn next_wakeup_ms() -> Option<u64> {
    clients().iter().flatten().filter_map(|client| client.session.next_wakeup_ms()).min()
}

/// Runs the session timers that are due (keepalive, ack resends, reconnect backoff).
pub fn run_due_timers(now: u64) {
    let due: Vec<u32> = clients()
        .iter()
        .enumerate()
        .filter_map(|(id, slot)| {
            let wakeup = slot.as_ref()?.session.next_wakeup_ms()?;
            (wakeup <= now).then_some(id as u32)
        })
        .collect();
    for id in due {
        if let Some(client) = client(id) {
            client.session.poll(now);
            pump(id);
        }
    }
}

/// Forgets every client (the event loop's teardown frees their connections; the shim unroots
/// the Python objects itself).
pub fn forget_all() {
    clients().clear();
}

/// Detaches a connection from its client: its later events are ignored; what was queued is
/// flushed, then it closes.
fn detach(connection: *mut mg_connection) {
    if !connection.is_null() {
        // SAFETY: a connection we opened and that Mongoose has not freed yet (its CLOSE event
        // clears the client's pointer before it is freed).
        unsafe {
            (*connection).fn_data = DETACHED as *mut c_void;
            (*connection).set_is_draining(1);
        }
    }
}

/// Carries out what the session asked for after a call: send its bytes, open or close the
/// transport, hand its events to Python, and stop the client when its session ended for good.
fn pump(id: u32) {
    loop {
        let Some(client) = client(id) else { return };
        let outgoing = client.session.take_outgoing();
        if !outgoing.is_empty() && !client.connection.is_null() {
            send_now(client.connection, &outgoing);
        }
        match client.session.take_transport_command() {
            Some(TransportCommand::Open) => {
                detach(client.connection);
                // SAFETY: the manager is live; the URL is NUL-terminated; fn_data is the slot.
                client.connection = unsafe {
                    mg::mg_connect(
                        event_loop::manager(),
                        client.url.as_ptr() as *const core::ffi::c_char,
                        Some(on_event),
                        id as usize as *mut c_void,
                    )
                };
                if client.connection.is_null() {
                    client.session.on_transport_closed(now_ms());
                }
                continue;
            }
            Some(TransportCommand::Close) => {
                write_through(client.connection);
                detach(client.connection);
                client.connection = core::ptr::null_mut();
            }
            None => {}
        }
        let events = client.session.drain_events();
        let stopped = client.session.state() == ConnectionState::Disconnected && !client.session.has_outgoing();
        if events.is_empty() {
            if stopped {
                release(id);
            }
            return;
        }
        // No borrow of the client is held from here: callbacks may call back into this module.
        for event in events {
            dispatch(id, &event, stopped);
        }
    }
}

/// Forgets a stopped client and lets the shim unroot its Python object.
fn release(id: u32) {
    if let Some(slot) = clients().get_mut(id as usize) {
        if let Some(client) = slot.take() {
            detach(client.connection);
        }
    }
    // SAFETY: the event struct outlives the call; the shim does not raise.
    unsafe { shim::pg_shim_mqtt_event(id, &PgMqttEvent::new(PgMqttEventKind::Released)) };
}

fn status_text(status: &DeliveryStatus) -> (PgDeliveryStatus, String) {
    match status {
        DeliveryStatus::Delivered => (PgDeliveryStatus::Delivered, String::from("delivered")),
        DeliveryStatus::TimedOut => (PgDeliveryStatus::TimedOut, String::from("timeout")),
        DeliveryStatus::Failed(reason) => {
            let mut text = String::from("failed: ");
            text.push_str(reason.message());
            if let FailReason::SubscriptionRefused { filter } = reason {
                text.push_str(": ");
                text.push_str(filter);
            }
            (PgDeliveryStatus::Failed, text)
        }
    }
}

/// Hands one session event to the shim. `stopping` tells a disconnect is final.
fn dispatch(id: u32, event: &Event, stopping: bool) {
    let mut shim_event = PgMqttEvent::new(PgMqttEventKind::Disconnected);
    let owned_text: String;
    match event {
        Event::Connected { session_present } => {
            shim_event.kind = PgMqttEventKind::Connected;
            shim_event.session_present = *session_present;
        }
        Event::Message { topic, payload, qos, retain, dup } => {
            shim_event.kind = PgMqttEventKind::Message;
            shim_event.topic = PgBytes::from_slice(topic.as_bytes());
            shim_event.payload = PgBytes::from_slice(payload);
            shim_event.qos = *qos as u8;
            shim_event.retain = *retain;
            shim_event.dup = *dup;
        }
        Event::Status { packet_id, status } => {
            let (kind, text) = status_text(status);
            owned_text = text;
            shim_event.kind = PgMqttEventKind::Status;
            shim_event.packet_id = *packet_id;
            shim_event.status = kind;
            shim_event.text = PgBytes::from_slice(owned_text.as_bytes());
        }
        Event::ConnectRefused { code } => {
            shim_event.text = PgBytes::from_slice(code.message().as_bytes());
            shim_event.final_stop = stopping;
        }
        Event::ConnectFailed { reason } | Event::Disconnected { reason } => {
            shim_event.text = PgBytes::from_slice(reason.message().as_bytes());
            // The user's own disconnect() is no news to print.
            shim_event.final_stop = stopping && *reason != DisconnectReason::ClientRequested;
        }
    }
    // SAFETY: every pointer in `shim_event` points into `event`/`owned_text`, alive during the
    // call; the shim never raises (a KeyboardInterrupt is kept and raised out of poll()).
    let outcome = unsafe { shim::pg_shim_mqtt_event(id, &shim_event) };
    let _ = PgCallOutcome::from_code(outcome);
}

/// Asks Linux to acknowledge received data at once instead of delaying the ACK (~40 ms): a
/// broker that leaves Nagle on holds its last small packets until our ACK, which stalled the end
/// of every burst. Setting the flag sends an ACK that is due; Linux resets the flag on its own.
#[cfg(target_os = "linux")]
fn acknowledge_promptly(connection: *mut mg_connection) {
    extern "C" {
        fn setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, length: u32) -> c_int;
    }
    const IPPROTO_TCP: c_int = 6;
    const TCP_QUICKACK: c_int = 12;
    let enable: c_int = 1;
    // SAFETY: a live connection; Mongoose keeps the socket descriptor in `fd` on this platform.
    let fd = unsafe { (*connection).fd } as usize as c_int;
    // SAFETY: plain setsockopt on our own socket with a 4-byte int option; failure is harmless.
    unsafe { setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &enable as *const c_int as *const c_void, 4) };
}

#[cfg(not(target_os = "linux"))]
fn acknowledge_promptly(_connection: *mut mg_connection) {}

unsafe extern "C" fn on_event(connection: *mut mg_connection, event: c_int, _event_data: *mut c_void) {
    if connection.is_null() {
        return;
    }
    // SAFETY: Mongoose passes a live connection to its handler.
    let slot = unsafe { (*connection).fn_data } as usize;
    if slot == DETACHED {
        return;
    }
    let id = slot as u32;
    let Some(client) = client(id) else { return };
    if client.connection != connection {
        return;
    }
    let now = now_ms();
    match event as u32 {
        mg::MG_EV_CONNECT => client.session.on_transport_connected(now),
        mg::MG_EV_READ => {
            // SAFETY: the live connection's receive buffer holds `len` bytes.
            let received = unsafe { PgBytes { ptr: (*connection).recv.buf, len: (*connection).recv.len }.as_slice() };
            let used = client.session.handle_bytes(received, now);
            // SAFETY: removes the consumed prefix of the live connection's receive buffer.
            unsafe { mg::mg_iobuf_del(&mut (*connection).recv, 0, used) };
            client.ack_owed = true;
            client.read_this_poll = true;
        }
        mg::MG_EV_CLOSE => {
            client.connection = core::ptr::null_mut();
            client.session.on_transport_closed(now);
        }
        _ => return,
    }
    pump(id);
}
