"""The ops of live sessions (docs/protocol.md, "Live sessions"): session_event,
inbox_claim, inbox_ack, inbox, wait, receipts, post, who, follow, address. Registered on
import (spacesd.daemon.ops imports this module)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import TYPE_CHECKING, Any

from spacesd import idem
from spacesd.daemon import live_views, views
from spacesd.daemon.backend import BackendError
from spacesd.daemon.errors import OpError
from spacesd.daemon.live import Waiter
from spacesd.daemon.participants import (
    AGENTS,
    SESSION_RE,
    Participant,
    handle_candidates,
    new_participant,
    project_of,
)
from spacesd.daemon.registry import Arg, Request, channel_arg, int_arg, op, str_arg
from spacesd.ipc import parse_ref
from spacesd.live.render import DEFAULT_BUDGET, render
from spacesd.model import (
    DirectMessage,
    Identity,
    InboxKind,
    Message,
    MessageType,
    SessionInfo,
    SessionState,
    write_key_of,
)
from spacesd.store import Changes

if TYPE_CHECKING:
    from spacesd.daemon.server import Daemon

WAIT_MAX_S = 600
TURN_END_KINDS = frozenset({InboxKind.Dm, InboxKind.Mention, InboxKind.Addressed})
"""What a turn-end (`stop`) claim may carry: it keeps a finished turn going, so only what is
addressed to the session (or a priority message), never channel or thread traffic
(docs/live-coordination.md 5.1: agents must not keep each other running)."""

_STATES: dict[str, SessionState] = {
    "UserPromptSubmit": SessionState.Working, "BeforeAgent": SessionState.Working,
    "PermissionRequest": SessionState.WaitingForInput,
    "Stop": SessionState.Idle, "AfterAgent": SessionState.Idle,
    "SessionEnd": SessionState.Ended,
}
_WAITING_NOTIFICATIONS = frozenset({"permission_prompt", "elicitation_dialog",
                                    "agent_needs_input", "ToolPermission"})


def state_for(event: str, notification_type: str | None) -> SessionState | None:
    """The presence a client's hook event means (docs/live-coordination.md section 3)."""
    if event == "Notification":
        if notification_type in _WAITING_NOTIFICATIONS:
            return SessionState.WaitingForInput
        return SessionState.Idle if notification_type == "idle_prompt" else None
    return _STATES.get(event)


def session_arg(required: bool = True) -> Arg:
    return str_arg("session", required=required)


def _session_id(value: str) -> str:
    if not SESSION_RE.fullmatch(value):
        raise OpError("bad_args", "argument session must be 1-64 characters of A-Z, a-z, 0-9, "
                      "_ and -")
    return value


def participant(daemon: Daemon, session: str | None) -> Participant | None:
    """The calling session's participant (None: no session given, act as the daemon)."""
    if session is None:
        return None
    found = daemon.require_live().participants.get(_session_id(session))
    if found is None:
        raise OpError("not_found", f"no such session: {session} (its hooks register it; "
                      "is Spaces installed for this agent?)")
    return found


async def call(daemon: Daemon, reducer: str, args: list[Any], p: Participant | None = None
               ) -> Changes:
    """One write, as the participant `p` (opened first) or the daemon, through
    Backend.call (and so through whatever gates it)."""
    try:
        if p is not None:
            await daemon.open_participant(p)
        return await daemon.backend.call(reducer, args, caller=p.identity if p else None)
    except BackendError as e:
        raise OpError(e.code, e.message) from None


async def as_person(daemon: Daemon, reducer: str, args: list[Any]) -> Changes:
    """A write by the human owner of this machine (embedded: the local owner identity; the
    SpacetimeDB backend has none and refuses). The caller checked the owner passphrase first
    (`daemon.check_owner`, docs/roles.md: the one check of a person's authority)."""
    try:
        return await daemon.backend.call_as_owner(reducer, args)
    except BackendError as e:
        raise OpError(e.code, e.message) from None


# --------------------------------------------------------------------------------------------
# Participants


