"""What the web page reads, as JSON: the sidebar (servers, channels, unread counts), a page of a
channel's messages with their reactions and threads, search results, the people and sessions
seen, and the change events the page is pushed. Built over the daemon's `Store` (the embedded
database, or the SpacetimeDB backend's cache), on the event loop's thread like every read."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from spacesd.daemon import views
from spacesd.daemon.summary import parse_summary
from spacesd.model import (
    DirectConversation,
    DirectMessage,
    Identity,
    Message,
    MessageType,
    Reaction,
    Thread,
    timestamp_to_iso,
)
from spacesd.store import Changes, Store
from spacesd.web import live, tasks

PAGE = 50
"""Messages in a channel's first page (and each older page): the newest, by keyset."""
UNREAD_CAP = 1000
"""Unread counts stop at this (shown as 999+): counting is an index range scan."""


def sidebar(store: Store, me: Identity) -> list[dict[str, Any]]:
    """The servers `me` belongs to (the hub first), each with its channels and, per channel,
    how many messages came after `me`'s read mark (capped at UNREAD_CAP)."""
    marks = {r.channel_id: r.last_read_msg_id
             for r in store.select("channel_read_state", identity=me)}
    out: list[dict[str, Any]] = []
    for server in views.servers_of(store, me):
        channels = []
        for ch in views.channels_of(store, server.id):
            channels.append({
                "id": ch.id, "name": ch.name, "topic": ch.topic, "type": ch.channel_type.name,
                "unread": store.unread_count(ch.id, marks.get(ch.id, 0), UNREAD_CAP),
                "last_read": marks.get(ch.id, 0)})
        out.append({"id": server.id, "name": server.name, "channels": channels})
    return out


