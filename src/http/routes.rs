//! The route table: which handler a `(method, path)` reaches, or why none does (404 / 405).

use alloc::vec::Vec;

/// A set of HTTP methods as bits; `ANY` accepts every method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MethodSet(pub u32);

/// Method names in bit order (bit 0 = GET, ...). The shim passes masks built from this order.
pub const METHOD_NAMES: [&[u8]; 7] = [b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS"];

impl MethodSet {
    pub const ANY: MethodSet = MethodSet(0);

    /// The bit of a method name, case-sensitive as HTTP says; `None` for any other method.
    pub fn bit_of(method: &[u8]) -> Option<u32> {
        METHOD_NAMES.iter().position(|name| *name == method).map(|index| 1 << index)
    }

    pub fn accepts(self, method: &[u8]) -> bool {
        self.0 == 0 || MethodSet::bit_of(method).is_some_and(|bit| self.0 & bit != 0)
    }

    /// Comma-separated names, for the `Allow` header of a 405.
    pub fn write_names(self, out: &mut Vec<u8>) {
        for (index, name) in METHOD_NAMES.iter().enumerate() {
            if self.0 == 0 || self.0 & (1 << index) != 0 {
                if !out.is_empty() {
                    out.extend_from_slice(b", ");
                }
                out.extend_from_slice(name);
            }
        }
    }
}

/// How a Python handler is called: the seed's `handler(body_text)` or `handler(request)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CallingConvention {
    BodyText = 0,
    Request = 1,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandlerRef {
    /// Index of the handler in the shim's rooted handler list.
    pub slot: u32,
    pub convention: CallingConvention,
}

#[derive(Debug)]
pub struct Route {
    /// `*` matches within one path segment, `#` matches the rest of the path; other bytes literally.
    pub pattern: Vec<u8>,
    pub methods: MethodSet,
    pub needs_auth: bool,
    pub handler: HandlerRef,
    /// A streamed upload: the body is not buffered but handed to this callback as it arrives
    /// (`on_chunk(request, chunk)`), then `handler` runs with an empty body.
    pub on_chunk: Option<HandlerRef>,
    /// This route's body limit (None: the server's, or none for a streamed upload).
    pub max_body: Option<u64>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Resolution<'a> {
    Found(&'a Route),
    /// The path exists for these other methods.
    MethodNotAllowed(MethodSet),
    NotFound,
}

#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl PartialEq for Route {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern && self.methods == other.methods && self.handler == other.handler
    }
}
impl Eq for Route {}

impl RouteTable {
    /// Adds a route; one with the same pattern and methods replaces the older one, which is
    /// returned (its owner may release its handlers).
    pub fn add(&mut self, route: Route) -> Option<Route> {
        match self.routes.iter_mut().find(|r| r.pattern == route.pattern && r.methods == route.methods) {
            Some(existing) => Some(core::mem::replace(existing, route)),
            None => {
                self.routes.push(route);
                None
            }
        }
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The route that serves the request: a literal pattern equal to the path wins; otherwise the
    /// first wildcard pattern (in registration order) that matches. Methods decide among them.
    pub fn resolve(&self, method: &[u8], path: &[u8]) -> Resolution<'_> {
        let mut allowed = 0u32;
        let mut path_known = false;
        let literal = self.routes.iter().filter(|r| !has_wildcard(&r.pattern) && r.pattern == path);
        let wildcard = self.routes.iter().filter(|r| has_wildcard(&r.pattern) && pattern_matches(&r.pattern, path));
        for route in literal.chain(wildcard) {
            if route.methods.accepts(method) {
                return Resolution::Found(route);
            }
            path_known = true;
            allowed |= route.methods.0;
        }
        if path_known {
            Resolution::MethodNotAllowed(MethodSet(allowed))
        } else {
            Resolution::NotFound
        }
    }
}

fn has_wildcard(pattern: &[u8]) -> bool {
    pattern.iter().any(|b| matches!(b, b'*' | b'#'))
}

