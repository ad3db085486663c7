//! Validation of reducer arguments: every bound in one place, the same as the engine's
//! `spacesd/engine/validation.py`.
//!
//! Lengths count characters (Unicode scalar values, `chars().count()`, Python's `len(str)`),
//! never bytes. "Whitespace" is Python's `str.isspace`: Rust's `char::is_whitespace` plus the
//! four information separators U+001C..U+001F, which Python also counts.
//!
//! Optional text fields: `None` stays `None` (an update leaves the field unchanged), `""`
//! becomes `None` (an update clears the field).

use crate::errors;
use crate::json;

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 32;
pub const DISPLAY_NAME_MAX: usize = 64;
pub const URL_MAX: usize = 512;
pub const BIO_MAX: usize = 512;
pub const STATUS_TEXT_MAX: usize = 128;
pub const SERVER_NAME_MAX: usize = 100;
pub const DESCRIPTION_MAX: usize = 1024;
pub const TOPIC_MAX: usize = 1024;
pub const CHANNEL_NAME_MAX: usize = 64;
pub const TEXT_CONTENT_MAX: usize = 4000;
pub const AGENT_EVENT_MAX: usize = 16384;
pub const THREAD_NAME_MAX: usize = 100;
pub const EMOJI_MAX: usize = 32;
pub const DM_CONTENT_MAX: usize = 4000;
pub const TASK_TITLE_MAX: usize = 200;
pub const TASK_TEXT_MAX: usize = 8000;
pub const TTL_MIN_SECS: u32 = 1;
pub const TTL_MAX_SECS: u32 = 86400;
pub const LEASE_PROJECT_MAX: usize = 200;
pub const LEASE_PATTERN_MAX: usize = 500;
pub const LEASE_REASON_MAX: usize = 200;
pub const VOTE_CHOICE_MAX: usize = 32;

/// A validation result: the value as stored, or the refusal message.
pub type Checked<T> = Result<T, &'static str>;

/// Python's `str.isspace` for one character.
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Characters no name or emoji may hold: C0 controls, DEL and C1 controls, the bidirectional
/// controls (ALM, LRM, RLM, LRE..RLO, LRI..PDI) and the line and paragraph separators. The
/// engine's `FORBIDDEN_RANGES`.
pub const FORBIDDEN_RANGES: &[(u32, u32)] = &[
    (0x0000, 0x001F),
    (0x007F, 0x009F),
    (0x061C, 0x061C),
    (0x200E, 0x200F),
    (0x2028, 0x202E),
    (0x2066, 0x2069),
];

/// Characters that show nothing: text of only these and whitespace is blank. The engine's
/// `INVISIBLE_RANGES`.
pub const INVISIBLE_RANGES: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200D),
    (0x2060, 0x2064),
    (0x206A, 0x206F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE007F),
    (0xE0100, 0xE01EF),
];

fn in_ranges(ranges: &[(u32, u32)], c: char) -> bool {
    let code = c as u32;
    ranges
        .iter()
        .any(|&(low, high)| (low..=high).contains(&code))
}

/// Blank: non-empty, and only whitespace (Python's `str.isspace`) and invisible characters.
pub fn is_blank(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| is_py_space(c) || in_ranges(INVISIBLE_RANGES, c))
}

/// Whether the text holds a character no name may hold.
pub fn has_forbidden(s: &str) -> bool {
    s.chars().any(|c| in_ranges(FORBIDDEN_RANGES, c))
}

fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// 3-32 characters of `a-z 0-9 _ . -`. (Uniqueness is checked against the table.)
pub fn username(value: &str) -> Checked<&str> {
    let len = char_len(value);
    let chars_ok = value
        .chars()
        .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '.' | '-'));
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) || !chars_ok {
        return Err(errors::USERNAME_INVALID);
    }
    Ok(value)
}

