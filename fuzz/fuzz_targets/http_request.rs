//! The HTTP core on untrusted input: route patterns against request paths (checked against a
//! plain dynamic-programming matcher) and Basic `Authorization` headers (what parses re-encodes
//! to the same credentials).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pythongoose::http::auth::BasicCredentials;
use pythongoose::http::routes::pattern_matches;

/// `*` = any run of bytes without `/`, `#` = any run of bytes, anything else itself.
fn reference_match(pattern: &[u8], path: &[u8]) -> bool {
    // matches[i][j]: pattern[i..] matches path[j..]
    let mut matches = vec![vec![false; path.len() + 1]; pattern.len() + 1];
    matches[pattern.len()][path.len()] = true;
    for i in (0..pattern.len()).rev() {
        for j in (0..=path.len()).rev() {
            matches[i][j] = match pattern[i] {
                b'#' => matches[i + 1][j] || (j < path.len() && matches[i][j + 1]),
                b'*' => matches[i + 1][j] || (j < path.len() && path[j] != b'/' && matches[i][j + 1]),
                literal => j < path.len() && path[j] == literal && matches[i + 1][j + 1],
            };
        }
    }
    matches[0][0]
}

fn base64(bytes: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    if selector & 1 == 0 {
        let split = rest.iter().position(|b| *b == 0xFF).unwrap_or(rest.len());
        let (pattern, path) = (&rest[..split.min(64)], rest.get(split + 1..).unwrap_or_default());
        let path = &path[..path.len().min(256)];
        assert_eq!(pattern_matches(pattern, path), reference_match(pattern, path), "{pattern:?} {path:?}");
    } else if let Some(credentials) = BasicCredentials::from_header(rest) {
        let mut joined = credentials.user().to_vec();
        joined.push(b':');
        joined.extend_from_slice(credentials.password());
        let mut header = b"Basic ".to_vec();
        header.extend(base64(&joined));
        let again = BasicCredentials::from_header(&header).expect("re-encoded credentials parse");
        assert_eq!((again.user(), again.password()), (credentials.user(), credentials.password()));
        assert!(!credentials.user().contains(&b':'));
    }
});
