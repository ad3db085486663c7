"""Mutations several reducers share: joining, Join/Leave messages, notifications, cascades."""

from __future__ import annotations

from typing import Final

from spacesd.engine.context import ReducerContext
from spacesd.model import (
    Channel,
    ChannelType,
    Identity,
    MemberRole,
    Message,
    MessageType,
    ServerMember,
    SystemNotification,
)

JOIN_CONTENT: Final = "joined the server"
LEAVE_CONTENT: Final = "left the server"


def name_of(ctx: ReducerContext, identity: Identity) -> str:
    """The identity's username, or `user_<first 8 hex>` if it has no profile."""
    profile = ctx.db.profile(identity)
    return profile.username if profile is not None else f"user_{identity.short()}"


def notify(ctx: ReducerContext, target: Identity, title: str, body: str) -> SystemNotification:
    return ctx.db.insert(SystemNotification(0, target, title, body, ctx.timestamp))


def first_text_channel(ctx: ReducerContext, server_id: int) -> Channel | None:
    """Where Join and Leave messages go: the server's Text channel of lowest position
    (then lowest id)."""
    for channel in ctx.db.channels(server_id):
        if channel.channel_type == ChannelType.Text:
            return channel
    return None


def post_membership_message(ctx: ReducerContext, server_id: int, kind: MessageType) -> None:
    channel = first_text_channel(ctx, server_id)
    if channel is None:
        return
    content = JOIN_CONTENT if kind == MessageType.Join else LEAVE_CONTENT
    ctx.db.insert(Message(0, channel.id, None, ctx.caller, content, kind, ctx.timestamp,
                          None, None))


def join(ctx: ReducerContext, server_id: int, role: MemberRole) -> ServerMember:
    """Make the caller a member with `role` and announce it with a Join message."""
    membership = ctx.db.insert(ServerMember(0, server_id, ctx.caller, role, ctx.timestamp))
    post_membership_message(ctx, server_id, MessageType.Join)
    return membership


def delete_message_cascade(ctx: ReducerContext, message: Message) -> None:
    """Delete a message with its reactions and inbox items."""
    ctx.db.delete_where("reaction", message_id=message.id)
    for item in ctx.db.select("inbox_item", sender=message.sender, message_id=message.id):
        ctx.db.delete_row(item)
    ctx.db.delete_row(message)


def delete_channel_cascade(ctx: ReducerContext, channel: Channel) -> None:
    """Delete a channel with its threads, messages, reactions, read states and typing rows."""
    for message in ctx.db.select("message", channel_id=channel.id):
        delete_message_cascade(ctx, message)
    for thread in ctx.db.select("thread", channel_id=channel.id):
        ctx.db.delete_where("thread_poster", thread_id=thread.id)
    ctx.db.delete_where("thread", channel_id=channel.id)
    ctx.db.delete_where("channel_follow", channel_id=channel.id)
    ctx.db.delete_where("channel_read_state", channel_id=channel.id)
    ctx.db.delete_where("typing_indicator", channel_id=channel.id)
    ctx.db.delete_row(channel)
