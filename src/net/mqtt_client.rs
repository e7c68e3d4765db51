//! MQTT transport: carries bytes between a Mongoose TCP connection and the sans-I/O session in
//! `crate::mqtt`, opens and closes connections when the session asks, runs its timers from the
//! event loop and hands its events to Python through the shim.
//!
//! Each client lives in `Clients::running` from `connect` until it stops for good (user
//! `disconnect()`, a final refusal, or a lost link without reconnect). Its id is never reused
//! while anything may still name it, and its connection's `fn_data` holds the id, or `DETACHED`
//! once the session gave the connection up.
//!
//! Events of every client go through one queue, in arrival order, and are handed to Python by
//! the outermost `deliver` only: a callback that publishes, disconnects or connects another
//! client never sees events nested inside its own call, and never another client's. When a
//! callback raises KeyboardInterrupt/SystemExit the rest stays queued for the next `poll()`;
//! an inbound QoS 1/2 message is acknowledged to the broker only once its callback has run.
//!
//! All state is reached through `with_clients`, whose borrow ends before any call into
//! Mongoose (which fires events from inside `mg_connect`) or into Python.

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::{c_int, c_void};

use super::event_loop::{self, now_ms};
use super::mongoose::{self as mg, mg_connection};
use crate::abi::shim::{self, PgCallOutcome};
use super::tls::{self as net_tls, ClientOptions};
use super::{send_now, write_through, VmThreadCell};
use crate::abi::types::{PgBytes, PgDeliveryStatus, PgMqttEvent, PgMqttEventKind};
use crate::heap;
use crate::mqtt::codec::QoS;
use crate::mqtt::session::{
    ConnectionState, DeliveryStatus, DisconnectReason, Event, FailReason, RequestError, Session, SessionConfig, TransportCommand,
};

/// `fn_data` of a connection the session no longer uses: its later events are ignored.
const DETACHED: usize = usize::MAX;

/// Client ids run from 1 to this and then wrap, skipping ids still in use: they stay small
/// integers for MicroPython on 32-bit boards, and one id never names two clients in a session.
const MAX_CLIENT_ID: u32 = (1 << 30) - 1;

struct MqttClient {
    id: u32,
    session: Session,
    /// Broker URL, NUL-terminated.
    url: Vec<u8>,
    /// `mqtts://`: what the TLS handshake of each connection verifies and shows.
    tls: Option<Rc<ClientOptions>>,
    /// The connection in use, or null.
    connection: *mut mg_connection,
    /// Data was read since the last prompt acknowledgement (see `acknowledge_promptly`).
    ack_owed: bool,
    /// Data was read during the current `poll`.
    read_this_poll: bool,
    /// When data last arrived (its empty buffers are freed once it has been quiet a while).
    last_read_ms: u64,
    /// Handled messages left PUBACK/PUBREC packets to send.
    acks_to_send: bool,
}

/// One thing to hand to Python, in arrival order.
enum Delivery {
    /// `final_stop`: the client stopped for good with this event (not by its own `disconnect()`).
    Event { client: u32, event: Event, final_stop: bool },
    /// The client's last event was delivered: the shim unroots its Python object.
    Released { client: u32 },
}

struct Clients {
    running: Vec<MqttClient>,
    last_id: u32,
    deliveries: VecDeque<Delivery>,
    /// A `deliver` loop is running (callbacks nested in it leave deliveries to it).
    delivering: bool,
}

impl Clients {
    fn client(&mut self, id: u32) -> Option<&mut MqttClient> {
        self.running.iter_mut().find(|client| client.id == id)
    }
}

static CLIENTS: VmThreadCell<Clients> =
    VmThreadCell::new(Clients { running: Vec::new(), last_id: 0, deliveries: VecDeque::new(), delivering: false });

/// Runs `f` with the clients' state; the borrow ends when `f` returns. `f` must not call
/// Mongoose or the shim: both may re-enter this module.
fn with_clients<R>(f: impl FnOnce(&mut Clients) -> R) -> R {
    // SAFETY: VM-thread only (see VmThreadCell); per this function's contract, no other borrow
    // of CLIENTS is alive while `f` runs (nothing `f` calls comes back here).
    f(unsafe { &mut *CLIENTS.get() })
}

