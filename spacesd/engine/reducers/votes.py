"""Votes: cast_vote.

A member of the server of a message's (or task's) channel casts one vote per target, a free
choice of 1-32 characters ("yes", "no", "+1", "option-b"); casting again replaces the choice.
The tally is the `vote` rows of a target (`spacesd vote show`). The same in
`module/src/reducers/votes.rs`.
"""

from __future__ import annotations

import dataclasses

from spacesd.engine import auth, validation
from spacesd.engine.context import ReducerContext
from spacesd.engine.context import reducer as register
from spacesd.engine.reducers.tasks import task
from spacesd.model import Vote, VoteTarget


@register("cast_vote")
def cast_vote(ctx: ReducerContext, target_kind: VoteTarget, target_id: int, choice: str) -> None:
    """Checks: the target exists; membership of its server; the choice."""
    if target_kind == VoteTarget.Message:
        channel_id = auth.message(ctx, target_id).channel_id
    else:
        channel_id = task(ctx, target_id).channel_id
    auth.channel_member(ctx, auth.channel(ctx, channel_id))
    validation.vote_choice(choice)
    for mine in ctx.db.select("vote", target_id=target_id, voter=ctx.caller):
        if mine.target_kind == target_kind:
            if mine.choice != choice:
                ctx.db.update(dataclasses.replace(mine, choice=choice,
                                                  created_at=ctx.timestamp))
            return
    ctx.db.insert(Vote(0, target_kind, target_id, ctx.caller, choice, ctx.timestamp))
