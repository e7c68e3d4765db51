//! MQTT 3.1.1 packet codec: every control packet, encode into a `Vec<u8>`, decode from a byte
//! slice that may hold a partial packet.
//!
//! * [`decode_packet`] returns `Ok(None)` while the slice holds only part of a packet,
//!   `Ok(Some((packet, bytes_used)))` for a complete one and `Err(DecodeError)` for a malformed
//!   one (the connection must then be closed). It never panics. PUBLISH topic and payload, and
//!   every other string, borrow from the input slice (zero-copy).
//! * [`Packet::encode`] appends one packet to a `Vec<u8>`; it validates first and writes nothing
//!   when it returns an error. It checks framing rules only (string lengths, packet ids, sizes);
//!   topic syntax is checked by [`super::topic`] (and by the session before it encodes).
//!
//! Only MQTT 3.1.1 (protocol level 4) is implemented; [`ProtocolVersion`] is where v5 would go.

use alloc::vec::Vec;

use super::topic::{validate_topic_filter, validate_topic_name, TopicError};

/// Largest remaining length the 4-byte variable length integer can express.
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;
/// Largest UTF-8 string or binary field (2-byte length prefix).
pub const MAX_STRING_LENGTH: usize = 65_535;

/// The protocol spoken on the wire. Only 3.1.1 is implemented; v5 would add a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolVersion {
    /// MQTT 3.1.1, protocol name "MQTT", level 4.
    V3_1_1,
}

impl ProtocolVersion {
    /// The protocol level byte sent in CONNECT.
    pub fn level(self) -> u8 {
        match self {
            ProtocolVersion::V3_1_1 => 4,
        }
    }
}

/// Quality of service of a PUBLISH or a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum QoS {
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    /// `None` for 3 and above (3 is reserved / malformed).
    pub fn from_u8(value: u8) -> Option<QoS> {
        match value {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// CONNACK return code (3.1.1 table 3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectReturnCode {
    Accepted = 0,
    UnacceptableProtocolVersion = 1,
    IdentifierRejected = 2,
    ServerUnavailable = 3,
    BadUserNameOrPassword = 4,
    NotAuthorized = 5,
}

impl ConnectReturnCode {
    pub fn from_u8(value: u8) -> Option<ConnectReturnCode> {
        match value {
            0 => Some(ConnectReturnCode::Accepted),
            1 => Some(ConnectReturnCode::UnacceptableProtocolVersion),
            2 => Some(ConnectReturnCode::IdentifierRejected),
            3 => Some(ConnectReturnCode::ServerUnavailable),
            4 => Some(ConnectReturnCode::BadUserNameOrPassword),
            5 => Some(ConnectReturnCode::NotAuthorized),
            _ => None,
        }
    }

    /// Human-readable reason, for error texts.
    pub fn message(self) -> &'static str {
        match self {
            ConnectReturnCode::Accepted => "connection accepted",
            ConnectReturnCode::UnacceptableProtocolVersion => {
                "connection refused: unacceptable protocol version"
            }
            ConnectReturnCode::IdentifierRejected => "connection refused: identifier rejected",
            ConnectReturnCode::ServerUnavailable => "connection refused: server unavailable",
            ConnectReturnCode::BadUserNameOrPassword => {
                "connection refused: bad user name or password"
            }
            ConnectReturnCode::NotAuthorized => "connection refused: not authorized",
        }
    }
}

/// The will message carried in CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastWill<'a> {
    pub topic: &'a str,
    pub message: &'a [u8],
    pub qos: QoS,
    pub retain: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connect<'a> {
    pub protocol: ProtocolVersion,
    pub client_id: &'a str,
    pub keep_alive_secs: u16,
    pub clean_session: bool,
    pub last_will: Option<LastWill<'a>>,
    pub username: Option<&'a str>,
    /// Binary data in 3.1.1. Only allowed together with a user name.
    pub password: Option<&'a [u8]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnAck {
    pub session_present: bool,
    pub code: ConnectReturnCode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish<'a> {
    /// Only meaningful for QoS > 0; the encoder writes DUP=0 for QoS 0.
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: &'a str,
    /// 0 for QoS 0 (not on the wire); non-zero otherwise.
    pub packet_id: u16,
    pub payload: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribeFilter<'a> {
    pub filter: &'a str,
    pub qos: QoS,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe<'a> {
    pub packet_id: u16,
    pub filters: Vec<SubscribeFilter<'a>>,
}

/// One return code of a SUBACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubackReturnCode {
    /// Subscription accepted with this maximum QoS.
    Granted(QoS),
    /// 0x80: the broker refused this filter.
    Failure,
}

impl SubackReturnCode {
    pub fn from_u8(value: u8) -> Option<SubackReturnCode> {
        match value {
            0x80 => Some(SubackReturnCode::Failure),
            other => QoS::from_u8(other).map(SubackReturnCode::Granted),
        }
    }

