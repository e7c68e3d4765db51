//! Static files, sans-I/O: which mount a path reaches, the safe relative path under its
//! directory, and what to answer (status, file, byte span, headers). The caller reads the file
//! system (`stat` is passed in) and sends the bytes; nothing here does I/O, calls Mongoose or
//! uses `core::fmt` (it costs flash).

use alloc::vec::Vec;

/// One directory served under a URL prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// URL path prefix, matched against the raw (not percent-decoded) request path on segment
    /// boundaries. `StaticTable::add` normalises it: leading '/', no trailing '/' except the
    /// root "/".
    pub prefix: Vec<u8>,
    /// File-system directory the prefix maps to; `StaticTable::add` removes trailing '/' (the
    /// root directory stays "/").
    pub directory: Vec<u8>,
    /// File served for a directory (e.g. "index.html"): one name, no '/'. Empty: a directory is
    /// never served (404).
    pub index: Vec<u8>,
    /// `Cache-Control: max-age=<max_age_s>`; 0 sends `Cache-Control: no-cache`.
    pub max_age_s: u32,
    /// Whether the mount needs credentials. Not used here: the event layer checks it before
    /// calling `plan`, as it does for routes.
    pub auth: bool,
}

/// The mounts, in the order they were added.
#[derive(Debug, Default)]
pub struct StaticTable {
    mounts: Vec<Mount>,
}

/// Longest name of one path segment `safe_relative_path` accepts: no common file system
/// (FAT long names, littlefs, ext4) holds a longer one.
pub const MAX_SEGMENT_BYTES: usize = 255;
/// Longest relative path `safe_relative_path` accepts (after decoding).
pub const MAX_RELATIVE_PATH_BYTES: usize = 1024;

impl StaticTable {
    /// Adds a mount. The prefix is normalised (leading '/', trailing '/' removed except for the
    /// root "/", so "/static/" and "/static" are the same mount) and the directory loses its
    /// trailing '/' (but "/" stays "/"). A mount with the same normalised prefix replaces the
    /// older one, keeping its index. Errors: a prefix that is empty, does not start with '/',
    /// or holds a control byte (NUL included), '?', '#', '*' or '%' (it is matched against the
    /// raw path, so a '%' would never match consistently); an empty directory or one holding
    /// NUL; an index holding '/', '\\' or NUL, or being "." or "..".
    pub fn add(&mut self, mut mount: Mount) -> Result<(), &'static str> {
        if mount.prefix.first() != Some(&b'/') {
            return Err("static prefix must start with '/'");
        }
        if mount.prefix.iter().any(|b| *b < 0x20 || matches!(b, 0x7f | b'?' | b'#' | b'*' | b'%')) {
            return Err("static prefix must not contain control bytes, '?', '#', '*' or '%'");
        }
        strip_trailing_slashes(&mut mount.prefix);
        if mount.directory.is_empty() {
            return Err("static directory must not be empty");
        }
        if mount.directory.contains(&0) {
            return Err("static directory must not contain NUL");
        }
        strip_trailing_slashes(&mut mount.directory);
        if mount.index.iter().any(|b| matches!(b, b'/' | b'\\' | 0)) {
            return Err("static index must be a file name (no '/', '\\' or NUL)");
        }
        if mount.index == b"." || mount.index == b".." {
            return Err("static index must not be \".\" or \"..\"");
        }
        match self.mounts.iter_mut().find(|m| m.prefix == mount.prefix) {
            Some(existing) => *existing = mount,
            None => self.mounts.push(mount),
        }
        Ok(())
    }

    /// The mount with the longest prefix that matches `path` on a segment boundary: "/static"
    /// matches "/static", "/static/" and "/static/a/b" but not "/staticx"; "/" matches every
    /// path that starts with '/'. Returns the mount's index (for `get`), the mount, and the rest
    /// of the path after the prefix: empty or starting with '/' (for the root mount, the whole
    /// path).
    pub fn find<'t, 'p>(&'t self, path: &'p [u8]) -> Option<(usize, &'t Mount, &'p [u8])> {
        let mut best: Option<(usize, &'t Mount, &'p [u8])> = None;
        for (index, mount) in self.mounts.iter().enumerate() {
            let Some(rest) = match_prefix(&mount.prefix, path) else { continue };
            if best.is_none_or(|(_, current, _)| mount.prefix.len() > current.prefix.len()) {
                best = Some((index, mount, rest));
            }
        }
        best
    }

    /// Whether no mount was added.
    pub fn is_empty(&self) -> bool {
        self.mounts.is_empty()
    }

    /// How many mounts there are.
    pub fn len(&self) -> usize {
        self.mounts.len()
    }

    /// The mount at `index` (as `find` returned it); indices stay valid as mounts are added
    /// (a replaced mount keeps its index).
    pub fn get(&self, index: usize) -> Option<&Mount> {
        self.mounts.get(index)
    }
}

