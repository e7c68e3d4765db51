//! `extern "C"` entry points of the MQTT client.

use alloc::vec::Vec;
use core::ffi::CStr;

use super::last_error;
use crate::abi::types::{PgBytes, PgMqttConfig, PgMqttFilter, PgStatus};
use crate::mqtt::codec::{EncodeError, QoS};
use crate::mqtt::session::{client_id_from_random, RequestError, SessionConfig, Will};
use crate::net::event_loop::random_u32;
use crate::net::mqtt_client::{self, ClientError, CreateError, WaitOutcome};
use crate::net::tls::{ClientOptions, TlsText};
use crate::url::{check as check_url, Transport, UrlRole};

fn qos_of(value: u8) -> Result<QoS, PgStatus> {
    QoS::from_u8(value).ok_or_else(|| last_error::set(PgStatus::InvalidArgument, "qos must be 0, 1 or 2"))
}

fn utf8<'a>(bytes: &'a [u8], what: &'static str) -> Result<&'a str, PgStatus> {
    core::str::from_utf8(bytes).map_err(|_| last_error::set(PgStatus::InvalidArgument, what))
}

fn status_of(error: ClientError) -> PgStatus {
    match error {
        ClientError::NoSuchClient => PgStatus::MqttNoSuchClient,
        ClientError::TooLarge => last_error::set(PgStatus::InvalidArgument, "message larger than max_packet_size"),
        ClientError::OutOfMemory | ClientError::Request(RequestError::Encode(EncodeError::OutOfMemory)) => {
            PgStatus::OutOfMemory
        }
        ClientError::Request(RequestError::QueueFull) => PgStatus::MqttQueueFull,
        ClientError::Request(RequestError::NotConnected) => PgStatus::MqttNotConnected,
        ClientError::Request(other) => last_error::set(PgStatus::InvalidArgument, other.message()),
    }
}

/// Builds the session settings from the C config.
///
/// # Safety
/// Every `PgBytes` in `config` points to readable bytes.
unsafe fn session_config(config: &PgMqttConfig) -> Result<SessionConfig, PgStatus> {
    // SAFETY: per the contract, for every field below.
    let (client_id, username, password, will_topic, will_message) = unsafe {
        (
            config.client_id.as_slice(),
            config.username.as_slice(),
            config.password.as_slice(),
            config.will_topic.as_slice(),
            config.will_message.as_slice(),
        )
    };
    let client_id = if client_id.is_empty() {
        let random = random_u32().to_be_bytes();
        client_id_from_random("pythongoose-", &random)
    } else {
        utf8(client_id, "client_id must be UTF-8")?.into()
    };
    let will = if config.has_will {
        Some(Will {
            topic: utf8(will_topic, "will topic must be UTF-8")?.into(),
            message: will_message.to_vec(),
            qos: qos_of(config.will_qos)?,
            retain: config.will_retain,
        })
    } else {
        None
    };
    let defaults = SessionConfig::default();
    let or_default = |value: u32, default: u64| if value == 0 { default } else { u64::from(value) };
    Ok(SessionConfig {
        client_id,
        keep_alive_secs: config.keepalive_s,
        clean_session: config.clean_session,
        username: if config.has_username { Some(utf8(username, "user must be UTF-8")?.into()) } else { None },
        password: config.has_password.then(|| password.to_vec()),
        will,
        max_inflight: if config.max_inflight == 0 { defaults.max_inflight } else { config.max_inflight as usize },
        max_queued: config.max_queued as usize,
        max_queued_bytes: if config.max_queued_bytes == 0 {
            defaults.max_queued_bytes
        } else {
            config.max_queued_bytes as usize
        },
        max_inbound_qos2: if config.max_inbound_qos2 == 0 {
            defaults.max_inbound_qos2
        } else {
            config.max_inbound_qos2 as usize
        },
        ack_timeout_ms: or_default(config.ack_timeout_ms, defaults.ack_timeout_ms),
        connect_timeout_ms: or_default(config.connect_timeout_ms, defaults.connect_timeout_ms),
        reconnect_min_ms: or_default(config.reconnect_min_ms, defaults.reconnect_min_ms),
        reconnect_max_ms: or_default(config.reconnect_max_ms, defaults.reconnect_max_ms),
        auto_reconnect: config.auto_reconnect,
        max_incoming_packet_size: if config.max_packet_size == 0 {
            defaults.max_incoming_packet_size
        } else {
            config.max_packet_size as usize
        },
        ..defaults
    })
}

