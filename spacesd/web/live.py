"""The web view's live-session side (issue 12): agent sessions with their presence, receipts of
what the person sent (queued -> delivered -> read, per recipient session), and the change
events that move them on the page. Read from the daemon's store with the live views the ops
use (`spacesd.daemon.live_views`)."""

from __future__ import annotations

from typing import Any

from spacesd.daemon import live_views
from spacesd.model import Identity, InboxItem, SessionInfo
from spacesd.store import Changes, Store


def sessions(store: Store) -> list[dict[str, Any]]:
    """Every session the store knows (ended ones too), live ones first, newest state first."""
    rows = [i for i in store.rows("session_info") if isinstance(i, SessionInfo)]
    rows.sort(key=lambda i: (i.ended_at is not None, -i.state_at))
    return [live_views.who_object(store, i, None) for i in rows]


def receipts_for_message(store: Store, me: Identity, message_id: int) -> list[dict[str, Any]]:
    return live_views.receipts_of_message(store, me, message_id)


def receipts_for_dm(store: Store, me: Identity, dm_id: int) -> list[dict[str, Any]]:
    return [live_views.receipt(store, i) for i in store.select("inbox_item", dm_id=dm_id)
            if isinstance(i, InboxItem) and i.sender == me]


def events(store: Store, changes: Changes, me: Identity) -> list[dict[str, Any]]:
    """`receipt` for every inbox item of a message `me` sent that was made or moved (its
    state, delivered_at, read_at), `receipt_gone` for one deleted; `sessions` when a session
    registered or its presence changed."""
    out: list[dict[str, Any]] = []
    inserted = {i.id for i in changes.inserted("inbox_item")}
    for item in changes.inserted("inbox_item"):
        if item.sender == me:
            out.append({"event": "receipt", "data": live_views.receipt(store, item)})
    for item in changes.deleted("inbox_item"):
        if item.sender == me and item.id not in inserted:
            out.append({"event": "receipt_gone", "data": {
                "item": item.id, "message_id": item.message_id, "dm_id": item.dm_id}})
    if not changes.table("session_info").is_empty():
        out.append({"event": "sessions", "data": {}})
    return out