async def _register(daemon: Daemon, p: Participant, can_wake: bool) -> None:
    """The participant's profile (its handle, grown when taken) and session_info row."""
    await daemon.open_participant(p)
    store = daemon.backend.store
    profile = store.profile(p.identity)
    if profile is None or profile.username != p.handle or not profile.is_agent:
        last: OpError | None = None
        for handle in handle_candidates(p.project_label, p.agent, p.session):
            try:
                await call(daemon, "register_user", [handle, p.display_name, True], p)
            except OpError as e:
                last = e
                if "taken" in e.message:
                    continue
                raise
            if handle != p.handle:
                p.handle = handle
                daemon.require_live().participants.save(p)
            break
        else:
            assert last is not None
            raise last
    await call(daemon, "register_session", [
        AGENTS[p.agent].name, daemon.backend.identity.hex, p.project, p.project_label,
        p.branch, can_wake], p)


@op("session_event", session_arg(), str_arg("agent"), str_arg("event", ""),
    str_arg("notification_type"), str_arg("cwd", ""), int_arg("pid"), str_arg("branch"),
    Arg("can_wake", (bool,), "true or false", False))
async def cmd_session_event(daemon: Daemon, req: Request) -> Any:
    live = daemon.require_live()
    session = _session_id(req.args["session"])
    p = live.participants.get(session)
    event = req.args["event"] or ""
    store = daemon.backend.store
    fresh = p is None
    if p is None:
        agent = req.args["agent"]
        if agent not in AGENTS:
            raise OpError("bad_args", "argument agent must be one of " + ", ".join(AGENTS))
        project = await project_of(req.args["cwd"] or ".")
        try:
            identity, token = await daemon.backend.mint_participant()
        except BackendError as e:
            raise OpError(e.code, e.message) from None
        p = new_participant(session, agent, identity, token, project)
        live.participants.save(p)  # before registering: a crash keeps the identity
    if req.args["pid"] is not None and req.args["pid"] != p.pid:
        p.pid = req.args["pid"]
        live.participants.save(p)
    if req.args["branch"] and req.args["branch"] != p.branch:
        p.branch = req.args["branch"][:256]
    info: SessionInfo | None = store.get("session_info", p.identity)
    if fresh or info is None or event == "SessionStart":
        await _register(daemon, p, bool(req.args["can_wake"]))
    state = state_for(event, req.args["notification_type"])
    info = store.get("session_info", p.identity)
    if state is not None and (info is None or info.state != state):
        if state == SessionState.Ended:
            await call(daemon, "end_session", [], p)
        else:
            await call(daemon, "set_session_state", [p.identity.hex, state.name], p)
    if state in (SessionState.Working, SessionState.Ended):  # a turn began, or it is over
        live.wake(session, {"cancel": True})
    live.follow_leases(p, ended=state == SessionState.Ended)
    info = store.get("session_info", p.identity)
    return {"participant": {"handle": "@" + p.handle, "identity": p.identity.hex,
                            "agent": p.agent, "session": p.session, "project": p.project_label,
                            "state": info.state.name if info is not None else None},
            "state": state.name if state is not None else None}


# --------------------------------------------------------------------------------------------
# Claim, ack, inbox, wait


@op("inbox_claim", session_arg(), str_arg("point", ""),
    int_arg("budget", DEFAULT_BUDGET, lo=200, hi=20_000), str_arg("transcript"))
def cmd_inbox_claim(daemon: Daemon, req: Request) -> Any:
    live = daemon.require_live()
    empty: dict[str, Any] = {"claim": None, "text": "", "ids": [], "nonce": None, "priority": False}
    session = _session_id(req.args["session"])
    live.apply_spooled_acks()
    p = live.participants.get(session)
    if p is None:
        return empty
    if live.claimed_ids(session):
        return empty  # another hook of this session holds the items: it delivers them
    items = live.queued(p)
    if not items:
        live.refresh_marker(p)
        return empty
    if req.args["point"] == "stop":
        items = [i for i in items if i.priority or i.kind in TURN_END_KINDS]
        if not items:
            return empty
    store = daemon.backend.store
    claim_nonce = live.new_claim(session, [])
    rendered = render([live_views.render_item(store, i) for i in items], req.args["budget"],
                      claim_nonce.nonce)
    if not rendered.ids:
        del live.claims[claim_nonce.id]
        return empty
    claim_nonce.ids = rendered.ids
    transcript = req.args["transcript"]
    if transcript and os.path.isabs(transcript):  # Gemini's: checked if the claim lapses
        claim_nonce.transcript = transcript
        claim_nonce.headers = [
            line for line in rendered.text.splitlines()
            if line.startswith(f"--- {claim_nonce.nonce} ") and not line.endswith(" end ---")]
    priority = any(i.priority for i in items if i.id in set(rendered.ids))
    return {"claim": claim_nonce.id, "text": rendered.text, "ids": rendered.ids,
            "nonce": claim_nonce.nonce, "priority": priority}


