"""The SessionStart hook (`spaces-context-hook`): hand a new session what its peers did.

Claude Code runs it when a session starts, resumes, is cleared or compacted, with a JSON object
on stdin (session_id, cwd, source, ...). It asks spacesd for `context {session_id, cwd, source,
max_chars, channel?}` (channel: SPACES_CHANNEL_ID, where the Stop hook posts, when set); the
daemon picks recent peer activity (the same project first, never the session's own posts,
nothing this session was already given) and phrases it as facts. If the text is not empty the
hook prints exactly

    {"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": "<text>"}}

capped at 8,000 characters here as well (Claude Code's own cap is 10,000). Daemon down, an
error, nothing new: it prints nothing. It always exits 0 and logs failures to the hooks log.
"""

from __future__ import annotations

import json
import sys

from spacesd import ipc
from spacesd.hooks import CONNECT_TIMEOUT, HOOK_TIMEOUT, channel_from_env, emit, log, run

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HOOK = "spaces-context-hook"
MAX_CHARS = 8000


def cap(text: str, limit: int = MAX_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    nl = cut.rfind("\n")
    if nl > limit // 2:  # end on a whole line when that loses little
        cut = cut[:nl]
    return cut.rstrip() + "…"


def handle(data: dict[str, Any]) -> str | None:
    """The stdout line to print for one input, or None to print nothing."""
    session_id = data.get("session_id")
    args: dict[str, Any] = {
        "session_id": session_id if isinstance(session_id, str) else "",
        "cwd": data.get("cwd") if isinstance(data.get("cwd"), str) else "",
        "source": data.get("source") if isinstance(data.get("source"), str) else "startup",
        "max_chars": MAX_CHARS,
    }
    channel = channel_from_env()
    if channel is not None:  # where this agent's Stop hook posts
        args["channel"] = channel
    res = ipc.request("context", args, timeout=HOOK_TIMEOUT, connect_timeout=CONNECT_TIMEOUT)
    if isinstance(res, ipc.Err):
        log(HOOK, f"context: {res.code}: {res.message}", session_id=session_id)
        return None
    result = res.result
    text = result.get("text") if isinstance(result, dict) else None
    if not isinstance(text, str) or not text.strip():
        return None
    out = {
        "hookSpecificOutput": {
            "hookEventName": "SessionStart",
            "additionalContext": cap(text.strip()),
        }
    }
    return json.dumps(out, ensure_ascii=False)


def _body(data: dict[str, Any]) -> None:
    line = handle(data)
    if line is not None:
        emit(line + "\n")


def main() -> int:
    """Console script entry point: always returns 0."""
    return run(HOOK, _body)


if __name__ == "__main__":
    sys.exit(main())
