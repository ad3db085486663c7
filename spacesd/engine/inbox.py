"""The inbox rules of live sessions (issue 12), shared by the reducers that write messages.

Who gets an item for a new message (only live participants: a `session_info` row not Ended;
never the sender): `@handle` mentions (Text messages, members of the server), the sender of
the message replied to, every participant that posted in the thread, every follower of the
channel. One item per recipient, of the strongest kind (`model.INBOX_KIND_RANK`), in the order
the recipients were first found (mentions in content order, the replied-to sender, thread
posters and followers by row id). A DM gives its other participant a `Dm` item. A new task
gives every follower of its channel a `Task` item, and a task reassigned to a participant gives
it one (`on_task`).

Read implied: a participant that replies to a message, posts in its thread, reacts to it,
sends in or marks read a DM conversation, or marks a channel read past it, has its items for
it moved to Read (delivered_at filled if missing). States never move backwards.

The Rust module (`module/src/reducers/inbox.rs`) applies the same rules in the same order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from spacesd.engine import validation
from spacesd.engine.context import ReducerContext
from spacesd.model import (
    INBOX_KIND_RANK,
    Channel,
    DeliveryState,
    DirectConversation,
    DirectMessage,
    Identity,
    InboxItem,
    InboxKind,
    Message,
    MessageType,
    SessionState,
    Task,
    ThreadPoster,
)


def is_live(ctx: ReducerContext, identity: Identity) -> bool:
    info = ctx.db.get("session_info", identity)
    return info is not None and info.state != SessionState.Ended


class Recipients:
    """Recipients in first-found order, each with its strongest kind."""

    def __init__(self, ctx: ReducerContext) -> None:
        self.ctx = ctx
        self.order: list[Identity] = []
        self.kinds: dict[Identity, InboxKind] = {}

    def add(self, identity: Identity, kind: InboxKind) -> None:
        if identity == self.ctx.caller or not is_live(self.ctx, identity):
            return
        old = self.kinds.get(identity)
        if old is None:
            self.order.append(identity)
            self.kinds[identity] = kind
        elif INBOX_KIND_RANK[kind] < INBOX_KIND_RANK[old]:
            self.kinds[identity] = kind


def queue(ctx: ReducerContext, recipient: Identity, kind: InboxKind, *,
          channel_id: int | None = None, message_id: int | None = None,
          dm_id: int | None = None, priority: bool = False,
          task_id: int | None = None) -> InboxItem:
    return ctx.db.insert(InboxItem(0, recipient, ctx.caller, kind, channel_id, message_id,
                                   dm_id, task_id, priority, DeliveryState.Queued,
                                   ctx.timestamp, None, None))


def on_task(ctx: ReducerContext, task: Task, assignee: Identity | None = None) -> None:
    """The Task items of a task: to `assignee` (a reassignment), else to every follower of
    its channel (a new task). Live participants only, never the caller."""
    found = Recipients(ctx)
    if assignee is not None:
        found.add(assignee, InboxKind.Task)
    else:
        for follow in ctx.db.select("channel_follow", channel_id=task.channel_id):
            found.add(follow.identity, InboxKind.Task)
    for recipient in found.order:
        queue(ctx, recipient, InboxKind.Task, channel_id=task.channel_id,
              message_id=task.message_id, task_id=task.id)


def on_message(ctx: ReducerContext, channel: Channel, message: Message) -> None:
    """The items of a new channel message, then the sender's own items it reads."""
    found = Recipients(ctx)
    if message.message_type == MessageType.Text:
        for username in validation.mentions(message.content):
            profile = ctx.db.profile_by_username(username)
            if profile is not None and ctx.db.member(channel.server_id,
                                                     profile.identity) is not None:
                found.add(profile.identity, InboxKind.Mention)
    if message.reply_to_id is not None:
        replied = ctx.db.message(message.reply_to_id)
        if replied is not None:
            found.add(replied.sender, InboxKind.Reply)
    if message.thread_id is not None:
        for poster in ctx.db.select("thread_poster", thread_id=message.thread_id):
            found.add(poster.identity, InboxKind.Thread)
    for follow in ctx.db.select("channel_follow", channel_id=channel.id):
        found.add(follow.identity, InboxKind.Channel)
    for recipient in found.order:
        queue(ctx, recipient, found.kinds[recipient], channel_id=channel.id,
              message_id=message.id)
    if message.thread_id is not None and is_live(ctx, ctx.caller) and ctx.db.select_one(
            "thread_poster", thread_id=message.thread_id, identity=ctx.caller) is None:
        ctx.db.insert(ThreadPoster(0, message.thread_id, ctx.caller))
    thread_id = message.thread_id
    reply_to = message.reply_to_id
    read_where(ctx, lambda item: item.message_id is not None and (
        item.message_id == reply_to or (thread_id is not None and _in_thread(
            ctx, item.message_id, thread_id))))


def _in_thread(ctx: ReducerContext, message_id: int, thread_id: int) -> bool:
    found = ctx.db.message(message_id)
    return found is not None and found.thread_id == thread_id


def on_dm(ctx: ReducerContext, conversation: DirectConversation, dm: DirectMessage) -> None:
    """The other participant's Dm item, then the sender's items of this conversation read."""
    other = (conversation.participant_b if conversation.participant_a == ctx.caller
             else conversation.participant_a)
    found = Recipients(ctx)
    found.add(other, InboxKind.Dm)
    for recipient in found.order:
        queue(ctx, recipient, InboxKind.Dm, dm_id=dm.id)
    read_conversation(ctx, conversation.id)


def read_conversation(ctx: ReducerContext, conversation_id: int) -> None:
    read_where(ctx, lambda item: item.dm_id is not None and _in_conversation(
        ctx, item.dm_id, conversation_id))


def _in_conversation(ctx: ReducerContext, dm_id: int, conversation_id: int) -> bool:
    found = ctx.db.get("direct_message", dm_id)
    return found is not None and found.conversation_id == conversation_id


def read_where(ctx: ReducerContext, matches: Callable[[InboxItem], bool]) -> None:
    """The caller's unread items that `matches` accepts become Read."""
    for item in ctx.db.select("inbox_item", recipient=ctx.caller):
        if item.state != DeliveryState.Read and matches(item):
            mark(ctx, item, DeliveryState.Read)


def mark(ctx: ReducerContext, item: InboxItem, state: DeliveryState) -> None:
    """Move an item forward to `state` (never backwards); Read fills delivered_at too."""
    if item.state >= state:
        return
    delivered = item.delivered_at if item.delivered_at is not None else ctx.timestamp
    ctx.db.update(dataclasses.replace(
        item, state=state, delivered_at=delivered,
        read_at=ctx.timestamp if state == DeliveryState.Read else item.read_at))

