use super::*;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

fn mount(prefix: &str, directory: &str) -> Mount {
    Mount {
        prefix: prefix.as_bytes().to_vec(),
        directory: directory.as_bytes().to_vec(),
        index: b"index.html".to_vec(),
        max_age_s: 3600,
        auth: false,
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---- StaticTable::add -------------------------------------------------------------------------

#[test]
fn add_normalises_prefix_and_directory() {
    let mut table = StaticTable::default();
    assert!(table.is_empty());
    table.add(mount("/static/", "/www/")).unwrap();
    table.add(mount("/", "/")).unwrap();
    table.add(mount("///", "//")).unwrap(); // the same root mount again
    table.add(mount("/a//", "data")).unwrap();
    assert_eq!(table.len(), 3);
    assert_eq!(table.get(0).unwrap().prefix, b"/static");
    assert_eq!(table.get(0).unwrap().directory, b"/www");
    assert_eq!(table.get(1).unwrap().prefix, b"/");
    assert_eq!(table.get(1).unwrap().directory, b"/");
    assert_eq!(table.get(2).unwrap().prefix, b"/a");
    assert_eq!(table.get(2).unwrap().directory, b"data");
    assert!(table.get(3).is_none());
}

#[test]
fn add_with_the_same_prefix_replaces_in_place() {
    let mut table = StaticTable::default();
    table.add(mount("/static", "/one")).unwrap();
    table.add(mount("/other", "/two")).unwrap();
    table.add(mount("/static/", "/three")).unwrap();
    assert_eq!(table.len(), 2);
    assert_eq!(table.get(0).unwrap().directory, b"/three");
    assert_eq!(table.find(b"/static/x").unwrap().0, 0);
}

#[test]
fn add_refuses_ill_formed_prefixes() {
    for prefix in ["", "static", "/a\0b", "/a?b", "/a#b", "/a*", "/a%20b", "/a\r\nb", "/a\x7f"] {
        let mut table = StaticTable::default();
        assert!(table.add(mount(prefix, "/www")).is_err(), "prefix {prefix:?}");
        assert!(table.is_empty());
    }
}

#[test]
fn add_refuses_bad_directories_and_indexes() {
    let mut table = StaticTable::default();
    assert!(table.add(mount("/s", "")).is_err());
    assert!(table.add(mount("/s", "/w\0w")).is_err());
    for index in ["a/b", "/index.html", "a\0", ".", "..", "a\\b"] {
        let mut m = mount("/s", "/www");
        m.index = index.as_bytes().to_vec();
        assert!(table.add(m).is_err(), "index {index:?}");
    }
    assert!(table.is_empty());
    let mut no_index = mount("/s", "/www");
    no_index.index.clear();
    table.add(no_index).unwrap();
    let mut dotted = mount("/t", "/www");
    dotted.index = b"...".to_vec();
    table.add(dotted).unwrap();
}

// ---- StaticTable::find ------------------------------------------------------------------------

#[test]
fn find_matches_on_segment_boundaries() {
    let mut table = StaticTable::default();
    table.add(mount("/static", "/www")).unwrap();
    assert_eq!(table.find(b"/static").unwrap().2, b"");
    assert_eq!(table.find(b"/static/").unwrap().2, b"/");
    assert_eq!(table.find(b"/static/a/b").unwrap().2, b"/a/b");
    assert!(table.find(b"/staticx").is_none());
    assert!(table.find(b"/stat").is_none());
    assert!(table.find(b"/").is_none());
    assert!(table.find(b"static/a").is_none());
    assert!(table.find(b"/STATIC/a").is_none());
}

#[test]
fn root_mount_matches_every_path_and_returns_it_whole() {
    let mut table = StaticTable::default();
    table.add(mount("/", "/www")).unwrap();
    assert_eq!(table.find(b"/").unwrap().2, b"/");
    assert_eq!(table.find(b"/a/b").unwrap().2, b"/a/b");
    assert_eq!(table.find(b"/staticx").unwrap().2, b"/staticx");
    assert!(table.find(b"").is_none());
    assert!(table.find(b"*").is_none());
}

#[test]
fn longest_prefix_wins_whatever_the_order() {
    let mut table = StaticTable::default();
    table.add(mount("/", "/root")).unwrap();
    table.add(mount("/static", "/s")).unwrap();
    table.add(mount("/static/img", "/img")).unwrap();
    table.add(mount("/stat", "/stat")).unwrap();
    let (index, m, rest) = table.find(b"/static/img/a.png").unwrap();
    assert_eq!((index, m.directory.as_slice(), rest), (2, &b"/img"[..], &b"/a.png"[..]));
    let (index, m, rest) = table.find(b"/static/imgx").unwrap();
    assert_eq!((index, m.directory.as_slice(), rest), (1, &b"/s"[..], &b"/imgx"[..]));
    let (index, _, rest) = table.find(b"/static").unwrap();
    assert_eq!((index, rest), (1, &b""[..]));
    let (index, _, rest) = table.find(b"/staticx").unwrap();
    assert_eq!((index, rest), (0, &b"/staticx"[..]));
    let (index, _, rest) = table.find(b"/stat/x").unwrap();
    assert_eq!((index, rest), (3, &b"/x"[..]));

    let mut reversed = StaticTable::default();
    reversed.add(mount("/static/img", "/img")).unwrap();
    reversed.add(mount("/static", "/s")).unwrap();
    reversed.add(mount("/", "/root")).unwrap();
    assert_eq!(reversed.find(b"/static/img/a.png").unwrap().1.directory, b"/img");
    assert_eq!(reversed.find(b"/static/a.png").unwrap().1.directory, b"/s");
    assert_eq!(reversed.find(b"/a.png").unwrap().1.directory, b"/root");
}

#[test]
fn empty_table_finds_nothing() {
    assert!(StaticTable::default().find(b"/").is_none());
}

// ---- safe_relative_path -----------------------------------------------------------------------

fn safe(rest: &str) -> Result<String, PathError> {
    safe_relative_path(rest.as_bytes()).map(|path| text(&path))
}

#[test]
fn plain_paths_are_decoded_and_normalised() {
    assert_eq!(safe(""), Ok("".into()));
    assert_eq!(safe("/"), Ok("".into()));
    assert_eq!(safe("/index.html"), Ok("index.html".into()));
    assert_eq!(safe("/a/b/c.txt"), Ok("a/b/c.txt".into()));
    assert_eq!(safe("/a/b/"), Ok("a/b".into()));
    assert_eq!(safe("/a/./b"), Ok("a/b".into()));
    assert_eq!(safe("/./."), Ok("".into()));
    assert_eq!(safe("/%2e/a"), Ok("a".into()));
    assert_eq!(safe("//a//b"), Ok("a/b".into()));
    assert_eq!(safe("/a%20b.txt"), Ok("a b.txt".into()));
    assert_eq!(safe("/%41%62"), Ok("Ab".into()));
    assert_eq!(safe("/~user/.hidden"), Ok("~user/.hidden".into()));
    assert_eq!(safe("/a+b"), Ok("a+b".into()));
    assert_eq!(safe("/.../x"), Ok(".../x".into()));
    assert_eq!(safe("/a..b/..c"), Ok("a..b/..c".into()));
    assert_eq!(safe_relative_path(b"/%C3%A9").unwrap(), "é".as_bytes());
    assert_eq!(safe_relative_path(b"/\xff").unwrap(), b"\xff");
}

#[test]
fn traversal_is_refused() {
    for rest in [
        "/../etc/passwd",
        "/..",
        "..",
        "/a/../../b",
        "/a/..",
        "/%2e%2e/x",
        "/%2E%2E/x",
        "/a/%2E%2e/b",
        "/.%2e/x",
        "/%2e./x",
        "/a/%2e%2e",
    ] {
        assert_eq!(safe(rest), Err(PathError::BadRequest), "{rest:?}");
    }
}

#[test]
fn encoded_separators_and_forbidden_bytes_are_refused() {
    for rest in [
        "/a%2fb",
        "/a%2Fb",
        "/%2f..%2fetc",
        "/a%5cb",
        "/a%5Cb",
        "/a\\b",
        "/..\\x",
        "/%00",
        "/a\0b",
        "/a%0d%0ab",
        "/a\nb",
        "/a%1fb",
        "/a%7fb",
        "/C:",
        "/c:/windows",
        "/C%3a/x",
        "/a/b:c",
        "/x::$DATA",
    ] {
        assert_eq!(safe(rest), Err(PathError::BadRequest), "{rest:?}");
    }
}

#[test]
fn malformed_escapes_are_refused() {
    for rest in ["/%zz", "/%4", "/%", "/a%", "/%g0", "/%0g", "/%%41", "/a/%2"] {
        assert_eq!(safe(rest), Err(PathError::BadRequest), "{rest:?}");
    }
}

#[test]
fn overlong_names_are_not_found() {
    let long_segment: String = "/".chars().chain(core::iter::repeat_n('a', MAX_SEGMENT_BYTES + 1)).collect();
    assert_eq!(safe(&long_segment), Err(PathError::NotFound));
    let longest_segment: String = "/".chars().chain(core::iter::repeat_n('a', MAX_SEGMENT_BYTES)).collect();
    assert!(safe(&longest_segment).is_ok());
    let long_path = "/abcdefghi".repeat(MAX_RELATIVE_PATH_BYTES / 10 + 1);
    assert_eq!(safe(&long_path), Err(PathError::NotFound));
    // The limit is on the decoded form: 3 raw bytes per decoded one still fit.
    let encoded = "/%61".repeat(200);
    assert_eq!(safe(&encoded).unwrap().len(), 399);
}

#[test]
fn no_accepted_path_can_leave_the_directory() {
    // Whatever the input, an Ok path has no leading '/', no empty, "." or ".." segment and no
    // NUL, backslash or ':' (the properties `plan` relies on).
    let pieces = ["/", ".", "..", "%2e", "%2E", "%2f", "%5c", "a", "%00", "\\", ":", "%", "~", "%41"];
    let mut checked = 0;
    for a in pieces {
        for b in pieces {
            for c in pieces {
                for d in pieces {
                    let raw = [a, b, c, d].concat();
                    if let Ok(path) = safe_relative_path(raw.as_bytes()) {
                        assert!(is_safe_relative(&path), "{raw:?} gave {:?}", text(&path));
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 100);
}

// ---- content_type -----------------------------------------------------------------------------

#[test]
fn content_types_by_extension_ignore_case() {
    let cases: [(&str, &str); 30] = [
        ("index.html", "text/html; charset=utf-8"),
        ("INDEX.HTM", "text/html; charset=utf-8"),
        ("a/b/style.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("mod.MJS", "text/javascript; charset=utf-8"),
        ("data.json", "application/json"),
        ("app.js.map", "application/json"),
        ("logo.svg", "image/svg+xml"),
        ("a.png", "image/png"),
        ("a.jpg", "image/jpeg"),
        ("a.JPEG", "image/jpeg"),
        ("a.gif", "image/gif"),
        ("favicon.ico", "image/x-icon"),
        ("a.webp", "image/webp"),
        ("readme.txt", "text/plain; charset=utf-8"),
        ("m.wasm", "application/wasm"),
        ("feed.xml", "application/xml"),
        ("doc.pdf", "application/pdf"),
        ("f.woff", "font/woff"),
        ("f.woff2", "font/woff2"),
        ("f.ttf", "font/ttf"),
        ("f.otf", "font/otf"),
        ("s.mp3", "audio/mpeg"),
        ("v.mp4", "video/mp4"),
        ("v.webm", "video/webm"),
        ("t.csv", "text/csv; charset=utf-8"),
        ("app.js.gz", "application/gzip"),
        ("firmware.bin", "application/octet-stream"),
        ("Makefile", "application/octet-stream"),
        ("dir.html/file", "application/octet-stream"),
    ];
    for (name, expected) in cases {
        assert_eq!(text(content_type(name.as_bytes())), expected, "{name}");
    }
    assert_eq!(content_type(b""), b"application/octet-stream");
    assert_eq!(content_type(b"a."), b"application/octet-stream");
    assert_eq!(content_type(b"a.averyverylongextension"), b"application/octet-stream");
    assert_eq!(content_type(b".html"), b"text/html; charset=utf-8");
}

// ---- etag / If-None-Match ---------------------------------------------------------------------

#[test]
fn etags_are_quoted_hex_of_size_and_mtime() {
    assert_eq!(etag(0, 0), b"\"0-0\"");
    assert_eq!(etag(26, 0), b"\"1a-0\"");
    assert_eq!(etag(4096, 0x6650_ABCD), b"\"1000-6650abcd\"");
    assert_eq!(etag(u64::MAX, 1), b"\"ffffffffffffffff-1\"");
    assert_ne!(etag(1, 2), etag(2, 1));
}

#[test]
fn if_none_match_lists_weak_tags_and_star() {
    let tag = b"\"1a-5\"";
    assert!(if_none_match_matches(b"\"1a-5\"", tag));
    assert!(if_none_match_matches(b"W/\"1a-5\"", tag));
    assert!(if_none_match_matches(b"\"x\", \"1a-5\"", tag));
    assert!(if_none_match_matches(b"\"x\",W/\"1a-5\" , \"y\"", tag));
    assert!(if_none_match_matches(b"  \"1a-5\"  ", tag));
    assert!(if_none_match_matches(b"*", tag));
    assert!(if_none_match_matches(b" * ", tag));
    assert!(if_none_match_matches(b"\"1a-5\"", b"W/\"1a-5\""));
    assert!(!if_none_match_matches(b"\"1a-6\"", tag));
    assert!(!if_none_match_matches(b"1a-5", tag));
    assert!(!if_none_match_matches(b"\"1A-5\"", tag));
    assert!(!if_none_match_matches(b"", tag));
    assert!(!if_none_match_matches(b" , ,", tag));
    assert!(!if_none_match_matches(b"\"1a-5", tag));
    assert!(!if_none_match_matches(b"\"\"", b""));
    // A comma inside a quoted tag does not split it.
    assert!(if_none_match_matches(b"\"a,b\"", b"\"a,b\""));
    assert!(!if_none_match_matches(b"\"a,\"1a-5\"", tag));
}

// ---- accepts_gzip -----------------------------------------------------------------------------

#[test]
fn gzip_acceptance_follows_tokens_and_q_values() {
    for yes in [
        "gzip",
        "GZip",
        "gzip, deflate, br",
        "deflate , gzip ;q=0.5",
        "br;q=1.0, gzip;q=0.001",
        "*",
        "identity, *;q=0.1",
        "x-gzip",
        "gzip;q=1",
        "gzip; Q=0.5",
        "*;q=0, gzip",
        "gzip;q=0, gzip",
    ] {
        assert!(accepts_gzip(yes.as_bytes()), "{yes:?}");
    }
    for no in [
        "",
        "identity",
        "deflate, br",
        "gzip;q=0",
        "gzip;q=0.000",
        "gzip ; q=0.0, *",
        "*;q=0",
        "gzips",
        "gzip;q=2",
        "gzip;q=abc",
        "gzip;q=0.0001",
        "gzip;q=1.5",
        "gzip;q=",
    ] {
        assert!(!accepts_gzip(no.as_bytes()), "{no:?}");
    }
}

// ---- parse_range ------------------------------------------------------------------------------

#[test]
fn ranges_are_parsed_and_clamped() {
    use ByteRange::*;
    assert_eq!(parse_range(b"bytes=0-99", 1000), Partial { start: 0, end: 99 });
    assert_eq!(parse_range(b"bytes=10-10", 1000), Partial { start: 10, end: 10 });
    assert_eq!(parse_range(b"bytes=500-", 1000), Partial { start: 500, end: 999 });
    assert_eq!(parse_range(b"bytes=0-", 1000), Partial { start: 0, end: 999 });
    assert_eq!(parse_range(b"bytes=-100", 1000), Partial { start: 900, end: 999 });
    assert_eq!(parse_range(b"bytes=-5000", 1000), Partial { start: 0, end: 999 });
    assert_eq!(parse_range(b"bytes=900-5000", 1000), Partial { start: 900, end: 999 });
    assert_eq!(parse_range(b"bytes=0-99999999999999999999999", 10), Partial { start: 0, end: 9 });
    assert_eq!(parse_range(b"BYTES=1-2", 10), Partial { start: 1, end: 2 });
    assert_eq!(parse_range(b" bytes = 1-2 ", 10), Partial { start: 1, end: 2 });
    assert_eq!(parse_range(b"bytes=999-", 1000), Partial { start: 999, end: 999 });
}

#[test]
fn unsatisfiable_ranges() {
    use ByteRange::*;
    assert_eq!(parse_range(b"bytes=1000-", 1000), Unsatisfiable);
    assert_eq!(parse_range(b"bytes=1000-2000", 1000), Unsatisfiable);
    assert_eq!(parse_range(b"bytes=99999999999999999999999-", 1000), Unsatisfiable);
    assert_eq!(parse_range(b"bytes=-0", 1000), Unsatisfiable);
    assert_eq!(parse_range(b"bytes=0-0", 0), Unsatisfiable);
    assert_eq!(parse_range(b"bytes=0-", 0), Unsatisfiable);
    assert_eq!(parse_range(b"bytes=-5", 0), Unsatisfiable);
}

#[test]
fn ignored_ranges_give_the_whole_file() {
    for header in [
        "",
        "bytes=0-1,5-6",
        "bytes=0-1, 5-6",
        "items=0-1",
        "bytes 0-1",
        "bytes=",
        "bytes=-",
        "bytes=5-2",
        "bytes=a-b",
        "bytes=1-2-3",
        "bytes=+1-2",
        "bytes=1 -2",
        "bytes=0x1-2",
        "bytes",
        "=0-1",
    ] {
        assert_eq!(parse_range(header.as_bytes(), 1000), ByteRange::Full, "{header:?}");
    }
}

// ---- plan -------------------------------------------------------------------------------------

/// A fake file system: (path, kind) pairs; records every path asked about.
struct Fs {
    entries: Vec<(&'static str, FileKind)>,
    asked: Vec<String>,
}

impl Fs {
    fn new(entries: &[(&'static str, FileKind)]) -> Self {
        Fs { entries: entries.to_vec(), asked: Vec::new() }
    }

    fn stat(&mut self, path: &[u8]) -> FileKind {
        let path = text(path);
        let kind = self.entries.iter().find(|(p, _)| *p == path).map_or(FileKind::Missing, |(_, kind)| *kind);
        self.asked.push(path);
        kind
    }
}

fn file(size: u64, mtime: u64) -> FileKind {
    FileKind::File { size, mtime }
}

fn get() -> RequestFacts<'static> {
    RequestFacts { method: b"GET", ..RequestFacts::default() }
}

fn run(m: &Mount, relative: &str, facts: &RequestFacts, fs: &mut Fs) -> StaticPlan {
    plan(m, relative.as_bytes(), facts, |path| fs.stat(path))
}

fn expect_send(plan: StaticPlan) -> (u16, String, u64, u64, &'static [u8], String) {
    match plan {
        StaticPlan::Send { status, file_path, offset, length, content_type, extra_headers } => {
            (status, text(&file_path), offset, length, content_type, text(&extra_headers))
        }
        other => panic!("expected Send, got {other:?}"),
    }
}

#[test]
fn a_file_is_sent_whole_with_validators() {
    let m = mount("/static", "/www");
    let mut fs = Fs::new(&[("/www/css/site.css", file(1234, 0x10))]);
    let (status, path, offset, length, ctype, headers) = expect_send(run(&m, "css/site.css", &get(), &mut fs));
    assert_eq!((status, path.as_str(), offset, length), (200, "/www/css/site.css", 0, 1234));
    assert_eq!(ctype, b"text/css; charset=utf-8");
    assert_eq!(headers, "ETag: \"4d2-10\"\r\nCache-Control: max-age=3600\r\nAccept-Ranges: bytes\r\n");
    assert_eq!(fs.asked, ["/www/css/site.css"]);
}

#[test]
fn head_is_planned_like_get() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[("/www/a.txt", file(5, 1))]);
    let head = RequestFacts { method: b"HEAD", ..RequestFacts::default() };
    assert_eq!(run(&m, "a.txt", &head, &mut fs), run(&m, "a.txt", &get(), &mut fs));
}

#[test]
fn max_age_zero_sends_no_cache() {
    let mut m = mount("/", "/www");
    m.max_age_s = 0;
    let mut fs = Fs::new(&[("/www/a.txt", file(5, 1))]);
    let headers = expect_send(run(&m, "a.txt", &get(), &mut fs)).5;
    assert!(headers.contains("Cache-Control: no-cache\r\n"), "{headers}");
    m.max_age_s = u32::MAX;
    let headers = expect_send(run(&m, "a.txt", &get(), &mut fs)).5;
    assert!(headers.contains("Cache-Control: max-age=4294967295\r\n"), "{headers}");
}

#[test]
fn other_methods_get_405_without_touching_the_file_system() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[("/www/a.txt", file(5, 1))]);
    for method in [&b"POST"[..], b"PUT", b"DELETE", b"OPTIONS", b"get", b"Head", b""] {
        let facts = RequestFacts { method, ..RequestFacts::default() };
        assert_eq!(
            run(&m, "a.txt", &facts, &mut fs),
            StaticPlan::Reject { status: 405, extra_headers: b"Allow: GET, HEAD\r\n".to_vec() }
        );
    }
    assert!(fs.asked.is_empty());
}

#[test]
fn unsafe_relative_paths_get_400_without_touching_the_file_system() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[]);
    for relative in ["../etc/passwd", "/etc/passwd", "a/../../b", "a//b", "./a", "a/", "a\\b", "C:/x", "a\0b"] {
        assert_eq!(
            run(&m, relative, &get(), &mut fs),
            StaticPlan::Reject { status: 400, extra_headers: Vec::new() },
            "{relative:?}"
        );
    }
    assert!(fs.asked.is_empty());
}

#[test]
fn missing_files_get_404() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[]);
    assert_eq!(run(&m, "nope.html", &get(), &mut fs), StaticPlan::Reject { status: 404, extra_headers: vec![] });
    assert_eq!(fs.asked, ["/www/nope.html"]);
}

#[test]
fn a_directory_is_served_by_its_index() {
    let m = mount("/static", "/www");
    let mut fs = Fs::new(&[
        ("/www", FileKind::Directory),
        ("/www/index.html", file(10, 2)),
        ("/www/docs", FileKind::Directory),
        ("/www/docs/index.html", file(20, 3)),
    ]);
    let (status, path, _, length, ctype, _) = expect_send(run(&m, "", &get(), &mut fs));
    assert_eq!((status, path.as_str(), length), (200, "/www/index.html", 10));
    assert_eq!(ctype, b"text/html; charset=utf-8");
    let (_, path, _, length, _, _) = expect_send(run(&m, "docs", &get(), &mut fs));
    assert_eq!((path.as_str(), length), ("/www/docs/index.html", 20));
    assert_eq!(fs.asked, ["/www", "/www/index.html", "/www/docs", "/www/docs/index.html"]);
}

#[test]
fn a_directory_without_its_index_gets_404() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[
        ("/www/empty", FileKind::Directory),
        ("/www/odd", FileKind::Directory),
        ("/www/odd/index.html", FileKind::Directory),
    ]);
    let not_found = StaticPlan::Reject { status: 404, extra_headers: vec![] };
    assert_eq!(run(&m, "empty", &get(), &mut fs), not_found);
    assert_eq!(run(&m, "odd", &get(), &mut fs), not_found);
    let mut no_index = m.clone();
    no_index.index.clear();
    let mut fs = Fs::new(&[("/www/d", FileKind::Directory), ("/www/d/index.html", file(1, 1))]);
    assert_eq!(run(&no_index, "d", &get(), &mut fs), not_found);
    assert_eq!(fs.asked, ["/www/d"]);
}

