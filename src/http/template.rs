//! Streaming `{{name}}` templates for `mongoose.Template(path, values)` replies: the file is read
//! in chunks cut anywhere (inside "{{" or inside a name too) and each chunk is split into literal
//! text and placeholder names. Sans-I/O: no Mongoose, no FFI, no file access, no `core::fmt`.
//!
//! Syntax. A placeholder is `{{`, at most [`MAX_SPACES`] spaces or tabs, a name of 1 to
//! [`MAX_NAME_LEN`] bytes from `[A-Za-z0-9_]`, at most [`MAX_SPACES`] spaces or tabs, `}}`.
//! Anything else is literal text, output unchanged: `{{ }}`, `{{a b}}`, `{{x-y}}`, a name longer
//! than [`MAX_NAME_LEN`], a `{{` the file ends in, single `{` and `}`.
//!
//! Matching rule: the text is scanned left to right and a placeholder is taken at the first
//! position where a complete one starts (leftmost match, as a regular expression search would;
//! matches never overlap). So of several `{{` before a name the last one wins: `{{{{x}}` is the
//! literal `{{` then the placeholder `x`, `{{{x}}` is `{` then `x`, `{{a{{b}}` is `{{a` then `b`,
//! and `{{x}}}` is `x` then `}`.
//!
//! Memory. Between chunks the tokenizer carries only the start of a placeholder that may still
//! complete: fewer than [`MAX_PLACEHOLDER_LEN`] bytes, whatever the file's size.
//!
//! Replies are sent in two passes over the file: the first ([`Summariser`]) collects the
//! distinct names (so each value is fetched once and an unknown name fails before anything is
//! sent) and counts the literal bytes, which with the escaped values gives the
//! `Content-Length` ([`content_length`]); the second feeds a fresh [`Tokenizer`] and writes
//! literal text as it is and each value through [`html_escape_into`].

use alloc::vec::Vec;

/// The longest name a placeholder may have, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// The most spaces or tabs a placeholder may have on each side of its name.
pub const MAX_SPACES: usize = 8;
/// The longest placeholder, `{{`, spaces, name, spaces and `}}`, in bytes. The tokenizer carries
/// fewer bytes than this between chunks.
pub const MAX_PLACEHOLDER_LEN: usize = 2 + MAX_SPACES + MAX_NAME_LEN + MAX_SPACES + 2;
/// The most distinct names one template may use ([`TemplateError::TooManyNames`] beyond).
pub const MAX_NAMES: usize = 64;

/// A piece of a template, borrowed from the chunk just fed or from the tokenizer's carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token<'a> {
    /// Text to send unchanged. A run of literal text may come in several pieces (at chunk
    /// boundaries and where a would-be placeholder turned out not to be one); never empty.
    Literal(&'a [u8]),
    /// A placeholder's name, without the braces and spaces: `[A-Za-z0-9_]{1,64}`.
    Name(&'a [u8]),
}

/// Where the tokenizer is inside a would-be placeholder; the bytes so far are in the carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Plain text: nothing carried.
    Text,
    /// `{`.
    Brace,
    /// `{{` and `spaces` spaces or tabs.
    Open { spaces: u8 },
    /// `{{`, spaces and `len` name bytes.
    Name { len: u8 },
    /// `{{`, spaces, name and `spaces` spaces or tabs.
    After { spaces: u8 },
    /// A complete placeholder but for its last `}`.
    Close,
}

fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn is_space(byte: u8) -> bool {
    byte == b' ' || byte == b'\t'
}

/// Splits a template fed in chunks into [`Token`]s. Holds fewer than [`MAX_PLACEHOLDER_LEN`]
/// bytes between chunks; never allocates.
#[derive(Clone, Debug)]
pub struct Tokenizer {
    state: State,
    /// The would-be placeholder so far (empty in [`State::Text`]).
    carry: [u8; MAX_PLACEHOLDER_LEN],
    carry_len: u8,
    /// Where the name starts in the carry (valid from [`State::Name`] on).
    name_start: u8,
    /// The name's length (valid from [`State::After`] on).
    name_len: u8,
}

impl Default for Tokenizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Tokenizer {
    /// A tokenizer at the start of a template.
    pub fn new() -> Self {
        Tokenizer { state: State::Text, carry: [0; MAX_PLACEHOLDER_LEN], carry_len: 0, name_start: 0, name_len: 0 }
    }

    /// How many bytes are carried to the next chunk (the start of a possible placeholder);
    /// always less than [`MAX_PLACEHOLDER_LEN`].
    pub fn carried(&self) -> usize {
        usize::from(self.carry_len)
    }

