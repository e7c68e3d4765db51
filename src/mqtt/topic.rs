//! Topic name and topic filter rules of MQTT 3.1.1 (section 4.7), and filter matching.
//!
//! * A topic name (what PUBLISH carries) is 1..=65535 bytes of UTF-8 without NUL and without the
//!   wildcards `+` and `#`.
//! * A topic filter (what SUBSCRIBE carries) is 1..=65535 bytes of UTF-8 without NUL; `+` must
//!   fill a whole level, `#` must fill the whole last level.
//! * [`topic_matches`] applies a filter to a name, including the rule that a filter starting
//!   with a wildcard does not match names starting with `$` (e.g. `$SYS/...`).
//!
//! Every error has a fixed message ([`TopicError::message`]) the Python layer can raise as
//! `ValueError` text.

/// Why a topic name or filter is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicError {
    /// Zero-length topic.
    Empty,
    /// More than 65535 bytes.
    TooLong,
    /// Contains U+0000.
    ContainsNul,
    /// Not valid UTF-8 (only from [`topic_from_bytes`]).
    InvalidUtf8,
    /// A topic name (for PUBLISH) contains `+` or `#`.
    WildcardInTopicName,
    /// `#` is not alone in the last level of a filter.
    MisplacedMultiLevelWildcard,
    /// `+` shares its level with other characters.
    MisplacedSingleLevelWildcard,
}

impl TopicError {
    pub fn message(self) -> &'static str {
        match self {
            TopicError::Empty => "topic must not be empty",
            TopicError::TooLong => "topic longer than 65535 bytes",
            TopicError::ContainsNul => "topic must not contain NUL",
            TopicError::InvalidUtf8 => "topic is not valid UTF-8",
            TopicError::WildcardInTopicName => "topic name must not contain '+' or '#'",
            TopicError::MisplacedMultiLevelWildcard => {
                "'#' must be the last character and alone in its level"
            }
            TopicError::MisplacedSingleLevelWildcard => "'+' must be alone in its level",
        }
    }
}

const MAX_TOPIC_LENGTH: usize = 65_535;

fn check_common(topic: &str) -> Result<(), TopicError> {
    if topic.is_empty() {
        return Err(TopicError::Empty);
    }
    if topic.len() > MAX_TOPIC_LENGTH {
        return Err(TopicError::TooLong);
    }
    if topic.as_bytes().contains(&0) {
        return Err(TopicError::ContainsNul);
    }
    Ok(())
}

/// Checks a topic name used to publish.
pub fn validate_topic_name(name: &str) -> Result<(), TopicError> {
    check_common(name)?;
    if name.bytes().any(|byte| byte == b'+' || byte == b'#') {
        return Err(TopicError::WildcardInTopicName);
    }
    Ok(())
}

/// Checks a topic filter used to subscribe or unsubscribe.
pub fn validate_topic_filter(filter: &str) -> Result<(), TopicError> {
    check_common(filter)?;
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let is_last = levels.peek().is_none();
        if level.contains('#') && (level != "#" || !is_last) {
            return Err(TopicError::MisplacedMultiLevelWildcard);
        }
        if level.contains('+') && level != "+" {
            return Err(TopicError::MisplacedSingleLevelWildcard);
        }
    }
    Ok(())
}

/// Converts topic bytes from the caller (Python `bytes`/`str`) to `&str`, checking UTF-8 only.
pub fn topic_from_bytes(bytes: &[u8]) -> Result<&str, TopicError> {
    core::str::from_utf8(bytes).map_err(|_| TopicError::InvalidUtf8)
}

