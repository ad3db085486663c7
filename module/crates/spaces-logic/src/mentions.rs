//! `@username` mentions in a message's text.
//!
//! The rule (the engine's `spacesd/engine/validation.py`, regex
//! `(?<![A-Za-z0-9_.\-])@([a-z0-9_.\-]+)`): an `@` makes a mention when it starts the content
//! or follows a character outside `A-Z a-z 0-9 _ . -`; the username is the longest run of
//! `a-z 0-9 _ . -` after it, with trailing `.` removed, so a mention may end a sentence.
//! Usernames come out in order of first appearance, without repeats.

fn is_username_char(c: char) -> bool {
    matches!(c, 'a'..='z' | '0'..='9' | '_' | '.' | '-')
}

fn blocks_mention(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// The usernames mentioned in `content`, in order of first appearance, without repeats.
pub fn mentions(content: &str) -> Vec<String> {
    let chars: Vec<char> = content.chars().collect();
    let mut found: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '@' || (i > 0 && blocks_mention(chars[i - 1])) {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while end < chars.len() && is_username_char(chars[end]) {
            end += 1;
        }
        if end == start {
            i += 1;
            continue;
        }
        let name: String = chars[start..end].iter().collect();
        let name = name.trim_end_matches('.');
        if !name.is_empty() && !found.iter().any(|n| n == name) {
            found.push(name.to_string());
        }
        i = end;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Vec<String> {
        mentions(s)
    }

    #[test]
    fn simple_mentions() {
        assert_eq!(m("@alice hi"), ["alice"]);
        assert_eq!(m("hi @alice and @bob_2"), ["alice", "bob_2"]);
        assert_eq!(m("no mentions here"), Vec::<String>::new());
        assert_eq!(m(""), Vec::<String>::new());
    }

    #[test]
    fn trailing_dots_end_a_sentence() {
        assert_eq!(m("thanks @alice."), ["alice"]);
        assert_eq!(m("see @a.b.c..."), ["a.b.c"]);
        assert_eq!(m("@..."), Vec::<String>::new());
        assert_eq!(m("ok @carol-x, then"), ["carol-x"]);
    }

    #[test]
    fn emails_and_words_do_not_mention() {
        assert_eq!(m("mail bob@example.com"), Vec::<String>::new());
        assert_eq!(m("x.@alice"), Vec::<String>::new());
        assert_eq!(m("X@alice"), Vec::<String>::new());
        assert_eq!(m("_@alice"), Vec::<String>::new());
        assert_eq!(m("-@alice"), Vec::<String>::new());
    }

    #[test]
    fn punctuation_and_unicode_before_the_at() {
        assert_eq!(m("(@alice)"), ["alice"]);
        assert_eq!(m("hey,@alice"), ["alice"]);
        assert_eq!(m("é@alice"), ["alice"]);
        assert_eq!(m("@@alice"), ["alice"]);
        assert_eq!(m("\n@alice"), ["alice"]);
    }

    #[test]
    fn uppercase_is_not_part_of_a_username() {
        assert_eq!(m("@Alice"), Vec::<String>::new());
        assert_eq!(m("@alIce"), ["al"]);
    }

    #[test]
    fn repeats_are_dropped_in_order() {
        assert_eq!(m("@bob @alice @bob @alice."), ["bob", "alice"]);
    }
}