/// Removes trailing '/' but keeps a lone "/".
fn strip_trailing_slashes(bytes: &mut Vec<u8>) {
    while bytes.len() > 1 && bytes.last() == Some(&b'/') {
        bytes.pop();
    }
}

/// The rest of `path` after a normalised `prefix`, when it matches on a segment boundary.
fn match_prefix<'a>(prefix: &[u8], path: &'a [u8]) -> Option<&'a [u8]> {
    if prefix == b"/" {
        return path.starts_with(b"/").then_some(path);
    }
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.first() == Some(&b'/')).then_some(rest)
}

/// Why a request path cannot name a file under a mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// 400: the path is malformed or tries to leave the directory.
    BadRequest,
    /// 404: the path is well-formed but no file can have that name (a segment longer than
    /// `MAX_SEGMENT_BYTES`, or a path longer than `MAX_RELATIVE_PATH_BYTES`).
    NotFound,
}

/// Turns the raw (not yet percent-decoded) rest of a URL path, the query already cut off, into
/// a relative path that cannot leave the mount's directory: segments percent-decoded and joined
/// with '/', no leading or trailing '/', "" for the directory itself. Empty and "." segments
/// are dropped ("//a/./b" is "a/b"). `BadRequest` for: a malformed %-escape ("%zz", "%4"), NUL,
/// a backslash, a control byte (< 0x20 or 0x7f) or ':' (a drive "C:" on Windows, an NTFS stream
/// "x::$DATA"), raw or percent-encoded; a decoded '/' inside a segment ("%2F"); a ".." segment,
/// raw or encoded ("%2e%2E"). Other bytes (spaces, '~', non-UTF-8) pass through as they are.
pub fn safe_relative_path(rest: &[u8]) -> Result<Vec<u8>, PathError> {
    let mut out = Vec::with_capacity(rest.len());
    let mut segment = Vec::new();
    for raw in rest.split(|b| *b == b'/') {
        segment.clear();
        percent_decode_segment(raw, &mut segment)?;
        match segment.as_slice() {
            b"" | b"." => continue,
            b".." => return Err(PathError::BadRequest),
            _ => {}
        }
        if segment.len() > MAX_SEGMENT_BYTES {
            return Err(PathError::NotFound);
        }
        if !out.is_empty() {
            out.push(b'/');
        }
        out.extend_from_slice(&segment);
        if out.len() > MAX_RELATIVE_PATH_BYTES {
            return Err(PathError::NotFound);
        }
    }
    Ok(out)
}

