"""Every op of docs/protocol.md: one function each, registered by name with its argument
schema (`spacesd.daemon.registry`). An op gets the daemon and the `Request` (its checked
arguments) and returns the result, or raises `OpError`; writes are `async`. How to add one:
docs/contributing.md."""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import TYPE_CHECKING, Any

from spacesd import __version__ as _pkg_version
from spacesd import idem
from spacesd.daemon import live_views, ops_tasks, views
from spacesd.daemon.backend import BackendError, BackendUnavailable
from spacesd.daemon.errors import OpError
from spacesd.daemon.peer_context import peer_context
from spacesd.daemon.registry import (
    REGISTRY,
    Arg,
    Request,
    channel_arg,
    int_arg,
    lookup,
    op,
    str_arg,
)
from spacesd.daemon.summary import summary_content
from spacesd.model import Identity, MessageType
from spacesd.store import Changes

if TYPE_CHECKING:
    from spacesd.daemon.server import Daemon

__all__ = ["REGISTRY", "lookup", "ops_tasks"]  # ops_tasks: the task, lease and vote ops

MAX_LIMIT = 500
DEFAULT_LIMIT = 20
CONTEXT_MAX_CHARS = 8000
ANSWER_BUDGET = 3 * 1024 * 1024
"""Bytes of encoded messages one `messages` answer carries at most (the frame limit is 4 MiB)."""
AGENT_KIND = "claude-code"


# --------------------------------------------------------------------------------------------
# Reads


@op("ping")
def cmd_ping(daemon: Daemon, req: Request) -> Any:
    return {"pong": True}


@op("status")
async def cmd_status(daemon: Daemon, req: Request) -> Any:
    backend, settings = daemon.backend, daemon.settings
    counts, depth = await daemon.table_counts()
    result: dict[str, Any] = {
        "version": _pkg_version,
        "pid": os.getpid(),
        "uptime_s": round(time.monotonic() - daemon.started, 3),
        "backend": backend.name,
        "identity": backend.identity.hex,
        "username": backend.username,
        "database": backend.database,
        "host": settings.host,
        "socket": daemon.socket_name,
        "connection": "open",
        "outbox_depth": depth,
        "outbox_delivered": daemon.delivered,
        "channel": settings.channel,
        "clients": len(daemon.clients),
        "max_clients": daemon.max_clients,
        "counts": counts,
    }
    result.update(backend.status())
    if settings.config is not None:
        result["config"] = settings.config.redacted()  # never holds the token
    return result


@op("channels", Arg("server", (int, str), "a server id or name"))
def cmd_channels(daemon: Daemon, req: Request) -> Any:
    server_ref = req.args["server"]
    store = daemon.backend.store
    if server_ref is None:
        servers = views.servers_of(store, daemon.backend.identity)
    else:
        server = views.resolve_server(store, server_ref, daemon.backend.identity)
        if server is None:
            daemon.require_cache()
            raise OpError("not_found", f"no such server: {server_ref}")
        servers = [server]
    if not servers:
        daemon.require_cache()
    out = []
    for server in servers:
        for ch in views.channels_of(store, server.id):
            out.append({"id": ch.id, "server_id": ch.server_id, "server": server.name,
                        "name": ch.name, "topic": ch.topic, "type": ch.channel_type.name,
                        "position": ch.position})
    return out


@op("messages", channel_arg(), int_arg("limit", DEFAULT_LIMIT, lo=1, hi=MAX_LIMIT),
    int_arg("before"), int_arg("thread_id"))
def cmd_messages(daemon: Daemon, req: Request) -> Any:
    info = daemon.resolve_channel(req.args["channel"])
    daemon.require_cache()
    store = daemon.backend.store
    rows = views.recent_messages(store, info.channel.id, req.args["limit"],
                                 before=req.args["before"], thread_id=req.args["thread_id"])
    out = [views.message_object(store, m, info) for m in rows]
    for obj, m in zip(out, rows, strict=True):  # receipts of live sessions' inbox items
        receipts = live_views.receipts_of_message(store, m.sender, m.id)
        if receipts:
            obj["receipts"] = receipts
    # Keep the answer inside one frame: drop the oldest (a client pages with `before`).
    # Sizes are the encoded ones: a character may take up to 6 bytes (emoji in UTF-8,
    # control characters as \u escapes).
    budget = ANSWER_BUDGET
    for i in range(len(out) - 1, -1, -1):
        budget -= len(json.dumps(out[i], ensure_ascii=False, separators=(",", ":"))
                      .encode("utf-8", "surrogatepass")) + 1
        if budget < 0:
            return out[i + 1:]
    return out


@op("context", str_arg("session_id", required=True), str_arg("cwd", ""),
    str_arg("source", "startup"), int_arg("max_chars", CONTEXT_MAX_CHARS, lo=0, hi=1_000_000),
    channel_arg(required=False))
def cmd_context(daemon: Daemon, req: Request) -> Any:
    # The channel the asking agent's Stop hook posts to (its SPACES_CHANNEL_ID), else the
    # configured one: the daemon may not see the agent's environment (systemd).
    info = daemon.resolve_channel(req.args["channel"])
    daemon.require_cache()
    assert daemon.handouts is not None
    return peer_context(daemon.backend.store, daemon.handouts, daemon.summaries, info,
                        req.args["session_id"], req.args["cwd"] or "",
                        req.args["source"] or "startup", req.args["max_chars"])