/// 1-64 characters of `a-z 0-9 _ -`. (Uniqueness within a server is checked against the table.)
pub fn channel_name(value: &str) -> Checked<&str> {
    let len = char_len(value);
    let chars_ok = value
        .chars()
        .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'));
    if !(1..=CHANNEL_NAME_MAX).contains(&len) || !chars_ok {
        return Err(errors::CHANNEL_NAME_INVALID);
    }
    Ok(value)
}

/// A name: its length and not blank (`message`), then no forbidden character (`characters`).
fn named<'a>(
    value: &'a str,
    maximum: usize,
    message: &'static str,
    characters: &'static str,
) -> Checked<&'a str> {
    if !(1..=maximum).contains(&char_len(value)) || is_blank(value) {
        return Err(message);
    }
    if has_forbidden(value) {
        return Err(characters);
    }
    Ok(value)
}

/// 1-100 characters, not blank, no forbidden character.
pub fn server_name(value: &str) -> Checked<&str> {
    named(
        value,
        SERVER_NAME_MAX,
        errors::SERVER_NAME_INVALID,
        errors::SERVER_NAME_CHARACTERS,
    )
}

/// 1-100 characters, not blank, no forbidden character.
pub fn thread_name(value: &str) -> Checked<&str> {
    named(
        value,
        THREAD_NAME_MAX,
        errors::THREAD_NAME_INVALID,
        errors::THREAD_NAME_CHARACTERS,
    )
}

fn optional_text(
    value: Option<&str>,
    maximum: usize,
    message: &'static str,
) -> Checked<Option<String>> {
    match value {
        None | Some("") => Ok(None),
        Some(v) if char_len(v) > maximum => Err(message),
        Some(v) => Ok(Some(v.to_string())),
    }
}

/// At most 64 characters, not blank, no forbidden character; `""` clears.
pub fn display_name(value: Option<&str>) -> Checked<Option<String>> {
    let checked = optional_text(value, DISPLAY_NAME_MAX, errors::DISPLAY_NAME_TOO_LONG)?;
    if let Some(name) = &checked {
        named(
            name,
            DISPLAY_NAME_MAX,
            errors::DISPLAY_NAME_BLANK,
            errors::DISPLAY_NAME_CHARACTERS,
        )?;
    }
    Ok(checked)
}

/// At most 512 characters; `""` clears.
pub fn bio(value: Option<&str>) -> Checked<Option<String>> {
    optional_text(value, BIO_MAX, errors::BIO_TOO_LONG)
}

/// At most 128 characters; `""` clears.
pub fn status_text(value: Option<&str>) -> Checked<Option<String>> {
    optional_text(value, STATUS_TEXT_MAX, errors::STATUS_TEXT_TOO_LONG)
}

/// At most 1024 characters; `""` clears.
pub fn description(value: Option<&str>) -> Checked<Option<String>> {
    optional_text(value, DESCRIPTION_MAX, errors::DESCRIPTION_TOO_LONG)
}

/// At most 1024 characters; `""` clears.
pub fn topic(value: Option<&str>) -> Checked<Option<String>> {
    optional_text(value, TOPIC_MAX, errors::TOPIC_TOO_LONG)
}

fn url(value: Option<&str>, message: &'static str) -> Checked<Option<String>> {
    let v = match value {
        None | Some("") => return Ok(None),
        Some(v) => v,
    };
    let head: String = v.chars().take(8).collect::<String>().to_lowercase();
    let scheme = if head.starts_with("https://") {
        8
    } else if head.starts_with("http://") {
        7
    } else {
        0
    };
    let len = char_len(v);
    if scheme == 0 || len <= scheme || len > URL_MAX || v.chars().any(is_py_space) {
        return Err(message);
    }
    Ok(Some(v.to_string()))
}

/// `http://` or `https://` (any case) and at least one more character, no whitespace, at
/// most 512 characters; `""` clears.
pub fn avatar_url(value: Option<&str>) -> Checked<Option<String>> {
    url(value, errors::AVATAR_URL_INVALID)
}

