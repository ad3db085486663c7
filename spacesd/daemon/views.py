"""Read-side views over a `Store`, shared by every backend: channel lookup, message objects,
counts and the change events `tail` pushes (docs/protocol.md's shapes).

Membership decides what an identity reads (docs/roles.md): the channels, messages and tail
events of servers it is a member of, and nothing of the others; a channel or server it is
not a member of is looked up as if it did not exist."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from spacesd.ipc import parse_ref
from spacesd.model import (
    HUB_NAME,
    Channel,
    Identity,
    Message,
    Server,
    timestamp_to_iso,
)
from spacesd.store import Changes, Store


@dataclass(frozen=True)
class ChannelInfo:
    channel: Channel
    server: Server | None


def hub(store: Store) -> Server | None:
    hubs = [s for s in store.servers() if s.name == HUB_NAME]
    return min(hubs, key=lambda s: s.id) if hubs else None


def is_member(store: Store, identity: Identity, server_id: int) -> bool:
    return store.member(server_id, identity) is not None


def servers_of(store: Store, identity: Identity) -> list[Server]:
    """The servers `identity` belongs to: the hub first, then the others by id."""
    h = hub(store)
    out = [h] if h is not None and is_member(store, identity, h.id) else []
    out += [s for s in store.servers_of(identity) if h is None or s.id != h.id]
    return out


def resolve_server(store: Store, ref: int | str, identity: Identity) -> Server | None:
    """A server `identity` belongs to, by id or name (the lowest id of that name)."""
    if isinstance(ref, str):
        ref = parse_ref(ref)
    if isinstance(ref, int):
        found = store.server(ref)
        return found if found is not None and is_member(store, identity, found.id) else None
    matches = sorted((s for s in servers_of(store, identity) if s.name == ref),
                     key=lambda s: s.id)
    return matches[0] if matches else None


def channels_of(store: Store, server_id: int) -> list[Channel]:
    return sorted(store.channels(server_id), key=lambda c: (c.position, c.id))


def resolve_channel(store: Store, ref: int | str, identity: Identity) -> ChannelInfo | None:
    """A channel of a server `identity` belongs to, by id, or by name (with or without `#`):
    the hub first, then the other servers."""
    if isinstance(ref, str):
        ref = parse_ref(ref.strip().removeprefix("#"))
    if isinstance(ref, str):
        for server in servers_of(store, identity):
            ch = store.channel_by_name(server.id, ref)
            if ch is not None:
                return ChannelInfo(ch, server)
        return None
    ch = store.channel(ref)
    if ch is None or not is_member(store, identity, ch.server_id):
        return None
    return ChannelInfo(ch, store.server(ch.server_id))


def recent_messages(store: Store, channel_id: int, limit: int, *, before: int | None = None,
                    thread_id: int | None = None) -> list[Message]:
    """Up to `limit` messages of the channel, oldest first."""
    return store.recent_messages(channel_id, limit, before_id=before, thread_id=thread_id)


def sender_name(store: Store, identity: Identity) -> str:
    profile = store.profile(identity)
    return profile.username if profile is not None else f"user_{identity.short()}"


def message_object(store: Store, msg: Message, info: ChannelInfo | None = None) -> dict[str, Any]:
    if info is None or info.channel.id != msg.channel_id:
        ch = store.channel(msg.channel_id)
        channel_name = ch.name if ch is not None else None
        server_id = ch.server_id if ch is not None else None
    else:
        channel_name = info.channel.name
        server_id = info.channel.server_id
    return {
        "id": msg.id,
        "channel_id": msg.channel_id,
        "channel": channel_name,
        "server_id": server_id,
        "thread_id": msg.thread_id,
        "reply_to_id": msg.reply_to_id,
        "sender": msg.sender.hex,
        "sender_name": sender_name(store, msg.sender),
        "type": msg.message_type.name,
        "content": msg.content,
        "created_at": timestamp_to_iso(msg.created_at),
        "edited_at": timestamp_to_iso(msg.edited_at) if msg.edited_at is not None else None,
    }


def counts(store: Store) -> dict[str, int]:
    return store.counts()


# --------------------------------------------------------------------------------------------
# Changes


def inserted_messages(changes: Changes) -> Iterator[Message]:
    yield from changes.inserted("message")


def _reader_sees(store: Store, changes: Changes, viewer: Identity) -> Callable[[int], bool]:
    """Whether `viewer` may see a change in a channel: a member of its server, now or just
    before this transaction (a channel, server or membership it deleted is still known)."""
    gone_channels = {c.id: c.server_id for c in changes.deleted("channel")}
    was_member = {m.server_id for m in changes.deleted("server_member") if m.identity == viewer}
    seen: dict[int, bool] = {}

    def sees(channel_id: int) -> bool:
        if channel_id not in seen:
            ch = store.channel(channel_id)
            server_id = ch.server_id if ch is not None else gone_channels.get(channel_id)
            seen[channel_id] = server_id is not None and (
                server_id in was_member or is_member(store, viewer, server_id))
        return seen[channel_id]

    return sees


def change_events(store: Store, changes: Changes, channels: set[int] | None,
                  viewer: Identity) -> Iterable[dict[str, Any]]:
    """The tail events of one committed transaction that `viewer` may see (`channels`: only
    those): `message` for new messages, `message_edited` for edits, `message_deleted` for
    deletions."""
    inserted = {m.id for m in changes.inserted("message")}
    deleted = {m.id for m in changes.deleted("message")}
    sees = _reader_sees(store, changes, viewer)
    out: list[dict[str, Any]] = []
    for msg in changes.deleted("message"):
        if msg.id in inserted or (channels is not None and msg.channel_id not in channels):
            continue
        if not sees(msg.channel_id):
            continue
        out.append({"event": "message_deleted",
                    "data": {"id": msg.id, "channel_id": msg.channel_id}})
    for msg in changes.inserted("message"):
        if channels is not None and msg.channel_id not in channels:
            continue
        if not sees(msg.channel_id):
            continue
        event = "message_edited" if msg.id in deleted else "message"
        out.append({"event": event, "data": message_object(store, msg)})
    return out