    pub fn to_u8(self) -> u8 {
        match self {
            SubackReturnCode::Granted(qos) => qos as u8,
            SubackReturnCode::Failure => 0x80,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    pub packet_id: u16,
    pub return_codes: Vec<SubackReturnCode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe<'a> {
    pub packet_id: u16,
    pub filters: Vec<&'a str>,
}

/// Every MQTT 3.1.1 control packet. Acknowledgements carry their packet id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    Connect(Connect<'a>),
    ConnAck(ConnAck),
    Publish(Publish<'a>),
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    Subscribe(Subscribe<'a>),
    SubAck(SubAck),
    Unsubscribe(Unsubscribe<'a>),
    UnsubAck(u16),
    PingReq,
    PingResp,
    Disconnect,
}

/// Control packet type numbers (high nibble of the first byte).
pub mod packet_type {
    pub const CONNECT: u8 = 1;
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const PUBREC: u8 = 5;
    pub const PUBREL: u8 = 6;
    pub const PUBCOMP: u8 = 7;
    pub const SUBSCRIBE: u8 = 8;
    pub const SUBACK: u8 = 9;
    pub const UNSUBSCRIBE: u8 = 10;
    pub const UNSUBACK: u8 = 11;
    pub const PINGREQ: u8 = 12;
    pub const PINGRESP: u8 = 13;
    pub const DISCONNECT: u8 = 14;
}

/// Why a byte sequence is not a valid MQTT 3.1.1 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The remaining-length varint uses more than 4 bytes.
    MalformedRemainingLength,
    /// Remaining length above the configured maximum.
    PacketTooLarge,
    /// Packet type 0 or 15.
    ReservedPacketType,
    /// Fixed-header flags differ from the ones 3.1.1 mandates for this type.
    InvalidFixedHeaderFlags,
    /// QoS 3 in a PUBLISH, a will or a subscription.
    InvalidQoS,
    /// Packet identifier 0 where a non-zero one is required.
    PacketIdZero,
    /// A string field is not valid UTF-8 or contains U+0000.
    InvalidUtf8,
    /// A PUBLISH topic name or a SUBSCRIBE/UNSUBSCRIBE filter breaks the topic rules.
    InvalidTopic(TopicError),
    /// The body is shorter or longer than its fields, or a field is out of range.
    MalformedPacket,
    /// CONNECT with a protocol name other than "MQTT".
    InvalidProtocolName,
    /// CONNECT with a protocol level this codec does not speak.
    UnsupportedProtocolLevel(u8),
    /// CONNECT flags break a rule (reserved bit, will flags, password without user name).
    InvalidConnectFlags,
    /// CONNACK acknowledge flags with reserved bits set.
    InvalidConnAckFlags,
    InvalidConnectReturnCode(u8),
    InvalidSubackReturnCode(u8),
    /// SUBSCRIBE, UNSUBSCRIBE or SUBACK without any entry.
    EmptyList,
}

impl DecodeError {
    pub fn message(self) -> &'static str {
        match self {
            DecodeError::MalformedRemainingLength => "malformed remaining length",
            DecodeError::PacketTooLarge => "packet larger than the configured maximum",
            DecodeError::ReservedPacketType => "reserved packet type",
            DecodeError::InvalidFixedHeaderFlags => "invalid fixed header flags",
            DecodeError::InvalidQoS => "invalid QoS (3)",
            DecodeError::PacketIdZero => "packet identifier 0 is not allowed",
            DecodeError::InvalidUtf8 => "string is not valid UTF-8 or contains NUL",
            DecodeError::InvalidTopic(topic_error) => topic_error.message(),
            DecodeError::MalformedPacket => "malformed packet",
            DecodeError::InvalidProtocolName => "invalid protocol name",
            DecodeError::UnsupportedProtocolLevel(_) => "unsupported protocol level",
            DecodeError::InvalidConnectFlags => "invalid CONNECT flags",
            DecodeError::InvalidConnAckFlags => "invalid CONNACK flags",
            DecodeError::InvalidConnectReturnCode(_) => "invalid CONNACK return code",
            DecodeError::InvalidSubackReturnCode(_) => "invalid SUBACK return code",
            DecodeError::EmptyList => "SUBSCRIBE, UNSUBSCRIBE or SUBACK without entries",
        }
    }
}

/// Why a packet cannot be encoded. Nothing is written when encoding fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeError {
    /// A string or binary field is longer than 65535 bytes.
    StringTooLong,
    /// The packet is larger than the 268435455-byte remaining length limit.
    PacketTooLarge,
    /// Packet identifier 0 where a non-zero one is required.
    PacketIdZero,
    /// SUBSCRIBE, UNSUBSCRIBE or SUBACK without any entry.
    EmptyList,
    /// 3.1.1 allows a password only together with a user name.
    PasswordWithoutUsername,
    /// The heap cannot hold the encoded packet.
    OutOfMemory,
}

impl EncodeError {
    pub fn message(self) -> &'static str {
        match self {
            EncodeError::StringTooLong => "string longer than 65535 bytes",
            EncodeError::PacketTooLarge => "packet larger than 268435455 bytes",
            EncodeError::PacketIdZero => "packet identifier 0 is not allowed",
            EncodeError::EmptyList => "at least one topic is required",
            EncodeError::PasswordWithoutUsername => "a password needs a user name",
            EncodeError::OutOfMemory => "not enough memory for the packet",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

fn string_field_len(bytes: &[u8]) -> Result<usize, EncodeError> {
    if bytes.len() > MAX_STRING_LENGTH {
        return Err(EncodeError::StringTooLong);
    }
    Ok(2 + bytes.len())
}

fn nonzero(packet_id: u16) -> Result<(), EncodeError> {
    if packet_id == 0 {
        Err(EncodeError::PacketIdZero)
    } else {
        Ok(())
    }
}

fn put_u16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// Writes a length-prefixed field; the length was checked before.
fn put_field(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u16(out, bytes.len() as u16);
    out.extend_from_slice(bytes);
}

fn put_remaining_length(out: &mut Vec<u8>, mut length: usize) {
    loop {
        let mut byte = (length % 128) as u8;
        length /= 128;
        if length > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if length == 0 {
            break;
        }
    }
}

fn remaining_length_size(length: usize) -> usize {
    match length {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

impl Packet<'_> {
    /// The first byte of the fixed header (type and flags).
    fn first_byte(&self) -> u8 {
        use packet_type::*;
        match self {
            Packet::Connect(_) => CONNECT << 4,
            Packet::ConnAck(_) => CONNACK << 4,
            Packet::Publish(publish) => {
                let mut byte = PUBLISH << 4 | (publish.qos as u8) << 1;
                if publish.dup && publish.qos != QoS::AtMostOnce {
                    byte |= 0x08;
                }
                if publish.retain {
                    byte |= 0x01;
                }
                byte
            }
            Packet::PubAck(_) => PUBACK << 4,
            Packet::PubRec(_) => PUBREC << 4,
            Packet::PubRel(_) => PUBREL << 4 | 0x02,
            Packet::PubComp(_) => PUBCOMP << 4,
            Packet::Subscribe(_) => SUBSCRIBE << 4 | 0x02,
            Packet::SubAck(_) => SUBACK << 4,
            Packet::Unsubscribe(_) => UNSUBSCRIBE << 4 | 0x02,
            Packet::UnsubAck(_) => UNSUBACK << 4,
            Packet::PingReq => PINGREQ << 4,
            Packet::PingResp => PINGRESP << 4,
            Packet::Disconnect => DISCONNECT << 4,
        }
    }

    /// Validates the packet and returns its remaining length.
    fn remaining_length(&self) -> Result<usize, EncodeError> {
        let length = match self {
            Packet::Connect(connect) => {
                // protocol name (2+4) + level + flags + keep alive
                let mut length = 10 + string_field_len(connect.client_id.as_bytes())?;
                if let Some(will) = &connect.last_will {
                    length += string_field_len(will.topic.as_bytes())?;
                    length += string_field_len(will.message)?;
                }
                if connect.password.is_some() && connect.username.is_none() {
                    return Err(EncodeError::PasswordWithoutUsername);
                }
                if let Some(username) = connect.username {
                    length += string_field_len(username.as_bytes())?;
                }
                if let Some(password) = connect.password {
                    length += string_field_len(password)?;
                }
                length
            }
            Packet::ConnAck(_) => 2,
            Packet::Publish(publish) => {
                let mut length = string_field_len(publish.topic.as_bytes())?;
                if publish.qos != QoS::AtMostOnce {
                    nonzero(publish.packet_id)?;
                    length += 2;
                }
                length.saturating_add(publish.payload.len())
            }
            Packet::PubAck(id)
            | Packet::PubRec(id)
            | Packet::PubRel(id)
            | Packet::PubComp(id)
            | Packet::UnsubAck(id) => {
                nonzero(*id)?;
                2
            }
            Packet::Subscribe(subscribe) => {
                nonzero(subscribe.packet_id)?;
                if subscribe.filters.is_empty() {
                    return Err(EncodeError::EmptyList);
                }
                let mut length: usize = 2;
                for entry in &subscribe.filters {
                    length = length.saturating_add(string_field_len(entry.filter.as_bytes())? + 1);
                }
                length
            }
            Packet::SubAck(suback) => {
                nonzero(suback.packet_id)?;
                if suback.return_codes.is_empty() {
                    return Err(EncodeError::EmptyList);
                }
                suback.return_codes.len().saturating_add(2)
            }
            Packet::Unsubscribe(unsubscribe) => {
                nonzero(unsubscribe.packet_id)?;
                if unsubscribe.filters.is_empty() {
                    return Err(EncodeError::EmptyList);
                }
                let mut length: usize = 2;
                for filter in &unsubscribe.filters {
                    length = length.saturating_add(string_field_len(filter.as_bytes())?);
                }
                length
            }
            Packet::PingReq | Packet::PingResp | Packet::Disconnect => 0,
        };
        if length > MAX_REMAINING_LENGTH {
            return Err(EncodeError::PacketTooLarge);
        }
        Ok(length)
    }

    /// The control packet type number (1 = CONNECT ... 14 = DISCONNECT).
    pub fn type_number(&self) -> u8 {
        self.first_byte() >> 4
    }

    /// Total encoded size (fixed header included), or why it cannot be encoded.
    pub fn encoded_len(&self) -> Result<usize, EncodeError> {
        let remaining = self.remaining_length()?;
        Ok(1 + remaining_length_size(remaining) + remaining)
    }

    /// Appends the encoded packet to `out`. Nothing is appended on error.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let remaining = self.remaining_length()?;
        out.try_reserve(1 + remaining_length_size(remaining) + remaining)
            .map_err(|_| EncodeError::OutOfMemory)?;
        out.push(self.first_byte());
        put_remaining_length(out, remaining);
        match self {
            Packet::Connect(connect) => {
                put_field(out, b"MQTT");
                out.push(connect.protocol.level());
                let mut flags = 0u8;
                if connect.clean_session {
                    flags |= 0x02;
                }
                if let Some(will) = &connect.last_will {
                    flags |= 0x04 | (will.qos as u8) << 3;
                    if will.retain {
                        flags |= 0x20;
                    }
                }
                if connect.password.is_some() {
                    flags |= 0x40;
                }
                if connect.username.is_some() {
                    flags |= 0x80;
                }
                out.push(flags);
                put_u16(out, connect.keep_alive_secs);
                put_field(out, connect.client_id.as_bytes());
                if let Some(will) = &connect.last_will {
                    put_field(out, will.topic.as_bytes());
                    put_field(out, will.message);
                }
                if let Some(username) = connect.username {
                    put_field(out, username.as_bytes());
                }
                if let Some(password) = connect.password {
                    put_field(out, password);
                }
            }
            Packet::ConnAck(connack) => {
                out.push(u8::from(connack.session_present));
                out.push(connack.code as u8);
            }
            Packet::Publish(publish) => {
                put_field(out, publish.topic.as_bytes());
                if publish.qos != QoS::AtMostOnce {
                    put_u16(out, publish.packet_id);
                }
                out.extend_from_slice(publish.payload);
            }
            Packet::PubAck(id)
            | Packet::PubRec(id)
            | Packet::PubRel(id)
            | Packet::PubComp(id)
            | Packet::UnsubAck(id) => put_u16(out, *id),
            Packet::Subscribe(subscribe) => {
                put_u16(out, subscribe.packet_id);
                for entry in &subscribe.filters {
                    put_field(out, entry.filter.as_bytes());
                    out.push(entry.qos as u8);
                }
            }
            Packet::SubAck(suback) => {
                put_u16(out, suback.packet_id);
                out.extend(suback.return_codes.iter().map(|code| code.to_u8()));
            }
            Packet::Unsubscribe(unsubscribe) => {
                put_u16(out, unsubscribe.packet_id);
                for filter in &unsubscribe.filters {
                    put_field(out, filter.as_bytes());
                }
            }
            Packet::PingReq | Packet::PingResp | Packet::Disconnect => {}
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// Reads fields from the body of one complete packet; running short is malformed.
struct BodyReader<'a> {
    rest: &'a [u8],
}

impl<'a> BodyReader<'a> {
    fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&byte, rest) = self
            .rest
            .split_first()
            .ok_or(DecodeError::MalformedPacket)?;
        self.rest = rest;
        Ok(byte)
    }

    fn u16(&mut self) -> Result<u16, DecodeError> {
        let high = self.u8()?;
        let low = self.u8()?;
        Ok(u16::from_be_bytes([high, low]))
    }

    fn packet_id(&mut self) -> Result<u16, DecodeError> {
        let id = self.u16()?;
        if id == 0 {
            return Err(DecodeError::PacketIdZero);
        }
        Ok(id)
    }

    fn binary(&mut self) -> Result<&'a [u8], DecodeError> {
        let length = usize::from(self.u16()?);
        let (field, rest) = self
            .rest
            .split_at_checked(length)
            .ok_or(DecodeError::MalformedPacket)?;
        self.rest = rest;
        Ok(field)
    }

    fn string(&mut self) -> Result<&'a str, DecodeError> {
        let bytes = self.binary()?;
        let text = core::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8)?;
        if bytes.contains(&0) {
            return Err(DecodeError::InvalidUtf8);
        }
        Ok(text)
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn finish(&self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::MalformedPacket)
        }
    }
}