/// `f` on client `id`, if it is running (the same contract as `with_clients`).
fn with_client<R>(id: u32, f: impl FnOnce(&mut MqttClient) -> R) -> Option<R> {
    with_clients(|clients| clients.client(id).map(f))
}

/// Why a request could not be made.
pub enum ClientError {
    NoSuchClient,
    /// The PUBLISH would be larger than the client's `max_packet_size`.
    TooLarge,
    /// The memory budget (or the heap) cannot hold the PUBLISH.
    OutOfMemory,
    Request(RequestError),
}

/// An id for the next client, to root its Python object under before `create`.
pub fn reserve_id() -> u32 {
    with_clients(|clients| {
        let mut candidate = clients.last_id;
        loop {
            candidate = if candidate >= MAX_CLIENT_ID { 1 } else { candidate + 1 };
            let in_use = clients.running.iter().any(|client| client.id == candidate)
                || clients.deliveries.iter().any(|delivery| delivery.client() == candidate);
            if !in_use {
                clients.last_id = candidate;
                return candidate;
            }
        }
    })
}

impl Delivery {
    fn client(&self) -> u32 {
        match self {
            Delivery::Event { client, .. } | Delivery::Released { client } => *client,
        }
    }
}

/// Why a client could not be made.
pub enum CreateError {
    Config(&'static str),
    /// The platform's resolver does not know the broker's host name: "cannot resolve host '…'".
    HostNotFound(String),
}

/// What the platform's resolver answers on a board that has none (the emulated board: QEMU's
/// restricted network reaches no name server).
const NO_NAME_SERVICE: i32 = -2;

/// The broker URL (NUL-terminated) with its host name resolved by the platform's resolver:
/// Mongoose's own DNS client asks a public server and knows nothing of /etc/hosts. Unchanged when
/// the host is an address or `localhost`, or the port has no resolver (Mongoose resolves it).
fn resolve_broker_host(url_with_nul: Vec<u8>) -> Result<Vec<u8>, CreateError> {
    let Some(range) = crate::url::host_to_resolve(&url_with_nul) else { return Ok(url_with_nul) };
    let name = url_with_nul.get(range.clone()).unwrap_or(&[]);
    let mut address = [0u8; 4];
    // SAFETY: `name` is readable for its length; `address` is 4 writable bytes; no Python runs.
    match unsafe { shim::pg_shim_resolve_ipv4(name.as_ptr(), name.len(), address.as_mut_ptr()) } {
        1 => {}
        found @ (0 | NO_NAME_SERVICE) => {
            let mut message = String::from("cannot resolve host '");
            message.push_str(core::str::from_utf8(name).unwrap_or("?"));
            message.push('\'');
            if found == NO_NAME_SERVICE {
                message.push_str(": this board has no name service, use the broker's IP address");
            }
            return Err(CreateError::HostNotFound(message));
        }
        _ => return Ok(url_with_nul),
    }
    let mut resolved = Vec::with_capacity(url_with_nul.len() + 16);
    resolved.extend_from_slice(url_with_nul.get(..range.start).unwrap_or(&[]));
    for (index, octet) in address.iter().enumerate() {
        if index > 0 {
            resolved.push(b'.');
        }
        let digits = [octet / 100, octet / 10 % 10, octet % 10];
        let first = if *octet >= 100 { 0 } else if *octet >= 10 { 1 } else { 2 };
        resolved.extend(digits.iter().skip(first).map(|digit| b'0' + digit));
    }
    resolved.extend_from_slice(url_with_nul.get(range.end..).unwrap_or(&[]));
    Ok(resolved)
}

/// Creates client `id` (from `reserve_id`); nothing happens on the network until `start`.
pub fn create(
    id: u32,
    url_with_nul: Vec<u8>,
    config: SessionConfig,
    random_seed: u32,
    tls: Option<ClientOptions>,
) -> Result<(), CreateError> {
    let session = Session::new(config, random_seed).map_err(|error| CreateError::Config(error.message()))?;
    let url_with_nul = resolve_broker_host(url_with_nul)?;
    event_loop::manager();
    with_clients(|clients| {
        if id == 0 || clients.client(id).is_some() {
            return Err(CreateError::Config("client id in use"));
        }
        clients.running.push(MqttClient {
            id,
            session,
            url: url_with_nul,
            tls: tls.map(Rc::new),
            connection: core::ptr::null_mut(),
            ack_owed: false,
            read_this_poll: false,
            last_read_ms: 0,
            acks_to_send: false,
        });
        Ok(())
    })
}

/// Starts connecting: from now on the client connects and reconnects by itself.
pub fn start(id: u32) -> bool {
    let started = with_client(id, |client| client.session.connect(now_ms())).is_some();
    carry_out(id);
    started
}

pub fn publish(id: u32, topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Result<u16, ClientError> {
    let result = with_client(id, |client| {
        // Topic length prefix (2) + packet id (2): the PUBLISH's remaining length.
        let packet_size = topic.len().saturating_add(payload.len()).saturating_add(4);
        if packet_size > client.session.config().max_incoming_packet_size {
            return Err(ClientError::TooLarge);
        }
        if qos != QoS::AtMostOnce && !heap::admit(packet_size) {
            return Err(ClientError::OutOfMemory); // kept until acknowledged: within the budget
        }
        client.session.publish(topic, payload, qos, retain, now_ms()).map_err(ClientError::Request)
    })
    .ok_or(ClientError::NoSuchClient)?;
    carry_out(id);
    result
}

pub fn subscribe(id: u32, filters: &[(&str, QoS)]) -> Result<u16, ClientError> {
    let result = with_client(id, |client| client.session.subscribe(filters, now_ms())).ok_or(ClientError::NoSuchClient)?;
    carry_out(id);
    result.map_err(ClientError::Request)
}

pub fn unsubscribe(id: u32, filters: &[&str]) -> Result<u16, ClientError> {
    let result = with_client(id, |client| client.session.unsubscribe(filters, now_ms())).ok_or(ClientError::NoSuchClient)?;
    carry_out(id);
    result.map_err(ClientError::Request)
}

/// Clean disconnect (DISCONNECT, no will); the client stops for good.
pub fn disconnect(id: u32) -> bool {
    let found = with_client(id, |client| client.session.disconnect(now_ms())).is_some();
    carry_out(id);
    found
}

pub fn is_connected(id: u32) -> bool {
    with_client(id, |client| client.session.is_connected()).unwrap_or(false)
}

/// How `wait_connected` ended.
pub enum WaitOutcome {
    Connected,
    /// The client stopped for good (refused, or failed without reconnect, or disconnected).
    Stopped,
    TimedOut,
    /// A callback's KeyboardInterrupt/SystemExit, or a signal, is waiting to be raised.
    Interrupted,
    /// Called from inside a callback: waiting would need the loop that is running it.
    Reentered,
}

/// Longest single wait inside `wait_connected`, so a signal that lands between two checks
/// waits at most this long.
const WAIT_STEP_MS: u64 = 50;

/// Runs the event loop until client `id` is connected, stops for good, `wait_ms` have passed,
/// or something wants to stop the script (umqtt's blocking `connect()`).
pub fn wait_connected(id: u32, wait_ms: u64) -> WaitOutcome {
    if event_loop::is_polling() {
        return WaitOutcome::Reentered;
    }
    let deadline = now_ms().saturating_add(wait_ms);
    loop {
        if event_loop::stop_pending() || shim::interrupt_pending() {
            return WaitOutcome::Interrupted;
        }
        match with_client(id, |client| client.session.is_connected()) {
            Some(true) => return WaitOutcome::Connected,
            Some(false) => {}
            None => return WaitOutcome::Stopped,
        }
        let now = now_ms();
        if now >= deadline {
            return WaitOutcome::TimedOut;
        }
        let step = (deadline - now).min(WAIT_STEP_MS);
        if event_loop::poll(step as c_int).is_err() {
            return WaitOutcome::Stopped;
        }
    }
}

/// QoS>0 publishes not yet acknowledged (in flight plus queued).
pub fn pending(id: u32) -> usize {
    with_client(id, |client| client.session.inflight_len() + client.session.queued_len()).unwrap_or(0)
}

/// Acknowledges at once what every client read since its last prompt acknowledgement; called
/// before `poll` waits, so that a broker holding back its next packets for our ACK (Nagle) does
/// not leave the wait idle until Linux's delayed ACK (~40 ms).
pub fn acknowledge_before_wait() {
    with_clients(|clients| clients.running.iter_mut().for_each(MqttClient::acknowledge_if_owed));
}

/// After a `poll`: acknowledges at once for the clients whose link went quiet (data read before,
/// none in this poll). While data keeps coming, Linux's own ACKs (on our reads and on our
/// outgoing packets) suffice; forcing one per read cost a segment each (~10% of M1's rate).
pub fn acknowledge_quiet_links() {
    let now = now_ms();
    with_clients(|clients| {
        for client in clients.running.iter_mut() {
            if !core::mem::replace(&mut client.read_this_poll, false) {
                client.acknowledge_if_owed();
                if now.saturating_sub(client.last_read_ms) >= super::IDLE_BUFFER_RELEASE_MS {
                    super::release_idle_buffers(client.connection);
                }
            }
        }
    });
}

impl MqttClient {
    fn acknowledge_if_owed(&mut self) {
        if self.ack_owed && !self.connection.is_null() {
            self.ack_owed = false;
            // A socket option, not a Mongoose call: nothing re-enters.
            acknowledge_promptly(self.connection);
        }
    }
}

pub fn any_running() -> bool {
    with_clients(|clients| !clients.running.is_empty())
}

/// The earliest time any client's session wants `poll`.
pub fn next_wakeup_ms() -> Option<u64> {
    with_clients(|clients| clients.running.iter().filter_map(|client| client.session.next_wakeup_ms()).min())
}

/// Runs the session timers that are due (keepalive, ack resends, reconnect backoff).
pub fn run_due_timers(now: u64) {
    let due: Vec<u32> = with_clients(|clients| {
        clients
            .running
            .iter()
            .filter(|client| client.session.next_wakeup_ms().is_some_and(|wakeup| wakeup <= now))
            .map(|client| client.id)
            .collect()
    });
    for id in due {
        with_client(id, |client| client.session.poll(now));
        carry_out(id);
    }
}

/// Forgets every client and every undelivered event (the event loop's teardown frees their
/// connections; the shim unroots the Python objects itself). The lists' buffers are freed too,
/// not kept for reuse: after a teardown (close(), a soft reset) the module holds no C heap.
pub fn forget_all() {
    let (running, deliveries) = with_clients(|clients| {
        clients.delivering = false;
        (core::mem::take(&mut clients.running), core::mem::take(&mut clients.deliveries))
    });
    // Dropped outside the borrow: a session's drop frees memory only, but nothing it does can
    // then reach CLIENTS while it is borrowed.
    drop(running);
    drop(deliveries);
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

/// What a session asked for after a call, taken out of it in one short borrow.
struct Step {
    outgoing: Vec<u8>,
    command: Option<TransportCommand>,
    connection: *mut mg_connection,
    stopped: bool,
}

/// Carries out what client `id`'s session asked for after a call: writes its bytes, opens or
/// closes its transport, queues its events (and, when it stopped for good, its release), then
/// delivers what is queued.
fn carry_out(id: u32) {
    loop {
        let step = with_clients(|clients| {
            let Clients { running, deliveries, .. } = clients;
            let client = running.iter_mut().find(|client| client.id == id)?;
            let stopped = client.session.state() == ConnectionState::Disconnected;
            for event in client.session.drain_events() {
                // The user's own disconnect() is no news to print.
                let final_stop = stopped
                    && !matches!(
                        event,
                        Event::Disconnected { reason: DisconnectReason::ClientRequested }
                            | Event::ConnectFailed { reason: DisconnectReason::ClientRequested }
                    );
                deliveries.push_back(Delivery::Event { client: id, event, final_stop });
            }
            Some(Step {
                outgoing: client.session.take_outgoing(),
                command: client.session.take_transport_command(),
                connection: client.connection,
                stopped,
            })
        });
        let Some(step) = step else { break };
        if !step.outgoing.is_empty() && !step.connection.is_null() {
            send_now(step.connection, &step.outgoing);
        }
        match step.command {
            Some(TransportCommand::Open) => {
                detach(step.connection);
                let url = with_client(id, |client| {
                    client.connection = core::ptr::null_mut();
                    client.url.clone()
                })
                .unwrap_or_default();
                // SAFETY: the manager is live; the URL is NUL-terminated (checked when the
                // client was made); fn_data is the id. No borrow of the clients is held: the
                // OPEN event Mongoose fires from here comes back to `on_event`.
                let connection = unsafe {
                    mg::mg_connect(
                        event_loop::manager(),
                        url.as_ptr() as *const core::ffi::c_char,
                        Some(on_event),
                        id as usize as *mut c_void,
                    )
                };
                with_client(id, |client| {
                    client.connection = connection;
                    if connection.is_null() {
                        client.session.on_transport_closed(now_ms());
                    }
                });
                continue;
            }
            Some(TransportCommand::Close) => {
                write_through(step.connection);
                detach(step.connection);
                with_client(id, |client| client.connection = core::ptr::null_mut());
            }
            None => {}
        }
        if step.stopped {
            let connection = with_clients(|clients| {
                let index = clients.running.iter().position(|client| client.id == id)?;
                let client = clients.running.remove(index);
                clients.deliveries.push_back(Delivery::Released { client: id });
                Some(client.connection)
            });
            detach(connection.unwrap_or(core::ptr::null_mut()));
        }
        break;
    }
    deliver();
}

/// Hands queued events to Python, oldest first, unless a `deliver` further out already does
/// (then it delivers them when the current callback returns) or a stop request is pending (the
/// next `poll()` delivers them). Acknowledges each handled QoS 1/2 message, then sends the
/// acknowledgements together.
pub fn deliver() {
    let outermost = with_clients(|clients| !core::mem::replace(&mut clients.delivering, true));
    if !outermost {
        return;
    }
    while !event_loop::stop_pending() {
        let Some(delivery) = with_clients(|clients| clients.deliveries.pop_front()) else { break };
        match delivery {
            Delivery::Event { client, event, final_stop } => {
                let outcome = dispatch(client, &event, final_stop);
                event_loop::note_outcome(outcome);
                if outcome == Some(PgCallOutcome::Deferred) {
                    with_clients(|clients| clients.deliveries.push_front(Delivery::Event { client, event, final_stop }));
                    break;
                }
                if let Event::Message { qos, packet_id, .. } = event {
                    if qos != QoS::AtMostOnce {
                        with_client(client, |running| {
                            running.session.message_handled(qos, packet_id, now_ms());
                            running.acks_to_send = true;
                        });
                    }
                }
            }
            Delivery::Released { client } => {
                // SAFETY: the event struct outlives the call; the shim does not raise.
                unsafe { shim::pg_shim_mqtt_event(client, &PgMqttEvent::new(PgMqttEventKind::Released)) };
            }
        }
    }
    with_clients(|clients| clients.delivering = false);
    loop {
        let acks = with_clients(|clients| {
            let client = clients.running.iter_mut().find(|client| client.acks_to_send)?;
            client.acks_to_send = false;
            Some((client.connection, client.session.take_outgoing()))
        });
        match acks {
            Some((connection, bytes)) if !connection.is_null() => send_now(connection, &bytes),
            Some(_) => {}
            None => break,
        }
    }
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

/// Hands one session event to the shim; returns what the callback did.
fn dispatch(id: u32, event: &Event, final_stop: bool) -> Option<PgCallOutcome> {
    let mut shim_event = PgMqttEvent::new(PgMqttEventKind::Disconnected);
    let owned_text: String;
    match event {
        Event::Connected { session_present } => {
            shim_event.kind = PgMqttEventKind::Connected;
            shim_event.session_present = *session_present;
        }
        Event::Message { topic, payload, qos, retain, dup, packet_id } => {
            shim_event.kind = PgMqttEventKind::Message;
            shim_event.topic = PgBytes::from_slice(topic.as_bytes());
            shim_event.payload = PgBytes::from_slice(payload);
            shim_event.qos = *qos as u8;
            shim_event.retain = *retain;
            shim_event.dup = *dup;
            shim_event.packet_id = *packet_id;
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
            shim_event.final_stop = final_stop;
        }
        Event::ConnectFailed { reason } | Event::Disconnected { reason } => {
            shim_event.text = PgBytes::from_slice(reason.message().as_bytes());
            shim_event.final_stop = final_stop;
        }
    }
    // SAFETY: every pointer in `shim_event` points into `event`/`owned_text`, alive during the
    // call; the shim never raises (a KeyboardInterrupt is kept and raised out of poll()).
    PgCallOutcome::from_code(unsafe { shim::pg_shim_mqtt_event(id, &shim_event) })
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

/// The text of an MG_EV_ERROR (Mongoose passes a NUL-terminated message).
fn error_text<'a>(event_data: *mut c_void) -> &'a [u8] {
    if event_data.is_null() {
        return &[];
    }
    // SAFETY: for MG_EV_ERROR, Mongoose's event data is a NUL-terminated string that lives
    // through the handler call.
    unsafe { core::ffi::CStr::from_ptr(event_data as *const core::ffi::c_char) }.to_bytes()
}

unsafe extern "C" fn on_event(connection: *mut mg_connection, event: c_int, event_data: *mut c_void) {
    if connection.is_null() {
        return;
    }
    // SAFETY: Mongoose passes a live connection to its handler.
    let slot = unsafe { (*connection).fn_data } as usize;
    if slot == DETACHED {
        return;
    }
    let id = slot as u32;
    let now = now_ms();
    let ours = |client: &MqttClient| client.connection == connection;
    let handled = match event as u32 {
        mg::MG_EV_CONNECT => {
            let tls = with_client(id, |client| if ours(client) { client.tls.clone() } else { None }).flatten();
            // The handshake runs before the CONNECT the session queues now leaves (Mongoose holds
            // the send buffer until it is done). An error it finds at once comes back to this
            // handler as MG_EV_ERROR from inside start_client (no borrow is held here).
            let started = match &tls {
                Some(options) if super::TLS => net_tls::start_client(connection, options),
                _ => Ok(()),
            };
            with_client(id, |client| ours(client) && {
                match started {
                    Ok(()) => client.session.on_transport_connected(now),
                    Err(failure) => {
                        client.session.on_transport_failed(failure.reason, failure.permanent, now);
                        // SAFETY: the live connection of this event; Mongoose closes it after the handler.
                        unsafe { (*connection).set_is_closing(1) };
                    }
                }
                true
            })
        }
        mg::MG_EV_READ => {
            // SAFETY: the live connection's receive buffer holds `len` bytes, untouched until
            // the `mg_iobuf_del` below.
            let received = unsafe { PgBytes { ptr: (*connection).recv.buf, len: (*connection).recv.len }.as_slice() };
            // What the session copies out of these bytes must fit the budget, else the link goes
            // (the broker keeps QoS 1/2 messages for the next one).
            let admitted = heap::admit(received.len());
            let used = with_client(id, |client| {
                ours(client).then(|| {
                    client.ack_owed = true;
                    client.read_this_poll = true;
                    client.last_read_ms = now;
                    if admitted {
                        client.session.handle_bytes(received, now)
                    } else {
                        client.session.on_out_of_memory(now);
                        received.len()
                    }
                })
            })
            .flatten();
            if let Some(used) = used {
                // SAFETY: removes the consumed prefix of the live connection's receive buffer.
                unsafe { mg::mg_iobuf_del(&mut (*connection).recv, 0, used) };
            }
            Some(used.is_some())
        }
        // Mongoose could not grow the receive buffer (budget or heap): say so, not "closed".
        mg::MG_EV_ERROR if error_text(event_data).windows(3).any(|w| w == b"OOM") => {
            with_client(id, |client| ours(client) && {
                client.session.on_out_of_memory(now);
                true
            })
        }
        // A TLS handshake or certificate check failed: its reason, and no retry if none can help.
        mg::MG_EV_ERROR => {
            // SAFETY: the live connection of this event.
            let handshaking = unsafe { (*connection).is_tls_hs() } != 0;
            let failure = if super::TLS { crate::tls::classify_client_error(error_text(event_data), handshaking) } else { None };
            with_client(id, |client| ours(client) && client.tls.is_some() && {
                match failure {
                    Some(failure) => {
                        client.session.on_transport_failed(failure.reason, failure.permanent, now);
                        true
                    }
                    None => false,
                }
            })
        }
        mg::MG_EV_CLOSE => with_client(id, |client| ours(client) && {
            client.connection = core::ptr::null_mut();
            client.session.on_transport_closed(now);
            true
        }),
        _ => return,
    };
    if handled == Some(true) {
        carry_out(id);
    }
}