@op("inbox_ack", str_arg("claim", required=True), session_arg(),
    Arg("ids", (list,), "a list of item ids", []))
def cmd_inbox_ack(daemon: Daemon, req: Request) -> Any:
    live = daemon.require_live()
    p = live.participants.get(_session_id(req.args["session"]))
    if p is None:
        raise OpError("not_found", f"no such session: {req.args['session']}")
    ids = req.args["ids"]
    if any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        raise OpError("bad_args", "argument ids must be a list of item ids")
    return {"acked": live.ack(p, req.args["claim"], ids)}


@op("inbox", session_arg(), Arg("all", (bool,), "true or false", False),
    int_arg("limit", 50, lo=1, hi=500), Arg("read", (list,), "a list of item ids", []))
async def cmd_inbox(daemon: Daemon, req: Request) -> Any:
    p = participant(daemon, req.args["session"])
    assert p is not None
    for item_id in req.args["read"]:
        if isinstance(item_id, bool) or not isinstance(item_id, int):
            raise OpError("bad_args", "argument read must be a list of item ids")
        await call(daemon, "mark_read", [item_id], p)
    store = daemon.backend.store
    if req.args["all"]:
        rows = store.select("inbox_item", recipient=p.identity, order_by="-id",
                            limit=req.args["limit"])
        rows.reverse()
    else:  # pending: Queued and not delivered by a hook of this machine
        rows = daemon.require_live().queued(p)[:req.args["limit"]]
    return {"items": [live_views.item_object(store, r) for r in rows],
            "receipts": live_views.receipts_of(store, p.identity, 20)}


@op("wait", session_arg(), int_arg("timeout", 60, lo=0, hi=WAIT_MAX_S))
async def cmd_wait(daemon: Daemon, req: Request) -> Any:
    live = daemon.require_live()
    p = participant(daemon, req.args["session"])
    assert p is not None
    pending = len(live.queued(p))
    if pending:
        return {"pending": pending}
    live.wake(p.session, {"cancel": True})  # a newer waiter replaces the older
    waiter = Waiter()
    live.waiters[p.session] = waiter
    try:
        return await asyncio.wait_for(asyncio.shield(waiter.future), req.args["timeout"])
    except asyncio.TimeoutError:
        return {"timeout": True}
    finally:
        if live.waiters.get(p.session) is waiter:
            del live.waiters[p.session]


@op("receipts", session_arg(required=False), int_arg("message_id"),
    int_arg("limit", 20, lo=1, hi=500))
def cmd_receipts(daemon: Daemon, req: Request) -> Any:
    p = participant(daemon, req.args["session"])
    sender = p.identity if p is not None else daemon.backend.identity
    store = daemon.backend.store
    if req.args["message_id"] is not None:
        return live_views.receipts_of_message(store, sender, req.args["message_id"])
    return live_views.receipts_of(store, sender, req.args["limit"])


# --------------------------------------------------------------------------------------------
# Writing as a session: post (channel, reply, DM), follow; who


SEEN_TIMEOUT_S = 10.0


