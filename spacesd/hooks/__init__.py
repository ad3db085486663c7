"""Claude Code hooks: fast, fail-silent, standard library only.

A hook runs on every turn of every agent session, so nothing here (or in the modules the hooks
import) may pull in click, asyncio, websockets, platformdirs, filelock, sqlite3, typing or the
engine: `tests/test_hooks.py` checks it with `-X importtime`.

The contract both hooks keep (DESIGN.md, "Hooks"): always exit 0; on any failure print nothing
on stdout and append one line to `paths.log_file()`; empty or garbage stdin is a silent exit.

Shared helpers:
    read_input()                  stdin's JSON object, or None
    channel_from_env()            SPACES_CHANNEL_ID as a channel reference, or None
    log(hook, message, ...)       one line to the hooks log, rotated at 1 MiB; never raises
    run(hook, body)               the top-level guard: body(input) under a catch-all, exit 0
"""

from __future__ import annotations

import json
import os
import sys
import time

from spacesd import ipc, paths, safeio

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = [
    "CONNECT_TIMEOUT", "HOOK_TIMEOUT", "LOG_MAX_BYTES", "channel_from_env", "emit", "env_float",
    "log", "read_input", "run",
]

MAX_STDIN = 4 * 1024 * 1024
LOG_MAX_BYTES = 1024 * 1024
"""The hooks log is rotated to `hooks.log.1` past this size: at most ~2 MiB on disk."""
HOOK_TIMEOUT = 0.8
"""Seconds a hook gives the daemon for a whole request (connect + answer)."""
CONNECT_TIMEOUT = 0.25


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        return default
    if value != value or value in (float("inf"), float("-inf")):
        return default
    return max(0.0, value)


def channel_from_env() -> int | str | None:
    """The channel this agent's hooks name (SPACES_CHANNEL_ID: an id or a name), or None for
    the daemon's configured one. The Stop hook posts there; the context hook reads there."""
    raw = os.environ.get("SPACES_CHANNEL_ID", "").strip()
    return ipc.parse_ref(raw) if raw else None


def read_input(hook: str | None = None, max_bytes: int = MAX_STDIN) -> dict[str, Any] | None:
    """The hook's stdin as a JSON object; None when empty, oversized or not an object.

    Given `hook`, input that is there but unusable (not JSON, not an object, too big) is
    logged in one line; empty input is not (nothing to report).
    """
    try:
        if sys.stdin is None or sys.stdin.isatty():
            return None
        raw = sys.stdin.buffer.read(max_bytes + 1)
    except (OSError, ValueError, AttributeError) as e:
        if hook:
            log(hook, f"cannot read stdin: {e}")
        return None
    if not raw.strip():
        return None
    problem = None
    obj: object = None
    if len(raw) > max_bytes:
        problem = f"stdin is over {max_bytes} bytes"
    else:
        try:
            obj = json.loads(raw)
        except ValueError:
            problem = f"stdin is not JSON ({len(raw)} bytes)"
        else:
            if not isinstance(obj, dict):
                problem = f"stdin is JSON but not an object ({type(obj).__name__})"
    if problem is not None or not isinstance(obj, dict):
        if hook:
            log(hook, problem or "stdin is not a JSON object")
        return None
    return obj


def log(hook: str, message: str, *, session_id: object = None) -> None:
    """Append one line to the hooks log (creating folders, rotating past 1 MiB). Never raises."""
    try:
        path = paths.log_file()
        try:
            if path.stat().st_size > LOG_MAX_BYTES:
                os.replace(path, path.with_name(path.name + ".1"))
        except FileNotFoundError:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        sid = f" session={str(session_id)[:64]}" if session_id else ""
        text = " ".join(str(message).split())[:2000]
        line = f"{stamp} {hook}[{os.getpid()}]{sid}: {text}\n".encode("utf-8", "replace")
        fd = safeio.open_fd(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except BaseException:
        pass


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null, so nothing half-written (or a flush at exit) can fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass


def emit(text: str) -> None:
    """Write `text` to stdout in one go and flush; raises if it cannot (the caller logs)."""
    out = sys.stdout
    out.write(text)
    out.flush()


def run(hook: str, body: Callable[[dict[str, Any]], object]) -> int:
    """Read stdin and call body(input); whatever happens, return 0 (the exit status).

    Exceptions of any kind (BaseException, bar a SystemExit(0)) are logged in one line and
    swallowed; stdout is silenced after a failure so a partial write cannot leak out.
    """
    data: dict[str, Any] | None = None
    try:
        data = read_input(hook)
        if data is None:
            return 0
        body(data)
    except SystemExit as e:
        if e.code not in (None, 0):
            log(hook, f"exit {e.code!r}", session_id=data.get("session_id") if data else None)
            _silence_stdout()
    except BaseException as e:
        sid = data.get("session_id") if data else None
        log(hook, f"{type(e).__name__}: {e}", session_id=sid)
        _silence_stdout()
    return 0
