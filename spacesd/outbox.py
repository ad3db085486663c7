"""The hooks' on-disk outbox: requests the Stop hook could not deliver, for the daemon to send.

Standard library only (the Stop hook imports it). Format, as docs/protocol.md states: one file
per request in `paths.outbox_dir()` (mode 0700), named `<time_ns>-<pid>.json`, holding the
request's JSON object (`{"id": ..., "op": "post_summary", "args": {...}}`). A file is written
under a temporary name (`.tmp-<time_ns>-<pid>-<n>`), fsynced, renamed into place, and the
directory fsynced, so a file with the final name is always complete, even after a crash.

The daemon's side:

    for entry in outbox.list_pending():     # oldest first
        try:
            req = outbox.read(entry)        # dict; raises OutboxError if unreadable/corrupt
        except outbox.OutboxError:
            outbox.quarantine(entry)        # renamed to *.bad, kept for a person to look at
            continue
        ...deliver req, and once the write is acknowledged:
        outbox.remove(entry)

`write`, `remove` and `quarantine` are safe against concurrent hooks and a concurrent daemon:
names never collide (time_ns + pid + O_EXCL on the temporary) and removal tolerates a file
already gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

from spacesd import paths, safeio

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = [
    "OutboxError",
    "cleanup_tmp",
    "depth",
    "ensure_dir",
    "list_pending",
    "quarantine",
    "read",
    "remove",
    "write",
]

SUFFIX = ".json"
TMP_PREFIX = ".tmp-"
BAD_SUFFIX = ".bad"
MAX_ENTRY = 4 * 1024 * 1024
"""An entry is one request frame's JSON, so the protocol's frame limit applies."""

_counter = 0


class OutboxError(Exception):
    """An entry that cannot be read back as a JSON object (or written)."""


def _dir(directory: str | os.PathLike[str] | None) -> Path:
    return Path(directory) if directory is not None else paths.outbox_dir()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename is still atomic
    finally:
        os.close(fd)


def ensure_dir(directory: str | os.PathLike[str] | None = None) -> Path:
    """Create the outbox directory (0700) if needed; returns it."""
    d = _dir(directory)
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d


def write(request: Mapping[str, Any], *, directory: str | os.PathLike[str] | None = None) -> Path:
    """Durably store one request; returns the entry's final path. Raises OSError/OutboxError."""
    global _counter
    data = json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(data) > MAX_ENTRY:
        raise OutboxError(f"request of {len(data)} bytes exceeds the {MAX_ENTRY}-byte frame limit")
    d = ensure_dir(directory)
    pid = os.getpid()
    while True:
        now = time.time_ns()
        _counter += 1
        tmp = d / f"{TMP_PREFIX}{now}-{pid}-{_counter}"
        final = d / f"{now}-{pid}{SUFFIX}"
        if final.exists():  # same pid, same nanosecond (coarse clocks): take the next one
            continue
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        break
    try:
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(d)
    return final


def spool_ack(claim: str, session: str, ids: list[int], *,
              directory: str | os.PathLike[str] | None = None) -> Path:
    """An `inbox_ack` a hook could not hand to the daemon (the socket was down): stored the
    same durable way in `paths.acks_dir()`, applied by the daemon at start before it serves
    any claim (docs/protocol.md, "Acks spooled by a hook")."""
    return write({"op": "inbox_ack", "args": {"claim": claim, "session": session,
                                              "ids": list(ids)}},
                 directory=directory if directory is not None else paths.acks_dir())


def _sort_key(name: str) -> tuple[int, int, str] | None:
    if not name.endswith(SUFFIX) or name.startswith("."):
        return None
    stem = name[: -len(SUFFIX)]
    t, sep, p = stem.partition("-")
    if not sep or not t.isdigit() or not p.isdigit():
        return None
    return (int(t), int(p), name)


def list_pending(directory: str | os.PathLike[str] | None = None) -> list[Path]:
    """Complete entries, oldest first (by the time in the name, then pid). [] if none."""
    d = _dir(directory)
    try:
        names = os.listdir(d)
    except (FileNotFoundError, NotADirectoryError):
        return []
    keyed = [k for k in map(_sort_key, names) if k is not None]
    keyed.sort()
    return [d / k[2] for k in keyed]


def depth(directory: str | os.PathLike[str] | None = None) -> int:
    """How many entries wait to be delivered."""
    return len(list_pending(directory))


def read(entry: str | os.PathLike[str]) -> dict[str, Any]:
    """The request an entry holds. Raises FileNotFoundError if it is gone, OutboxError if bad."""
    p = Path(entry)
    try:
        data = safeio.read_bytes(p, MAX_ENTRY + 1)  # a FIFO planted here cannot hang us
    except FileNotFoundError:
        raise
    except OSError as e:
        raise OutboxError(f"{p.name}: cannot read: {e}") from e
    if len(data) > MAX_ENTRY:
        raise OutboxError(f"{p.name}: larger than the {MAX_ENTRY}-byte frame limit")
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise OutboxError(f"{p.name}: not a JSON document: {e}") from e
    if not isinstance(obj, dict) or not isinstance(obj.get("op"), str):
        raise OutboxError(f"{p.name}: not a request object with an 'op'")
    return obj


def remove(entry: str | os.PathLike[str]) -> None:
    """Delete a delivered entry (and make that durable). A missing file is not an error."""
    p = Path(entry)
    try:
        os.unlink(p)
    except FileNotFoundError:
        return
    _fsync_dir(p.parent)


def quarantine(entry: str | os.PathLike[str]) -> Path | None:
    """Set aside an entry that cannot be delivered (renamed `<name>.bad`, no longer pending)."""
    p = Path(entry)
    bad = p.with_name(p.name + BAD_SUFFIX)
    try:
        os.rename(p, bad)
    except FileNotFoundError:
        return None
    _fsync_dir(p.parent)
    return bad


def cleanup_tmp(
    directory: str | os.PathLike[str] | None = None, *, older_than: float = 3600.0
) -> int:
    """Delete temporaries left by writers that died mid-write; returns how many."""
    d = _dir(directory)
    try:
        names = os.listdir(d)
    except OSError:
        return 0
    cutoff = time.time() - older_than
    n = 0
    for name in names:
        if not name.startswith(TMP_PREFIX):
            continue
        p = d / name
        try:
            if p.stat().st_mtime < cutoff:
                p.unlink()
                n += 1
        except OSError:
            continue
    return n