    /// Appends to the carry; false when full, which the states' bounds rule out (the caller then
    /// treats the byte as breaking the placeholder, so nothing is lost either way).
    fn push(&mut self, byte: u8) -> bool {
        match self.carry.get_mut(usize::from(self.carry_len)) {
            Some(slot) => {
                *slot = byte;
                self.carry_len += 1;
                true
            }
            None => false,
        }
    }

    fn carried_bytes(&self) -> &[u8] {
        self.carry.get(..usize::from(self.carry_len)).unwrap_or_default()
    }

    /// Sends the carry as literal text and goes back to plain text.
    fn flush_carry<E>(&mut self, on_token: &mut impl FnMut(Token<'_>) -> Result<(), E>) -> Result<(), E> {
        self.state = State::Text;
        let result = match self.carried_bytes() {
            [] => Ok(()),
            carried => on_token(Token::Literal(carried)),
        };
        self.carry_len = 0;
        result
    }

    /// Feeds the next chunk of the template: calls `on_token` for each token complete so far, in
    /// order (literal text may come in several pieces). The end of a chunk that may start a
    /// placeholder is carried to the next call. Returns `Err` only when `on_token` does, at once;
    /// the tokenizer is then in no useful state: start again with a new one.
    pub fn feed<E>(&mut self, chunk: &[u8], mut on_token: impl FnMut(Token<'_>) -> Result<(), E>) -> Result<(), E> {
        // Start of the run of plain text not yet sent, in `chunk` (meaningful in State::Text).
        let mut text_start = 0;
        let mut index = 0;
        while let Some(&byte) = chunk.get(index) {
            // Whether `byte` continues the would-be placeholder (it is then carried, or ends it).
            let accepted = match self.state {
                State::Text => {
                    if byte == b'{' {
                        if let Some(text) = chunk.get(text_start..index) {
                            if !text.is_empty() {
                                on_token(Token::Literal(text))?;
                            }
                        }
                        self.state = State::Brace;
                        self.push(byte)
                    } else {
                        index += 1;
                        continue;
                    }
                }
                State::Brace => {
                    if byte == b'{' {
                        self.state = State::Open { spaces: 0 };
                        self.push(byte)
                    } else {
                        false
                    }
                }
                State::Open { spaces } => {
                    if is_space(byte) && usize::from(spaces) < MAX_SPACES {
                        self.state = State::Open { spaces: spaces + 1 };
                        self.push(byte)
                    } else if is_name_byte(byte) {
                        self.name_start = self.carry_len;
                        self.state = State::Name { len: 1 };
                        self.push(byte)
                    } else if byte == b'{' && spaces == 0 {
                        // `{{{`: the first brace is text, the last two may open a placeholder.
                        on_token(Token::Literal(b"{"))?;
                        index += 1;
                        continue;
                    } else {
                        false
                    }
                }
                State::Name { len } => {
                    if is_name_byte(byte) && usize::from(len) < MAX_NAME_LEN {
                        self.state = State::Name { len: len + 1 };
                        self.push(byte)
                    } else if is_space(byte) || byte == b'}' {
                        self.name_len = len;
                        self.state = if byte == b'}' { State::Close } else { State::After { spaces: 1 } };
                        self.push(byte)
                    } else {
                        false
                    }
                }
                State::After { spaces } => {
                    if is_space(byte) && usize::from(spaces) < MAX_SPACES {
                        self.state = State::After { spaces: spaces + 1 };
                        self.push(byte)
                    } else if byte == b'}' {
                        self.state = State::Close;
                        self.push(byte)
                    } else {
                        false
                    }
                }
                State::Close => {
                    if byte == b'}' {
                        let start = usize::from(self.name_start);
                        let end = start + usize::from(self.name_len);
                        self.carry_len = 0;
                        self.state = State::Text;
                        on_token(Token::Name(self.carry.get(start..end).unwrap_or_default()))?;
                        index += 1;
                        text_start = index;
                        continue;
                    } else {
                        false
                    }
                }
            };
            if accepted {
                index += 1;
            } else {
                // Not a placeholder after all: what was carried is text, and `byte` is looked at
                // again as plain text (it may be the `{` of the next placeholder). The carry
                // holds a `{` only in its first two bytes, and the case where the second could
                // open a placeholder is the `{{{` one above, so no match is missed.
                self.flush_carry(&mut on_token)?;
                text_start = index;
            }
        }
        if self.state == State::Text {
            if let Some(text) = chunk.get(text_start..) {
                if !text.is_empty() {
                    on_token(Token::Literal(text))?;
                }
            }
        }
        Ok(())
    }

    /// The end of the template: sends what is carried (an unfinished placeholder) as literal
    /// text, and makes the tokenizer ready for a new template.
    pub fn finish<E>(&mut self, mut on_token: impl FnMut(Token<'_>) -> Result<(), E>) -> Result<(), E> {
        self.flush_carry(&mut on_token)
    }
}

/// What the first pass over a template found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// The literal text's length in bytes (what the reply sends besides the values).
    pub literal_bytes: u64,
    /// The distinct names, in the order first seen; at most [`MAX_NAMES`].
    pub names: Vec<Vec<u8>>,
    /// How many times each of `names` occurs, index for index.
    pub occurrences: Vec<u32>,
}

impl Summary {
    /// The index of `name` in [`Summary::names`] (for the caller's table of values).
    pub fn position(&self, name: &[u8]) -> Option<usize> {
        self.names.iter().position(|known| known.as_slice() == name)
    }
}

/// Why a template could not be summarised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateError {
    /// More than [`MAX_NAMES`] distinct names.
    TooManyNames,
    /// An allocation failed.
    OutOfMemory,
}

/// The first pass over a template: feed it the file's chunks, then [`Summariser::finish`].
#[derive(Clone, Debug, Default)]
pub struct Summariser {
    tokenizer: Tokenizer,
    summary: Summary,
}

impl Summariser {
    /// A summariser at the start of a template.
    pub fn new() -> Self {
        Summariser { tokenizer: Tokenizer::new(), summary: Summary::default() }
    }

