"""Tasks: create_task, claim_task, renew_task, complete_task, fail_task, release_task,
cancel_task, reassign_task, release_all; and the expiry rule (`sweep`, `release_all_of`).

Rules (the same in `module/src/reducers/tasks.rs`):
- any member of the channel's server creates a task (agents included: orchestrators are
  agents); a subtask names its parent, in the same channel;
- claim: a member, when the task is Open or its claim has expired; the claim lasts ttl_secs;
- renew, complete, fail, release: the holder of an unexpired claim;
- cancel and reassign: the task's creator, or a Moderator+ of its server (agents hold no role
  above Agent, so an agent only ever manages the tasks it created); cancel also cancels the
  open or claimed subtasks; reassign gives the claim to a member of the server;
- a claim whose lease_expires is at or before the transaction's timestamp is no claim: the
  engine releases it at the start of every transaction (`sweep`), SpacetimeDB by a scheduled
  reducer, and every write treats it as free either way.
"""

from __future__ import annotations

import dataclasses

from spacesd.engine import auth, errors, inbox, patterns, validation
from spacesd.engine.context import ReducerContext
from spacesd.engine.context import reducer as register
from spacesd.engine.errors import ReducerError
from spacesd.model import Identity, PathLease, Task, TaskState

SECOND = 1_000_000
OPEN_STATES = (TaskState.Open, TaskState.Claimed)


def holder_text(ctx: ReducerContext, identity: Identity) -> str:
    """`@username` of a holder (the short hex if it has no profile)."""
    profile = ctx.db.profile(identity)
    return f"@{profile.username}" if profile is not None else identity.short()


def released(task: Task, now: int) -> Task:
    return dataclasses.replace(task, state=TaskState.Open, assignee=None, claimed_at=None,
                               lease_expires=None, updated_at=now)


def sweep(ctx: ReducerContext) -> None:
    """Release every claim and drop every lease that has expired at ctx.timestamp: the row
    changes SpacetimeDB's scheduled `expire` makes."""
    for task in ctx.db.expired_claims(ctx.timestamp):
        ctx.db.update(released(task, ctx.timestamp))
    for lease in ctx.db.expired_leases(ctx.timestamp):
        ctx.db.delete_row(lease)


def release_all_of(ctx: ReducerContext, identity: Identity) -> None:
    """Release the claims and drop the leases `identity` holds (a session that ends)."""
    for task in ctx.db.select("task", state=TaskState.Claimed, assignee=identity):
        ctx.db.update(released(task, ctx.timestamp))
    lease: PathLease
    for lease in ctx.db.select("path_lease", holder=identity):
        ctx.db.delete_row(lease)


def task(ctx: ReducerContext, task_id: int) -> Task:
    found: Task | None = ctx.db.get("task", task_id)
    if found is None:
        raise ReducerError(errors.TASK_NOT_FOUND)
    return found


def held(task_row: Task, now: int) -> bool:
    return (task_row.state == TaskState.Claimed and task_row.lease_expires is not None
            and task_row.lease_expires > now)


def require_holder(ctx: ReducerContext, task_row: Task) -> None:
    if task_row.state not in OPEN_STATES:
        raise ReducerError(errors.TASK_CLOSED)
    if not held(task_row, ctx.timestamp) or task_row.assignee != ctx.caller:
        raise ReducerError(errors.NOT_TASK_HOLDER)


@register("create_task")
def create_task(ctx: ReducerContext, channel_id: int, title: str, body: str,
                parent_id: int | None, message_id: int | None) -> None:
    """Checks: channel, parent task, message exist; membership; parent and message in this
    channel; title, body."""
    channel = auth.channel(ctx, channel_id)
    parent: Task | None = ctx.db.get("task", parent_id) if parent_id is not None else None
    if parent_id is not None and parent is None:
        raise ReducerError(errors.PARENT_TASK_NOT_FOUND)
    message = auth.message(ctx, message_id) if message_id is not None else None
    auth.channel_member(ctx, channel)
    if parent is not None and parent.channel_id != channel.id:
        raise ReducerError(errors.SUBTASK_OTHER_CHANNEL)
    if message is not None and message.channel_id != channel.id:
        raise ReducerError(errors.TASK_MESSAGE_OTHER_CHANNEL)
    validation.task_title(title)
    validation.task_body(body)
    now = ctx.timestamp
    inbox.on_task(ctx, ctx.db.insert(Task(0, channel.id, message_id, parent_id, title, body,
                                          TaskState.Open, ctx.caller, None, now, None, None,
                                          None, now)))


def _member_of_task_server(ctx: ReducerContext, task_row: Task) -> int:
    channel = auth.channel(ctx, task_row.channel_id)
    return auth.level(auth.channel_member(ctx, channel))