#[test]
fn root_directory_joins_without_a_double_slash() {
    let mut table = StaticTable::default();
    table.add(mount("/", "/")).unwrap();
    let m = table.get(0).unwrap();
    let mut fs = Fs::new(&[("/", FileKind::Directory), ("/index.html", file(1, 1)), ("/a/b", file(2, 2))]);
    assert_eq!(expect_send(run(m, "a/b", &get(), &mut fs)).1, "/a/b");
    assert_eq!(expect_send(run(m, "", &get(), &mut fs)).1, "/index.html");
}

fn gzip_get(accept: &'static [u8]) -> RequestFacts<'static> {
    RequestFacts { method: b"GET", accept_encoding: Some(accept), ..RequestFacts::default() }
}

#[test]
fn gzip_sibling_is_sent_when_accepted() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[("/www/app.js", file(9000, 7)), ("/www/app.js.gz", file(2000, 8))]);
    let (status, path, offset, length, ctype, headers) = expect_send(run(&m, "app.js", &gzip_get(b"gzip, br"), &mut fs));
    assert_eq!((status, path.as_str(), offset, length), (200, "/www/app.js.gz", 0, 2000));
    assert_eq!(ctype, b"text/javascript; charset=utf-8");
    assert_eq!(
        headers,
        "ETag: \"7d0-8\"\r\nCache-Control: max-age=3600\r\nContent-Encoding: gzip\r\nVary: Accept-Encoding\r\n"
    );
    assert_eq!(fs.asked, ["/www/app.js", "/www/app.js.gz"]);
}