@op("tail", Arg("channels", (list,), "a list of channel ids or names", []), stream=True)
def cmd_tail(daemon: Daemon, req: Request) -> Any:
    client = req.client
    assert client is not None
    ids: set[int] = set()
    for ref in req.args["channels"]:
        if isinstance(ref, bool) or not isinstance(ref, (int, str)):
            raise OpError("bad_args", "argument channels must list channel ids or names")
        ids.add(daemon.resolve_channel(ref).channel.id)
    client.tail_channels = ids or None
    client.unsubscribe = daemon.backend.add_listener(client.on_changes)
    return {"subscribed": True, "channels": sorted(ids)}


# --------------------------------------------------------------------------------------------
# Writes


async def _write(daemon: Daemon, reducer: str, args: list[Any], as_owner: bool = False,
                 owner_passphrase: str | None = None) -> Changes:
    if as_owner:
        await daemon.check_owner(owner_passphrase)
    try:
        if as_owner:
            return await daemon.backend.call_as_owner(reducer, args)
        return await daemon.backend.call(reducer, args)
    except BackendError as e:
        raise OpError(e.code, e.message) from None


def _key(req: Request) -> str | None:
    """The request's idempotency key (docs/idempotency.md), if it gives one."""
    key: str | None = req.args["key"]
    if key is not None and not idem.valid_key(key):
        raise OpError("bad_args", "argument key must be 1-128 printable ASCII characters "
                      "without spaces")
    return key


def _summary_key(summary: dict[str, Any]) -> str:
    """The key of a summary posted without one (an older hook): its session and a digest of
    its content, so the same request replayed from the outbox is the same write."""
    body = json.dumps(summary, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return idem.summary_key(str(summary["session_id"]), digest)


async def _send_keyed(daemon: Daemon, req: Request, op_name: str, key: str, call: list[Any],
                      caller: Identity | None = None) -> dict[str, Any]:
    """send_message_keyed: the message object; a repeated key answers the message its first
    call made, with `"duplicate": true`. Older writes waiting in the outbox are delivered
    first (posting order). Queued to the outbox (with its key) only when the backend cannot
    be reached, and the request may be queued (not when the outbox is delivering it)."""
    if req.queue and not await daemon.flush_outbox():
        # the backend cannot take the older writes now: this one waits behind them
        return daemon.queue_request(op_name, {**req.raw, "channel": call[0], "key": key})
    try:
        if caller is not None:  # a live session's participant (ops_live)
            await daemon.open_participant(daemon.require_live().participants.by_identity[caller])
        changes = await daemon.backend.call("send_message_keyed", [key, *call], caller=caller)
    except BackendUnavailable as e:
        if not req.queue:
            raise OpError(e.code, e.message) from None
        return daemon.queue_request(op_name, {**req.raw, "channel": call[0], "key": key})
    except BackendError as e:
        raise OpError(e.code, e.message) from None
    store = daemon.backend.store
    me = caller or daemon.backend.identity
    for msg in views.inserted_messages(changes):
        if msg.sender == me:
            return views.message_object(store, msg)
    if caller is not None:  # a participant's own connection subscribes to no messages
        return {"committed": True, "sender": caller.hex}
    found = await daemon.backend.find_write(key)
    first = store.message(found.row_id) if found is not None else None
    if first is not None:
        return {**views.message_object(store, first), "duplicate": True}
    return {"id": found.row_id if found is not None else None, "duplicate": True}


@op("call", str_arg("reducer", required=True), Arg("args", (list,), "a JSON array", []),
    Arg("as_owner", (bool,), "true or false", False), str_arg("owner_passphrase"),
    write=True)
async def cmd_call(daemon: Daemon, req: Request) -> Any:
    await _write(daemon, req.args["reducer"], req.args["args"], as_owner=req.args["as_owner"],
                 owner_passphrase=req.args["owner_passphrase"])
    return {"committed": True}


@op("send", channel_arg(), str_arg("content", required=True), str_arg("type", "Text"),
    int_arg("thread_id"), int_arg("reply_to_id"), str_arg("key"), write=True)
async def cmd_send(daemon: Daemon, req: Request) -> Any:
    info = daemon.resolve_channel(req.args["channel"])
    mtype = req.args["type"]
    if mtype not in ("Text", "AgentEvent"):
        raise OpError("bad_args", "argument type must be Text or AgentEvent")
    key = _key(req) or idem.new_key("send")
    call = [info.channel.id, req.args["content"], req.args["thread_id"],
            req.args["reply_to_id"], mtype]
    return await _send_keyed(daemon, req, "send", key, call)


@op("post_summary", Arg("summary", (dict,), "an object", required=True),
    channel_arg(required=False), str_arg("key"), write=True)
async def cmd_post_summary(daemon: Daemon, req: Request) -> Any:
    summary = req.args["summary"]
    if not isinstance(summary.get("session_id"), str) or not summary["session_id"]:
        raise OpError("bad_args", "argument summary must hold a session_id string")
    key = _key(req) or _summary_key(summary)
    info = daemon.resolve_channel(req.args["channel"])
    content = summary_content(summary, host=daemon.settings.host, agent=AGENT_KIND)
    call = [info.channel.id, content, None, None, MessageType.AgentEvent.name]
    # a live session's summary is posted by its participant (its handle is the sender)
    live = daemon.live
    session = live.participants.get(summary["session_id"]) if live is not None else None
    return await _send_keyed(daemon, req, "post_summary", key, call,
                             caller=session.identity if session is not None else None)


# The live-session ops (participants, inbox, receipts) register themselves on import.
from spacesd.daemon import ops_live  # noqa: E402, F401