async def _call_seen(daemon: Daemon, reducer: str, args: list[Any], p: Participant | None,
                     sender: Identity | None, person: bool = False) -> Changes:
    """`call`, then the changes that hold the caller's new message: the call's own (the
    embedded engine, the daemon's connection) or, for a participant's or the person's
    connection (which subscribe to no messages), the daemon's subscription's, awaited on the
    change feed. person: the write is the owner's (`as_person`; passphrase checked)."""
    seen: list[Changes] = []
    arrived = asyncio.Event()

    def me() -> Identity | None:
        return daemon.backend.person_identity if person else sender

    def on_changes(changes: Changes) -> None:
        if _written_by(changes, me()):
            seen.append(changes)
            arrived.set()

    unsubscribe = daemon.backend.add_listener(on_changes)
    try:
        changes = await (as_person(daemon, reducer, args) if person
                         else call(daemon, reducer, args, p))
        if _written_by(changes, me()):
            return changes
        if (changes.inserted("direct_message") or (p is None and not person)
                or daemon.backend.name == "embedded"):
            return changes  # (a repeated key commits nothing: nothing to wait for)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(arrived.wait(), SEEN_TIMEOUT_S)
        return seen[0] if seen else changes
    finally:
        unsubscribe()


def _written_by(changes: Changes, sender: Identity | None) -> list[Message]:
    """The messages `sender` wrote in `changes` (not the Join/Leave lines the module posts
    for it when its connection opens: the person's first owner call opens one)."""
    return [m for m in views.inserted_messages(changes) if m.sender == sender
            and m.message_type not in (MessageType.Join, MessageType.Leave)]


def _sent(daemon: Daemon, changes: Changes, sender: Identity) -> dict[str, Any]:
    store = daemon.backend.store
    for msg in views.inserted_messages(changes):
        if msg.sender == sender:
            out = views.message_object(store, msg)
            out["receipts"] = live_views.receipts_of_message(store, sender, msg.id)
            return out
    for dm in changes.inserted("direct_message"):
        if dm.sender == sender:
            return {"dm": True, "id": dm.id, "conversation_id": dm.conversation_id,
                    "receipts": [live_views.receipt(store, i) for i in
                                 changes.inserted("inbox_item") if i.dm_id == dm.id]}
    return {"committed": True}


async def _dm(daemon: Daemon, p: Participant | None, name: str, text: str,
              key: str) -> dict[str, Any]:
    """A DM to @name as the session (or the daemon), under the write key `key`
    (`send_dm_keyed`: a retry with the same key never makes a second DM)."""
    store = daemon.backend.store
    daemon.require_cache()
    profile = store.profile_by_username(name)
    if profile is None:
        raise OpError("not_found", f"no such participant: @{name}")
    me = daemon.backend.identity if p is None else p.identity
    await call(daemon, "start_dm", [profile.identity.hex], p)
    conv = store.conversation_between(me, profile.identity)
    if conv is None:
        raise OpError("internal", "the conversation was started but is not in the store")
    changes = await call(daemon, "send_dm_keyed", [key, conv.id, text], p)
    if any(dm.sender == me for dm in changes.inserted("direct_message")):
        return _sent(daemon, changes, me)
    # the key was used before: the first call's DM (where this cache holds its key row)
    first = store.write_key(write_key_of(me, key))
    dm = store.get("direct_message", first.row_id) if first is not None else None
    if isinstance(dm, DirectMessage):
        return {"dm": True, "duplicate": True, "id": dm.id, "conversation_id": dm.conversation_id,
                "receipts": [live_views.receipt(store, i) for i in store.rows("inbox_item")
                             if i.dm_id == dm.id]}
    return {"dm": True, "duplicate": True, "conversation_id": conv.id}


def _post_key(req: Request) -> str:
    """The idempotency key of a channel message (docs/idempotency.md): the client's, or a
    fresh one (a retry of this very request inside the daemon cannot double it)."""
    key: str | None = req.args["key"]
    if key is None:
        return idem.new_key("post")
    if not idem.valid_key(key):
        raise OpError("bad_args", "argument key must be 1-128 printable ASCII characters "
                      "without spaces")
    return key


@op("post", session_arg(required=False), str_arg("to", required=True),
    str_arg("text", required=True), int_arg("thread_id"), str_arg("key"))