/// Checks the fixed-header flags of the first byte, so garbage is rejected as soon as it arrives.
fn check_first_byte(first: u8) -> Result<(), DecodeError> {
    use packet_type::*;
    let kind = first >> 4;
    let flags = first & 0x0F;
    match kind {
        0 | 15 => Err(DecodeError::ReservedPacketType),
        PUBLISH => {
            if (flags >> 1) & 0x03 == 3 {
                return Err(DecodeError::InvalidQoS);
            }
            // DUP must be 0 for QoS 0 [MQTT-3.3.1-2].
            if flags & 0x06 == 0 && flags & 0x08 != 0 {
                return Err(DecodeError::InvalidFixedHeaderFlags);
            }
            Ok(())
        }
        PUBREL | SUBSCRIBE | UNSUBSCRIBE if flags == 0x02 => Ok(()),
        PUBREL | SUBSCRIBE | UNSUBSCRIBE => Err(DecodeError::InvalidFixedHeaderFlags),
        _ if flags == 0 => Ok(()),
        _ => Err(DecodeError::InvalidFixedHeaderFlags),
    }
}

/// Parses the remaining-length varint after the first byte.
/// `Ok(None)`: more bytes needed; `Ok(Some((length, varint_size)))`.
fn parse_remaining_length(after_first: &[u8]) -> Result<Option<(usize, usize)>, DecodeError> {
    let mut value: usize = 0;
    for (index, &byte) in after_first.iter().take(4).enumerate() {
        value |= usize::from(byte & 0x7F) << (7 * index);
        if byte & 0x80 == 0 {
            return Ok(Some((value, index + 1)));
        }
    }
    if after_first.len() >= 4 {
        Err(DecodeError::MalformedRemainingLength)
    } else {
        Ok(None)
    }
}