/// As `avatar_url`.
pub fn icon_url(value: Option<&str>) -> Checked<Option<String>> {
    url(value, errors::ICON_URL_INVALID)
}

/// A Text message: 1-4000 characters.
pub fn text_content(value: &str) -> Checked<&str> {
    if !(1..=TEXT_CONTENT_MAX).contains(&char_len(value)) {
        return Err(errors::TEXT_CONTENT_INVALID);
    }
    Ok(value)
}

/// An AgentEvent message: a JSON object (RFC 8259, no NaN/Infinity) of at most 16384
/// characters.
pub fn agent_event_content(value: &str) -> Checked<&str> {
    if char_len(value) > AGENT_EVENT_MAX || !json::is_json_object(value) {
        return Err(errors::AGENT_EVENT_INVALID);
    }
    Ok(value)
}

/// 1-32 characters, not blank, no forbidden character.
pub fn emoji(value: &str) -> Checked<&str> {
    named(
        value,
        EMOJI_MAX,
        errors::EMOJI_INVALID,
        errors::EMOJI_CHARACTERS,
    )
}

/// A direct message: 1-4000 characters.
pub fn dm_content(value: &str) -> Checked<&str> {
    if !(1..=DM_CONTENT_MAX).contains(&char_len(value)) {
        return Err(errors::DM_CONTENT_INVALID);
    }
    Ok(value)
}

/// 1-`maximum` characters and not blank (the task, lease and vote texts).
fn bounded<'a>(value: &'a str, maximum: usize, message: &'static str) -> Checked<&'a str> {
    if !(1..=maximum).contains(&char_len(value)) || is_blank(value) {
        return Err(message);
    }
    Ok(value)
}

/// 1-200 characters, not only whitespace.
pub fn task_title(value: &str) -> Checked<&str> {
    bounded(value, TASK_TITLE_MAX, errors::TASK_TITLE_INVALID)
}

/// At most 8000 characters.
pub fn task_body(value: &str) -> Checked<&str> {
    if char_len(value) > TASK_TEXT_MAX {
        return Err(errors::TASK_BODY_TOO_LONG);
    }
    Ok(value)
}

/// At most 8000 characters.
pub fn task_result(value: &str) -> Checked<&str> {
    if char_len(value) > TASK_TEXT_MAX {
        return Err(errors::TASK_RESULT_TOO_LONG);
    }
    Ok(value)
}

/// 1-86400 seconds.
pub fn ttl_secs(value: u32) -> Checked<u32> {
    if !(TTL_MIN_SECS..=TTL_MAX_SECS).contains(&value) {
        return Err(errors::TTL_INVALID);
    }
    Ok(value)
}

/// 1-200 characters, not only whitespace.
pub fn lease_project(value: &str) -> Checked<&str> {
    bounded(value, LEASE_PROJECT_MAX, errors::LEASE_PROJECT_INVALID)
}

/// At most 200 characters; `""` is none.
pub fn lease_reason(value: Option<&str>) -> Checked<Option<String>> {
    optional_text(value, LEASE_REASON_MAX, errors::LEASE_REASON_TOO_LONG)
}