#[test]
fn gzip_sibling_of_an_index_file() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[
        ("/www", FileKind::Directory),
        ("/www/index.html", file(900, 1)),
        ("/www/index.html.gz", file(300, 1)),
    ]);
    let (_, path, _, length, ctype, _) = expect_send(run(&m, "", &gzip_get(b"gzip"), &mut fs));
    assert_eq!((path.as_str(), length), ("/www/index.html.gz", 300));
    assert_eq!(ctype, b"text/html; charset=utf-8");
    assert_eq!(fs.asked.len(), 3);
}

#[test]
fn gzip_is_not_looked_up_when_refused_or_absent() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[("/www/app.js", file(9000, 7)), ("/www/app.js.gz", file(2000, 8))]);
    for facts in [get(), gzip_get(b"gzip;q=0"), gzip_get(b"br"), gzip_get(b"")] {
        let (_, path, _, length, _, headers) = expect_send(run(&m, "app.js", &facts, &mut fs));
        assert_eq!((path.as_str(), length), ("/www/app.js", 9000));
        assert!(!headers.contains("Content-Encoding"));
    }
    assert!(fs.asked.iter().all(|p| p == "/www/app.js"));

    let mut fs = Fs::new(&[("/www/app.js", file(9000, 7)), ("/www/app.js.gz", FileKind::Directory)]);
    let (_, path, _, _, _, headers) = expect_send(run(&m, "app.js", &gzip_get(b"gzip"), &mut fs));
    assert_eq!(path, "/www/app.js");
    assert_eq!(headers, "ETag: \"2328-7\"\r\nCache-Control: max-age=3600\r\nAccept-Ranges: bytes\r\n");
}

