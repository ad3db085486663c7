"""What every `spacesd` client command shares: where the socket is, one request with the
one-line answers when the daemon cannot be reached, and failing with a message."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import click

from spacesd import paths
from spacesd.ipc import Client, Err

EXIT_UNREACHABLE = 1
EXIT_ERROR = 1


def _socket_path(ctx: click.Context) -> Path:
    given = ctx.obj.get("socket") if ctx.obj else None
    return Path(given) if given else paths.socket_path()


def _unreachable_line(sock: Path, reason: str) -> str:
    return (f"spacesd: the daemon is not reachable at {sock} ({reason}); "
            "start it with `spacesd run`")


def _no_answer_line(sock: Path, code: str, message: str) -> str:
    """The one line for a request the daemon did not answer: unreachable (start it), or
    reached but silent (busy or hung: the request may still take effect, so no advice to
    start a daemon that runs, nor to repeat a write that may yet land)."""
    if code == "unreachable":
        return _unreachable_line(sock, message.rsplit(": ", 1)[-1])
    if code == "timeout":
        return (f"spacesd: the daemon at {sock} did not answer in time (busy or hung?); "
                "the request may still take effect")
    return (f"spacesd: the daemon at {sock} closed the connection without answering "
            f"({message}); the request may or may not have taken effect")


def _fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(code)


def _request(ctx: click.Context, op: str, args: dict[str, Any] | None = None,
             timeout: float = 10.0, *, retry: bool = False) -> Any:
    """One request; `retry` (a keyed write: asking again cannot double it) asks once more
    when the answer was lost (a timeout or a dropped connection)."""
    sock = _socket_path(ctx)
    for attempt in range(2 if retry else 1):
        with Client(sock, timeout=timeout) as client:
            res = client.request(op, args or {})
        if not (isinstance(res, Err) and res.code in ("timeout", "disconnected")):
            break
        if attempt == 0 and retry:
            time.sleep(0.2)
    if isinstance(res, Err):
        if res.code in ("unreachable", "timeout", "disconnected"):
            _fail(_no_answer_line(sock, res.code, res.message), EXIT_UNREACHABLE)
        _fail(f"spacesd: {res.code}: {res.message}")
    return res.result