/// 1-32 characters, not only whitespace.
pub fn vote_choice(value: &str) -> Checked<&str> {
    bounded(value, VOTE_CHOICE_MAX, errors::VOTE_CHOICE_INVALID)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(c: char, n: usize) -> String {
        std::iter::repeat_n(c, n).collect()
    }

    #[test]
    fn usernames() {
        for ok in ["abc", "a.b", "user_1234abcd", "x-y_z.0", &rep('a', 32)] {
            assert_eq!(username(ok), Ok(ok), "{ok}");
        }
        for bad in [
            "",
            "ab",
            "Abc",
            "a b",
            "ab!",
            "émile",
            &rep('a', 33),
            "abc\n",
        ] {
            assert_eq!(username(bad), Err(errors::USERNAME_INVALID), "{bad:?}");
        }
    }

    #[test]
    fn channel_names() {
        for ok in ["a", "general", "agent-logs", "x_1", &rep('z', 64)] {
            assert_eq!(channel_name(ok), Ok(ok));
        }
        for bad in ["", "a.b", "General", "a b", &rep('z', 65)] {
            assert_eq!(
                channel_name(bad),
                Err(errors::CHANNEL_NAME_INVALID),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn server_and_thread_names() {
        assert_eq!(server_name("My Server"), Ok("My Server"));
        assert_eq!(server_name(&rep('é', 100)).map(str::len), Ok(200));
        for bad in ["", " ", "\t\n", "\u{1c}", "\u{3000}", &rep('x', 101)] {
            assert_eq!(
                server_name(bad),
                Err(errors::SERVER_NAME_INVALID),
                "{bad:?}"
            );
            assert_eq!(
                thread_name(bad),
                Err(errors::THREAD_NAME_INVALID),
                "{bad:?}"
            );
        }
        assert_eq!(thread_name(" a "), Ok(" a "));
        // Zero-width and other invisible characters make a name blank, not only whitespace.
        for blank in [
            "\u{200b}",
            "\u{200b} \u{feff}",
            "\u{2800}",
            "\u{3164}",
            "\u{fe0f}",
        ] {
            assert_eq!(
                server_name(blank),
                Err(errors::SERVER_NAME_INVALID),
                "{blank:?}"
            );
            assert_eq!(emoji(blank), Err(errors::EMOJI_INVALID), "{blank:?}");
            assert_eq!(display_name(Some(blank)), Err(errors::DISPLAY_NAME_BLANK));
        }
        assert_eq!(thread_name("a\u{200b}b"), Ok("a\u{200b}b"));
        for bad in [
            "a\u{0}b",
            "x\u{1b}[31m",
            "\u{202e}evil",
            "a\u{2066}b",
            "a\u{85}",
            "a\nb",
        ] {
            assert_eq!(
                server_name(bad),
                Err(errors::SERVER_NAME_CHARACTERS),
                "{bad:?}"
            );
            assert_eq!(
                thread_name(bad),
                Err(errors::THREAD_NAME_CHARACTERS),
                "{bad:?}"
            );
            assert_eq!(emoji(bad), Err(errors::EMOJI_CHARACTERS), "{bad:?}");
            assert_eq!(
                display_name(Some(bad)),
                Err(errors::DISPLAY_NAME_CHARACTERS)
            );
        }
        // Emoji sequences keep their joiners, variation selectors and tags.
        for ok in [
            "👍🏽",
            "👨\u{200d}👩\u{200d}👧",
            "❤\u{fe0f}",
            "🏴\u{e0067}\u{e0062}\u{e007f}",
        ] {
            assert_eq!(emoji(ok), Ok(ok), "{ok:?}");
        }
    }

    #[test]
    fn python_isspace_set() {
        for c in [
            '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1c}', '\u{1d}', '\u{1e}', '\u{1f}', ' ',
            '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}', '\u{200a}', '\u{2028}', '\u{2029}',
            '\u{202f}', '\u{205f}', '\u{3000}',
        ] {
            assert!(is_py_space(c), "{:?}", c);
        }
        for c in ['a', '\u{0}', '\u{1b}', '\u{200b}', '\u{feff}', '\u{180e}'] {
            assert!(!is_py_space(c), "{:?}", c);
        }
        assert!(!is_blank(""));
    }

    #[test]
    fn optional_texts() {
        assert_eq!(display_name(None), Ok(None));
        assert_eq!(display_name(Some("")), Ok(None));
        assert_eq!(display_name(Some("Ada")), Ok(Some("Ada".into())));
        assert_eq!(display_name(Some(&rep('é', 64))), Ok(Some(rep('é', 64))));
        assert_eq!(
            display_name(Some(&rep('x', 65))),
            Err(errors::DISPLAY_NAME_TOO_LONG)
        );
        assert_eq!(bio(Some(&rep('x', 513))), Err(errors::BIO_TOO_LONG));
        assert_eq!(bio(Some(&rep('x', 512))), Ok(Some(rep('x', 512))));
        assert_eq!(
            status_text(Some(&rep('x', 129))),
            Err(errors::STATUS_TEXT_TOO_LONG)
        );
        assert_eq!(
            description(Some(&rep('x', 1025))),
            Err(errors::DESCRIPTION_TOO_LONG)
        );
        assert_eq!(topic(Some(&rep('x', 1025))), Err(errors::TOPIC_TOO_LONG));
        assert_eq!(topic(Some(&rep('x', 1024))), Ok(Some(rep('x', 1024))));
    }

    #[test]
    fn urls() {
        for ok in [
            "http://a",
            "https://example.com/x.png",
            "HTTPS://X",
            "hTtP://y",
        ] {
            assert_eq!(avatar_url(Some(ok)), Ok(Some(ok.to_string())), "{ok}");
        }
        assert_eq!(avatar_url(Some("")), Ok(None));
        assert_eq!(avatar_url(None), Ok(None));
        let long = format!("https://{}", rep('a', 504));
        assert_eq!(avatar_url(Some(&long)), Ok(Some(long.clone())));
        let too_long = format!("https://{}", rep('a', 505));
        for bad in [
            "http://",
            "https://",
            "ftp://x",
            "example.com",
            "https://a b",
            "https://a\u{1c}",
            &too_long,
            " https://a",
        ] {
            assert_eq!(
                avatar_url(Some(bad)),
                Err(errors::AVATAR_URL_INVALID),
                "{bad:?}"
            );
            assert_eq!(
                icon_url(Some(bad)),
                Err(errors::ICON_URL_INVALID),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn contents() {
        assert_eq!(text_content("hi"), Ok("hi"));
        assert_eq!(text_content(""), Err(errors::TEXT_CONTENT_INVALID));
        assert_eq!(text_content(&rep('é', 4000)).map(|s| s.len()), Ok(8000));
        assert_eq!(
            text_content(&rep('x', 4001)),
            Err(errors::TEXT_CONTENT_INVALID)
        );
        assert_eq!(dm_content(""), Err(errors::DM_CONTENT_INVALID));
        assert_eq!(dm_content(&rep('x', 4001)), Err(errors::DM_CONTENT_INVALID));
        assert_eq!(dm_content(" "), Ok(" "));
        assert_eq!(emoji("👍"), Ok("👍"));
        assert_eq!(emoji(""), Err(errors::EMOJI_INVALID));
        assert_eq!(emoji(&rep('x', 33)), Err(errors::EMOJI_INVALID));
    }

    #[test]
    fn agent_events() {
        assert_eq!(agent_event_content("{}"), Ok("{}"));
        assert!(
            agent_event_content(r#" {"kind": "stop", "n": [1, 2.5e3, -0, true, null]} "#).is_ok()
        );
        for bad in [
            "",
            "[]",
            "1",
            "\"x\"",
            "{",
            "{\"a\": NaN}",
            "{'a': 1}",
            "null",
        ] {
            assert_eq!(
                agent_event_content(bad),
                Err(errors::AGENT_EVENT_INVALID),
                "{bad:?}"
            );
        }
        let big = format!("{{\"a\": \"{}\"}}", rep('x', 16384 - 9));
        assert_eq!(big.chars().count(), 16384);
        assert!(agent_event_content(&big).is_ok());
        let too_big = format!("{{\"a\": \"{}\"}}", rep('x', 16384 - 8));
        assert_eq!(
            agent_event_content(&too_big),
            Err(errors::AGENT_EVENT_INVALID)
        );
    }
}