/// Appends the decoded bytes of one raw segment, refusing the bytes no file name may hold.
fn percent_decode_segment(raw: &[u8], out: &mut Vec<u8>) -> Result<(), PathError> {
    let mut bytes = raw.iter();
    while let Some(&byte) = bytes.next() {
        let decoded = if byte == b'%' {
            let high = bytes.next().and_then(|b| hex_value(*b)).ok_or(PathError::BadRequest)?;
            let low = bytes.next().and_then(|b| hex_value(*b)).ok_or(PathError::BadRequest)?;
            (high << 4) | low
        } else {
            byte
        };
        if decoded < 0x20 || matches!(decoded, 0x7f | b'/' | b'\\' | b':') {
            return Err(PathError::BadRequest);
        }
        out.push(decoded);
    }
    Ok(())
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// The Content-Type for a file name (or path) by its extension, case-insensitive; text types
/// carry `charset=utf-8`. A name ending in ".gz" is `application/gzip` (a file asked for by its
/// .gz name is served as it is, without `Content-Encoding`); unknown or no extension:
/// `application/octet-stream`.
pub fn content_type(file_name: &[u8]) -> &'static [u8] {
    let name = file_name.rsplit(|b| *b == b'/').next().unwrap_or_default();
    let Some(dot) = name.iter().rposition(|b| *b == b'.') else {
        return b"application/octet-stream";
    };
    let extension = name.get(dot + 1..).unwrap_or_default();
    let mut lower = [0u8; 8];
    if extension.len() > lower.len() {
        return b"application/octet-stream";
    }
    for (slot, byte) in lower.iter_mut().zip(extension) {
        *slot = byte.to_ascii_lowercase();
    }
    match lower.get(..extension.len()).unwrap_or_default() {
        b"html" | b"htm" => b"text/html; charset=utf-8",
        b"css" => b"text/css; charset=utf-8",
        b"js" | b"mjs" => b"text/javascript; charset=utf-8",
        b"json" | b"map" => b"application/json",
        b"txt" => b"text/plain; charset=utf-8",
        b"csv" => b"text/csv; charset=utf-8",
        b"xml" => b"application/xml",
        b"svg" => b"image/svg+xml",
        b"png" => b"image/png",
        b"jpg" | b"jpeg" => b"image/jpeg",
        b"gif" => b"image/gif",
        b"ico" => b"image/x-icon",
        b"webp" => b"image/webp",
        b"wasm" => b"application/wasm",
        b"pdf" => b"application/pdf",
        b"woff" => b"font/woff",
        b"woff2" => b"font/woff2",
        b"ttf" => b"font/ttf",
        b"otf" => b"font/otf",
        b"mp3" => b"audio/mpeg",
        b"mp4" => b"video/mp4",
        b"webm" => b"video/webm",
        b"gz" => b"application/gzip",
        _ => b"application/octet-stream",
    }
}

/// A strong ETag from a file's size and modification time: `"<hex size>-<hex mtime>"`, quotes
/// included, lower-case hex without leading zeros (`"1a-0"` for 26 bytes at time 0).
pub fn etag(size: u64, mtime: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(36);
    out.push(b'"');
    push_hex(&mut out, size);
    out.push(b'-');
    push_hex(&mut out, mtime);
    out.push(b'"');
    out
}

fn push_hex(out: &mut Vec<u8>, value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut started = false;
    for shift in (0..16u32).rev() {
        let nibble = (value >> (shift * 4)) & 0xf;
        if nibble != 0 || started || shift == 0 {
            started = true;
            out.extend(DIGITS.get(nibble as usize).copied());
        }
    }
}

/// Appends the decimal digits of a u64 (`reply::push_decimal` takes a usize, 32 bits on a board).
fn push_decimal_u64(out: &mut Vec<u8>, value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = value;
    while start > 0 {
        start -= 1;
        if let Some(slot) = digits.get_mut(start) {
            *slot = b'0' + (rest % 10) as u8;
        }
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(start..).unwrap_or_default());
}

fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

