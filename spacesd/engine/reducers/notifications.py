"""mark_channel_read, set_typing, dismiss_notification."""

from __future__ import annotations

from spacesd.engine import auth, errors, inbox
from spacesd.engine.context import ReducerContext
from spacesd.engine.context import reducer as register
from spacesd.engine.errors import ReducerError
from spacesd.model import ChannelReadState, TypingIndicator


@register("mark_channel_read")
def mark_channel_read(ctx: ReducerContext, channel_id: int, message_id: int) -> None:
    """Members; the caller's read state of a channel moves forward only (an older message
    id leaves it unchanged)."""
    channel = auth.channel(ctx, channel_id)
    message = auth.message(ctx, message_id)
    auth.channel_member(ctx, channel)
    if message.channel_id != channel.id:
        raise ReducerError(errors.READ_MESSAGE_OTHER_CHANNEL)
    state = ctx.db.select_one("channel_read_state", identity=ctx.caller, channel_id=channel.id)
    if state is None:
        ctx.db.insert(ChannelReadState(0, ctx.caller, channel.id, message.id))
    elif message.id > state.last_read_msg_id:
        ctx.db.update(ChannelReadState(state.id, ctx.caller, channel.id, message.id))
    inbox.read_where(ctx, lambda item: item.channel_id == channel.id
                     and item.message_id is not None and item.message_id <= message.id)


@register("set_typing")
def set_typing(ctx: ReducerContext, channel_id: int, typing: bool) -> None:
    """Members; inserts (or refreshes the started_at of) the caller's row, or removes it."""
    channel = auth.channel(ctx, channel_id)
    auth.channel_member(ctx, channel)
    row = ctx.db.select_one("typing_indicator", channel_id=channel.id, identity=ctx.caller)
    if typing:
        if row is None:
            ctx.db.insert(TypingIndicator(0, channel.id, ctx.caller, ctx.timestamp))
        else:
            ctx.db.update(TypingIndicator(row.id, channel.id, ctx.caller, ctx.timestamp))
    elif row is not None:
        ctx.db.delete_row(row)


@register("dismiss_notification")
def dismiss_notification(ctx: ReducerContext, id: int) -> None:
    notification = auth.notification(ctx, id)
    if notification.target != ctx.caller:
        raise ReducerError(errors.NOT_NOTIFICATION_TARGET)
    ctx.db.delete_row(notification)