/// Glob match: `*` = any bytes but `/`, `#` = any bytes. Iterative, remembering the latest `*` and
/// the latest `#` as backtrack points (a literal run after a wildcard is matched at its earliest
/// place), so the time is bounded by pattern length × path length whatever the input.
pub fn pattern_matches(pattern: &[u8], path: &[u8]) -> bool {
    let (mut p, mut s) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    let mut hash: Option<(usize, usize)> = None;
    loop {
        match pattern.get(p) {
            Some(b'#') => {
                hash = Some((p + 1, s));
                star = None;
                p += 1;
                continue;
            }
            Some(b'*') => {
                star = Some((p + 1, s));
                p += 1;
                continue;
            }
            Some(expected) if path.get(s) == Some(expected) => {
                p += 1;
                s += 1;
                continue;
            }
            None if s == path.len() => return true,
            _ => {}
        }
        if let Some((star_p, star_s)) = star {
            if path.get(star_s).is_some_and(|b| *b != b'/') {
                star = Some((star_p, star_s + 1));
                (p, s) = (star_p, star_s + 1);
                continue;
            }
        }
        match hash {
            Some((hash_p, hash_s)) if hash_s < path.len() => {
                hash = Some((hash_p, hash_s + 1));
                star = None;
                (p, s) = (hash_p, hash_s + 1);
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn route(pattern: &str, methods: u32, slot: u32) -> Route {
        Route {
            pattern: pattern.as_bytes().to_vec(),
            methods: MethodSet(methods),
            needs_auth: true,
            handler: HandlerRef { slot, convention: CallingConvention::Request },
            on_chunk: None,
            max_body: None,
        }
    }

    #[test]
    fn globs_match_segments_and_tails() {
        assert!(pattern_matches(b"/api/epname", b"/api/epname"));
        assert!(!pattern_matches(b"/api/epname", b"/api/epnam"));
        assert!(pattern_matches(b"/api/*", b"/api/x"));
        assert!(pattern_matches(b"/api/*", b"/api/"));
        assert!(!pattern_matches(b"/api/*", b"/api/x/y"));
        assert!(pattern_matches(b"/api/#", b"/api/x/y"));
        assert!(pattern_matches(b"/a/*/c", b"/a/bbb/c"));
        assert!(!pattern_matches(b"/a/*/c", b"/a/b/b/c"));
        assert!(pattern_matches(b"#.json", b"/x/y.json"));
        assert!(!pattern_matches(b"#.json", b"/x/y.jsonx"));
        assert!(pattern_matches(b"#/*x", b"/a/b/cx"));
        assert!(pattern_matches(b"/*/#", b"/a/b/c"));
        assert!(!pattern_matches(b"/*/#", b"/abc"));
        assert!(pattern_matches(b"#", b""));
        assert!(!pattern_matches(b"", b"/"));
    }

    #[test]
    fn hostile_paths_match_in_bounded_time() {
        let path = vec![b'a'; 4000];
        assert!(!pattern_matches(b"*a*a*a*a*a*a*a*b", &path));
        assert!(!pattern_matches(b"#a#a#a#a#a#a#a#b", &path));
    }

    #[test]
    fn wrong_method_is_405_with_the_allowed_ones_and_unknown_path_404() {
        let mut table = RouteTable::default();
        table.add(route("/api/x", MethodSet::bit_of(b"GET").unwrap(), 0));
        table.add(route("/api/x", MethodSet::bit_of(b"POST").unwrap(), 1));
        match table.resolve(b"DELETE", b"/api/x") {
            Resolution::MethodNotAllowed(set) => {
                let mut names = vec![];
                set.write_names(&mut names);
                assert_eq!(names, b"GET, POST");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(table.resolve(b"GET", b"/api/y"), Resolution::NotFound);
        match table.resolve(b"POST", b"/api/x") {
            Resolution::Found(r) => assert_eq!(r.handler.slot, 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_literal_route_wins_over_an_earlier_wildcard() {
        let mut table = RouteTable::default();
        table.add(route("/api/*", 0, 0));
        table.add(route("/api/status", 0, 1));
        match table.resolve(b"GET", b"/api/status") {
            Resolution::Found(r) => assert_eq!(r.handler.slot, 1),
            other => panic!("{other:?}"),
        }
        match table.resolve(b"GET", b"/api/other") {
            Resolution::Found(r) => assert_eq!(r.handler.slot, 0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn same_pattern_and_methods_replaces_the_handler() {
        let mut table = RouteTable::default();
        assert_eq!(table.add(route("/a", 0, 0)), None);
        assert_eq!(table.add(route("/a", 0, 7)).map(|old| old.handler.slot), Some(0));
        assert_eq!(table.len(), 1);
        match table.resolve(b"GET", b"/a") {
            Resolution::Found(r) => assert_eq!(r.handler.slot, 7),
            other => panic!("{other:?}"),
        }
    }
}