fn strip_weak(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

/// Whether an `If-None-Match` value matches `etag` (which carries its quotes): "*" matches any
/// tag; otherwise a comma-separated list of entity tags (a comma may sit inside quotes),
/// compared weakly as RFC 9110 says for If-None-Match (a "W/" prefix on either side is
/// ignored). An empty `etag` never matches a listed tag.
pub fn if_none_match_matches(header: &[u8], etag: &[u8]) -> bool {
    let wanted = strip_weak(etag);
    let mut rest = header;
    loop {
        rest = trim_leading_separators(rest);
        if rest.is_empty() {
            return false;
        }
        let (entry, after) = next_entity_tag(rest);
        let entry = trim_ows(entry);
        if entry == b"*" {
            return true;
        }
        if !wanted.is_empty() && strip_weak(entry) == wanted {
            return true;
        }
        rest = after;
    }
}

fn trim_leading_separators(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| !matches!(b, b' ' | b'\t' | b',')).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// Splits one list entry off: a (possibly weak) quoted tag up to its closing quote, or anything
/// else up to the next comma. Never returns an empty rest for a non-empty input without
/// consuming at least one byte.
fn next_entity_tag(bytes: &[u8]) -> (&[u8], &[u8]) {
    let quote_at = if bytes.starts_with(b"W/\"") {
        Some(2)
    } else if bytes.starts_with(b"\"") {
        Some(0)
    } else {
        None
    };
    let end = match quote_at {
        Some(open) => bytes
            .iter()
            .skip(open + 1)
            .position(|b| *b == b'"')
            .map_or(bytes.len(), |i| open + 1 + i + 1),
        None => bytes.iter().position(|b| *b == b',').unwrap_or(bytes.len()),
    };
    bytes.split_at(end.min(bytes.len()))
}

/// Whether an `Accept-Encoding` value allows gzip: an entry "gzip" (or its alias "x-gzip"),
/// else a "*", with a q-value that is not zero. An explicit gzip entry decides over "*"
/// whatever the order ("gzip;q=0, *" refuses, "*;q=0, gzip" accepts). Codings and "q" are
/// case-insensitive; spaces and tabs are allowed around tokens; an entry whose q is malformed
/// counts as refusing (identity always works).
pub fn accepts_gzip(accept_encoding: &[u8]) -> bool {
    let mut gzip: Option<bool> = None;
    let mut star: Option<bool> = None;
    for entry in accept_encoding.split(|b| *b == b',') {
        let mut parts = entry.split(|b| *b == b';');
        let coding = trim_ows(parts.next().unwrap_or_default());
        let mut accepted = true;
        for parameter in parts {
            let parameter = trim_ows(parameter);
            let Some(eq) = parameter.iter().position(|b| *b == b'=') else { continue };
            let (name, value) = parameter.split_at(eq);
            if trim_ows(name).eq_ignore_ascii_case(b"q") {
                accepted = q_is_positive(trim_ows(value.get(1..).unwrap_or_default()));
            }
        }
        if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
            gzip = Some(gzip.unwrap_or(false) || accepted);
        } else if coding == b"*" {
            star = Some(star.unwrap_or(false) || accepted);
        }
    }
    gzip.or(star).unwrap_or(false)
}

/// A qvalue ("0" to "1" with up to three decimals) above zero; false when zero or malformed.
fn q_is_positive(value: &[u8]) -> bool {
    let (whole, fraction) = match value.iter().position(|b| *b == b'.') {
        Some(dot) => (value.get(..dot).unwrap_or_default(), value.get(dot + 1..).unwrap_or_default()),
        None => (value, &b""[..]),
    };
    if fraction.len() > 3 || !fraction.iter().all(u8::is_ascii_digit) {
        return false;
    }
    match whole {
        b"1" => fraction.iter().all(|b| *b == b'0'),
        b"0" => fraction.iter().any(|b| *b != b'0'),
        _ => false,
    }
}

/// What a `Range` header asks of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// No usable range: send the whole file (200).
    Full,
    /// Bytes `start..=end` (206); `end` is within the file.
    Partial { start: u64, end: u64 },
    /// The range starts past the end (416).
    Unsatisfiable,
}

