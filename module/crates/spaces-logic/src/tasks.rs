//! Lease patterns, their overlap and the words of the task and lease refusals: the engine's
//! `spacesd/engine/patterns.py`, rule for rule (see its docstring for the grammar).

use crate::errors;
use crate::validation::{Checked, LEASE_PATTERN_MAX};

/// The normalized pattern (a leading `./` dropped), or LEASE_PATTERN_INVALID.
pub fn pattern(value: &str) -> Checked<String> {
    let mut v = value;
    while let Some(rest) = v.strip_prefix("./") {
        v = rest;
    }
    let len = v.chars().count();
    let mut ok = (1..=LEASE_PATTERN_MAX).contains(&len) && !v.starts_with('/');
    ok = ok
        && !v
            .chars()
            .any(|c| matches!(c, '?' | '[' | ']' | '\\' | '\0'));
    let body = v.strip_suffix('/').unwrap_or(v);
    ok = ok && body.split('/').all(|s| !matches!(s, "" | "." | ".."));
    if ok {
        Ok(v.to_string())
    } else {
        Err(errors::LEASE_PATTERN_INVALID)
    }
}

pub fn is_exact(value: &str) -> bool {
    !value.contains('*') && !value.ends_with('/')
}

pub fn literal_prefix(value: &str) -> &str {
    match value.find('*') {
        Some(star) => &value[..star],
        None => value,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Tok {
    AnyDirs,
    Any,
    Star,
    Char(char),
}

fn tokens(glob: &str) -> Vec<Tok> {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '*' && chars.get(i + 1) == Some(&'*') {
            if chars.get(i + 2) == Some(&'/') {
                out.push(Tok::AnyDirs);
                i += 3;
            } else {
                out.push(Tok::Any);
                i += 2;
            }
        } else if chars[i] == '*' {
            out.push(Tok::Star);
            i += 1;
        } else {
            out.push(Tok::Char(chars[i]));
            i += 1;
        }
    }
    out
}

/// Whether `path` is matched by `glob`: `*` within a segment, `**` across segments, `**/`
/// also nothing.
pub fn glob_match(glob: &str, path: &str) -> bool {
    let p: Vec<char> = path.chars().collect();
    let n = p.len();
    let mut after: Vec<bool> = (0..=n).map(|j| j == n).collect();
    for tok in tokens(glob).into_iter().rev() {
        let mut now = vec![false; n + 1];
        for j in (0..=n).rev() {
            now[j] = match tok {
                Tok::Any => after[j] || (j < n && now[j + 1]),
                Tok::Star => after[j] || (j < n && p[j] != '/' && now[j + 1]),
                Tok::AnyDirs => after[j] || (j..n).any(|k| p[k] == '/' && after[k + 1]),
                Tok::Char(c) => j < n && p[j] == c && after[j + 1],
            };
        }
        after = now;
    }
    after[0]
}

/// Whether a lease's pattern covers an exact path.
pub fn covers(lease: &str, path: &str) -> bool {
    if lease.ends_with('/') {
        path.starts_with(lease)
    } else if lease.contains('*') {
        glob_match(lease, path)
    } else {
        lease == path
    }
}

/// Whether two leases' patterns overlap (conservatively for two globs or directories).
pub fn overlap(a: &str, b: &str) -> bool {
    if is_exact(a) {
        return covers(b, a);
    }
    if is_exact(b) {
        return covers(a, b);
    }
    let (pa, pb) = (literal_prefix(a), literal_prefix(b));
    pa.starts_with(pb) || pb.starts_with(pa)
}

/// Microseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds, floored).
pub fn until_text(micros: i64) -> String {
    let secs = micros.div_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // days since 1970-01-01 to a civil date (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A template message (`TASK_CLAIMED`, `LEASE_CONFLICT`) with its `{name}` fields filled.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_string();
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_and_overlap() {
        assert_eq!(pattern("./src/a.py").unwrap(), "src/a.py");
        assert!(pattern("/etc").is_err() && pattern("a/../b").is_err() && pattern("a//b").is_err());
        assert!(pattern("src/").is_ok() && pattern("src/?.py").is_err());
        assert!(overlap("src/a.py", "src/a.py") && !overlap("src/a.py", "src/a.pyc"));
        assert!(overlap("src/", "src/a/b.py") && !overlap("src/", "docs/x"));
        assert!(overlap("src/*.py", "src/a.py") && !overlap("src/*.py", "src/a/b.py"));
        assert!(overlap("src/**/x.py", "src/x.py") && overlap("src/**", "src/a/b"));
        assert!(overlap("src/*.py", "src/*.rs") && !overlap("docs/**", "src/**"));
    }

    #[test]
    fn until_is_utc_seconds() {
        assert_eq!(until_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(until_text(1_796_069_792_224_209), "2026-11-30T20:16:32Z");
        assert_eq!(until_text(951_782_400_999_999), "2000-02-29T00:00:00Z");
    }
}
