"""Opening files that cannot hang us: regular files only, opened non-blocking, reads bounded.

Standard library only (the hooks import it). A hook runs on every turn of every agent, and a
path it reads may be anything: a FIFO at a project's `.git/HEAD`, at Spaces' `config.toml` or
in the state directory blocks a plain `open()` until some writer appears (for ever), and
`/dev/zero` or a huge file never ends a plain `read()`. So:

- every open passes O_NONBLOCK (a FIFO opens at once instead of waiting for its other end),
  O_NOCTTY and O_CLOEXEC, and the opened file is checked with fstat (no race between a check
  and the open): anything but a regular file is closed and refused with `NotRegularFile`;
- every read takes a bound, and reads at most that many bytes.

    data = safeio.read_bytes(path, 65536)            # bytes; OSError if missing/not regular
    text = safeio.read_text(path, 65536)             # str (UTF-8, errors="replace" optional)
    with safeio.open_binary(path) as f: ...          # a file object on a checked regular file
    fd = safeio.open_fd(path, os.O_RDWR | os.O_CREAT, 0o600)   # a checked descriptor

Every failure is an OSError (FileNotFoundError, PermissionError, NotRegularFile, ...), so a
caller's `except OSError` covers all of them.
"""

from __future__ import annotations

import errno
import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

__all__ = ["NotRegularFile", "open_binary", "open_fd", "read_bytes", "read_text"]

_FLAGS = os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 65536


class NotRegularFile(OSError):
    """The path names a FIFO, socket, device or directory: not something to read."""

    def __init__(self, path: object, kind: str) -> None:
        super().__init__(errno.EINVAL, f"not a regular file ({kind})", str(path))


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISDIR, "a directory")):
        if test(mode):
            return name
    return "not a regular file"


def open_fd(path: str | os.PathLike[str], flags: int = os.O_RDONLY, mode: int = 0o600) -> int:
    """os.open with O_NONBLOCK (+ O_NOCTTY, O_CLOEXEC); the descriptor of a regular file only.
    A FIFO opened for writing with no reader fails at once (ENXIO) instead of waiting."""
    fd = os.open(path, flags | _FLAGS, mode)
    try:
        st = os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotRegularFile(path, _kind(st.st_mode))
    return fd


def open_binary(path: str | os.PathLike[str]) -> BinaryIO:
    """A read-only binary file object on a regular file (refused otherwise)."""
    return os.fdopen(open_fd(path), "rb")


def read_bytes(path: str | os.PathLike[str], limit: int) -> bytes:
    """At most `limit` bytes from the start of a regular file."""
    fd = open_fd(path)
    try:
        return _read_fd(fd, limit)
    finally:
        os.close(fd)


def read_text(path: str | os.PathLike[str], limit: int, *, errors: str = "strict") -> str:
    """At most `limit` bytes of a regular file, decoded as UTF-8 (UnicodeDecodeError, a
    ValueError, when `errors` is "strict" and they are not UTF-8)."""
    return read_bytes(path, limit).decode("utf-8", errors)


def _read_fd(fd: int, limit: int) -> bytes:
    parts: list[bytes] = []
    left = limit
    while left > 0:
        try:
            chunk = os.read(fd, min(left, _CHUNK))
        except BlockingIOError:  # cannot happen on a regular file; never wait for it
            break
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)