/// Reads a `Range` header for a file of `size` bytes: "bytes=a-b", "bytes=a-" and the suffix
/// "bytes=-n" (the last n bytes, the whole file when n >= size). An end past the file is
/// clamped to its last byte. Unsatisfiable: a start at or past the end (so any range of an
/// empty file) or a suffix of 0. Full (RFC 9110 lets a server ignore the header): several
/// ranges, another unit, a start after the end ("bytes=5-2"), or anything malformed. The unit is
/// case-insensitive; spaces around the range are allowed; huge numbers saturate.
pub fn parse_range(header: &[u8], size: u64) -> ByteRange {
    let header = trim_ows(header);
    let Some(eq) = header.iter().position(|b| *b == b'=') else { return ByteRange::Full };
    let (unit, spec) = header.split_at(eq);
    if !trim_ows(unit).eq_ignore_ascii_case(b"bytes") {
        return ByteRange::Full;
    }
    let spec = trim_ows(spec.get(1..).unwrap_or_default());
    if spec.contains(&b',') {
        return ByteRange::Full;
    }
    let Some(dash) = spec.iter().position(|b| *b == b'-') else { return ByteRange::Full };
    let (first, last) = (spec.get(..dash).unwrap_or_default(), spec.get(dash + 1..).unwrap_or_default());
    match (parse_u64(first), parse_u64(last)) {
        (Some(start), Some(end)) if start <= end => {
            if start >= size {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Partial { start, end: end.min(size - 1) }
            }
        }
        (Some(start), None) if last.is_empty() => {
            if start >= size {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Partial { start, end: size - 1 }
            }
        }
        (None, Some(suffix)) if first.is_empty() => {
            if suffix == 0 || size == 0 {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Partial { start: size - suffix.min(size), end: size - 1 }
            }
        }
        _ => ByteRange::Full,
    }
}

/// Decimal digits only (no sign, no space), saturating at u64::MAX; None when empty or not digits.
fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u64, |value, digit| {
        value.saturating_mul(10).saturating_add(u64::from(digit - b'0'))
    }))
}

/// What `stat` tells about a full path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file: its size in bytes and modification time (any monotonic unit, e.g. seconds
    /// since the epoch; it only feeds the ETag).
    File { size: u64, mtime: u64 },
    Directory,
    /// Absent, unreadable, or anything else (a device, a broken link): answered 404.
    Missing,
}

/// The request headers `plan` looks at (values as received, without the header name).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestFacts<'a> {
    /// The method, case-sensitive as HTTP says: only "GET" and "HEAD" are served.
    pub method: &'a [u8],
    pub if_none_match: Option<&'a [u8]>,
    pub range: Option<&'a [u8]>,
    /// `If-Range`: when present and not exactly (strongly) the file's ETag, `Range` is ignored
    /// and the whole file is sent (a date never matches: no Last-Modified is sent).
    pub if_range: Option<&'a [u8]>,
    pub accept_encoding: Option<&'a [u8]>,
    /// The request's URL path as received (not percent-decoded), for a static mount: a directory
    /// asked for without its trailing '/' is then redirected to the same URL with one (301), so
    /// the relative links of its index page resolve inside it, as web servers do. None (a
    /// handler's `File`): no redirect.
    pub url_path: Option<&'a [u8]>,
    /// The query string (without '?'), kept in the redirect's Location.
    pub url_query: &'a [u8],
}

/// The answer to a static-file request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StaticPlan {
    /// A reply without a file: 301 (a directory asked for without its trailing '/', see
    /// `RequestFacts::url_path`; extra headers "Location: <the URL with '/' added>\r\n"), 400
    /// (unsafe relative path), 404 (missing, not a regular file, or a directory without its
    /// index), 405 (extra headers "Allow: GET, HEAD\r\n") or 416 (extra headers "Content-Range:
    /// bytes */<size>\r\n"). `extra_headers` are complete lines each ending in CRLF (empty for
    /// 400 and 404).
    Reject { status: u16, extra_headers: Vec<u8> },
    /// 304, no body: `extra_headers` hold ETag and Cache-Control (and Vary: Accept-Encoding when
    /// the gzip variant matched).
    NotModified { extra_headers: Vec<u8> },
    /// 200 or 206: open `file_path`, skip `offset` bytes, send `length` bytes (for HEAD, send the
    /// head only, with Content-Length `length`). `extra_headers` are complete lines each ending
    /// in CRLF, in this order: ETag; Cache-Control; Accept-Ranges: bytes (not for gzip); for the
    /// gzip variant Content-Encoding: gzip and Vary: Accept-Encoding; for 206 Content-Range:
    /// bytes a-b/size.
    Send {
        status: u16,
        /// Mount directory + '/' + relative path [+ '/' + index] [+ ".gz"].
        file_path: Vec<u8>,
        offset: u64,
        length: u64,
        content_type: &'static [u8],
        extra_headers: Vec<u8>,
    },
}