    /// Feeds the next chunk of the template (cut anywhere).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), TemplateError> {
        let summary = &mut self.summary;
        self.tokenizer.feed(chunk, |token| record(summary, token))
    }

    /// The end of the template: the summary of all the chunks fed.
    pub fn finish(mut self) -> Result<Summary, TemplateError> {
        let summary = &mut self.summary;
        self.tokenizer.finish(|token| record(summary, token))?;
        Ok(self.summary)
    }
}

fn record(summary: &mut Summary, token: Token<'_>) -> Result<(), TemplateError> {
    match token {
        Token::Literal(text) => {
            summary.literal_bytes = summary.literal_bytes.saturating_add(text.len() as u64);
        }
        Token::Name(name) => {
            if let Some(index) = summary.position(name) {
                if let Some(count) = summary.occurrences.get_mut(index) {
                    *count = count.saturating_add(1);
                }
                return Ok(());
            }
            if summary.names.len() >= MAX_NAMES {
                return Err(TemplateError::TooManyNames);
            }
            let mut owned = Vec::new();
            owned.try_reserve_exact(name.len()).map_err(|_| TemplateError::OutOfMemory)?;
            owned.extend_from_slice(name);
            summary.names.try_reserve(1).map_err(|_| TemplateError::OutOfMemory)?;
            summary.occurrences.try_reserve(1).map_err(|_| TemplateError::OutOfMemory)?;
            summary.names.push(owned);
            summary.occurrences.push(1);
        }
    }
    Ok(())
}

/// The reply body's length: the literal bytes plus, for each name, its occurrences times the
/// length of its escaped value (`escaped_value_lengths[i]` for `summary.names[i]`, as
/// [`html_escaped_len`] gives). `None` when the slice does not have one length per name, or
/// on overflow. Holds only if the file is unchanged between the two passes.
pub fn content_length(summary: &Summary, escaped_value_lengths: &[usize]) -> Option<u64> {
    if escaped_value_lengths.len() != summary.names.len() || summary.occurrences.len() != summary.names.len() {
        return None;
    }
    let mut total = summary.literal_bytes;
    for (&count, &len) in summary.occurrences.iter().zip(escaped_value_lengths) {
        total = total.checked_add(u64::from(count).checked_mul(u64::try_from(len).ok()?)?)?;
    }
    Some(total)
}

/// The entity for a byte HTML escapes, if any.
fn entity(byte: u8) -> Option<&'static [u8]> {
    match byte {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'"' => Some(b"&quot;"),
        b'\'' => Some(b"&#39;"),
        _ => None,
    }
}

/// The length of `text` once HTML-escaped by [`html_escape_into`], without writing it.
pub fn html_escaped_len(text: &[u8]) -> usize {
    text.iter().fold(0usize, |len, &byte| len.saturating_add(entity(byte).map_or(1, <[u8]>::len)))
}

