//! The reducers (the design's, the invites', issue 13's tasks, leases and votes, issue 12's
//! live sessions), grouped by domain, their keyed variants
//! (`keyed.rs`), and the row helpers they share (cascading deletes, notifications). Every
//! reducer returns `Result<(), String>`: an `Err` rolls the whole
//! transaction back, so a refusal changes nothing.

pub mod channels;
pub mod dms;
pub mod inbox;
pub mod keyed;
pub mod leases;
pub mod lifecycle;
pub mod messages;
pub mod notifications;
pub mod servers;
pub mod sessions;
pub mod tasks;
pub mod threads;
pub mod users;
pub mod votes;

use crate::enums::{ChannelType, MemberRole, MessageType};
use crate::tables::*;
use spaces_logic::names::{JOIN_CONTENT, LEAVE_CONTENT};
use spacetimedb::{Identity, ReducerContext, Table};

/// Deletes a message with its reactions and inbox items.
pub(crate) fn delete_message_rows(ctx: &ReducerContext, message_id: u64) {
    ctx.db.reaction().message_id().delete(message_id);
    if let Some(message) = ctx.db.message().id().find(message_id) {
        inbox::delete_items_of_message(ctx, message.sender, message_id);
    }
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
    let thread_ids: Vec<u64> = ctx
        .db
        .thread()
        .channel_id()
        .filter(channel_id)
        .map(|t| t.id)
        .collect();
    for thread_id in thread_ids {
        ctx.db.thread_poster().thread_id().delete(thread_id);
    }
    ctx.db.thread().channel_id().delete(channel_id);
    ctx.db.channel_follow().channel_id().delete(channel_id);
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

/// The name of an identity in texts: its username, or `user_<first 8 hex>`.
pub(crate) fn name_of(ctx: &ReducerContext, identity: Identity) -> String {
    let profile = ctx.db.user_profile().identity().find(identity);
    spaces_logic::names::name_of(
        profile.as_ref().map(|p| p.username.as_str()),
        identity.to_hex().as_ref(),
    )
}

/// Where Join and Leave messages go: the server's Text channel of lowest position (then
/// lowest id).
pub(crate) fn first_text_channel(ctx: &ReducerContext, server_id: u64) -> Option<Channel> {
    ctx.db
        .channel()
        .server_id()
        .filter(server_id)
        .filter(|c| c.channel_type == ChannelType::Text)
        .min_by_key(|c| (c.position, c.id))
}

/// Posts the caller's Join or Leave message in the server's first Text channel, if it has one.
pub(crate) fn post_membership_message(ctx: &ReducerContext, server_id: u64, kind: MessageType) {
    let Some(channel) = first_text_channel(ctx, server_id) else {
        return;
    };
    let content = if kind == MessageType::Join {
        JOIN_CONTENT
    } else {
        LEAVE_CONTENT
    };
    ctx.db.message().insert(Message {
        id: 0,
        channel_id: channel.id,
        thread_id: None,
        sender: ctx.sender(),
        content: content.to_string(),
        message_type: kind,
        created_at: ctx.timestamp,
        edited_at: None,
        reply_to_id: None,
    });
}

/// Makes the caller a member of a server with `role` and announces it with a Join message.
pub(crate) fn join(ctx: &ReducerContext, server_id: u64, role: MemberRole) -> ServerMember {
    let member = ctx.db.server_member().insert(ServerMember {
        id: 0,
        server_id,
        identity: ctx.sender(),
        role,
        joined_at: ctx.timestamp,
    });
    post_membership_message(ctx, server_id, MessageType::Join);
    member
}