async def cmd_post(daemon: Daemon, req: Request) -> Any:
    p = participant(daemon, req.args["session"])
    to, text = req.args["to"].strip(), req.args["text"]
    me = daemon.backend.identity if p is None else p.identity
    if to.startswith("@"):
        return await _dm(daemon, p, to[1:], text, _post_key(req))
    reply_to: int | None = None
    thread_id = req.args["thread_id"]
    if to.startswith("reply:"):
        ref = parse_ref(to[len("reply:"):])
        replied = daemon.backend.store.message(ref) if isinstance(ref, int) else None
        if replied is None:
            daemon.require_cache()
            raise OpError("not_found", f"no such message: {to[len('reply:'):]}")
        channel_id, reply_to = replied.channel_id, replied.id
        thread_id = thread_id if thread_id is not None else replied.thread_id
    else:
        channel_id = daemon.resolve_channel(to).channel.id
    changes = await _call_seen(daemon, "send_message_keyed",
                               [_post_key(req), channel_id, text, thread_id, reply_to, "Text"],
                               p, me)
    return _sent(daemon, changes, me)


@op("follow", session_arg(), channel_arg(), Arg("follow", (bool,), "true or false", True))
async def cmd_follow(daemon: Daemon, req: Request) -> Any:
    p = participant(daemon, req.args["session"])
    info = daemon.resolve_channel(req.args["channel"])
    await call(daemon, "follow_channel", [info.channel.id, req.args["follow"]], p)
    return {"channel": info.channel.id, "following": req.args["follow"]}


@op("who", session_arg(required=False), str_arg("project"),
    Arg("all", (bool,), "true or false", False))
def cmd_who(daemon: Daemon, req: Request) -> Any:
    daemon.require_cache()
    live = daemon.require_live()
    store = daemon.backend.store
    out = []
    for info in store.rows("session_info"):
        if info.state == SessionState.Ended and not req.args["all"]:
            continue
        project = req.args["project"]
        if project is not None and project not in (info.project, info.project_label):
            continue
        mine = live.participants.by_identity.get(info.identity)
        out.append(live_views.who_object(store, info, mine.session if mine else None))
    return out


# --------------------------------------------------------------------------------------------
# People: the human owner addresses sessions


@op("address", str_arg("to", required=True), str_arg("text", required=True),
    Arg("priority", (bool,), "true or false", False), channel_arg(required=False),
    str_arg("owner_passphrase"))
async def cmd_address(daemon: Daemon, req: Request) -> Any:
    """`@handle` (one session), `project:<label or repository>`, or `machine` (every live
    session of this machine): the message is posted in `channel` by the owner and addressed;
    each addressed session gets an Addressed item (priority: first in its next injection)."""
    await daemon.check_owner(req.args["owner_passphrase"])  # a person, not an agent
    return await address(daemon, req.args["to"], req.args["text"], req.args["priority"],
                         req.args["channel"])


async def address(daemon: Daemon, to: str, text: str, priority: bool,
                  channel: int | str | None) -> dict[str, Any]:
    """The `address` op once a person is known to be there: by the owner passphrase on this
    call (the op), or by the web view's session, which the passphrase opened."""
    to = to.strip()
    store = daemon.backend.store
    project: str | None = None
    machine: str | None = None
    target: str | None = None
    if to.startswith("@"):
        profile = store.profile_by_username(to[1:])
        if profile is None:
            daemon.require_cache()
            raise OpError("not_found", f"no such participant: {to}")
        target = profile.identity.hex
    elif to.startswith("project:") and len(to) > len("project:"):
        project = to[len("project:"):]
    elif to == "machine":
        machine = daemon.backend.identity.hex
    else:
        raise OpError("bad_args", "argument to must be @handle, project:<name> or machine")
    info = daemon.resolve_channel(channel)
    changes = await _call_seen(daemon, "send_message_keyed", [
        idem.new_key("address"), info.channel.id, text, None, None, "Text"], None, None,
        person=True)
    msg = next(iter(_written_by(changes, daemon.backend.person_identity)), None)
    if msg is None:
        raise OpError("internal", "the message was committed but not found in the changes")
    await as_person(daemon, "address_sessions", [msg.id, project, machine, target, priority])
    out = views.message_object(store, msg)
    out["receipts"] = live_views.receipts_of_message(store, msg.sender, msg.id)
    out["recipients"] = len(out["receipts"])
    return out
