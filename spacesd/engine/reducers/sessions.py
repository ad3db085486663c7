"""Live sessions (issue 12): register_session, set_session_state, end_session,
follow_channel, address_sessions, mark_delivered, mark_read. The inbox rules of new messages
are in `spacesd/engine/inbox.py`."""

from __future__ import annotations

import dataclasses

from spacesd.engine import auth, errors, inbox
from spacesd.engine.context import ReducerContext
from spacesd.engine.context import reducer as register
from spacesd.engine.errors import ReducerError
from spacesd.engine.reducers import tasks
from spacesd.model import (
    AgentKind,
    ChannelFollow,
    DeliveryState,
    Identity,
    InboxItem,
    InboxKind,
    SessionInfo,
    SessionState,
)

PROJECT_MAX = 256
LABEL_MAX = 64
BRANCH_MAX = 256


@register("register_session")
def register_session(ctx: ReducerContext, agent: AgentKind, machine: Identity, project: str,
                     project_label: str, branch: str | None, can_wake: bool) -> None:
    """Agent profiles only; the caller's own row, created Idle or refreshed (a resumed
    session: an Ended one is Idle again, started_at kept)."""
    profile = auth.require_profile(ctx)
    if not profile.is_agent:
        raise ReducerError(errors.SESSION_AGENTS_ONLY)
    if not (1 <= len(project) <= PROJECT_MAX and 1 <= len(project_label) <= LABEL_MAX
            and (branch is None or len(branch) <= BRANCH_MAX)):
        raise ReducerError(errors.SESSION_PROJECT_INVALID)
    old: SessionInfo | None = ctx.db.get("session_info", ctx.caller)
    if old is None:
        ctx.db.insert(SessionInfo(ctx.caller, machine, agent, project, project_label, branch,
                                  can_wake, SessionState.Idle, ctx.timestamp, ctx.timestamp,
                                  None))
        return
    state = SessionState.Idle if old.state == SessionState.Ended else old.state
    ctx.db.update(dataclasses.replace(
        old, machine=machine, agent=agent, project=project, project_label=project_label,
        branch=branch, can_wake=can_wake, state=state,
        state_at=ctx.timestamp if state != old.state else old.state_at, ended_at=None))


def _set_state(ctx: ReducerContext, info: SessionInfo, state: SessionState) -> None:
    if info.state == state:
        return
    ctx.db.update(dataclasses.replace(
        info, state=state, state_at=ctx.timestamp,
        ended_at=ctx.timestamp if state == SessionState.Ended else None))
    if state == SessionState.Ended:
        tasks.release_all_of(ctx, info.identity)


@register("set_session_state")
def set_session_state(ctx: ReducerContext, identity: Identity, state: SessionState) -> None:
    """The session itself, or the machine that registered it (a crashed session is ended by
    its daemon)."""
    info: SessionInfo | None = ctx.db.get("session_info", identity)
    if info is None:
        raise ReducerError(errors.SESSION_NOT_FOUND)
    if ctx.caller not in (info.identity, info.machine):
        raise ReducerError(errors.SESSION_STATE_FORBIDDEN)
    _set_state(ctx, info, state)


@register("end_session")
def end_session(ctx: ReducerContext) -> None:
    """The caller's own session becomes Ended."""
    info: SessionInfo | None = ctx.db.get("session_info", ctx.caller)
    if info is None:
        raise ReducerError(errors.SESSION_NOT_FOUND)
    _set_state(ctx, info, SessionState.Ended)


@register("follow_channel")
def follow_channel(ctx: ReducerContext, channel_id: int, follow: bool) -> None:
    """Members of the channel's server; following twice or unfollowing what one does not
    follow changes nothing."""
    channel = auth.channel(ctx, channel_id)
    auth.channel_member(ctx, channel)
    row = ctx.db.select_one("channel_follow", channel_id=channel.id, identity=ctx.caller)
    if follow and row is None:
        ctx.db.insert(ChannelFollow(0, channel.id, ctx.caller))
    elif not follow and row is not None:
        ctx.db.delete_row(row)


@register("address_sessions")
def address_sessions(ctx: ReducerContext, message_id: int, project: str | None,
                     machine: Identity | None, participant: Identity | None,
                     priority: bool) -> None:
    """A person addresses their own message to the live sessions of a project (its
    repository identity or its label), of a machine, or to one participant: each gets an
    Addressed item (an existing item of the message is raised to Addressed and, if asked,
    priority)."""
    profile = auth.require_profile(ctx)
    message = auth.message(ctx, message_id)
    if profile.is_agent:
        raise ReducerError(errors.ADDRESS_PEOPLE_ONLY)
    if message.sender != ctx.caller:
        raise ReducerError(errors.ADDRESS_OWN_MESSAGE)
    if project is None and machine is None and participant is None:
        raise ReducerError(errors.ADDRESS_NO_TARGET)
    for info in ctx.db.rows("session_info"):
        if info.state == SessionState.Ended or info.identity == ctx.caller:
            continue
        if not ((project is not None and project in (info.project, info.project_label))
                or (machine is not None and machine == info.machine)
                or (participant is not None and participant == info.identity)):
            continue
        old: InboxItem | None = ctx.db.select_one(
            "inbox_item", recipient=info.identity, message_id=message.id)
        if old is None:
            inbox.queue(ctx, info.identity, InboxKind.Addressed, channel_id=message.channel_id,
                        message_id=message.id, priority=priority)
        elif old.kind in (InboxKind.Reply, InboxKind.Thread, InboxKind.Channel) or (
                priority and not old.priority):
            kind = InboxKind.Addressed if old.kind != InboxKind.Mention else old.kind
            ctx.db.update(dataclasses.replace(old, kind=kind, priority=old.priority or priority))


def _own_item(ctx: ReducerContext, item_id: int) -> InboxItem:
    item: InboxItem | None = ctx.db.get("inbox_item", item_id)
    if item is None:
        raise ReducerError(errors.INBOX_ITEM_NOT_FOUND)
    if item.recipient != ctx.caller:
        raise ReducerError(errors.INBOX_ITEM_NOT_YOURS)
    return item


@register("mark_delivered")
def mark_delivered(ctx: ReducerContext, id: int) -> None:
    """The recipient, after its hook flushed the item into the session; a Delivered or Read
    item stays as it is (retries are safe)."""
    inbox.mark(ctx, _own_item(ctx, id), DeliveryState.Delivered)


@register("mark_read")
def mark_read(ctx: ReducerContext, id: int) -> None:
    """The recipient; Read fills delivered_at when it was never marked delivered."""
    inbox.mark(ctx, _own_item(ctx, id), DeliveryState.Read)