#[test]
fn gzip_sibling_needs_the_uncompressed_file() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[("/www/app.js.gz", file(2000, 8))]);
    assert_eq!(
        run(&m, "app.js", &gzip_get(b"gzip"), &mut fs),
        StaticPlan::Reject { status: 404, extra_headers: vec![] }
    );
    assert_eq!(fs.asked, ["/www/app.js"]);
}

#[test]
fn a_gz_file_asked_for_by_name_is_served_as_it_is() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[("/www/app.js.gz", file(2000, 8)), ("/www/app.js.gz.gz", file(1, 1))]);
    let (status, path, _, length, ctype, headers) = expect_send(run(&m, "app.js.gz", &gzip_get(b"gzip"), &mut fs));
    assert_eq!((status, path.as_str(), length), (200, "/www/app.js.gz", 2000));
    assert_eq!(ctype, b"application/gzip");
    assert!(!headers.contains("Content-Encoding"));
    assert!(headers.contains("Accept-Ranges: bytes\r\n"));
    assert_eq!(fs.asked, ["/www/app.js.gz"]);
}

#[test]
fn gzip_ignores_range() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[("/www/a.css", file(900, 1)), ("/www/a.css.gz", file(300, 2))]);
    let facts = RequestFacts { range: Some(b"bytes=0-9"), ..gzip_get(b"gzip") };
    let (status, path, offset, length, _, headers) = expect_send(run(&m, "a.css", &facts, &mut fs));
    assert_eq!((status, path.as_str(), offset, length), (200, "/www/a.css.gz", 0, 300));
    assert!(!headers.contains("Content-Range"));
    assert!(!headers.contains("Accept-Ranges"));
}

