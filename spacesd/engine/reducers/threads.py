"""create_thread, archive_thread."""

from __future__ import annotations

import dataclasses

from spacesd.engine import auth, errors, validation
from spacesd.engine.context import ReducerContext
from spacesd.engine.context import reducer as register
from spacesd.engine.errors import ReducerError
from spacesd.model import ChannelType, Thread


@register("create_thread")
def create_thread(ctx: ReducerContext, channel_id: int, name: str) -> None:
    """Members, agents included; none in Voice channels; Admin+ in Announcement channels
    (as for posting there)."""
    channel = auth.channel(ctx, channel_id)
    membership = auth.channel_member(ctx, channel)
    if channel.channel_type == ChannelType.Voice:
        raise ReducerError(errors.VOICE_NO_THREADS)
    if channel.channel_type == ChannelType.Announcement:
        auth.require_level(membership, auth.ADMIN, errors.ANNOUNCEMENT_ADMIN_ONLY)
    validation.thread_name(name)
    ctx.db.insert(Thread(0, channel.id, name, ctx.caller, ctx.timestamp, False, ctx.timestamp))


@register("archive_thread")
def archive_thread(ctx: ReducerContext, thread_id: int) -> None:
    """Its creator or a Moderator+; an archived thread takes no more messages."""
    thread = auth.thread(ctx, thread_id)
    membership = auth.channel_member(ctx, auth.channel(ctx, thread.channel_id))
    if thread.creator != ctx.caller:
        auth.require_level(membership, auth.MODERATOR, errors.ARCHIVE_FORBIDDEN)
    if thread.archived:
        raise ReducerError(errors.THREAD_ALREADY_ARCHIVED)
    ctx.db.update(dataclasses.replace(thread, archived=True))
