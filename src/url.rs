//! What a URL's scheme means, decided before anything opens a socket: a scheme names a protocol
//! the module speaks in full, or the URL is refused. `https://` and `mqtts://` mean TLS: the
//! caller learns it from [`check`] and never serves or dials them in plaintext. Pure logic: no
//! FFI, no Mongoose.

/// Which URLs a caller takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlRole {
    /// `mongoose.init(url=...)`: where the HTTP server listens.
    HttpListener,
    /// `MQTTclient.connect(url)`: the broker.
    MqttBroker,
}

/// Why a URL is refused. `message` is what the user reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// No `scheme://` prefix.
    MissingScheme,
    /// A scheme this role does not speak.
    UnsupportedScheme,
    /// Nothing after the scheme, or bytes no URL has (NUL, space, control characters).
    Malformed,
}

impl UrlError {
    pub fn message(self, role: UrlRole) -> &'static str {
        match (self, role) {
            (UrlError::MissingScheme | UrlError::UnsupportedScheme, UrlRole::HttpListener) => {
                "unsupported URL scheme: the server listens on http://HOST:PORT or https://HOST:PORT"
            }
            (UrlError::MissingScheme | UrlError::UnsupportedScheme, UrlRole::MqttBroker) => {
                "unsupported URL scheme: a broker URL is mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"
            }
            (UrlError::Malformed, _) => "malformed URL: expected SCHEME://HOST[:PORT]",
        }
    }
}

/// What carries a checked URL's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Plain,
    /// `https://`, `mqtts://`: TLS, never plaintext.
    Tls,
}

/// Checks that `url` names a protocol `role` speaks; says whether it runs over TLS.
pub fn check(url: &[u8], role: UrlRole) -> Result<Transport, UrlError> {
    if url.iter().any(|&byte| byte <= b' ' || byte == 0x7f) {
        return Err(UrlError::Malformed);
    }
    let separator = url.windows(3).position(|window| window == b"://").ok_or(UrlError::MissingScheme)?;
    let (scheme, rest) = (url.get(..separator).unwrap_or(&[]), url.get(separator + 3..).unwrap_or(&[]));
    let is = |name: &[u8]| scheme.eq_ignore_ascii_case(name);
    let plain = match role {
        UrlRole::HttpListener => is(b"http"),
        UrlRole::MqttBroker => is(b"mqtt"),
    };
    let secure = match role {
        UrlRole::HttpListener => is(b"https"),
        UrlRole::MqttBroker => is(b"mqtts"),
    };
    if !plain && !secure {
        return Err(UrlError::UnsupportedScheme);
    }
    if rest.is_empty() || rest.starts_with(b":") || rest.starts_with(b"/") {
        return Err(UrlError::Malformed);
    }
    Ok(if secure { Transport::Tls } else { Transport::Plain })
}

/// Where the host of a checked URL is: after `://`, before the port, path, query or fragment
/// (a bracketed IPv6 address with its brackets).
fn host_range(url: &[u8]) -> Option<core::ops::Range<usize>> {
    let start = url.windows(3).position(|window| window == b"://")? + 3;
    let rest = url.get(start..)?;
    let length = if rest.starts_with(b"[") {
        rest.iter().position(|&byte| byte == b']').map_or(rest.len(), |close| close + 1)
    } else {
        rest.iter().position(|byte| b":/?#".contains(byte)).unwrap_or(rest.len())
    };
    Some(start..start + length)
}

/// The host of a checked URL as a TLS client names it (SNI and the certificate check): a name,
/// or an address without IPv6 brackets.
pub fn host(url: &[u8]) -> &[u8] {
    let host = host_range(url).and_then(|range| url.get(range)).unwrap_or(&[]);
    host.strip_prefix(b"[").and_then(|inner| inner.strip_suffix(b"]")).unwrap_or(host)
}

/// Where the host name of a checked URL is, when it is a name some resolver has to look up:
/// not an IPv4 literal, not `localhost`, not a bracketed IPv6 address.
pub fn host_to_resolve(url: &[u8]) -> Option<core::ops::Range<usize>> {
    let range = host_range(url)?;
    let host = url.get(range.clone())?;
    let literal = host.is_empty() || host.starts_with(b"[") || host.eq_ignore_ascii_case(b"localhost") || is_ipv4(host);
    (!literal).then_some(range)
}