/// Decodes the first packet of `input`.
///
/// * `Ok(None)`: `input` holds only the start of a packet (or nothing); call again with more.
/// * `Ok(Some((packet, used)))`: a packet that borrows from `input`, and the bytes it used.
/// * `Err(e)`: malformed input; the stream cannot be resynchronised, close the connection.
///
/// `max_remaining_length` bounds the packet size: a larger announced length is an error as soon
/// as the header has arrived, before the body is buffered.
pub fn decode_packet(
    input: &[u8],
    max_remaining_length: usize,
) -> Result<Option<(Packet<'_>, usize)>, DecodeError> {
    let Some((&first, after_first)) = input.split_first() else {
        return Ok(None);
    };
    check_first_byte(first)?;
    let Some((remaining, varint_size)) = parse_remaining_length(after_first)? else {
        return Ok(None);
    };
    if remaining > max_remaining_length {
        return Err(DecodeError::PacketTooLarge);
    }
    let frame_length = 1 + varint_size + remaining;
    let Some(body) = input.get(1 + varint_size..frame_length) else {
        return Ok(None);
    };
    let packet = decode_body(first, body)?;
    Ok(Some((packet, frame_length)))
}

fn decode_body(first: u8, body: &[u8]) -> Result<Packet<'_>, DecodeError> {
    use packet_type::*;
    let mut reader = BodyReader { rest: body };
    let packet = match first >> 4 {
        CONNECT => Packet::Connect(decode_connect(&mut reader)?),
        CONNACK => {
            let flags = reader.u8()?;
            if flags & 0xFE != 0 {
                return Err(DecodeError::InvalidConnAckFlags);
            }
            let code_byte = reader.u8()?;
            let code = ConnectReturnCode::from_u8(code_byte)
                .ok_or(DecodeError::InvalidConnectReturnCode(code_byte))?;
            Packet::ConnAck(ConnAck {
                session_present: flags & 0x01 != 0,
                code,
            })
        }
        PUBLISH => {
            let qos = QoS::from_u8((first >> 1) & 0x03).ok_or(DecodeError::InvalidQoS)?;
            let topic = reader.string()?;
            validate_topic_name(topic).map_err(DecodeError::InvalidTopic)?;
            let packet_id = if qos == QoS::AtMostOnce {
                0
            } else {
                reader.packet_id()?
            };
            return Ok(Packet::Publish(Publish {
                dup: first & 0x08 != 0,
                qos,
                retain: first & 0x01 != 0,
                topic,
                packet_id,
                payload: reader.rest,
            }));
        }
        PUBACK => Packet::PubAck(reader.packet_id()?),
        PUBREC => Packet::PubRec(reader.packet_id()?),
        PUBREL => Packet::PubRel(reader.packet_id()?),
        PUBCOMP => Packet::PubComp(reader.packet_id()?),
        UNSUBACK => Packet::UnsubAck(reader.packet_id()?),
        SUBSCRIBE => {
            let packet_id = reader.packet_id()?;
            let mut filters = Vec::new();
            while !reader.is_empty() {
                let filter = reader.string()?;
                validate_topic_filter(filter).map_err(DecodeError::InvalidTopic)?;
                let options = reader.u8()?;
                if options & 0xFC != 0 {
                    return Err(DecodeError::MalformedPacket);
                }
                let qos = QoS::from_u8(options).ok_or(DecodeError::InvalidQoS)?;
                filters.push(SubscribeFilter { filter, qos });
            }
            if filters.is_empty() {
                return Err(DecodeError::EmptyList);
            }
            Packet::Subscribe(Subscribe { packet_id, filters })
        }
        SUBACK => {
            let packet_id = reader.packet_id()?;
            let mut return_codes = Vec::with_capacity(reader.rest.len());
            while !reader.is_empty() {
                let byte = reader.u8()?;
                let code = SubackReturnCode::from_u8(byte)
                    .ok_or(DecodeError::InvalidSubackReturnCode(byte))?;
                return_codes.push(code);
            }
            if return_codes.is_empty() {
                return Err(DecodeError::EmptyList);
            }
            Packet::SubAck(SubAck {
                packet_id,
                return_codes,
            })
        }
        UNSUBSCRIBE => {
            let packet_id = reader.packet_id()?;
            let mut filters = Vec::new();
            while !reader.is_empty() {
                let filter = reader.string()?;
                validate_topic_filter(filter).map_err(DecodeError::InvalidTopic)?;
                filters.push(filter);
            }
            if filters.is_empty() {
                return Err(DecodeError::EmptyList);
            }
            Packet::Unsubscribe(Unsubscribe { packet_id, filters })
        }
        PINGREQ => Packet::PingReq,
        PINGRESP => Packet::PingResp,
        DISCONNECT => Packet::Disconnect,
        _ => return Err(DecodeError::ReservedPacketType),
    };
    reader.finish()?;
    Ok(packet)
}