/// Appends `text` HTML-escaped to `out`: `&` `<` `>` `"` `'` become `&amp;` `&lt;` `&gt;`
/// `&quot;` `&#39;`, every other byte is copied (UTF-8 passes through). Reserves the room first,
/// fallibly: false (and `out` unchanged) when `out` cannot grow.
pub fn html_escape_into(text: &[u8], out: &mut Vec<u8>) -> bool {
    if out.try_reserve(html_escaped_len(text)).is_err() {
        return false;
    }
    let mut run_start = 0;
    for (index, &byte) in text.iter().enumerate() {
        if let Some(replacement) = entity(byte) {
            out.extend_from_slice(text.get(run_start..index).unwrap_or_default());
            out.extend_from_slice(replacement);
            run_start = index + 1;
        }
    }
    out.extend_from_slice(text.get(run_start..).unwrap_or_default());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec;

    /// A token owned, adjacent literal pieces merged: what a template means, however it was fed.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Piece {
        Text(Vec<u8>),
        Name(Vec<u8>),
    }

    fn push_piece(pieces: &mut Vec<Piece>, token: Token<'_>) {
        match token {
            Token::Literal(text) => {
                assert!(!text.is_empty(), "empty literal token");
                if let Some(Piece::Text(last)) = pieces.last_mut() {
                    last.extend_from_slice(text);
                } else {
                    pieces.push(Piece::Text(text.to_vec()));
                }
            }
            Token::Name(name) => pieces.push(Piece::Name(name.to_vec())),
        }
    }

    /// Feeds `chunks` in order, then finishes; checks the carry bound after every chunk.
    fn tokenize_chunks(chunks: &[&[u8]]) -> Vec<Piece> {
        let mut tokenizer = Tokenizer::new();
        let mut pieces = Vec::new();
        for chunk in chunks {
            tokenizer
                .feed(chunk, |token| {
                    push_piece(&mut pieces, token);
                    Ok::<(), ()>(())
                })
                .unwrap();
            assert!(tokenizer.carried() < MAX_PLACEHOLDER_LEN);
        }
        tokenizer
            .finish(|token| {
                push_piece(&mut pieces, token);
                Ok::<(), ()>(())
            })
            .unwrap();
        assert_eq!(tokenizer.carried(), 0);
        pieces
    }

    fn tokenize(template: &[u8]) -> Vec<Piece> {
        tokenize_chunks(&[template])
    }

    fn text(bytes: &str) -> Piece {
        Piece::Text(bytes.as_bytes().to_vec())
    }

    fn name(bytes: &str) -> Piece {
        Piece::Name(bytes.as_bytes().to_vec())
    }

    /// The placeholder starting at `at`, if one does: (its end, the name's range). Written from
    /// the syntax, independently of the state machine.
    fn oracle_match(template: &[u8], at: usize) -> Option<(usize, usize, usize)> {
        let rest = &template[at..];
        if !rest.starts_with(b"{{") {
            return None;
        }
        let mut i = 2;
        let count = |i: usize, pred: fn(u8) -> bool| rest[i..].iter().take_while(|&&b| pred(b)).count();
        let lead = count(i, is_space);
        if lead > MAX_SPACES {
            return None;
        }
        i += lead;
        let len = count(i, is_name_byte);
        if len == 0 || len > MAX_NAME_LEN {
            return None;
        }
        let name_start = at + i;
        i += len;
        let trail = count(i, is_space);
        if trail > MAX_SPACES {
            return None;
        }
        i += trail;
        if !rest[i..].starts_with(b"}}") {
            return None;
        }
        Some((at + i + 2, name_start, name_start + len))
    }

    /// Leftmost, non-overlapping matches over the whole template at once.
    fn oracle(template: &[u8]) -> Vec<Piece> {
        let mut pieces = Vec::new();
        let mut at = 0;
        let mut text_start = 0;
        while at < template.len() {
            if let Some((end, start, stop)) = oracle_match(template, at) {
                if text_start < at {
                    pieces.push(Piece::Text(template[text_start..at].to_vec()));
                }
                pieces.push(Piece::Name(template[start..stop].to_vec()));
                at = end;
                text_start = end;
            } else {
                at += 1;
            }
        }
        if text_start < template.len() {
            pieces.push(Piece::Text(template[text_start..].to_vec()));
        }
        pieces
    }

    /// Checks that every way of feeding `template` gives `expected`: whole, split once at every
    /// position, split twice at every pair of positions, byte by byte, with empty chunks between.
    fn check_every_split(template: &[u8], expected: &[Piece]) {
        assert_eq!(tokenize(template), expected, "whole: {:?}", String::from_utf8_lossy(template));
        for cut in 0..=template.len() {
            let (a, b) = template.split_at(cut);
            assert_eq!(tokenize_chunks(&[a, b]), expected, "cut at {cut}: {:?}", String::from_utf8_lossy(template));
        }
        if template.len() <= 40 {
            for first in 0..=template.len() {
                for second in first..=template.len() {
                    let chunks = [&template[..first], &template[first..second], &template[second..]];
                    assert_eq!(tokenize_chunks(&chunks), expected, "cuts at {first}, {second}");
                }
            }
        }
        let bytes: Vec<&[u8]> = template.chunks(1).collect();
        assert_eq!(tokenize_chunks(&bytes), expected, "byte by byte");
        let mut with_empties: Vec<&[u8]> = vec![b""];
        for byte in template.chunks(1) {
            with_empties.push(byte);
            with_empties.push(b"");
        }
        assert_eq!(tokenize_chunks(&with_empties), expected, "with empty chunks");
    }

    #[test]
    fn text_without_braces_is_one_literal() {
        check_every_split(b"Hello, world!", &[text("Hello, world!")]);
        check_every_split(b"", &[]);
    }

    #[test]
    fn placeholder_between_texts() {
        check_every_split(b"Hello {{name}}!", &[text("Hello "), name("name"), text("!")]);
        check_every_split(b"{{a}}", &[name("a")]);
        check_every_split(b"{{a}}{{b}}", &[name("a"), name("b")]);
        check_every_split(b"x{{a}}y{{a}}z", &[text("x"), name("a"), text("y"), name("a"), text("z")]);
        check_every_split(b"{{Temp_2}} C", &[name("Temp_2"), text(" C")]);
        check_every_split(b"{{_}}{{9}}", &[name("_"), name("9")]);
    }

    #[test]
    fn spaces_and_tabs_around_the_name() {
        check_every_split(b"<{{ a }}>", &[text("<"), name("a"), text(">")]);
        check_every_split(b"{{\tvalue\t}}", &[name("value")]);
        check_every_split(b"{{ \t x}}{{y \t }}", &[name("x"), name("y")]);
        check_every_split(b"{{        a        }}", &[name("a")]);
    }

    #[test]
    fn more_than_eight_spaces_is_literal() {
        check_every_split(b"{{         a}}", &[text("{{         a}}")]);
        check_every_split(b"{{a         }}", &[text("{{a         }}")]);
        check_every_split(b"{{ a         }}{{b}}", &[text("{{ a         }}"), name("b")]);
    }

    #[test]
    fn name_of_64_is_a_placeholder_and_65_is_literal() {
        let long = "n".repeat(MAX_NAME_LEN);
        let template = std::format!("[{{{{        {long}        }}}}]");
        assert_eq!(template.len(), MAX_PLACEHOLDER_LEN + 2);
        check_every_split(template.as_bytes(), &[text("["), name(&long), text("]")]);
        let too_long = "n".repeat(MAX_NAME_LEN + 1);
        let template = std::format!("{{{{{too_long}}}}}");
        check_every_split(template.as_bytes(), &[text(&template)]);
        let template = std::format!("{{{{{too_long}}}}}{{{{x}}}}");
        let literal = std::format!("{{{{{too_long}}}}}");
        check_every_split(template.as_bytes(), &[text(&literal), name("x")]);
    }

    #[test]
    fn malformed_placeholders_are_literal() {
        for template in [
            "{{ }}", "{{}}", "{{a b}}", "{{x-y}}", "{{", "{{a", "{{a ", "{{a}", "{{a}x", "{{a }x", "{ {a}}", "{a}}",
            "{a}", "}}", "{", "}", "a{b}c", "{{é}}", "{{a.b}}", "{{\na}}", "{{a\n}}", "{{\u{a0}a}}",
        ] {
            let expected = if template.is_empty() { vec![] } else { vec![text(template)] };
            check_every_split(template.as_bytes(), &expected);
        }
    }

    #[test]
    fn the_last_open_before_a_name_wins() {
        check_every_split(b"{{{{x}}", &[text("{{"), name("x")]);
        check_every_split(b"{{{x}}", &[text("{"), name("x")]);
        check_every_split(b"{{{{{{x}}}}", &[text("{{{{"), name("x"), text("}}")]);
        check_every_split(b"{{ {{x}}", &[text("{{ "), name("x")]);
        check_every_split(b"{{a{{b}}", &[text("{{a"), name("b")]);
        check_every_split(b"{{a }{{b}}", &[text("{{a }"), name("b")]);
        check_every_split(b"{{a}{{b}}", &[text("{{a}"), name("b")]);
        check_every_split(b"{{x}}}", &[name("x"), text("}")]);
        check_every_split(b"{{{x}}}", &[text("{"), name("x"), text("}")]);
        check_every_split(b"{ {{x}}", &[text("{ "), name("x")]);
    }

    #[test]
    fn a_template_cut_in_a_placeholder_at_the_end_is_literal() {
        check_every_split(b"abc {{ name ", &[text("abc {{ name ")]);
        check_every_split(b"abc {{name}", &[text("abc {{name}")]);
        check_every_split(b"abc {", &[text("abc {")]);
    }

    #[test]
    fn literal_pieces_come_straight_from_the_chunk_when_they_can() {
        // Plain text is not copied: the literal token borrows the chunk itself.
        let chunk: &[u8] = b"plain text {{v}} more";
        let mut tokenizer = Tokenizer::new();
        let mut pointers = Vec::new();
        tokenizer
            .feed(chunk, |token| {
                if let Token::Literal(text) = token {
                    pointers.push(text.as_ptr());
                }
                Ok::<(), ()>(())
            })
            .unwrap();
        assert_eq!(pointers, [chunk.as_ptr(), chunk[16..].as_ptr()]);
    }

    #[test]
    fn carry_stays_bounded_on_a_large_file() {
        // A megabyte of would-be placeholders: the carry never grows past one placeholder.
        let spaces = " ".repeat(MAX_SPACES);
        let unit = ["{{ ", &"a".repeat(60), " x{{{ {{", &spaces, &"b".repeat(64), &spaces, "}} {{"].concat();
        assert!(unit.contains(&["{{", &spaces, &"b".repeat(64), &spaces, "}}"].concat()));
        let mut tokenizer = Tokenizer::new();
        let mut out = Vec::new();
        let mut names = 0usize;
        let units = (1 << 20) / unit.len();
        for _ in 0..units {
            tokenizer
                .feed(unit.as_bytes(), |token| {
                    match token {
                        Token::Literal(text) => out.extend_from_slice(text),
                        Token::Name(_) => names += 1,
                    }
                    Ok::<(), ()>(())
                })
                .unwrap();
            assert!(tokenizer.carried() < MAX_PLACEHOLDER_LEN);
        }
        tokenizer
            .finish(|token| {
                if let Token::Literal(text) = token {
                    out.extend_from_slice(text);
                }
                Ok::<(), ()>(())
            })
            .unwrap();
        assert_eq!(names, units);
        // Braces only: every byte comes back as text.
        let mut tokenizer = Tokenizer::new();
        let mut total = 0usize;
        let braces = [b'{'; 4096];
        for _ in 0..256 {
            tokenizer
                .feed(&braces, |token| {
                    match token {
                        Token::Literal(text) => total += text.len(),
                        Token::Name(_) => panic!("no name in braces"),
                    }
                    Ok::<(), ()>(())
                })
                .unwrap();
            assert!(tokenizer.carried() <= 2);
        }
        tokenizer
            .finish(|token| {
                if let Token::Literal(text) = token {
                    total += text.len();
                }
                Ok::<(), ()>(())
            })
            .unwrap();
        assert_eq!(total, 4096 * 256);
    }

    #[test]
    fn an_error_from_the_callback_stops_feeding_at_once() {
        let mut tokenizer = Tokenizer::new();
        let mut seen = 0;
        let result = tokenizer.feed(b"a{{b}}c{{d}}e", |_| {
            seen += 1;
            if seen == 2 {
                Err("stop")
            } else {
                Ok(())
            }
        });
        assert_eq!(result, Err("stop"));
        assert_eq!(seen, 2);
        let mut tokenizer = Tokenizer::new();
        tokenizer.feed(b"x {{ unfinished", |_| Ok::<(), ()>(())).unwrap();
        assert_eq!(tokenizer.finish(|_| Err(7)), Err(7));
    }

    #[test]
    fn finish_makes_the_tokenizer_ready_for_a_new_template() {
        let mut tokenizer = Tokenizer::new();
        let mut pieces = Vec::new();
        let mut sink = |token: Token<'_>| {
            push_piece(&mut pieces, token);
            Ok::<(), ()>(())
        };
        tokenizer.feed(b"a {{ b", &mut sink).unwrap();
        tokenizer.finish(&mut sink).unwrap();
        tokenizer.feed(b"}}{{c}}", &mut sink).unwrap();
        tokenizer.finish(&mut sink).unwrap();
        assert_eq!(pieces, [text("a {{ b}}"), name("c")]);
    }

    /// A small deterministic generator (xorshift) for the differential test.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, bound: usize) -> usize {
            (self.next() % bound as u64) as usize
        }
    }

    #[test]
    fn the_oracle_agrees_on_the_pinned_cases() {
        assert_eq!(oracle(b"{{{{x}}"), [text("{{"), name("x")]);
        assert_eq!(oracle(b"{{a}{{b}}"), [text("{{a}"), name("b")]);
        assert_eq!(oracle(b"{{x}}}"), [name("x"), text("}")]);
    }

    #[test]
    fn random_templates_match_the_oracle_however_they_are_cut() {
        let alphabet = b"{{{}}} \tab_Z9-x\n";
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut with_names = 0;
        for round in 0..3000 {
            let len = rng.below(if round % 10 == 0 { 200 } else { 30 });
            let mut template: Vec<u8> = if round % 2 == 0 {
                (0..len).map(|_| alphabet[rng.below(alphabet.len())]).collect()
            } else {
                // Fragments, so that whole and nearly whole placeholders are common.
                let fragments: [&[u8]; 12] =
                    [b"{{", b"}}", b"{", b"}", b" ", b"\t", b"ab", b"_9", b"-", b"{{x}}", b"{{ y }}", b"z"];
                (0..len / 2 + 1).flat_map(|_| fragments[rng.below(fragments.len())].iter().copied()).collect()
            };
            if round % 7 == 0 {
                // A long name or a long run of spaces now and then, around the limits.
                let at = rng.below(template.len() + 1);
                let filler = if rng.below(2) == 0 { b'n' } else { b' ' };
                let run = 60 + rng.below(10);
                template.splice(at..at, core::iter::repeat_n(filler, run));
            }
            let expected = oracle(&template);
            if expected.iter().any(|piece| matches!(piece, Piece::Name(_))) {
                with_names += 1;
            }
            if template.len() <= 30 {
                check_every_split(&template, &expected);
            } else {
                assert_eq!(tokenize(&template), expected);
                let mut chunks: Vec<&[u8]> = Vec::new();
                let mut rest = template.as_slice();
                while !rest.is_empty() {
                    let (chunk, tail) = rest.split_at(rng.below(rest.len()) + 1);
                    chunks.push(chunk);
                    rest = tail;
                }
                assert_eq!(tokenize_chunks(&chunks), expected, "{:?}", String::from_utf8_lossy(&template));
            }
        }
        // The generator does produce placeholders, not only near misses.
        assert!(with_names > 1000, "{with_names}");
    }

    #[test]
    fn escapes_the_five_characters() {
        let mut out = Vec::new();
        assert!(html_escape_into(b"<a href=\"x\">Tom & Jerry's</a>", &mut out));
        assert_eq!(out, b"&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;".as_slice());
        assert_eq!(html_escaped_len(b"<a href=\"x\">Tom & Jerry's</a>"), out.len());
    }

    #[test]
    fn escaping_appends_and_leaves_other_bytes_alone() {
        let mut out = b"head:".to_vec();
        assert!(html_escape_into("22.5 °C {{x}}".as_bytes(), &mut out));
        assert_eq!(out, "head:22.5 °C {{x}}".as_bytes());
        let mut out = Vec::new();
        assert!(html_escape_into(b"", &mut out));
        assert!(out.is_empty());
        assert!(html_escape_into(b"&&", &mut out));
        assert_eq!(out, b"&amp;&amp;");
        for text in [&b""[..], b"plain", b"&", b"<>", b"\"'", b"a&b<c>d\"e'f", "ünï<cödé>".as_bytes()] {
            let mut out = Vec::new();
            assert!(html_escape_into(text, &mut out));
            assert_eq!(html_escaped_len(text), out.len());
        }
    }

    fn summarise(chunks: &[&[u8]]) -> Result<Summary, TemplateError> {
        let mut summariser = Summariser::new();
        for chunk in chunks {
            summariser.feed(chunk)?;
        }
        summariser.finish()
    }

    #[test]
    fn summary_counts_literal_bytes_and_distinct_names_in_first_seen_order() {
        let template = b"<p>{{ temp }} C at {{time}}; max {{temp}}</p>{{{{ x }";
        let summary = summarise(&[template]).unwrap();
        assert_eq!(summary.names, [b"temp".to_vec(), b"time".to_vec()]);
        assert_eq!(summary.occurrences, [2, 1]);
        assert_eq!(summary.literal_bytes, (b"<p>".len() + b" C at ".len() + b"; max ".len() + b"</p>{{{{ x }".len()) as u64);
        assert_eq!(summary.position(b"time"), Some(1));
        assert_eq!(summary.position(b"nope"), None);
        for cut in 0..=template.len() {
            let (a, b) = template.split_at(cut);
            assert_eq!(summarise(&[a, b]).unwrap(), summary);
        }
        let bytes: Vec<&[u8]> = template.chunks(1).collect();
        assert_eq!(summarise(&bytes).unwrap(), summary);
    }

    #[test]
    fn summary_of_a_template_without_names() {
        let summary = summarise(&[b"just {text}", b" {{"]).unwrap();
        assert_eq!(summary, Summary { literal_bytes: 14, names: vec![], occurrences: vec![] });
        assert_eq!(content_length(&summary, &[]), Some(14));
        assert_eq!(summarise(&[]).unwrap(), Summary::default());
    }

    #[test]
    fn at_most_64_distinct_names() {
        let mut template = Vec::new();
        for index in 0..MAX_NAMES {
            template.extend_from_slice(std::format!("{{{{n{index}}}}}").as_bytes());
        }
        // Repeats do not count.
        for _ in 0..1000 {
            template.extend_from_slice(b"{{n0}}");
        }
        let summary = summarise(&[&template]).unwrap();
        assert_eq!(summary.names.len(), MAX_NAMES);
        assert_eq!(summary.occurrences[0], 1001);
        template.extend_from_slice(b"{{one_more}}");
        assert_eq!(summarise(&[&template]), Err(TemplateError::TooManyNames));
    }

    #[test]
    fn content_length_needs_one_length_per_name() {
        let summary = Summary { literal_bytes: 10, names: vec![b"a".to_vec(), b"b".to_vec()], occurrences: vec![3, 1] };
        assert_eq!(content_length(&summary, &[4, 7]), Some(10 + 12 + 7));
        assert_eq!(content_length(&summary, &[4]), None);
        assert_eq!(content_length(&summary, &[4, 7, 1]), None);
        let huge = Summary { literal_bytes: u64::MAX, names: vec![b"a".to_vec()], occurrences: vec![1] };
        assert_eq!(content_length(&huge, &[1]), None);
    }

    /// What the caller does: summarise, look the values up, then stream with a fresh tokenizer.
    fn render(chunks: &[&[u8]], values: &[(&str, &str)]) -> (Vec<u8>, u64) {
        let summary = summarise(chunks).unwrap();
        let table: Vec<&str> = summary
            .names
            .iter()
            .map(|n| values.iter().find(|(k, _)| k.as_bytes() == n.as_slice()).unwrap().1)
            .collect();
        let lengths: Vec<usize> = table.iter().map(|v| html_escaped_len(v.as_bytes())).collect();
        let length = content_length(&summary, &lengths).unwrap();
        let mut out = Vec::new();
        let mut tokenizer = Tokenizer::new();
        let mut sink = |token: Token<'_>| -> Result<(), ()> {
            match token {
                Token::Literal(text) => out.extend_from_slice(text),
                Token::Name(n) => {
                    let index = summary.position(n).ok_or(())?;
                    if !html_escape_into(table[index].as_bytes(), &mut out) {
                        return Err(());
                    }
                }
            }
            Ok(())
        };
        for chunk in chunks {
            tokenizer.feed(chunk, &mut sink).unwrap();
        }
        tokenizer.finish(&mut sink).unwrap();
        (out, length)
    }

    #[test]
    fn two_passes_give_the_announced_length() {
        let template = b"<h1>{{title}}</h1><p>{{ body }}</p><p>{{title}} {{ not valid }} {{{{x}}</p>{";
        let values = [("title", "Tom & Jerry"), ("body", "<script>alert('x')</script>"), ("x", "\"q\"")];
        let expected = b"<h1>Tom &amp; Jerry</h1><p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</p>\
<p>Tom &amp; Jerry {{ not valid }} {{&quot;q&quot;</p>{";
        for cut in 0..=template.len() {
            let (a, b) = template.split_at(cut);
            let (out, length) = render(&[a, b], &values);
            assert_eq!(out, expected.as_slice());
            assert_eq!(length, out.len() as u64);
        }
    }
}
