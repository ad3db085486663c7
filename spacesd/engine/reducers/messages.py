"""send_message, edit_message, delete_message, add_reaction, remove_reaction."""

from __future__ import annotations

import dataclasses
from typing import Final

from spacesd.engine import auth, effects, errors, inbox, validation
from spacesd.engine.context import ReducerContext
from spacesd.engine.context import reducer as register
from spacesd.engine.errors import ReducerError
from spacesd.model import (
    Channel,
    ChannelType,
    Message,
    MessageType,
    Reaction,
    Thread,
)

CLIENT_TYPES: Final = frozenset({MessageType.Text, MessageType.AgentEvent})


def mention_title(sender: str, channel: Channel) -> str:
    return f"{sender} mentioned you in #{channel.name}"


def check_content(message_type: MessageType, content: str) -> None:
    if message_type == MessageType.AgentEvent:
        validation.agent_event_content(content)
    else:
        validation.text_content(content)


@register("send_message")
def send_message(ctx: ReducerContext, channel_id: int, content: str, thread_id: int | None,
                 reply_to_id: int | None, message_type: MessageType) -> None:
    post_message(ctx, channel_id, content, thread_id, reply_to_id, message_type)


def post_message(ctx: ReducerContext, channel_id: int, content: str, thread_id: int | None,
                 reply_to_id: int | None, message_type: MessageType) -> Message:
    """send_message's work; returns the message stored (send_message_keyed keeps its id).
    Members of the channel's server. Checks, in order: channel, thread and replied-to
    message exist; membership; message type (Text or AgentEvent); channel type (Voice takes
    none, Announcement Admin+); thread of this channel and not archived; reply in this channel;
    content. Then: the message, the thread's last_message_at, the sender's typing row cleared,
    and a notification for each @mentioned member (Text messages)."""
    channel = auth.channel(ctx, channel_id)
    thread: Thread | None = None if thread_id is None else auth.thread(ctx, thread_id)
    reply: Message | None = None
    if reply_to_id is not None:
        reply = ctx.db.message(reply_to_id)
        if reply is None:
            raise ReducerError(errors.REPLY_NOT_FOUND)
    membership = auth.channel_member(ctx, channel)
    if message_type not in CLIENT_TYPES:
        raise ReducerError(errors.MESSAGE_TYPE_RESERVED)
    if channel.channel_type == ChannelType.Voice:
        raise ReducerError(errors.VOICE_NO_MESSAGES)
    if channel.channel_type == ChannelType.Announcement:
        auth.require_level(membership, auth.ADMIN, errors.ANNOUNCEMENT_ADMIN_ONLY)
    if thread is not None:
        if thread.channel_id != channel.id:
            raise ReducerError(errors.THREAD_OTHER_CHANNEL)
        if thread.archived:
            raise ReducerError(errors.THREAD_ARCHIVED)
    if reply is not None and reply.channel_id != channel.id:
        raise ReducerError(errors.REPLY_OTHER_CHANNEL)
    check_content(message_type, content)

    message = ctx.db.insert(Message(0, channel.id, thread_id, ctx.caller, content, message_type,
                                    ctx.timestamp, None, reply_to_id))
    if thread is not None:
        ctx.db.update(dataclasses.replace(thread, last_message_at=ctx.timestamp))
    ctx.db.delete_where("typing_indicator", channel_id=channel.id, identity=ctx.caller)
    if message_type == MessageType.Text:
        _notify_mentions(ctx, channel, content)
    inbox.on_message(ctx, channel, message)
    return message


def _notify_mentions(ctx: ReducerContext, channel: Channel, content: str) -> None:
    sender: str | None = None
    for username in validation.mentions(content):
        profile = ctx.db.profile_by_username(username)
        if profile is None or profile.identity == ctx.caller:
            continue
        if ctx.db.member(channel.server_id, profile.identity) is None:
            continue
        if sender is None:
            sender = effects.name_of(ctx, ctx.caller)
        effects.notify(ctx, profile.identity, mention_title(sender, channel), content)


@register("edit_message")
def edit_message(ctx: ReducerContext, message_id: int, content: str) -> None:
    """The sender only (and still a member); System/Join/Leave messages cannot be edited."""
    message = auth.message(ctx, message_id)
    auth.channel_member(ctx, auth.channel(ctx, message.channel_id))
    if message.sender != ctx.caller:
        raise ReducerError(errors.EDIT_FORBIDDEN)
    if message.message_type not in CLIENT_TYPES:
        raise ReducerError(errors.EDIT_RESERVED_TYPE)
    check_content(message.message_type, content)
    ctx.db.update(dataclasses.replace(message, content=content, edited_at=ctx.timestamp))


@register("delete_message")
def delete_message(ctx: ReducerContext, message_id: int) -> None:
    """The sender or a Moderator+ of the server; its reactions go with it."""
    message = auth.message(ctx, message_id)
    membership = auth.channel_member(ctx, auth.channel(ctx, message.channel_id))
    if message.sender != ctx.caller:
        auth.require_level(membership, auth.MODERATOR, errors.DELETE_MESSAGE_FORBIDDEN)
    effects.delete_message_cascade(ctx, message)


@register("add_reaction")
def add_reaction(ctx: ReducerContext, message_id: int, emoji: str) -> None:
    """Members; one reaction per (message, identity, emoji)."""
    message = auth.message(ctx, message_id)
    auth.channel_member(ctx, auth.channel(ctx, message.channel_id))
    validation.emoji(emoji)
    if ctx.db.select_one("reaction", message_id=message_id, identity=ctx.caller,
                         emoji=emoji) is not None:
        raise ReducerError(errors.ALREADY_REACTED)
    ctx.db.insert(Reaction(0, message_id, ctx.caller, emoji))
    inbox.read_where(ctx, lambda item: item.message_id == message_id)


@register("remove_reaction")
def remove_reaction(ctx: ReducerContext, message_id: int, emoji: str) -> None:
    """Members remove their own reaction."""
    message = auth.message(ctx, message_id)
    auth.channel_member(ctx, auth.channel(ctx, message.channel_id))
    reaction = ctx.db.select_one("reaction", message_id=message_id, identity=ctx.caller,
                                 emoji=emoji)
    if reaction is None:
        raise ReducerError(errors.REACTION_NOT_FOUND)
    ctx.db.delete_row(reaction)