#[test]
fn if_none_match_gives_304_with_validators() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[("/www/a.png", file(16, 2))]);
    let facts = RequestFacts { if_none_match: Some(b"\"old\", W/\"10-2\""), ..get() };
    assert_eq!(
        run(&m, "a.png", &facts, &mut fs),
        StaticPlan::NotModified { extra_headers: b"ETag: \"10-2\"\r\nCache-Control: max-age=3600\r\n".to_vec() }
    );
    let star = RequestFacts { if_none_match: Some(b"*"), ..get() };
    assert!(matches!(run(&m, "a.png", &star, &mut fs), StaticPlan::NotModified { .. }));
    let stale = RequestFacts { if_none_match: Some(b"\"10-1\""), ..get() };
    assert_eq!(expect_send(run(&m, "a.png", &stale, &mut fs)).0, 200);
}

#[test]
fn if_none_match_takes_precedence_over_range() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[("/www/a.bin", file(100, 2))]);
    for range in [&b"bytes=0-9"[..], b"bytes=500-"] {
        let facts = RequestFacts { if_none_match: Some(b"\"64-2\""), range: Some(range), ..get() };
        assert!(matches!(run(&m, "a.bin", &facts, &mut fs), StaticPlan::NotModified { .. }));
    }
}

#[test]
fn if_none_match_on_the_gzip_variant_uses_its_etag() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[("/www/a.js", file(900, 1)), ("/www/a.js.gz", file(300, 2))]);
    let gz_tag = RequestFacts { if_none_match: Some(b"\"12c-2\""), ..gzip_get(b"gzip") };
    assert_eq!(
        run(&m, "a.js", &gz_tag, &mut fs),
        StaticPlan::NotModified {
            extra_headers: b"ETag: \"12c-2\"\r\nCache-Control: max-age=3600\r\nVary: Accept-Encoding\r\n".to_vec()
        }
    );
    // The identity variant's tag does not validate the gzip variant.
    let plain_tag = RequestFacts { if_none_match: Some(b"\"384-1\""), ..gzip_get(b"gzip") };
    assert_eq!(expect_send(run(&m, "a.js", &plain_tag, &mut fs)).1, "/www/a.js.gz");
}

