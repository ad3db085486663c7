//! Votes: the engine's `spacesd/engine/reducers/votes.py`, rule for rule.

use crate::auth::{check, find_channel, find_message, require_member};
use crate::enums::VoteTarget;
use crate::tables::*;
use spaces_logic::errors;
use spaces_logic::validation;
use spacetimedb::{ReducerContext, Table};

/// A member of the target's server casts one vote per target; casting again replaces it.
#[spacetimedb::reducer]
pub fn cast_vote(
    ctx: &ReducerContext,
    target_kind: VoteTarget,
    target_id: u64,
    choice: String,
) -> Result<(), String> {
    let channel_id = match target_kind {
        VoteTarget::Message => find_message(ctx, target_id)?.channel_id,
        VoteTarget::Task => {
            ctx.db
                .task()
                .id()
                .find(target_id)
                .ok_or_else(|| errors::TASK_NOT_FOUND.to_string())?
                .channel_id
        }
    };
    let channel = find_channel(ctx, channel_id)?;
    require_member(ctx, channel.server_id)?;
    check(validation::vote_choice(&choice))?;
    let mine = ctx
        .db
        .vote()
        .target_id()
        .filter(target_id)
        .find(|v| v.voter == ctx.sender() && v.target_kind == target_kind);
    match mine {
        Some(v) if v.choice == choice => {}
        Some(v) => {
            ctx.db.vote().id().update(Vote {
                choice,
                created_at: ctx.timestamp,
                ..v
            });
        }
        None => {
            ctx.db.vote().insert(Vote {
                id: 0,
                target_kind,
                target_id,
                voter: ctx.sender(),
                choice,
                created_at: ctx.timestamp,
            });
        }
    }
    Ok(())
}
