"""Read-side views of live sessions over a `Store`: item objects, receipts, who, and the
items `spacesd.live.render` writes. Shapes: docs/protocol.md, "Live sessions"."""

from __future__ import annotations

from typing import Any

from spacesd.daemon.participants import AGENT_NAMES
from spacesd.live.render import Item
from spacesd.model import (
    AgentKind,
    DeliveryState,
    Identity,
    InboxItem,
    SessionInfo,
    SessionState,
    Task,
    TaskState,
    timestamp_to_iso,
)
from spacesd.store import Store

_KIND_NAMES = {AgentKind.Claude: "claude", AgentKind.Codex: "codex",
               AgentKind.Gemini: "gemini", AgentKind.Other: "other"}


def handle(store: Store, identity: Identity) -> str:
    profile = store.profile(identity)
    return "@" + (profile.username if profile is not None else f"user_{identity.short()}")


def is_person(store: Store, identity: Identity) -> bool:
    profile = store.profile(identity)
    return profile is not None and not profile.is_agent


def about(store: Store, identity: Identity) -> str | None:
    info: SessionInfo | None = store.get("session_info", identity)
    if info is None:
        return None
    parts = [AGENT_NAMES[_KIND_NAMES[info.agent]], info.project_label]
    if info.branch:
        parts.append(info.branch)
    return ", ".join(parts)


def _iso(ts: int | None) -> str | None:
    return None if ts is None else timestamp_to_iso(ts)


def item_text(store: Store, item: InboxItem) -> tuple[str, str | None, str]:
    """(text, where, ref) of an item: its message or DM as the recipient reads it, or for a
    Task item the task (and how to claim it)."""
    if item.task_id is not None:
        return task_text(store, item.task_id), _where(store, item.channel_id), \
            f"task {item.task_id}"
    if item.dm_id is not None:
        dm = store.get("direct_message", item.dm_id)
        return (dm.content if dm is not None else "(deleted)", None, f"dm {item.dm_id}")
    msg = store.message(item.message_id) if item.message_id is not None else None
    channel = store.channel(item.channel_id) if item.channel_id is not None else None
    where = f"#{channel.name}" if channel is not None else None
    return (msg.content if msg is not None else "(deleted)", where, f"#{item.message_id}")


def render_item(store: Store, item: InboxItem) -> Item:
    text, where, ref = item_text(store, item)
    created = timestamp_to_iso(item.created_at)[:19] + "Z"
    return Item(item.id, item.kind.name, handle(store, item.sender),
                is_person(store, item.sender), about(store, item.sender), where, ref,
                created, text, item.priority)


def _where(store: Store, channel_id: int | None) -> str | None:
    channel = store.channel(channel_id) if channel_id is not None else None
    return f"#{channel.name}" if channel is not None else None


def task_text(store: Store, task_id: int) -> str:
    """`task 12: part 1 (subtask of 11: survey), Open; claim it: spacesd task claim 12`."""
    task: Task | None = store.get("task", task_id)
    if task is None:
        return f"task {task_id} (deleted)"
    parent: Task | None = store.get("task", task.parent_id) if task.parent_id else None
    of = f" (subtask of {parent.id}: {parent.title})" if parent is not None else ""
    who = f" by {handle(store, task.assignee)}" if task.assignee is not None else ""
    text = f"task {task.id}: {task.title}{of}, {task.state.name}{who}"
    if task.body:
        text += "\n" + task.body
    if task.state == TaskState.Open:
        text += f"\nclaim it: spacesd task claim {task.id}"
    return text


def item_object(store: Store, item: InboxItem) -> dict[str, Any]:
    text, where, _ = item_text(store, item)
    return {"id": item.id, "kind": item.kind.name, "state": item.state.name,
            "priority": item.priority, "from": handle(store, item.sender),
            "from_person": is_person(store, item.sender), "channel": where,
            "message_id": item.message_id, "dm_id": item.dm_id, "task_id": item.task_id,
            "text": text,
            "created_at": timestamp_to_iso(item.created_at),
            "delivered_at": _iso(item.delivered_at), "read_at": _iso(item.read_at)}


def waits(store: Store, item: InboxItem) -> str | None:
    """Why a Queued item waits, for its sender: the recipient is idle and cannot be woken."""
    if item.state != DeliveryState.Queued:
        return None
    info: SessionInfo | None = store.get("session_info", item.recipient)
    if info is None:
        return None
    if info.state == SessionState.Ended:
        return "recipient session ended"
    if info.state in (SessionState.Idle, SessionState.WaitingForInput) and not info.can_wake:
        return f"recipient idle; cannot be woken ({_KIND_NAMES[info.agent]})"
    return None


def receipt(store: Store, item: InboxItem) -> dict[str, Any]:
    return {"item": item.id, "message_id": item.message_id, "dm_id": item.dm_id,
            "recipient": item.recipient.hex, "handle": handle(store, item.recipient),
            "kind": item.kind.name, "state": item.state.name,
            "delivered_at": _iso(item.delivered_at), "read_at": _iso(item.read_at),
            "waits": waits(store, item)}


def receipts_of_message(store: Store, sender: Identity, message_id: int) -> list[dict[str, Any]]:
    return [receipt(store, i) for i in store.select("inbox_item", sender=sender,
                                                    message_id=message_id)]


def receipts_of(store: Store, sender: Identity, limit: int) -> list[dict[str, Any]]:
    rows = store.select("inbox_item", sender=sender, order_by="-id", limit=limit)
    return [receipt(store, i) for i in reversed(rows)]


def who_object(store: Store, info: SessionInfo, session: str | None) -> dict[str, Any]:
    return {"handle": handle(store, info.identity), "identity": info.identity.hex,
            "agent": _KIND_NAMES[info.agent], "project": info.project_label,
            "repository": info.project, "branch": info.branch, "state": info.state.name,
            "state_at": timestamp_to_iso(info.state_at), "machine": info.machine.hex,
            "can_wake": info.can_wake, "session": session}