#[test]
fn ranges_give_206_with_content_range() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[("/www/v.mp4", file(1000, 3))]);
    let facts = RequestFacts { range: Some(b"bytes=100-199"), ..get() };
    let (status, path, offset, length, ctype, headers) = expect_send(run(&m, "v.mp4", &facts, &mut fs));
    assert_eq!((status, path.as_str(), offset, length), (206, "/www/v.mp4", 100, 100));
    assert_eq!(ctype, b"video/mp4");
    assert_eq!(
        headers,
        "ETag: \"3e8-3\"\r\nCache-Control: max-age=3600\r\nAccept-Ranges: bytes\r\nContent-Range: bytes 100-199/1000\r\n"
    );
    let suffix = RequestFacts { range: Some(b"bytes=-1"), ..get() };
    let (status, _, offset, length, _, headers) = expect_send(run(&m, "v.mp4", &suffix, &mut fs));
    assert_eq!((status, offset, length), (206, 999, 1));
    assert!(headers.ends_with("Content-Range: bytes 999-999/1000\r\n"));
    let clamped = RequestFacts { range: Some(b"bytes=900-"), ..get() };
    let (_, _, offset, length, _, _) = expect_send(run(&m, "v.mp4", &clamped, &mut fs));
    assert_eq!((offset, length), (900, 100));
}

