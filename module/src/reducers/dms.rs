//! Direct messages between two identities. Their rows are visible only to the two
//! participants (see `visibility.rs`).

use crate::auth::{
    caller_profile, check, find_conversation, profile_of, refuse, require_participant,
};
use crate::reducers::inbox;
use crate::tables::*;
use spaces_logic::dm::order_pair;
use spaces_logic::errors;
use spaces_logic::validation;
use spacetimedb::{Identity, ReducerContext, Table};

/// Starts a conversation with `other` (both profiles exist, not oneself). The participants
/// are stored with `participant_a < participant_b` by hex; a second call for the same pair
/// creates nothing.
#[spacetimedb::reducer]
pub fn start_dm(ctx: &ReducerContext, other: Identity) -> Result<(), String> {
    caller_profile(ctx)?;
    if profile_of(ctx, other).is_none() {
        return refuse(errors::USER_NOT_FOUND);
    }
    let me = ctx.sender();
    if other == me {
        return refuse(errors::CANNOT_DM_SELF);
    }
    let (participant_a, participant_b) = order_pair(me, other, |id| id.to_hex().to_string());
    let exists = ctx
        .db
        .direct_conversation()
        .iter()
        .any(|c| c.participant_a == participant_a && c.participant_b == participant_b);
    if !exists {
        ctx.db.direct_conversation().insert(DirectConversation {
            id: 0,
            participant_a,
            participant_b,
            created_at: ctx.timestamp,
            last_message_at: ctx.timestamp,
        });
    }
    Ok(())
}

/// Sends a direct message (participants only) and updates the conversation's
/// `last_message_at`.
#[spacetimedb::reducer]
pub fn send_dm(ctx: &ReducerContext, conversation_id: u64, content: String) -> Result<(), String> {
    post_dm(ctx, conversation_id, content).map(|_| ())
}

/// `send_dm`'s work; returns the DM stored (`send_dm_keyed` keeps its id).
pub(crate) fn post_dm(
    ctx: &ReducerContext,
    conversation_id: u64,
    content: String,
) -> Result<DirectMessage, String> {
    let conversation = find_conversation(ctx, conversation_id)?;
    require_participant(ctx, &conversation)?;
    check(validation::dm_content(&content))?;
    let now = ctx.timestamp;
    let dm = ctx.db.direct_message().insert(DirectMessage {
        id: 0,
        conversation_id: conversation.id,
        sender: ctx.sender(),
        content,
        created_at: now,
        edited_at: None,
        read: false,
    });
    ctx.db
        .direct_conversation()
        .id()
        .update(DirectConversation {
            last_message_at: now,
            ..conversation.clone()
        });
    inbox::on_dm(ctx, &conversation, &dm);
    Ok(dm)
}

/// Marks the other participant's messages in a conversation read (participants only).
#[spacetimedb::reducer]
pub fn mark_dm_read(ctx: &ReducerContext, conversation_id: u64) -> Result<(), String> {
    let conversation = find_conversation(ctx, conversation_id)?;
    require_participant(ctx, &conversation)?;
    let me = ctx.sender();
    let unread: Vec<DirectMessage> = ctx
        .db
        .direct_message()
        .conversation_id()
        .filter(conversation.id)
        .filter(|m| m.sender != me && !m.read)
        .collect();
    for message in unread {
        ctx.db.direct_message().id().update(DirectMessage {
            read: true,
            ..message
        });
    }
    inbox::read_conversation(ctx, conversation.id);
    Ok(())
}
