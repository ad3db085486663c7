"""Idempotency keys for writes: standard library only (the Stop hook imports it).

Every write Spaces makes carries a key, and the backend keeps it in the write's own transaction
(the `write_key` table; docs/idempotency.md), so a retry, a timeout or an outbox replay never
makes a second row. Who chooses the key:

- a session summary: `summary_key(session_id, turn)`, chosen by the Stop hook and written into
  its outbox entry too, so the hook's post and its replay are one write;
- a CLI `send`: `new_key("send")`, one per invocation;
- a daemon fallback (a request that came without a key): derived from the request itself.

A key is 1-128 printable ASCII characters without spaces (the module checks the same).
"""

from __future__ import annotations

import os
import zlib

__all__ = ["KEY_MAX", "new_key", "summary_key", "valid_key"]

KEY_MAX = 128
_PART_MAX = 48


def valid_key(key: object) -> bool:
    """1-128 characters, each printable ASCII other than space (0x21-0x7e)."""
    return (isinstance(key, str) and 1 <= len(key) <= KEY_MAX
            and all("!" <= c <= "~" for c in key))


def _part(text: str) -> str:
    """`text` as is when it is at most 48 of `A-Z a-z 0-9 . _ -`; else a digest of it (so a
    key never holds a quote, a colon or a space)."""
    if 1 <= len(text) <= _PART_MAX and all(c.isascii() and (c.isalnum() or c in "._-")
                                           for c in text):
        return text
    data = text.encode("utf-8", "surrogatepass")
    # zlib, not hashlib: the hooks import this, and hashlib is not one of their cheap modules
    return f"h{zlib.crc32(data):08x}{zlib.adler32(data):08x}{len(data):x}"


def summary_key(session_id: str, turn: str) -> str:
    """The key of one session's summary of one turn: `summary:<session>:<turn>`."""
    return f"summary:{_part(session_id)}:{_part(turn)}"


def new_key(kind: str) -> str:
    """A fresh random key, e.g. `send:3f9c...` (128 random bits)."""
    return f"{_part(kind)}:{os.urandom(16).hex()}"