/// Does `filter` match topic `name`? Both are assumed valid (see the validators); an invalid
/// pair simply does not match. Filters starting with `+` or `#` do not match names starting
/// with `$` [MQTT-4.7.2-1]. `a/#` also matches `a` (the parent level).
pub fn topic_matches(filter: &str, name: &str) -> bool {
    if name.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut filter_levels = filter.split('/');
    let mut name_levels = name.split('/');
    loop {
        match (filter_levels.next(), name_levels.next()) {
            (Some("#"), _) => return filter_levels.next().is_none(),
            (Some("+"), Some(_)) => {}
            (Some(filter_level), Some(name_level)) => {
                if filter_level != name_level {
                    return false;
                }
            }
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    #[test]
    fn topic_name_rejects_empty_wildcards_and_nul() {
        assert_eq!(validate_topic_name(""), Err(TopicError::Empty));
        assert_eq!(
            validate_topic_name("a/+"),
            Err(TopicError::WildcardInTopicName)
        );
        assert_eq!(
            validate_topic_name("a/#"),
            Err(TopicError::WildcardInTopicName)
        );
        assert_eq!(
            validate_topic_name("a+b"),
            Err(TopicError::WildcardInTopicName)
        );
        assert_eq!(validate_topic_name("a\0b"), Err(TopicError::ContainsNul));
        assert_eq!(validate_topic_name("/"), Ok(()));
        assert_eq!(validate_topic_name("home/living room/°C"), Ok(()));
        assert_eq!(validate_topic_name("$SYS/broker"), Ok(()));
    }

    #[test]
    fn topic_name_length_limit_is_65535_bytes() {
        let ok: String = "a".repeat(65_535);
        assert_eq!(validate_topic_name(&ok), Ok(()));
        let too_long: String = "a".repeat(65_536);
        assert_eq!(validate_topic_name(&too_long), Err(TopicError::TooLong));
        assert_eq!(validate_topic_filter(&too_long), Err(TopicError::TooLong));
    }

    #[test]
    fn topic_filter_accepts_wildcards_alone_in_their_level() {
        for filter in [
            "#", "+", "a/#", "a/+/b", "+/+", "/+", "+/", "a//#", "$SYS/#", "a/b",
        ] {
            assert_eq!(validate_topic_filter(filter), Ok(()), "{filter}");
        }
    }

    #[test]
    fn topic_filter_rejects_misplaced_wildcards() {
        use TopicError::*;
        assert_eq!(
            validate_topic_filter("a/#/b"),
            Err(MisplacedMultiLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("a#"),
            Err(MisplacedMultiLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("a/b#"),
            Err(MisplacedMultiLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("##"),
            Err(MisplacedMultiLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("a+/b"),
            Err(MisplacedSingleLevelWildcard)
        );
        assert_eq!(
            validate_topic_filter("a/+b"),
            Err(MisplacedSingleLevelWildcard)
        );
        assert_eq!(validate_topic_filter(""), Err(Empty));
        assert_eq!(validate_topic_filter("a\0"), Err(ContainsNul));
    }

    #[test]
    fn topic_from_bytes_rejects_invalid_utf8() {
        assert_eq!(topic_from_bytes(b"ok/topic"), Ok("ok/topic"));
        assert_eq!(
            topic_from_bytes(&[0x61, 0xFF]),
            Err(TopicError::InvalidUtf8)
        );
    }

    #[test]
    fn matcher_follows_the_spec_examples() {
        assert!(topic_matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1"
        ));
        assert!(topic_matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/ranking"
        ));
        assert!(topic_matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon"
        ));
        assert!(topic_matches("sport/#", "sport"));
        assert!(topic_matches("#", "a/b/c"));
        assert!(topic_matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(!topic_matches(
            "sport/tennis/+",
            "sport/tennis/player1/ranking"
        ));
        assert!(!topic_matches("sport/+", "sport"));
        assert!(topic_matches("sport/+", "sport/"));
        assert!(topic_matches("+/+", "/finance"));
        assert!(topic_matches("/+", "/finance"));
        assert!(!topic_matches("+", "/finance"));
        assert!(topic_matches("a/b", "a/b"));
        assert!(!topic_matches("a/b", "a/c"));
        assert!(!topic_matches("a/b", "a/b/c"));
        assert!(!topic_matches("a/b/c", "a/b"));
    }

    #[test]
    fn wildcard_first_level_does_not_match_dollar_topics() {
        assert!(!topic_matches("#", "$SYS/broker/load"));
        assert!(!topic_matches("+/broker/load", "$SYS/broker/load"));
        assert!(!topic_matches("+", "$SYS"));
        assert!(topic_matches("$SYS/#", "$SYS/broker/load"));
        assert!(topic_matches("$SYS/+/load", "$SYS/broker/load"));
        assert!(topic_matches("a/#", "a/$b"));
    }
}
