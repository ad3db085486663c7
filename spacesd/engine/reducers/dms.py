"""start_dm, send_dm, mark_dm_read: participants only."""

from __future__ import annotations

import dataclasses

from spacesd.engine import auth, errors, inbox, validation
from spacesd.engine.context import ReducerContext
from spacesd.engine.context import reducer as register
from spacesd.engine.errors import ReducerError
from spacesd.model import DirectConversation, DirectMessage, Identity


@register("start_dm")
def start_dm(ctx: ReducerContext, other: Identity) -> None:
    """Both profiles must exist, not oneself. participant_a < participant_b (by hex); a
    conversation that exists already is left as it is."""
    auth.require_profile(ctx)
    if ctx.db.profile(other) is None:
        raise ReducerError(errors.USER_NOT_FOUND)
    if other == ctx.caller:
        raise ReducerError(errors.CANNOT_DM_SELF)
    if ctx.db.conversation_between(ctx.caller, other) is not None:
        return
    first, second = (ctx.caller, other) if ctx.caller < other else (other, ctx.caller)
    ctx.db.insert(DirectConversation(0, first, second, ctx.timestamp, ctx.timestamp))


@register("send_dm")
def send_dm(ctx: ReducerContext, conversation_id: int, content: str) -> None:
    post_dm(ctx, conversation_id, content)


def post_dm(ctx: ReducerContext, conversation_id: int, content: str) -> DirectMessage:
    """send_dm's work; returns the DM stored (send_dm_keyed keeps its id)."""
    conversation = auth.conversation(ctx, conversation_id)
    auth.participant(ctx, conversation)
    validation.dm_content(content)
    dm = ctx.db.insert(DirectMessage(0, conversation.id, ctx.caller, content, ctx.timestamp,
                                     None, False))
    ctx.db.update(dataclasses.replace(conversation, last_message_at=ctx.timestamp))
    inbox.on_dm(ctx, conversation, dm)
    return dm


@register("mark_dm_read")
def mark_dm_read(ctx: ReducerContext, conversation_id: int) -> None:
    """Marks the other participant's messages read."""
    conversation = auth.conversation(ctx, conversation_id)
    other = auth.participant(ctx, conversation)
    for message in ctx.db.select("direct_message", conversation_id=conversation.id,
                                 sender=other, read=False):
        ctx.db.update(dataclasses.replace(message, read=True))
    inbox.read_conversation(ctx, conversation.id)