@register("claim_task")
def claim_task(ctx: ReducerContext, task_id: int, ttl_secs: int) -> None:
    """Any member, when the task is Open or its claim has expired. Of any number of concurrent
    claimers exactly one wins (reducers run one at a time); the others are told who holds it."""
    task_row = task(ctx, task_id)
    _member_of_task_server(ctx, task_row)
    if task_row.state not in OPEN_STATES:
        raise ReducerError(errors.TASK_CLOSED)
    if held(task_row, ctx.timestamp):
        assert task_row.assignee is not None and task_row.lease_expires is not None
        if task_row.assignee == ctx.caller:
            raise ReducerError(errors.TASK_ALREADY_YOURS)
        raise ReducerError(errors.fill(
            errors.TASK_CLAIMED, task=task_row.id, holder=holder_text(ctx, task_row.assignee),
            until=patterns.until_text(task_row.lease_expires)))
    validation.ttl_secs(ttl_secs)
    now = ctx.timestamp
    ctx.db.update(dataclasses.replace(task_row, state=TaskState.Claimed, assignee=ctx.caller,
                                      claimed_at=now, lease_expires=now + ttl_secs * SECOND,
                                      updated_at=now))


@register("renew_task")
def renew_task(ctx: ReducerContext, task_id: int, ttl_secs: int) -> None:
    """The holder: the claim now ends ttl_secs from now."""
    task_row = task(ctx, task_id)
    _member_of_task_server(ctx, task_row)
    require_holder(ctx, task_row)
    validation.ttl_secs(ttl_secs)
    now = ctx.timestamp
    ctx.db.update(dataclasses.replace(task_row, lease_expires=now + ttl_secs * SECOND,
                                      updated_at=now))


def _finish(ctx: ReducerContext, task_id: int, result: str, state: TaskState) -> None:
    task_row = task(ctx, task_id)
    _member_of_task_server(ctx, task_row)
    require_holder(ctx, task_row)
    validation.task_result(result)
    ctx.db.update(dataclasses.replace(task_row, state=state, lease_expires=None, result=result,
                                      updated_at=ctx.timestamp))


@register("complete_task")
def complete_task(ctx: ReducerContext, task_id: int, result: str) -> None:
    """The holder: Done, with the result; the assignee stays as who did it."""
    _finish(ctx, task_id, result, TaskState.Done)


@register("fail_task")
def fail_task(ctx: ReducerContext, task_id: int, result: str) -> None:
    """The holder: Failed, with the reason as the result."""
    _finish(ctx, task_id, result, TaskState.Failed)


@register("release_task")
def release_task(ctx: ReducerContext, task_id: int) -> None:
    """The holder gives the task back: Open again."""
    task_row = task(ctx, task_id)
    _member_of_task_server(ctx, task_row)
    require_holder(ctx, task_row)
    ctx.db.update(released(task_row, ctx.timestamp))


def _managed(ctx: ReducerContext, task_id: int) -> Task:
    task_row = task(ctx, task_id)
    level = _member_of_task_server(ctx, task_row)
    if task_row.creator != ctx.caller and level < auth.MODERATOR:
        raise ReducerError(errors.TASK_MANAGE_FORBIDDEN)
    if task_row.state not in OPEN_STATES:
        raise ReducerError(errors.TASK_CLOSED)
    return task_row


@register("cancel_task")
def cancel_task(ctx: ReducerContext, task_id: int) -> None:
    """The creator or a Moderator+: Cancelled, with its open or claimed subtasks."""
    task_row = _managed(ctx, task_id)
    now = ctx.timestamp
    for row in [task_row, *ctx.db.select("task", parent_id=task_row.id)]:
        if row.state in OPEN_STATES:
            ctx.db.update(dataclasses.replace(row, state=TaskState.Cancelled, lease_expires=None,
                                              updated_at=now))


@register("reassign_task")
def reassign_task(ctx: ReducerContext, task_id: int, identity: Identity, ttl_secs: int) -> None:
    """The creator or a Moderator+ gives the claim to a member of the server."""
    task_row = _managed(ctx, task_id)
    channel = auth.channel(ctx, task_row.channel_id)
    if ctx.db.member(channel.server_id, identity) is None:
        raise ReducerError(errors.TARGET_NOT_A_MEMBER)
    validation.ttl_secs(ttl_secs)
    now = ctx.timestamp
    ctx.db.update(dataclasses.replace(task_row, state=TaskState.Claimed, assignee=identity,
                                      claimed_at=now, lease_expires=now + ttl_secs * SECOND,
                                      updated_at=now))
    inbox.on_task(ctx, task_row, identity)


@register("release_all")
def release_all(ctx: ReducerContext) -> None:
    """The caller's claims are released and its leases dropped (a session ending)."""
    release_all_of(ctx, ctx.caller)