/// Why an `mqtts://` URL is refused by a build without TLS.
const NO_TLS_MQTT: &str = "mqtts:// needs TLS, which this firmware leaves out (built without the `tls` feature): use mqtt://";

/// The TLS options of an `mqtts://` client, checked: never an unverified connection unless asked
/// for by name, a CA and client credentials the built-in TLS can use. None for `mqtt://`, which
/// takes no TLS options.
///
/// # Safety
/// Every `PgBytes` in `config` points to readable bytes.
unsafe fn tls_options(config: &PgMqttConfig, transport: Transport, url: &[u8]) -> Result<Option<ClientOptions>, PgStatus> {
    let invalid = |message: &str| last_error::set(PgStatus::InvalidArgument, message);
    // SAFETY: per the contract, for every field below.
    let (ca, cert, key, server_name) = unsafe {
        (config.tls_ca.as_slice(), config.tls_cert.as_slice(), config.tls_key.as_slice(), config.server_name.as_slice())
    };
    if transport == Transport::Plain {
        if !ca.is_empty() || !cert.is_empty() || !key.is_empty() || config.has_server_name || config.tls_insecure {
            return Err(invalid("ca=, cert=, key=, server_name= and insecure= are for mqtts:// URLs"));
        }
        return Ok(None);
    }
    if !crate::net::TLS {
        return Err(invalid(NO_TLS_MQTT));
    }
    if ca.is_empty() && !config.tls_insecure {
        return Err(invalid(
            "mqtts:// verifies the broker: pass ca= (the CA certificate, PEM), or insecure=True to skip verification",
        ));
    }
    if !ca.is_empty() && config.tls_insecure {
        return Err(invalid("ca= and insecure=True contradict each other: pass one"));
    }
    if !ca.is_empty() {
        crate::tls::check_ca(ca).map_err(invalid)?;
    }
    if cert.is_empty() != key.is_empty() {
        return Err(invalid("a client certificate needs both cert= and key="));
    }
    if !cert.is_empty() {
        crate::tls::check_credentials(cert, key).map_err(invalid)?;
    }
    // Mongoose keeps the name in 253 bytes with its NUL.
    const MAX_NAME: usize = 252;
    if config.has_server_name && (server_name.is_empty() || server_name.len() > MAX_NAME || server_name.iter().any(|&b| b <= b' ' || b == 0x7f)) {
        return Err(invalid("server_name must be a host name (1 to 252 characters, no spaces)"));
    }
    let name = if config.has_server_name { server_name } else { crate::url::host(url) };
    if name.len() > MAX_NAME {
        return Err(invalid("the broker's host name is longer than 252 characters"));
    }
    Ok(Some(ClientOptions {
        ca: TlsText::new(ca),
        cert: TlsText::new(cert),
        key: TlsText::new(key),
        name: TlsText::new(name),
        insecure: config.tls_insecure,
    }))
}

/// The id the next client will have: root its Python object under it, then `pg_mqtt_connect`.
/// Ids are not reused while anything may still name a client.
#[no_mangle]
pub extern "C" fn pg_mqtt_reserve_id() -> u32 {
    mqtt_client::reserve_id()
}

