//! The 28 reducers, grouped by domain, and the row helpers they share (cascading deletes,
//! notifications). Every reducer returns `Result<(), String>`: an `Err` rolls the whole
//! transaction back, so a refusal changes nothing.

pub mod channels;
pub mod dms;
pub mod lifecycle;
pub mod messages;
pub mod notifications;
pub mod servers;
pub mod threads;
pub mod users;

use crate::tables::*;
use spacetimedb::{Identity, ReducerContext, Table};

/// Deletes a message and its reactions.
pub(crate) fn delete_message_rows(ctx: &ReducerContext, message_id: u64) {
    ctx.db.reaction().message_id().delete(message_id);
    ctx.db.message().id().delete(message_id);
}

/// Deletes everything under a channel: its messages (with their reactions), threads, read
/// states and typing rows; then the channel itself.
pub(crate) fn delete_channel_rows(ctx: &ReducerContext, channel_id: u64) {
    let message_ids: Vec<u64> = ctx
        .db
        .message()
        .channel_id()
        .filter(channel_id)
        .map(|m| m.id)
        .collect();
    for id in message_ids {
        delete_message_rows(ctx, id);
    }
    ctx.db.thread().channel_id().delete(channel_id);
    let read_states: Vec<ChannelReadState> = ctx
        .db
        .channel_read_state()
        .iter()
        .filter(|r| r.channel_id == channel_id)
        .collect();
    for row in read_states {
        ctx.db.channel_read_state().id().delete(row.id);
    }
    delete_typing_rows(ctx, |t| t.channel_id == channel_id);
    ctx.db.channel().id().delete(channel_id);
}

/// Deletes the typing rows matching `pred`.
pub(crate) fn delete_typing_rows(ctx: &ReducerContext, pred: impl Fn(&TypingIndicator) -> bool) {
    let rows: Vec<u64> = ctx
        .db
        .typing_indicator()
        .iter()
        .filter(|t| pred(t))
        .map(|t| t.id)
        .collect();
    for id in rows {
        ctx.db.typing_indicator().id().delete(id);
    }
}

/// Deletes `identity`'s typing row in a channel, if any.
pub(crate) fn clear_typing(ctx: &ReducerContext, channel_id: u64, identity: Identity) {
    delete_typing_rows(ctx, |t| {
        t.channel_id == channel_id && t.identity == identity
    });
}