fn reject(status: u16, extra_headers: &[u8]) -> StaticPlan {
    StaticPlan::Reject { status, extra_headers: extra_headers.to_vec() }
}

/// Joins a directory and a relative name with one '/' ("/" + "a" is "/a"; an empty name gives
/// the directory itself).
fn join(directory: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(directory.len() + 1 + name.len() + 3);
    out.extend_from_slice(directory);
    if !name.is_empty() {
        if out.last() != Some(&b'/') {
            out.push(b'/');
        }
        out.extend_from_slice(name);
    }
    out
}

/// Whether `relative` is what `safe_relative_path` returns: no leading '/', no empty, "." or
/// ".." segment, no NUL, backslash or ':' (a defence for callers that skipped it).
fn is_safe_relative(relative: &[u8]) -> bool {
    relative.is_empty()
        || (!relative.iter().any(|b| matches!(b, 0 | b'\\' | b':'))
            && relative.split(|b| *b == b'/').all(|segment| !matches!(segment, b"" | b"." | b"..")))
}

fn ends_with_gz(name: &[u8]) -> bool {
    name.len() >= 3 && name.get(name.len() - 3..).is_some_and(|tail| tail.eq_ignore_ascii_case(b".gz"))
}

/// Decides the answer to a GET or HEAD for `relative` (from `safe_relative_path`) under
/// `mount`. `stat` is asked about full paths, at most three times: the file (directory +
/// '/' + relative), its index when it is a directory, and its ".gz" sibling when the client
/// accepts gzip. Rules, in order: a method other than GET/HEAD is 405; an unsafe `relative` is
/// 400; a directory asked for without its trailing '/' is 301 to the URL with one (only when
/// `facts.url_path` is given); a missing path, a directory whose index is missing (or not a
/// file, or no index set) is 404. The uncompressed file must exist for its ".gz" sibling to be served (clients without
/// gzip need it); a name already ending in ".gz" is served as it is. The gzip variant gets the
/// Content-Type of the name without ".gz", its own ETag, and ignores Range (always a full
/// 200). If-None-Match matching the ETag gives 304, before Range is looked at. Otherwise Range
/// (see `parse_range`, subject to If-Range) gives 206 or 416, or a full 200.
pub fn plan(
    mount: &Mount,
    relative: &[u8],
    facts: &RequestFacts,
    mut stat: impl FnMut(&[u8]) -> FileKind,
) -> StaticPlan {
    if facts.method != b"GET" && facts.method != b"HEAD" {
        return reject(405, b"Allow: GET, HEAD\r\n");
    }
    if !is_safe_relative(relative) {
        return reject(400, b"");
    }
    let mut path = join(&mount.directory, relative);
    let (size, mtime) = match stat(&path) {
        FileKind::File { size, mtime } => (size, mtime),
        FileKind::Directory if facts.url_path.is_some_and(|url| !url.ends_with(b"/")) => {
            return directory_redirect(facts.url_path.unwrap_or_default(), facts.url_query);
        }
        FileKind::Directory if !mount.index.is_empty() => {
            path = join(&path, &mount.index);
            match stat(&path) {
                FileKind::File { size, mtime } => (size, mtime),
                _ => return reject(404, b""),
            }
        }
        _ => return reject(404, b""),
    };
    let content_type = content_type(&path);

    if !ends_with_gz(&path) && facts.accept_encoding.is_some_and(accepts_gzip) {
        path.extend_from_slice(b".gz");
        if let FileKind::File { size, mtime } = stat(&path) {
            let tag = etag(size, mtime);
            let mut headers = validator_headers(&tag, mount.max_age_s);
            if facts.if_none_match.is_some_and(|header| if_none_match_matches(header, &tag)) {
                headers.extend_from_slice(b"Vary: Accept-Encoding\r\n");
                return StaticPlan::NotModified { extra_headers: headers };
            }
            headers.extend_from_slice(b"Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n");
            return StaticPlan::Send {
                status: 200,
                file_path: path,
                offset: 0,
                length: size,
                content_type,
                extra_headers: headers,
            };
        }
        path.truncate(path.len() - 3);
    }

    let tag = etag(size, mtime);
    let mut headers = validator_headers(&tag, mount.max_age_s);
    if facts.if_none_match.is_some_and(|header| if_none_match_matches(header, &tag)) {
        return StaticPlan::NotModified { extra_headers: headers };
    }
    headers.extend_from_slice(b"Accept-Ranges: bytes\r\n");
    let range = match facts.range {
        Some(header) if facts.if_range.is_none_or(|validator| trim_ows(validator) == tag.as_slice()) => {
            parse_range(header, size)
        }
        _ => ByteRange::Full,
    };
    match range {
        ByteRange::Full => StaticPlan::Send {
            status: 200,
            file_path: path,
            offset: 0,
            length: size,
            content_type,
            extra_headers: headers,
        },
        ByteRange::Partial { start, end } => {
            headers.extend_from_slice(b"Content-Range: bytes ");
            push_decimal_u64(&mut headers, start);
            headers.push(b'-');
            push_decimal_u64(&mut headers, end);
            headers.push(b'/');
            push_decimal_u64(&mut headers, size);
            headers.extend_from_slice(b"\r\n");
            StaticPlan::Send {
                status: 206,
                file_path: path,
                offset: start,
                length: end.saturating_sub(start).saturating_add(1),
                content_type,
                extra_headers: headers,
            }
        }
        ByteRange::Unsatisfiable => {
            let mut headers = b"Content-Range: bytes */".to_vec();
            push_decimal_u64(&mut headers, size);
            headers.extend_from_slice(b"\r\n");
            StaticPlan::Reject { status: 416, extra_headers: headers }
        }
    }
}