/// Creates client `client` (an id from `pg_mqtt_reserve_id`). Nothing goes on the network until
/// `pg_mqtt_start`.
///
/// # Safety
/// `config` is valid (its `url` NUL-terminated, its byte strings readable).
#[no_mangle]
pub unsafe extern "C" fn pg_mqtt_connect(config: *const PgMqttConfig, client: u32) -> PgStatus {
    // SAFETY: per the contract.
    let Some(config) = (unsafe { config.as_ref() }) else {
        return last_error::set(PgStatus::InvalidArgument, "no MQTT configuration");
    };
    if config.url.is_null() {
        return last_error::set(PgStatus::InvalidArgument, "the broker URL is missing");
    }
    // SAFETY: NUL-terminated per the contract.
    let url = unsafe { CStr::from_ptr(config.url) };
    let transport = match check_url(url.to_bytes(), UrlRole::MqttBroker) {
        Ok(transport) => transport,
        Err(error) => return last_error::set(PgStatus::InvalidArgument, error.message(UrlRole::MqttBroker)),
    };
    // SAFETY: per the contract.
    let tls = match unsafe { tls_options(config, transport, url.to_bytes()) } {
        Ok(tls) => tls,
        Err(status) => return status,
    };
    let url = url.to_bytes_with_nul().to_vec();
    // SAFETY: per the contract.
    let session_config = match unsafe { session_config(config) } {
        Ok(session_config) => session_config,
        Err(status) => return status,
    };
    match mqtt_client::create(client, url, session_config, random_u32(), tls) {
        Ok(()) => PgStatus::Ok,
        Err(CreateError::Config(message)) => last_error::set(PgStatus::InvalidArgument, message),
        Err(CreateError::HostNotFound(message)) => last_error::set(PgStatus::HostNotFound, &message),
    }
}

/// Starts connecting (and reconnecting, by itself, from then on).
#[no_mangle]
pub extern "C" fn pg_mqtt_start(client: u32) -> PgStatus {
    if mqtt_client::start(client) {
        PgStatus::Ok
    } else {
        PgStatus::MqttNoSuchClient
    }
}

/// Publishes; `*packet_id_out` receives the packet id (0 for QoS 0).
///
/// # Safety
/// `topic` and `payload` point to readable bytes; `packet_id_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn pg_mqtt_publish(
    client: u32,
    topic: PgBytes,
    payload: PgBytes,
    qos: u8,
    retain: bool,
    packet_id_out: *mut u16,
) -> PgStatus {
    // SAFETY: per the contract.
    let Some(packet_id_out) = (unsafe { packet_id_out.as_mut() }) else { return last_error::null_argument() };
    let qos = match qos_of(qos) {
        Ok(qos) => qos,
        Err(status) => return status,
    };
    // SAFETY: per the contract.
    let (topic, payload) = unsafe { (topic.as_slice(), payload.as_slice()) };
    let topic = match utf8(topic, "topic must be UTF-8") {
        Ok(topic) => topic,
        Err(status) => return status,
    };
    match mqtt_client::publish(client, topic, payload, qos, retain) {
        Ok(packet_id) => {
            *packet_id_out = packet_id;
            PgStatus::Ok
        }
        Err(error) => status_of(error),
    }
}

/// Subscribes to `count` filters in one SUBSCRIBE; `*packet_id_out` receives its packet id.
///
/// # Safety
/// `filters` points to `count` filters whose topics are readable; `packet_id_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn pg_mqtt_subscribe(
    client: u32,
    filters: *const PgMqttFilter,
    count: usize,
    packet_id_out: *mut u16,
) -> PgStatus {
    // SAFETY: per the contract.
    let Some(packet_id_out) = (unsafe { packet_id_out.as_mut() }) else { return last_error::null_argument() };
    if filters.is_null() || count == 0 {
        return last_error::set(PgStatus::InvalidArgument, "at least one topic is required");
    }
    // SAFETY: per the contract, `count` filters.
    let raw = unsafe { core::slice::from_raw_parts(filters, count) };
    let mut converted: Vec<(&str, QoS)> = Vec::with_capacity(count);
    for filter in raw {
        // SAFETY: per the contract.
        let topic = match utf8(unsafe { filter.topic.as_slice() }, "topic must be UTF-8") {
            Ok(topic) => topic,
            Err(status) => return status,
        };
        match qos_of(filter.qos) {
            Ok(qos) => converted.push((topic, qos)),
            Err(status) => return status,
        }
    }
    match mqtt_client::subscribe(client, &converted) {
        Ok(packet_id) => {
            *packet_id_out = packet_id;
            PgStatus::Ok
        }
        Err(error) => status_of(error),
    }
}

