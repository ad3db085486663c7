//! A strict JSON (RFC 8259) recognizer for AgentEvent contents, accepting exactly what the
//! engine's `json.loads(value, parse_constant=reject)` accepts: no NaN / Infinity, no trailing
//! commas, no comments, no control characters inside strings, whitespace only of
//! space / tab / LF / CR, numbers of any magnitude, `\uXXXX` escapes with any code unit (lone
//! surrogates included, as Python's decoder allows).
//!
//! It is iterative (an explicit stack), so deep nesting cannot overflow the module's stack.
//! One difference is left on purpose: Python refuses nesting deeper than its recursion limit
//! (about 990 levels, depending on the caller), while this accepts any depth.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Inside an array: after an element, `,` or `]` follows.
    Array,
    /// Inside an object: after a member's value, `,` and a key, or `}` follows.
    Object,
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`
    fn number(&mut self) -> bool {
        self.eat(b'-');
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return false,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return false;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return false;
            }
        }
        true
    }

    /// A string, the opening quote already consumed.
    fn string_body(&mut self) -> bool {
        loop {
            match self.peek() {
                None => return false,
                Some(b'"') => {
                    self.pos += 1;
                    return true;
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            self.pos += 1;
                            for _ in 0..4 {
                                match self.peek() {
                                    Some(c) if c.is_ascii_hexdigit() => self.pos += 1,
                                    _ => return false,
                                }
                            }
                        }
                        _ => return false,
                    }
                }
                Some(c) if c < 0x20 => return false,
                Some(_) => self.pos += 1,
            }
        }
    }
}

/// Whether `text` is one JSON value (surrounded by optional whitespace) that is an object.
pub fn is_json_object(text: &str) -> bool {
    let mut s = Scanner {
        bytes: text.as_bytes(),
        pos: 0,
    };
    s.skip_ws();
    if s.peek() != Some(b'{') {
        return false;
    }
    is_json_value(&mut s) && {
        s.skip_ws();
        s.pos == s.bytes.len()
    }
}

/// Whether `text` is one JSON value of any kind, surrounded by optional whitespace.
pub fn is_json(text: &str) -> bool {
    let mut s = Scanner {
        bytes: text.as_bytes(),
        pos: 0,
    };
    is_json_value(&mut s) && {
        s.skip_ws();
        s.pos == s.bytes.len()
    }
}

/// Scans one value at the scanner's position (leading whitespace allowed).
fn is_json_value(s: &mut Scanner<'_>) -> bool {
    let mut stack: Vec<Frame> = Vec::new();
    'value: loop {
        // A value must start here.
        s.skip_ws();
        let scanned = match s.peek() {
            Some(b'{') => {
                s.pos += 1;
                s.skip_ws();
                if !s.eat(b'}') {
                    if !object_key(s) {
                        return false;
                    }
                    stack.push(Frame::Object);
                    continue 'value;
                }
                true
            }
            Some(b'[') => {
                s.pos += 1;
                s.skip_ws();
                if !s.eat(b']') {
                    stack.push(Frame::Array);
                    continue 'value;
                }
                true
            }
            Some(b'"') => {
                s.pos += 1;
                s.string_body()
            }
            Some(b't') => s.literal(b"true"),
            Some(b'f') => s.literal(b"false"),
            Some(b'n') => s.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => s.number(),
            _ => false,
        };
        if !scanned {
            return false;
        }
        // A value is complete: close containers, or move on to the next element.
        loop {
            let Some(top) = stack.last().copied() else {
                return true;
            };
            s.skip_ws();
            match (top, s.peek()) {
                (Frame::Array, Some(b']')) | (Frame::Object, Some(b'}')) => {
                    s.pos += 1;
                    stack.pop();
                }
                (Frame::Array, Some(b',')) => {
                    s.pos += 1;
                    continue 'value;
                }
                (Frame::Object, Some(b',')) => {
                    s.pos += 1;
                    s.skip_ws();
                    if !object_key(s) {
                        return false;
                    }
                    continue 'value;
                }
                _ => return false,
            }
        }
    }
}

/// An object key and its colon: `"key" ws : `.
fn object_key(s: &mut Scanner<'_>) -> bool {
    if !s.eat(b'"') || !s.string_body() {
        return false;
    }
    s.skip_ws();
    s.eat(b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_json() {
        for ok in [
            "{}",
            " {} ",
            "{\"a\":1}",
            "{\"a\": [1, -2, 3.5, 1e400, -0.0e-7, 1E+2]}",
            "{\"a\": {\"b\": {\"c\": [[], {}, [[[]]]]}}}",
            "{\"s\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud800\"}",
            "{\"t\": true, \"f\": false, \"n\": null}",
            "\r\n\t{\"é\": \"ü 😀\"}\n",
            "{\"a\":1,\"a\":2}",
        ] {
            assert!(is_json_object(ok), "{ok:?}");
        }
        for ok in ["1", "[]", "\"x\"", "null", "[1, [2, {\"a\": []}]]", "-0"] {
            assert!(is_json(ok), "{ok:?}");
            assert!(!is_json_object(ok), "{ok:?}");
        }
    }

    #[test]
    fn rejects_non_json() {
        for bad in [
            "",
            "{",
            "}",
            "{,}",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{a: 1}",
            "{'a': 1}",
            "{\"a\": NaN}",
            "{\"a\": Infinity}",
            "{\"a\": -Infinity}",
            "{\"a\": 01}",
            "{\"a\": 1.}",
            "{\"a\": .5}",
            "{\"a\": 1e}",
            "{\"a\": +1}",
            "{\"a\": [1,]}",
            "{\"a\": [,1]}",
            "{\"a\": \"\u{1}\"}",
            "{\"a\": \"\\x41\"}",
            "{\"a\": \"\\u12\"}",
            "{\"a\": \"unterminated}",
            "{} {}",
            "{}x",
            "\u{feff}{}",
            "{\"a\": tru}",
            "{\"a\": nul}",
            "{\u{a0}}",
            "{\"a\":1 \"b\":2}",
            "[1 2]",
            "{\"a\": [}",
            "{\"a\": ]}",
            "{\"a\": {\"b\": 1]}",
        ] {
            assert!(!is_json_object(bad), "{bad:?}");
        }
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let n = 100_000;
        let deep = format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
        assert!(is_json_object(&deep));
        let unbalanced = format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n - 1));
        assert!(!is_json_object(&unbalanced));
    }
}