fn is_ipv4(host: &[u8]) -> bool {
    let mut parts = 0;
    for part in host.split(|&byte| byte == b'.') {
        parts += 1;
        let value = part.iter().try_fold(0u32, |value, &digit| {
            digit.is_ascii_digit().then(|| value * 10 + u32::from(digit - b'0')).filter(|value| *value <= 255)
        });
        if part.is_empty() || part.len() > 3 || value.is_none() {
            return false;
        }
    }
    parts == 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_real_host_names_need_resolving() {
        let name = |url: &[u8]| host_to_resolve(url).map(|range| url.get(range).unwrap_or(&[]).to_vec());
        assert_eq!(name(b"mqtt://broker.local:1883"), Some(b"broker.local".to_vec()));
        assert_eq!(name(b"mqtt://test.mosquitto.org"), Some(b"test.mosquitto.org".to_vec()));
        assert_eq!(name(b"mqtt://10.0.2.100:1883"), None);
        assert_eq!(name(b"mqtt://localhost:1883"), None);
        assert_eq!(name(b"mqtt://[::1]:1883"), None);
        assert_eq!(name(b"mqtt://256.1.1.1"), Some(b"256.1.1.1".to_vec()));
        assert_eq!(name(b"mqtt://1.2.3"), Some(b"1.2.3".to_vec()));
    }

    #[test]
    fn plain_schemes_of_each_role_are_accepted_in_any_case() {
        assert_eq!(check(b"http://0.0.0.0:8000", UrlRole::HttpListener), Ok(Transport::Plain));
        assert_eq!(check(b"HTTP://127.0.0.1:80", UrlRole::HttpListener), Ok(Transport::Plain));
        assert_eq!(check(b"mqtt://broker.local", UrlRole::MqttBroker), Ok(Transport::Plain));
        assert_eq!(check(b"mqtt://[::1]:1883", UrlRole::MqttBroker), Ok(Transport::Plain));
    }

    #[test]
    fn the_host_is_what_a_tls_client_checks_the_certificate_against() {
        assert_eq!(host(b"mqtts://broker.example:8883"), b"broker.example");
        assert_eq!(host(b"mqtts://10.0.2.2"), b"10.0.2.2");
        assert_eq!(host(b"mqtts://[::1]:8883"), b"::1");
        assert_eq!(host(b"https://h/path?q#f"), b"h");
    }

    #[test]
    fn tls_schemes_say_tls_in_any_case() {
        assert_eq!(check(b"https://127.0.0.1:8443", UrlRole::HttpListener), Ok(Transport::Tls));
        assert_eq!(check(b"mqtts://127.0.0.1:8883", UrlRole::MqttBroker), Ok(Transport::Tls));
        assert_eq!(check(b"MQTTS://h", UrlRole::MqttBroker), Ok(Transport::Tls));
        assert_eq!(check(b"mqtts://", UrlRole::MqttBroker), Err(UrlError::Malformed));
    }

    #[test]
    fn other_schemes_and_a_role_s_wrong_scheme_are_refused() {
        for url in [&b"tcp://h:1"[..], b"udp://h:1", b"ws://h:1", b"wss://h:1", b"ftp://h", b"mqtt://h:1", b"mqtts://h:1", b"://h"] {
            assert_eq!(check(url, UrlRole::HttpListener), Err(UrlError::UnsupportedScheme), "{url:?}");
        }
        for url in [&b"tcp://h:1"[..], b"ws://h:1", b"http://h:1", b"https://h", b"wss://h"] {
            assert_eq!(check(url, UrlRole::MqttBroker), Err(UrlError::UnsupportedScheme), "{url:?}");
        }
    }

    #[test]
    fn urls_without_scheme_or_host_or_with_control_bytes_are_refused() {
        assert_eq!(check(b"127.0.0.1:8000", UrlRole::HttpListener), Err(UrlError::MissingScheme));
        assert_eq!(check(b"", UrlRole::MqttBroker), Err(UrlError::MissingScheme));
        assert_eq!(check(b"http://", UrlRole::HttpListener), Err(UrlError::Malformed));
        assert_eq!(check(b"http://:8000", UrlRole::HttpListener), Err(UrlError::Malformed));
        assert_eq!(check(b"mqtt://h ost", UrlRole::MqttBroker), Err(UrlError::Malformed));
        assert_eq!(check(b"mqtt://h\0", UrlRole::MqttBroker), Err(UrlError::Malformed));
    }
}