def reactions_of(store: Store, message_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Per message: its reactions as {emoji, by: [identity hex, ...]} in first-use order."""
    out: dict[int, list[dict[str, Any]]] = {}
    for mid in message_ids:
        by_emoji: dict[str, list[str]] = {}
        for r in store.select("reaction", message_id=mid):
            assert isinstance(r, Reaction)
            by_emoji.setdefault(r.emoji, []).append(r.identity.hex)
        if by_emoji:
            out[mid] = [{"emoji": e, "by": who} for e, who in by_emoji.items()]
    return out


def message_json(store: Store, msg: Message, me: Identity | None = None) -> dict[str, Any]:
    """The protocol's message object, plus `summary` (the parsed session summary of an
    AgentEvent, else null), `sender_agent` (whether the sender's profile is an agent) and,
    for a message of `me`, `receipts` (one per session it reached)."""
    obj = views.message_object(store, msg)
    if me is not None and msg.sender == me:
        obj["receipts"] = live.receipts_for_message(store, me, msg.id)
    profile = store.profile(msg.sender)
    obj["sender_agent"] = bool(profile is not None and profile.is_agent)
    obj["summary"] = (parse_summary(msg.content)
                      if msg.message_type == MessageType.AgentEvent else None)
    return obj


def thread_json(t: Thread) -> dict[str, Any]:
    return {"id": t.id, "channel_id": t.channel_id, "name": t.name, "archived": t.archived,
            "creator": t.creator.hex, "last_message_at": timestamp_to_iso(t.last_message_at)}


def channel_page(store: Store, channel_id: int, *, before: int | None = None,
                 thread_id: int | None = None, limit: int = PAGE, me: Identity | None = None
                 ) -> dict[str, Any]:
    """The newest `limit` messages of a channel (or of one of its threads), oldest first,
    older than `before` if given; their reactions; the channel's threads."""
    rows = views.recent_messages(store, channel_id, limit, before=before, thread_id=thread_id)
    threads = [t for t in store.select("thread", channel_id=channel_id)
               if isinstance(t, Thread)]
    return {
        "channel_id": channel_id,
        "thread_id": thread_id,
        "messages": [message_json(store, m, me) for m in rows],
        "reactions": {str(k): v for k, v in reactions_of(store, [m.id for m in rows]).items()},
        "threads": [thread_json(t) for t in threads],
        "more": len(rows) == limit,
    }


def people(store: Store) -> list[dict[str, Any]]:
    """Everyone with a profile: agents and people, their presence, and for agents the last
    session summary's facts (project, branch, agent kind) seen in the store's newest
    summaries. (Participants per session, with working/waiting/idle/ended, come with the
    live-coordination tables.)"""
    presence = {p.identity.hex: p for p in store.rows("user_presence")}
    out = []
    for prof in store.rows("user_profile"):
        pres = presence.get(prof.identity.hex)
        out.append({
            "identity": prof.identity.hex, "username": prof.username,
            "display_name": prof.display_name, "is_agent": prof.is_agent,
            "online": bool(pres is not None and pres.online),
            "status": pres.status_text if pres is not None else None,
            "last_seen": timestamp_to_iso(pres.last_seen) if pres is not None else None})
    out.sort(key=lambda p: (not p["online"], p["username"]))
    return out


# --------------------------------------------------------------------------------------------
# Direct messages (only `me`'s: on the embedded store every conversation is there)


DM_PAGE = 200


def conversations(store: Store, me: Identity) -> list[dict[str, Any]]:
    """`me`'s DM conversations, the most recent first, each with the other participant and
    how many of their messages `me` has not read."""
    rows = [c for c in store.select("direct_conversation", participant_a=me)
            + store.select("direct_conversation", participant_b=me)
            if isinstance(c, DirectConversation)]
    rows.sort(key=lambda c: c.last_message_at, reverse=True)
    out = []
    for c in rows:
        other = c.participant_b if c.participant_a == me else c.participant_a
        profile = store.profile(other)
        out.append({"id": c.id, "other": other.hex, "name": views.sender_name(store, other),
                    "other_agent": bool(profile is not None and profile.is_agent),
                    "unread": len(store.select("direct_message", conversation_id=c.id,
                                               sender=other, read=False)),
                    "last_message_at": timestamp_to_iso(c.last_message_at)})
    return out


def conversation_of(store: Store, me: Identity, conversation_id: int
                    ) -> DirectConversation | None:
    """The conversation if `me` is one of its two participants, else None."""
    c = store.get("direct_conversation", conversation_id)
    if not isinstance(c, DirectConversation) or me not in (c.participant_a, c.participant_b):
        return None
    return c


def dm_json(store: Store, dm: DirectMessage, me: Identity | None = None) -> dict[str, Any]:
    obj = _dm_object(store, dm)
    if me is not None and dm.sender == me:
        obj["receipts"] = live.receipts_for_dm(store, me, dm.id)
    return obj


def _dm_object(store: Store, dm: DirectMessage) -> dict[str, Any]:
    return {"id": dm.id, "conversation_id": dm.conversation_id, "sender": dm.sender.hex,
            "sender_name": views.sender_name(store, dm.sender), "content": dm.content,
            "created_at": timestamp_to_iso(dm.created_at),
            "edited_at": timestamp_to_iso(dm.edited_at) if dm.edited_at is not None else None,
            "read": dm.read}


def dm_page(store: Store, conversation_id: int, me: Identity) -> list[dict[str, Any]]:
    """The newest DM_PAGE messages of a conversation, oldest first."""
    rows = store.select("direct_message", conversation_id=conversation_id, order_by="-id",
                        limit=DM_PAGE)
    return [dm_json(store, m, me) for m in reversed(rows) if isinstance(m, DirectMessage)]


# --------------------------------------------------------------------------------------------
# Change events


def _dm_events(store: Store, changes: Changes, me: Identity) -> list[dict[str, Any]]:
    """`dm` / `dm_edited` (a read flag or an edit) for the messages of `me`'s conversations."""
    out: list[dict[str, Any]] = []
    deleted = {m.id for m in changes.deleted("direct_message")}
    for dm in changes.inserted("direct_message"):
        if conversation_of(store, me, dm.conversation_id) is not None:
            out.append({"event": "dm_edited" if dm.id in deleted else "dm",
                        "data": dm_json(store, dm, me)})
    return out


def change_events(store: Store, changes: Changes, me: Identity) -> list[dict[str, Any]]:
    """What one committed transaction means for the page (acting as `me`): the tail's message
    events (with the web's message objects), reactions added and removed, threads, `me`'s
    DMs, and `sidebar` when servers, channels, memberships, read marks or `me`'s
    conversations changed (the page asks again)."""
    out: list[dict[str, Any]] = []
    inserted = {m.id for m in changes.inserted("message")}
    deleted = {m.id for m in changes.deleted("message")}
    for msg in changes.deleted("message"):
        if msg.id not in inserted:
            out.append({"event": "message_deleted",
                        "data": {"id": msg.id, "channel_id": msg.channel_id}})
    for msg in changes.inserted("message"):
        out.append({"event": "message_edited" if msg.id in deleted else "message",
                    "data": message_json(store, msg, me)})
    for kind, rows in (("reaction_added", changes.inserted("reaction")),
                       ("reaction_removed", changes.deleted("reaction"))):
        for r in rows:
            out.append({"event": kind, "data": {"message_id": r.message_id, "emoji": r.emoji,
                                                "identity": r.identity.hex}})
    for t in changes.inserted("thread"):
        out.append({"event": "thread", "data": thread_json(t)})
    out += _dm_events(store, changes, me)
    out += tasks.events(changes)
    out += live.events(store, changes, me)
    if any(not changes.table(t).is_empty() for t in (
            "server", "channel", "server_member", "channel_read_state")) or any(
            me in (c.participant_a, c.participant_b)
            for c in changes.inserted("direct_conversation")):
        out.append({"event": "sidebar", "data": {}})
    if any(not changes.table(t).is_empty() for t in ("user_profile", "user_presence")):
        out.append({"event": "people", "data": {}})
    return out
