"""create_channel, update_channel, delete_channel."""

from __future__ import annotations

import dataclasses
from typing import Final

from spacesd.engine import auth, effects, errors, validation
from spacesd.engine.context import ReducerContext
from spacesd.engine.context import reducer as register
from spacesd.engine.errors import ReducerError
from spacesd.model import Channel, ChannelType

U32_MAX: Final = (1 << 32) - 1


def _require_free_name(ctx: ReducerContext, server_id: int, name: str,
                       channel_id: int | None = None) -> None:
    existing = ctx.db.channel_by_name(server_id, name)
    if existing is not None and existing.id != channel_id:
        raise ReducerError(errors.CHANNEL_NAME_TAKEN)


@register("create_channel")
def create_channel(ctx: ReducerContext, server_id: int, name: str, topic: str | None,
                   channel_type: ChannelType) -> None:
    """Admin+. Placed after the server's last channel (position = highest + 1, 0 if none)."""
    auth.server(ctx, server_id)
    auth.require_level(auth.member(ctx, server_id), auth.ADMIN,
                       errors.CREATE_CHANNEL_FORBIDDEN)
    validation.channel_name(name)
    _require_free_name(ctx, server_id, name)
    checked_topic = validation.topic(topic)
    positions = [c.position for c in ctx.db.channels(server_id)]
    position = min(max(positions) + 1, U32_MAX) if positions else 0
    ctx.db.insert(Channel(0, server_id, name, checked_topic, channel_type, position,
                          ctx.timestamp))


@register("update_channel")
def update_channel(ctx: ReducerContext, channel_id: int, name: str | None, topic: str | None,
                   position: int | None) -> None:
    """Moderator+. None keeps a field, "" clears the topic."""
    channel = auth.channel(ctx, channel_id)
    auth.require_level(auth.channel_member(ctx, channel), auth.MODERATOR,
                       errors.UPDATE_CHANNEL_FORBIDDEN)
    if name is not None:
        validation.channel_name(name)
        _require_free_name(ctx, channel.server_id, name, channel.id)
    checked_topic = validation.topic(topic)
    ctx.db.update(dataclasses.replace(
        channel,
        name=channel.name if name is None else name,
        topic=channel.topic if topic is None else checked_topic,
        position=channel.position if position is None else position))


@register("delete_channel")
def delete_channel(ctx: ReducerContext, channel_id: int) -> None:
    """Admin+. Its threads, messages, reactions, read states and typing rows go with it."""
    channel = auth.channel(ctx, channel_id)
    auth.require_level(auth.channel_member(ctx, channel), auth.ADMIN,
                       errors.DELETE_CHANNEL_FORBIDDEN)
    effects.delete_channel_cascade(ctx, channel)
