"""Path lease patterns: what a pattern may be, which patterns overlap, and the words a
refusal uses. The Rust module has the same rules in `spaces-logic/src/tasks.rs`.

A pattern is relative to the repository root and is one of
- an exact path: `src/auth.py`;
- a directory, ending in `/`: `src/auth/` covers everything below it;
- a glob: `*` matches within one path segment, `**` any run of characters across segments,
  and `**/` also nothing (`src/**/x.py` covers `src/x.py`).

A leading `./` is dropped. Refused: empty or over 500 characters, a leading `/`, an empty
segment (`a//b`), a `.` or `..` segment, and the characters `?`, `[`, `]`, `\\`, NUL.

Overlap (two leases of one project conflict when their patterns overlap):
- two exact paths: equal;
- an exact path and a directory or glob: the path is covered by it;
- two directories or globs: the literal part of one (up to its first `*`) is a prefix of the
  other's. Conservative: it may refuse a pair that covers no common path (`src/*.py` and
  `src/*.rs`), never grant one that does.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Final

from spacesd.engine import errors, validation
from spacesd.engine.errors import ReducerError

_FORBIDDEN: Final = frozenset("?[]\\\x00")


def pattern(value: str) -> str:
    """The normalized pattern, or LEASE_PATTERN_INVALID."""
    while value.startswith("./"):
        value = value[2:]
    ok = 1 <= len(value) <= validation.LEASE_PATTERN_MAX and not value.startswith("/")
    ok = ok and not any(c in _FORBIDDEN for c in value)
    segments = value[:-1].split("/") if value.endswith("/") else value.split("/")
    ok = ok and all(s not in ("", ".", "..") for s in segments)
    if not ok:
        raise ReducerError(errors.LEASE_PATTERN_INVALID)
    return value


def is_exact(value: str) -> bool:
    return "*" not in value and not value.endswith("/")


def literal_prefix(value: str) -> str:
    star = value.find("*")
    return value if star < 0 else value[:star]


def _tokens(glob: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("**/")
            i += 3
        elif glob.startswith("**", i):
            out.append("**")
            i += 2
        else:
            out.append(glob[i])
            i += 1
    return out


def glob_match(glob: str, path: str) -> bool:
    """Whether `path` is matched by `glob` (`*`, `**`, `**/` as the module docstring says)."""
    tokens = _tokens(glob)
    n = len(path)
    # after[j]: tokens[i:] match path[j:], computed from the last token backwards
    after = [j == n for j in range(n + 1)]
    for tok in reversed(tokens):
        now = [False] * (n + 1)
        for j in range(n, -1, -1):
            if tok == "**":
                now[j] = after[j] or (j < n and now[j + 1])
            elif tok == "*":
                now[j] = after[j] or (j < n and path[j] != "/" and now[j + 1])
            elif tok == "**/":
                # nothing, or any run of characters ending in '/'
                now[j] = after[j] or any(path[k] == "/" and after[k + 1] for k in range(j, n))
            else:
                now[j] = j < n and path[j] == tok and after[j + 1]
        after = now
    return after[0]


def covers(lease: str, path: str) -> bool:
    """Whether a lease's pattern covers an exact path."""
    if lease.endswith("/"):
        return path.startswith(lease)
    if "*" in lease:
        return glob_match(lease, path)
    return lease == path


def overlap(a: str, b: str) -> bool:
    if is_exact(a):
        return covers(b, a)
    if is_exact(b):
        return covers(a, b)
    pa, pb = literal_prefix(a), literal_prefix(b)
    return pa.startswith(pb) or pb.startswith(pa)


def until_text(micros: int) -> str:
    """A Timestamp as the refusals show it: `2026-11-30T09:45:00Z` (UTC, whole seconds)."""
    dt = datetime.fromtimestamp(micros // 1_000_000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
