//! HTTP Basic credentials: `Authorization: Basic base64(user:password)`, of any length.

use alloc::vec::Vec;

/// User and password from a Basic `Authorization` header, as bytes (not necessarily UTF-8).
#[derive(Debug, PartialEq, Eq)]
pub struct BasicCredentials {
    decoded: Vec<u8>,
    colon: usize,
}

impl BasicCredentials {
    /// Parses an `Authorization` header value; `None` when it is not well-formed Basic.
    pub fn from_header(value: &[u8]) -> Option<Self> {
        let value = trim(value);
        let scheme_len = value.iter().position(|b| *b == b' ')?;
        let (scheme, rest) = value.split_at(scheme_len);
        if !scheme.eq_ignore_ascii_case(b"Basic") {
            return None;
        }
        let decoded = decode_base64(trim(rest))?;
        let colon = decoded.iter().position(|b| *b == b':')?;
        Some(BasicCredentials { decoded, colon })
    }

    pub fn user(&self) -> &[u8] {
        self.decoded.get(..self.colon).unwrap_or_default()
    }

    pub fn password(&self) -> &[u8] {
        self.decoded.get(self.colon + 1..).unwrap_or_default()
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

fn sextet(symbol: u8) -> Option<u32> {
    let value = match symbol {
        b'A'..=b'Z' => symbol - b'A',
        b'a'..=b'z' => symbol - b'a' + 26,
        b'0'..=b'9' => symbol - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

/// Standard base64 with optional `=` padding; `None` on any other symbol or a dangling sextet.
pub fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let unpadded_len = text.iter().rposition(|b| *b != b'=').map_or(0, |i| i + 1);
    let (data, padding) = text.split_at(unpadded_len);
    if padding.len() > 2 || (!padding.is_empty() && !text.len().is_multiple_of(4)) {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    for group in data.chunks(4) {
        let mut acc = 0u32;
        for symbol in group {
            acc = (acc << 6) | sextet(*symbol)?;
        }
        match group.len() {
            4 => out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]),
            3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
            2 => out.push((acc >> 4) as u8),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_seed_credentials() {
        let creds = BasicCredentials::from_header(b"Basic YWRtaW46aXN0cmF0b3I=").unwrap();
        assert_eq!(creds.user(), b"admin");
        assert_eq!(creds.password(), b"istrator");
    }

    #[test]
    fn long_credentials_and_colons_in_the_password_survive() {
        // "a-user-name-well-over-sixteen-characters:pass:with:colons"
        let header = b"basic  YS11c2VyLW5hbWUtd2VsbC1vdmVyLXNpeHRlZW4tY2hhcmFjdGVyczpwYXNzOndpdGg6Y29sb25z ";
        let creds = BasicCredentials::from_header(header).unwrap();
        assert_eq!(creds.user(), b"a-user-name-well-over-sixteen-characters");
        assert_eq!(creds.password(), b"pass:with:colons");
    }

    #[test]
    fn other_schemes_and_bad_base64_are_refused() {
        assert_eq!(BasicCredentials::from_header(b"Bearer abc"), None);
        assert_eq!(BasicCredentials::from_header(b"Basic !!!!"), None);
        assert_eq!(BasicCredentials::from_header(b"Basic"), None);
        // valid base64 without a colon
        assert_eq!(BasicCredentials::from_header(b"Basic YWRtaW4="), None);
    }

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(decode_base64(b"").unwrap(), b"");
        assert_eq!(decode_base64(b"Zg==").unwrap(), b"f");
        assert_eq!(decode_base64(b"Zm8=").unwrap(), b"fo");
        assert_eq!(decode_base64(b"Zm9v").unwrap(), b"foo");
        assert_eq!(decode_base64(b"Zm9vYg").unwrap(), b"foob");
        assert_eq!(decode_base64(b"Zm9vYmE=").unwrap(), b"fooba");
        assert_eq!(decode_base64(b"Z"), None);
        assert_eq!(decode_base64(b"Zg==="), None);
    }
}