#[test]
fn ignored_ranges_give_200() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[("/www/v.mp4", file(1000, 3))]);
    let facts = RequestFacts { range: Some(b"bytes=0-1,4-5"), ..get() };
    let (status, _, offset, length, _, headers) = expect_send(run(&m, "v.mp4", &facts, &mut fs));
    assert_eq!((status, offset, length), (200, 0, 1000));
    assert!(!headers.contains("Content-Range"));
}

#[test]
fn unsatisfiable_ranges_give_416_with_the_size() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[("/www/v.mp4", file(1000, 3)), ("/www/empty.txt", file(0, 3))]);
    let facts = RequestFacts { range: Some(b"bytes=1000-"), ..get() };
    assert_eq!(
        run(&m, "v.mp4", &facts, &mut fs),
        StaticPlan::Reject { status: 416, extra_headers: b"Content-Range: bytes */1000\r\n".to_vec() }
    );
    let facts = RequestFacts { range: Some(b"bytes=0-"), ..get() };
    assert_eq!(
        run(&m, "empty.txt", &facts, &mut fs),
        StaticPlan::Reject { status: 416, extra_headers: b"Content-Range: bytes */0\r\n".to_vec() }
    );
}

#[test]
fn if_range_must_be_the_current_etag_for_range_to_apply() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[("/www/v.mp4", file(1000, 3))]);
    let current = RequestFacts { range: Some(b"bytes=0-9"), if_range: Some(b"\"3e8-3\""), ..get() };
    assert_eq!(expect_send(run(&m, "v.mp4", &current, &mut fs)).0, 206);
    for validator in [&b"\"3e8-2\""[..], b"W/\"3e8-3\"", b"Tue, 15 Nov 1994 08:12:31 GMT", b""] {
        let stale = RequestFacts { range: Some(b"bytes=0-9"), if_range: Some(validator), ..get() };
        let (status, _, offset, length, _, _) = expect_send(run(&m, "v.mp4", &stale, &mut fs));
        assert_eq!((status, offset, length), (200, 0, 1000));
    }
}

#[test]
fn stat_is_asked_at_most_three_times() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[
        ("/www/d", FileKind::Directory),
        ("/www/d/index.html", file(10, 1)),
        ("/www/d/index.html.gz", file(5, 1)),
    ]);
    let facts = RequestFacts {
        if_none_match: Some(b"\"x\""),
        range: Some(b"bytes=0-1"),
        if_range: Some(b"\"x\""),
        ..gzip_get(b"gzip")
    };
    expect_send(run(&m, "d", &facts, &mut fs));
    assert_eq!(fs.asked, ["/www/d", "/www/d/index.html", "/www/d/index.html.gz"]);
}

#[test]
fn large_files_and_offsets_use_u64() {
    let m = mount("/", "/www");
    let big = 5 * 1024 * 1024 * 1024u64;
    let mut fs = Fs::new(&[("/www/big.bin", file(big, 1))]);
    let facts = RequestFacts { range: Some(b"bytes=4294967296-"), ..get() };
    let (status, _, offset, length, _, headers) = expect_send(run(&m, "big.bin", &facts, &mut fs));
    assert_eq!((status, offset, length), (206, 1 << 32, big - (1 << 32)));
    assert!(headers.ends_with("Content-Range: bytes 4294967296-5368709119/5368709120\r\n"), "{headers}");
}

