"""What the `context` op hands an agent session: the newest summary of each peer session in a
channel, this project's first, minus what the session was already given (docs/protocol.md,
`context`). The summaries themselves are read and rendered by `summary.py`."""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

from spacesd.daemon import views
from spacesd.daemon.handouts import Handouts
from spacesd.daemon.summary import parse_summary, render_summary
from spacesd.model import Identity, Message, MessageType, now_micros
from spacesd.store import Store

CONTEXT_SCAN = 500
"""How many recent messages of the summaries' channel `context` looks through."""
CONTEXT_MAX_AGE_S = 7 * 24 * 3600
SUMMARY_CACHE = 4 * CONTEXT_SCAN


class SummaryCache:
    """parse_summary, cached by (message id, edited_at): posted content never changes but by
    an edit. Keeps the SUMMARY_CACHE most recently used."""

    def __init__(self, size: int = SUMMARY_CACHE) -> None:
        self.size = size
        self._cache: OrderedDict[tuple[int, int | None], dict[str, Any] | None] = OrderedDict()

    def parsed(self, msg: Message) -> dict[str, Any] | None:
        key = (msg.id, msg.edited_at)
        cache = self._cache
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        summary = parse_summary(msg.content)
        cache[key] = summary
        if len(cache) > self.size:
            cache.popitem(last=False)
        return summary


def related_paths(a: str, b: str) -> bool:
    """Equal, or one inside the other (a subfolder of a project is that project)."""
    if a == b:
        return True
    if a == "/" or b == "/":
        return False
    return b.startswith(a.rstrip("/") + "/") or a.startswith(b.rstrip("/") + "/")


def _latest_peer_summaries(store: Store, cache: SummaryCache, channel_id: int,
                           session_id: str, now: int) -> list[tuple[Message, dict[str, Any]]]:
    """The newest summary of each session but `session_id`, among the channel's CONTEXT_SCAN
    recent messages younger than CONTEXT_MAX_AGE_S."""
    horizon = now - CONTEXT_MAX_AGE_S * 1_000_000
    latest: dict[str, tuple[Message, dict[str, Any]]] = {}
    for msg in reversed(views.recent_messages(store, channel_id, CONTEXT_SCAN)):
        if msg.message_type != MessageType.AgentEvent or msg.created_at < horizon:
            continue
        summary = cache.parsed(msg)
        if summary is None:
            continue
        sid = str(summary.get("session_id") or f"message-{msg.id}")
        if sid == session_id or sid in latest:
            continue  # own posts; an older summary of a session already seen
        latest[sid] = (msg, summary)
    return list(latest.values())


def _same_project(project: str, summary: dict[str, Any]) -> bool:
    """The asking cwd is the peer's project or cwd, or inside it, or contains it."""
    if not project:
        return False
    for key in ("project", "cwd"):
        p = summary.get(key)
        if isinstance(p, str) and p and related_paths(os.path.normpath(p), project):
            return True
    return False


def peer_context(store: Store, handouts: Handouts, cache: SummaryCache,
                 info: views.ChannelInfo, session_id: str, cwd: str, source: str,
                 max_chars: int) -> dict[str, Any]:
    """The `context` op's result for `session_id` asking from `cwd`; what it hands out is
    recorded in `handouts`, so the next ask gets only what is new."""
    now = now_micros()
    given = handouts.given(session_id)
    fresh = [(m, s) for m, s in _latest_peer_summaries(store, cache, info.channel.id,
                                                         session_id, now)
             if m.id not in given]
    project = os.path.normpath(cwd) if cwd else ""
    fresh.sort(key=lambda ms: (not _same_project(project, ms[1]), -ms[0].id))
    since = " since this session last heard" if given else ""
    header = (f"Recent activity of peer agent sessions{since}, from Spaces "
              f"#{info.channel.name} (reports of what happened; newest first"
              + (", this project first" if project else "") + "):")
    lines: list[str] = []
    ids: list[int] = []
    used = len(header)
    names: dict[Identity, str] = {}
    for msg, summary in fresh:
        room = max_chars - used - 1
        if room < 160:
            break
        if msg.sender not in names:
            name = views.sender_name(store, msg.sender)
            # a live session's summary names its participant: "@api-claude-3f2a"
            is_session = store.get("session_info", msg.sender) is not None
            names[msg.sender] = f"@{name}" if is_session else name
        line = "- " + render_summary(summary, sender_name=names[msg.sender],
                                     created_at=msg.created_at, now=now)
        if len(line) > room:
            line = line[: room - 1] + "…"
        lines.append(line)
        ids.append(msg.id)
        used += 1 + len(line)
    if not lines:
        return {"text": "", "message_ids": [], "source": source}
    handouts.record(session_id, ids)
    return {"text": "\n".join([header, *lines]), "message_ids": ids, "source": source}