fn decode_connect<'a>(reader: &mut BodyReader<'a>) -> Result<Connect<'a>, DecodeError> {
    if reader.binary()? != b"MQTT" {
        return Err(DecodeError::InvalidProtocolName);
    }
    let protocol = match reader.u8()? {
        4 => ProtocolVersion::V3_1_1,
        level => return Err(DecodeError::UnsupportedProtocolLevel(level)),
    };
    let flags = reader.u8()?;
    let has_will = flags & 0x04 != 0;
    let will_qos_bits = (flags >> 3) & 0x03;
    let will_retain = flags & 0x20 != 0;
    let has_password = flags & 0x40 != 0;
    let has_username = flags & 0x80 != 0;
    if flags & 0x01 != 0
        || (!has_will && (will_qos_bits != 0 || will_retain))
        || (has_password && !has_username)
    {
        return Err(DecodeError::InvalidConnectFlags);
    }
    let keep_alive_secs = reader.u16()?;
    let client_id = reader.string()?;
    let last_will = if has_will {
        let qos = QoS::from_u8(will_qos_bits).ok_or(DecodeError::InvalidQoS)?;
        let topic = reader.string()?;
        validate_topic_name(topic).map_err(DecodeError::InvalidTopic)?;
        let message = reader.binary()?;
        Some(LastWill {
            topic,
            message,
            qos,
            retain: will_retain,
        })
    } else {
        None
    };
    let username = if has_username {
        Some(reader.string()?)
    } else {
        None
    };
    let password = if has_password {
        Some(reader.binary()?)
    } else {
        None
    };
    Ok(Connect {
        protocol,
        client_id,
        keep_alive_secs,
        clean_session: flags & 0x02 != 0,
        last_will,
        username,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    const MAX: usize = 1 << 20;

    fn encode(packet: &Packet<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        packet.encode(&mut out).unwrap();
        assert_eq!(out.len(), packet.encoded_len().unwrap());
        out
    }

    fn decode_whole(bytes: &[u8]) -> Packet<'_> {
        let (packet, used) = decode_packet(bytes, MAX).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        packet
    }

    fn sample_packets() -> Vec<Packet<'static>> {
        vec![
            Packet::Connect(Connect {
                protocol: ProtocolVersion::V3_1_1,
                client_id: "client-1",
                keep_alive_secs: 60,
                clean_session: true,
                last_will: Some(LastWill {
                    topic: "/hans/will",
                    message: b"unexpected exit",
                    qos: QoS::ExactlyOnce,
                    retain: true,
                }),
                username: Some("hans"),
                password: Some(b"letmein"),
            }),
            Packet::Connect(Connect {
                protocol: ProtocolVersion::V3_1_1,
                client_id: "",
                keep_alive_secs: 0,
                clean_session: false,
                last_will: None,
                username: Some("only-user"),
                password: None,
            }),
            Packet::ConnAck(ConnAck {
                session_present: true,
                code: ConnectReturnCode::Accepted,
            }),
            Packet::ConnAck(ConnAck {
                session_present: false,
                code: ConnectReturnCode::NotAuthorized,
            }),
            Packet::Publish(Publish {
                dup: false,
                qos: QoS::AtMostOnce,
                retain: false,
                topic: "a/b",
                packet_id: 0,
                payload: b"",
            }),
            Packet::Publish(Publish {
                dup: true,
                qos: QoS::AtLeastOnce,
                retain: true,
                topic: "topic/1",
                packet_id: 4314,
                payload: b"temperature:32.5",
            }),
            Packet::Publish(Publish {
                dup: false,
                qos: QoS::ExactlyOnce,
                retain: false,
                topic: "x",
                packet_id: 65535,
                payload: &[0u8; 300],
            }),
            Packet::PubAck(1),
            Packet::PubRec(2),
            Packet::PubRel(3),
            Packet::PubComp(65535),
            Packet::Subscribe(Subscribe {
                packet_id: 4312,
                filters: vec![
                    SubscribeFilter {
                        filter: "topic/1",
                        qos: QoS::AtLeastOnce,
                    },
                    SubscribeFilter {
                        filter: "topic/#",
                        qos: QoS::AtMostOnce,
                    },
                    SubscribeFilter {
                        filter: "+/x",
                        qos: QoS::ExactlyOnce,
                    },
                ],
            }),
            Packet::SubAck(SubAck {
                packet_id: 4313,
                return_codes: vec![
                    SubackReturnCode::Granted(QoS::ExactlyOnce),
                    SubackReturnCode::Failure,
                    SubackReturnCode::Granted(QoS::AtMostOnce),
                ],
            }),
            Packet::Unsubscribe(Unsubscribe {
                packet_id: 4315,
                filters: vec!["topic/1", "t/+"],
            }),
            Packet::UnsubAck(4316),
            Packet::PingReq,
            Packet::PingResp,
            Packet::Disconnect,
        ]
    }

    #[test]
    fn every_packet_type_round_trips() {
        for packet in sample_packets() {
            let bytes = encode(&packet);
            assert_eq!(decode_whole(&bytes), packet);
        }
    }

    #[test]
    fn fixed_byte_layouts_match_the_spec() {
        assert_eq!(encode(&Packet::PingReq), [0xC0, 0x00]);
        assert_eq!(encode(&Packet::PingResp), [0xD0, 0x00]);
        assert_eq!(encode(&Packet::Disconnect), [0xE0, 0x00]);
        assert_eq!(encode(&Packet::PubAck(0x1234)), [0x40, 0x02, 0x12, 0x34]);
        assert_eq!(encode(&Packet::PubRec(7)), [0x50, 0x02, 0x00, 0x07]);
        assert_eq!(encode(&Packet::PubRel(7)), [0x62, 0x02, 0x00, 0x07]);
        assert_eq!(encode(&Packet::PubComp(7)), [0x70, 0x02, 0x00, 0x07]);
        assert_eq!(encode(&Packet::UnsubAck(7)), [0xB0, 0x02, 0x00, 0x07]);
        assert_eq!(
            encode(&Packet::ConnAck(ConnAck {
                session_present: true,
                code: ConnectReturnCode::Accepted
            })),
            [0x20, 0x02, 0x01, 0x00]
        );
        let connect = Packet::Connect(Connect {
            protocol: ProtocolVersion::V3_1_1,
            client_id: "id",
            keep_alive_secs: 10,
            clean_session: true,
            last_will: None,
            username: None,
            password: None,
        });
        assert_eq!(
            encode(&connect),
            [0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 10, 0, 2, b'i', b'd']
        );
        let publish = Packet::Publish(Publish {
            dup: true,
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: "a",
            packet_id: 1,
            payload: b"hi",
        });
        assert_eq!(encode(&publish), [0x3B, 7, 0, 1, b'a', 0, 1, b'h', b'i']);
    }

    #[test]
    fn qos0_publish_never_carries_dup_or_packet_id() {
        let publish = Packet::Publish(Publish {
            dup: true,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "a",
            packet_id: 99,
            payload: b"x",
        });
        assert_eq!(encode(&publish), [0x30, 4, 0, 1, b'a', b'x']);
    }

    #[test]
    fn remaining_length_uses_one_to_four_bytes() {
        for (payload_len, header_len) in [
            (0usize, 2usize),
            (120, 2),
            (200, 3),
            (20_000, 4),
            (2_100_000, 5),
        ] {
            let payload = vec![0xABu8; payload_len];
            let packet = Packet::Publish(Publish {
                dup: false,
                qos: QoS::AtMostOnce,
                retain: false,
                topic: "t",
                packet_id: 0,
                payload: &payload,
            });
            let bytes = encode(&packet);
            assert_eq!(
                bytes.len(),
                header_len + 3 + payload_len,
                "payload {payload_len}"
            );
            let (decoded, used) = decode_packet(&bytes, usize::MAX).unwrap().unwrap();
            assert_eq!(used, bytes.len());
            assert_eq!(decoded, packet);
        }
    }

    #[test]
    fn every_strict_prefix_is_incomplete() {
        for packet in sample_packets() {
            let bytes = encode(&packet);
            for cut in 0..bytes.len() {
                assert_eq!(
                    decode_packet(&bytes[..cut], MAX),
                    Ok(None),
                    "{packet:?} cut {cut}"
                );
            }
        }
    }

    #[test]
    fn decoding_stops_after_one_packet_in_a_stream() {
        let mut stream = encode(&Packet::PubAck(5));
        stream.extend(encode(&Packet::PingResp));
        stream.push(0x30); // start of a third packet
        let (first, used) = decode_packet(&stream, MAX).unwrap().unwrap();
        assert_eq!((first, used), (Packet::PubAck(5), 4));
        let (second, used2) = decode_packet(&stream[used..], MAX).unwrap().unwrap();
        assert_eq!((second, used2), (Packet::PingResp, 2));
        assert_eq!(decode_packet(&stream[used + used2..], MAX), Ok(None));
    }

    #[test]
    fn publish_decoding_borrows_topic_and_payload() {
        let bytes = [0x30u8, 7, 0, 3, b'a', b'/', b'b', b'h', b'i'];
        let Packet::Publish(publish) = decode_whole(&bytes) else {
            panic!("not a publish")
        };
        assert_eq!(publish.topic.as_ptr(), bytes[4..].as_ptr());
        assert_eq!(publish.payload.as_ptr(), bytes[7..].as_ptr());
    }

    #[test]
    fn remaining_length_longer_than_four_bytes_is_malformed() {
        assert_eq!(
            decode_packet(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], usize::MAX),
            Err(DecodeError::MalformedRemainingLength)
        );
        assert_eq!(
            decode_packet(&[0x30, 0xFF, 0xFF, 0xFF], usize::MAX),
            Ok(None)
        );
        assert_eq!(
            decode_packet(&[0x30, 0xFF, 0xFF, 0xFF, 0x80], usize::MAX),
            Err(DecodeError::MalformedRemainingLength)
        );
    }

    #[test]
    fn remaining_length_over_the_configured_maximum_is_rejected_before_the_body() {
        assert_eq!(
            decode_packet(&[0x30, 0x80, 0x01], 127),
            Err(DecodeError::PacketTooLarge)
        );
        assert_eq!(decode_packet(&[0x30, 0x7F], 127), Ok(None));
    }

    #[test]
    fn wrong_reserved_flags_are_malformed() {
        use DecodeError::InvalidFixedHeaderFlags as Bad;
        assert_eq!(decode_packet(&[0x60, 2, 0, 1], MAX), Err(Bad)); // PUBREL needs 0b0010
        assert_eq!(
            decode_packet(&[0x80, 6, 0, 1, 0, 1, b'a', 0], MAX),
            Err(Bad)
        ); // SUBSCRIBE
        assert_eq!(decode_packet(&[0xA0, 5, 0, 1, 0, 1, b'a'], MAX), Err(Bad)); // UNSUBSCRIBE
        assert_eq!(decode_packet(&[0x41, 2, 0, 1], MAX), Err(Bad)); // PUBACK
        assert_eq!(decode_packet(&[0xC1, 0], MAX), Err(Bad)); // PINGREQ
        assert_eq!(decode_packet(&[0x22], MAX), Err(Bad)); // CONNACK, rejected on byte 1
        assert_eq!(decode_packet(&[0x38, 4, 0, 1, b'a', b'x'], MAX), Err(Bad)); // DUP on QoS 0
        assert_eq!(
            decode_packet(&[0x00, 0], MAX),
            Err(DecodeError::ReservedPacketType)
        );
        assert_eq!(
            decode_packet(&[0xF0, 0], MAX),
            Err(DecodeError::ReservedPacketType)
        );
    }

    #[test]
    fn qos_3_is_malformed() {
        assert_eq!(
            decode_packet(&[0x36, 6, 0, 1, b'a', 0, 1, b'x'], MAX),
            Err(DecodeError::InvalidQoS)
        );
        assert_eq!(
            decode_packet(&[0x82, 6, 0, 1, 0, 1, b'a', 3], MAX),
            Err(DecodeError::InvalidQoS)
        );
        assert_eq!(
            decode_packet(&[0x82, 6, 0, 1, 0, 1, b'a', 0x40], MAX),
            Err(DecodeError::MalformedPacket)
        );
    }

    #[test]
    fn packet_id_zero_is_rejected_where_forbidden() {
        use DecodeError::PacketIdZero;
        assert_eq!(
            decode_packet(&[0x32, 5, 0, 1, b'a', 0, 0], MAX),
            Err(PacketIdZero)
        );
        assert_eq!(decode_packet(&[0x40, 2, 0, 0], MAX), Err(PacketIdZero));
        assert_eq!(decode_packet(&[0x62, 2, 0, 0], MAX), Err(PacketIdZero));
        assert_eq!(decode_packet(&[0x90, 3, 0, 0, 1], MAX), Err(PacketIdZero));
        assert_eq!(decode_packet(&[0xB0, 2, 0, 0], MAX), Err(PacketIdZero));
        let mut out = Vec::new();
        assert_eq!(
            Packet::PubAck(0).encode(&mut out),
            Err(EncodeError::PacketIdZero)
        );
        assert!(out.is_empty());
    }

    #[test]
    fn invalid_utf8_nul_or_wildcard_topic_is_rejected() {
        assert_eq!(
            decode_packet(&[0x30, 4, 0, 2, 0xC3, 0x28], MAX),
            Err(DecodeError::InvalidUtf8)
        );
        assert_eq!(
            decode_packet(&[0x30, 4, 0, 2, b'a', 0], MAX),
            Err(DecodeError::InvalidUtf8)
        );
        assert_eq!(
            decode_packet(&[0x30, 4, 0, 2, b'a', b'#'], MAX),
            Err(DecodeError::InvalidTopic(TopicError::WildcardInTopicName))
        );
        assert_eq!(
            decode_packet(&[0x30, 2, 0, 0], MAX),
            Err(DecodeError::InvalidTopic(TopicError::Empty))
        );
        assert_eq!(
            decode_packet(&[0x82, 7, 0, 1, 0, 2, b'a', b'#', 0], MAX),
            Err(DecodeError::InvalidTopic(
                TopicError::MisplacedMultiLevelWildcard
            ))
        );
    }

    #[test]
    fn body_shorter_or_longer_than_its_fields_is_malformed() {
        use DecodeError::MalformedPacket;
        assert_eq!(decode_packet(&[0x40, 1, 0], MAX), Err(MalformedPacket));
        assert_eq!(
            decode_packet(&[0x40, 3, 0, 1, 9], MAX),
            Err(MalformedPacket)
        );
        assert_eq!(decode_packet(&[0xC0, 1, 0], MAX), Err(MalformedPacket));
        assert_eq!(
            decode_packet(&[0x30, 3, 0, 5, b'a'], MAX),
            Err(MalformedPacket)
        );
        assert_eq!(
            decode_packet(&[0x20, 3, 0, 0, 0], MAX),
            Err(MalformedPacket)
        );
    }

    #[test]
    fn connack_codes_and_flags_are_checked() {
        assert_eq!(
            decode_packet(&[0x20, 2, 0, 6], MAX),
            Err(DecodeError::InvalidConnectReturnCode(6))
        );
        assert_eq!(
            decode_packet(&[0x20, 2, 2, 0], MAX),
            Err(DecodeError::InvalidConnAckFlags)
        );
        for code in 0..=5u8 {
            let Packet::ConnAck(connack) = decode_whole(&[0x20, 2, 0, code]) else {
                panic!()
            };
            assert_eq!(connack.code as u8, code);
        }
    }

    #[test]
    fn suback_failure_code_0x80_decodes_and_other_codes_are_rejected() {
        let Packet::SubAck(suback) = decode_whole(&[0x90, 4, 0, 9, 0x01, 0x80]) else {
            panic!()
        };
        assert_eq!(
            suback.return_codes,
            vec![
                SubackReturnCode::Granted(QoS::AtLeastOnce),
                SubackReturnCode::Failure
            ]
        );
        assert_eq!(
            decode_packet(&[0x90, 3, 0, 9, 0x03], MAX),
            Err(DecodeError::InvalidSubackReturnCode(3))
        );
        assert_eq!(
            decode_packet(&[0x90, 2, 0, 9], MAX),
            Err(DecodeError::EmptyList)
        );
        assert_eq!(
            decode_packet(&[0x82, 2, 0, 9], MAX),
            Err(DecodeError::EmptyList)
        );
        assert_eq!(
            decode_packet(&[0xA2, 2, 0, 9], MAX),
            Err(DecodeError::EmptyList)
        );
    }

    #[test]
    fn connect_flag_rules_are_enforced() {
        let good = encode(&sample_packets()[0]);
        // flags byte is at offset 9 (fixed header is 2 bytes here)
        let mut reserved = good.clone();
        reserved[9] |= 0x01;
        assert_eq!(
            decode_packet(&reserved, MAX),
            Err(DecodeError::InvalidConnectFlags)
        );
        let mut password_only = good.clone();
        password_only[9] &= !0x80;
        assert_eq!(
            decode_packet(&password_only, MAX),
            Err(DecodeError::InvalidConnectFlags)
        );
        let mut will_qos3 = good.clone();
        will_qos3[9] |= 0x18;
        assert_eq!(decode_packet(&will_qos3, MAX), Err(DecodeError::InvalidQoS));
        let mut bad_level = good.clone();
        bad_level[8] = 3;
        assert_eq!(
            decode_packet(&bad_level, MAX),
            Err(DecodeError::UnsupportedProtocolLevel(3))
        );
        let mut bad_name = good;
        bad_name[4] = b'X';
        assert_eq!(
            decode_packet(&bad_name, MAX),
            Err(DecodeError::InvalidProtocolName)
        );
    }

    #[test]
    fn encoder_rejects_what_cannot_be_framed_and_writes_nothing() {
        let long = vec![b'a'; 65_536];
        let long_topic = core::str::from_utf8(&long).unwrap();
        let mut out = vec![1u8];
        let publish = Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: long_topic,
            packet_id: 0,
            payload: b"",
        });
        assert_eq!(publish.encode(&mut out), Err(EncodeError::StringTooLong));
        let subscribe = Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![],
        });
        assert_eq!(subscribe.encode(&mut out), Err(EncodeError::EmptyList));
        let connect = Packet::Connect(Connect {
            protocol: ProtocolVersion::V3_1_1,
            client_id: "c",
            keep_alive_secs: 0,
            clean_session: true,
            last_will: None,
            username: None,
            password: Some(b"secret"),
        });
        assert_eq!(
            connect.encode(&mut out),
            Err(EncodeError::PasswordWithoutUsername)
        );
        let huge = vec![0u8; MAX_REMAINING_LENGTH];
        let too_large = Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "t",
            packet_id: 0,
            payload: &huge,
        });
        assert_eq!(too_large.encode(&mut out), Err(EncodeError::PacketTooLarge));
        assert_eq!(out, [1u8]);
    }
}