#[test]
fn request_path_to_plan_end_to_end() {
    // What the event layer does: find the mount, make the rest safe, plan.
    let mut table = StaticTable::default();
    table.add(mount("/", "/site")).unwrap();
    table.add(mount("/static", "/www")).unwrap();
    let mut fs = Fs::new(&[("/www/a b/c.txt", file(3, 1)), ("/site/staticx", file(4, 1))]);
    let (_, m, rest) = table.find(b"/static/a%20b/./c.txt").unwrap();
    let relative = safe_relative_path(rest).unwrap();
    let (_, path, _, _, _, _) = expect_send(plan(m, &relative, &get(), |p| fs.stat(p)));
    assert_eq!(path, "/www/a b/c.txt");
    let (_, m, rest) = table.find(b"/staticx").unwrap();
    let relative = safe_relative_path(rest).unwrap();
    assert_eq!(expect_send(plan(m, &relative, &get(), |p| fs.stat(p))).1, "/site/staticx");
    let (_, _, rest) = table.find(b"/static/../site/staticx").unwrap();
    assert_eq!(safe_relative_path(rest), Err(PathError::BadRequest));
}

fn get_url(url_path: &'static str, query: &'static str) -> RequestFacts<'static> {
    RequestFacts { method: b"GET", url_path: Some(url_path.as_bytes()), url_query: query.as_bytes(), ..RequestFacts::default() }
}

fn redirect_to(location: &str) -> StaticPlan {
    StaticPlan::Reject { status: 301, extra_headers: alloc::format!("Location: {location}\r\n").into_bytes() }
}

#[test]
fn a_directory_without_its_trailing_slash_is_redirected_to_it() {
    let m = mount("/static", "/www");
    let mut fs = Fs::new(&[
        ("/www", FileKind::Directory),
        ("/www/index.html", file(10, 2)),
        ("/www/docs", FileKind::Directory),
        ("/www/docs/index.html", file(20, 3)),
        ("/www/empty", FileKind::Directory),
    ]);
    assert_eq!(run(&m, "docs", &get_url("/static/docs", ""), &mut fs), redirect_to("/static/docs/"));
    assert_eq!(run(&m, "", &get_url("/static", ""), &mut fs), redirect_to("/static/"));
    // The query stays; the path is kept as it was sent (percent-escapes and all).
    assert_eq!(run(&m, "docs", &get_url("/static/d%6Fcs", "a=1&b"), &mut fs), redirect_to("/static/d%6Fcs/?a=1&b"));
    // Before the index is looked at: a directory without one is redirected, then gets its 404.
    assert_eq!(run(&m, "empty", &get_url("/static/empty", ""), &mut fs), redirect_to("/static/empty/"));
    assert_eq!(fs.asked, ["/www/docs", "/www", "/www/docs", "/www/empty"]);
    let not_found = StaticPlan::Reject { status: 404, extra_headers: vec![] };
    assert_eq!(run(&m, "empty", &get_url("/static/empty/", ""), &mut fs), not_found);
    let (status, path, ..) = expect_send(run(&m, "docs", &get_url("/static/docs/", "x"), &mut fs));
    assert_eq!((status, path.as_str()), (200, "/www/docs/index.html"));
    // Files are never redirected; HEAD is redirected like GET, other methods stay 405.
    let mut fs = Fs::new(&[("/www/a.txt", file(1, 1)), ("/www/d", FileKind::Directory)]);
    assert_eq!(expect_send(run(&m, "a.txt", &get_url("/static/a.txt", ""), &mut fs)).0, 200);
    let head = RequestFacts { method: b"HEAD", ..get_url("/static/d", "") };
    assert_eq!(run(&m, "d", &head, &mut fs), redirect_to("/static/d/"));
    let post = RequestFacts { method: b"POST", ..get_url("/static/d", "") };
    assert!(matches!(run(&m, "d", &post, &mut fs), StaticPlan::Reject { status: 405, .. }));
}

#[test]
fn a_redirect_never_carries_bytes_that_would_break_the_header() {
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[("/www/d", FileKind::Directory)]);
    let bad_request = StaticPlan::Reject { status: 400, extra_headers: vec![] };
    for (path, query) in [("/d", "a\r\nSet-Cookie: x=1"), ("/d", "a b"), ("/d", "\x7f"), ("/d\n", ""), ("/d\0", "")] {
        assert_eq!(run(&m, "d", &get_url(path, query), &mut fs), bad_request, "{path:?} {query:?}");
    }
}

#[test]
fn a_handlers_file_naming_a_directory_is_not_redirected() {
    // No url_path: the handler's File(path) has no URL of its own to redirect to.
    let m = mount("/", "/www");
    let mut fs = Fs::new(&[("/www/d", FileKind::Directory), ("/www/d/index.html", file(3, 1))]);
    assert_eq!(expect_send(run(&m, "d", &get(), &mut fs)).1, "/www/d/index.html");
}