/// The 301 for a directory asked for as `url_path` (no trailing '/'): Location is the path with
/// '/' added, then '?' and the query if there is one. A path or query holding a byte that has no
/// place in a header line (a control byte, space or DEL) gets 400 instead.
fn directory_redirect(url_path: &[u8], query: &[u8]) -> StaticPlan {
    if url_path.iter().chain(query).any(|b| *b <= b' ' || *b == 0x7f) {
        return reject(400, b"");
    }
    let mut location = Vec::with_capacity(url_path.len() + query.len() + 14);
    location.extend_from_slice(b"Location: ");
    location.extend_from_slice(url_path);
    location.push(b'/');
    if !query.is_empty() {
        location.push(b'?');
        location.extend_from_slice(query);
    }
    location.extend_from_slice(b"\r\n");
    StaticPlan::Reject { status: 301, extra_headers: location }
}

/// "ETag: <tag>\r\nCache-Control: ...\r\n".
fn validator_headers(tag: &[u8], max_age_s: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(80);
    out.extend_from_slice(b"ETag: ");
    out.extend_from_slice(tag);
    out.extend_from_slice(b"\r\nCache-Control: ");
    if max_age_s == 0 {
        out.extend_from_slice(b"no-cache");
    } else {
        out.extend_from_slice(b"max-age=");
        push_decimal_u64(&mut out, u64::from(max_age_s));
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
#[path = "static_files_tests.rs"]
mod tests;