/// Unsubscribes from `count` filters in one UNSUBSCRIBE.
///
/// # Safety
/// `topics` points to `count` readable byte strings; `packet_id_out` is writable.
#[no_mangle]
pub unsafe extern "C" fn pg_mqtt_unsubscribe(
    client: u32,
    topics: *const PgBytes,
    count: usize,
    packet_id_out: *mut u16,
) -> PgStatus {
    // SAFETY: per the contract.
    let Some(packet_id_out) = (unsafe { packet_id_out.as_mut() }) else { return last_error::null_argument() };
    if topics.is_null() || count == 0 {
        return last_error::set(PgStatus::InvalidArgument, "at least one topic is required");
    }
    // SAFETY: per the contract.
    let raw = unsafe { core::slice::from_raw_parts(topics, count) };
    let mut converted: Vec<&str> = Vec::with_capacity(count);
    for topic in raw {
        // SAFETY: per the contract.
        match utf8(unsafe { topic.as_slice() }, "topic must be UTF-8") {
            Ok(topic) => converted.push(topic),
            Err(status) => return status,
        }
    }
    match mqtt_client::unsubscribe(client, &converted) {
        Ok(packet_id) => {
            *packet_id_out = packet_id;
            PgStatus::Ok
        }
        Err(error) => status_of(error),
    }
}

/// How `pg_mqtt_wait_connected` ended.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgWaitResult {
    Connected = 0,
    /// The client stopped for good: its `on_disconnect` (or the shim's record) has the reason.
    Stopped = 1,
    /// Not connected in time; the client keeps trying.
    TimedOut = 2,
    /// A KeyboardInterrupt/SystemExit (a callback's, or Ctrl-C) waits to be raised.
    Interrupted = 3,
    /// Called from inside a callback.
    Reentered = 4,
}

/// Runs the event loop until `client` is connected (umqtt's blocking `connect()`), stops, or
/// `wait_ms` pass; returns early when something must be raised (the shim raises it).
#[no_mangle]
pub extern "C" fn pg_mqtt_wait_connected(client: u32, wait_ms: u32) -> PgWaitResult {
    match mqtt_client::wait_connected(client, u64::from(wait_ms)) {
        WaitOutcome::Connected => PgWaitResult::Connected,
        WaitOutcome::Stopped => PgWaitResult::Stopped,
        WaitOutcome::TimedOut => PgWaitResult::TimedOut,
        WaitOutcome::Interrupted => PgWaitResult::Interrupted,
        WaitOutcome::Reentered => PgWaitResult::Reentered,
    }
}

/// Clean disconnect: DISCONNECT is sent (so no will), pending requests fail, the client stops.
#[no_mangle]
pub extern "C" fn pg_mqtt_disconnect(client: u32) -> PgStatus {
    if mqtt_client::disconnect(client) {
        PgStatus::Ok
    } else {
        PgStatus::MqttNoSuchClient
    }
}

#[no_mangle]
pub extern "C" fn pg_mqtt_is_connected(client: u32) -> bool {
    mqtt_client::is_connected(client)
}

/// QoS>0 publishes not yet acknowledged (in flight and queued).
#[no_mangle]
pub extern "C" fn pg_mqtt_pending(client: u32) -> usize {
    mqtt_client::pending(client)
}
