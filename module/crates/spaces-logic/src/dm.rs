//! Direct-conversation participant ordering.
//!
//! A conversation stores its two participants with `participant_a < participant_b`, compared
//! by their hex spelling (64 lowercase hex digits, big-endian, as people see identities). For
//! fixed-width lowercase hex this is the same order as the numeric u256 order, so
//! `(a, b)` is one row whoever starts the conversation.

use std::cmp::Ordering;

/// Compares two identities by their hex spelling, case-insensitively and with an optional
/// `0x` prefix ignored, so `"0xAB…"` and `"ab…"` compare equal.
pub fn compare_hex(a: &str, b: &str) -> Ordering {
    let a = normalize(a);
    let b = normalize(b);
    // Fixed width in practice; pad the shorter one with leading zeros so that numeric order
    // holds for any width.
    let width = a.len().max(b.len());
    let pad_a = width - a.len();
    let pad_b = width - b.len();
    let a_digits = std::iter::repeat_n('0', pad_a).chain(a.chars());
    let b_digits = std::iter::repeat_n('0', pad_b).chain(b.chars());
    a_digits.cmp(b_digits)
}

fn normalize(hex: &str) -> String {
    let digits = hex
        .strip_prefix("0x")
        .or_else(|| hex.strip_prefix("0X"))
        .unwrap_or(hex);
    digits.to_ascii_lowercase()
}

/// Orders a pair of participants: returns `(participant_a, participant_b)` with
/// `participant_a < participant_b` by hex. `key` gives an element's hex spelling.
pub fn order_pair<T, F>(first: T, second: T, key: F) -> (T, T)
where
    F: Fn(&T) -> String,
{
    if compare_hex(&key(&first), &key(&second)) == Ordering::Greater {
        (second, first)
    } else {
        (first, second)
    }
}

/// Orders two hex spellings: `(a, b)` with `a < b`.
pub fn order_hex<'a>(first: &'a str, second: &'a str) -> (&'a str, &'a str) {
    order_pair(first, second, |s| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOW: &str = "0000000000000000000000000000000000000000000000000000000000000001";
    const MID: &str = "c200aa0000000000000000000000000000000000000000000000000000000000";
    const HIGH: &str = "c200ff0000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn ordering_is_by_hex() {
        assert_eq!(order_hex(HIGH, MID), (MID, HIGH));
        assert_eq!(order_hex(MID, HIGH), (MID, HIGH));
        assert_eq!(order_hex(LOW, HIGH), (LOW, HIGH));
        assert_eq!(order_hex(HIGH, LOW), (LOW, HIGH));
    }

    #[test]
    fn either_caller_gets_the_same_pair() {
        let pairs = [(LOW, MID), (MID, LOW), (MID, HIGH), (HIGH, MID)];
        for (x, y) in pairs {
            let (a, b) = order_hex(x, y);
            assert_eq!(compare_hex(a, b), Ordering::Less);
            assert_eq!(order_hex(y, x), (a, b));
        }
    }

    #[test]
    fn case_prefix_and_width_do_not_matter() {
        assert_eq!(compare_hex("0xC200FF", "c200ff"), Ordering::Equal);
        assert_eq!(compare_hex("ff", "0100"), Ordering::Less);
        assert_eq!(compare_hex("0100", "ff"), Ordering::Greater);
    }

    #[test]
    fn hex_order_is_numeric_order() {
        // The module compares `Identity` values, whose `Ord` is the u256's numeric order;
        // this checks the two agree on fixed-width spellings.
        let values: [u128; 6] = [0, 1, 0xff, 0x100, u64::MAX as u128, u128::MAX];
        for x in values {
            for y in values {
                let hx = format!("{x:064x}");
                let hy = format!("{y:064x}");
                assert_eq!(compare_hex(&hx, &hy), x.cmp(&y), "{hx} vs {hy}");
            }
        }
    }
}
