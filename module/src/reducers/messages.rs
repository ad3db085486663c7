//! Messages and reactions.

use crate::auth::{
    check, find_channel, find_message, find_thread, member_role, membership, refuse, require_member,
};
use crate::enums::{ChannelType, MessageType};
use crate::reducers::inbox;
use crate::reducers::notifications::notify;
use crate::reducers::{clear_typing, delete_message_rows, name_of};
use crate::tables::*;
use spaces_logic::errors;
use spaces_logic::mentions::mentions;
use spaces_logic::names::mention_title;
use spaces_logic::roles;
use spaces_logic::validation;
use spacetimedb::{ReducerContext, Table};

/// Text and AgentEvent: the message types clients may send (and edit).
fn is_client_type(message_type: MessageType) -> bool {
    matches!(message_type, MessageType::Text | MessageType::AgentEvent)
}

/// Checks a message's content for its type: Text 1-4000 characters, AgentEvent a JSON object
/// of at most 16384 characters.
fn check_content(message_type: MessageType, content: &str) -> Result<(), String> {
    match message_type {
        MessageType::AgentEvent => check(validation::agent_event_content(content)).map(drop),
        _ => check(validation::text_content(content)).map(drop),
    }
}

/// Posts a message in a channel (members; Admin+ in announcement channels; never in voice
/// channels). Clients send Text or AgentEvent. A thread must be an unarchived thread of the
/// same channel and a reply must answer a message of the same channel. Updates the thread's
/// `last_message_at`, clears the sender's typing row, and notifies the members mentioned by
/// `@username` in a Text message.
///
/// Checks, in the engine's order: the channel, thread and replied-to message exist;
/// membership; message type; channel type (Voice takes none, Announcement Admin+); thread of
/// this channel and not archived; reply in this channel; content.
#[spacetimedb::reducer]
pub fn send_message(
    ctx: &ReducerContext,
    channel_id: u64,
    content: String,
    thread_id: Option<u64>,
    reply_to_id: Option<u64>,
    message_type: MessageType,
) -> Result<(), String> {
    post_message(
        ctx,
        channel_id,
        content,
        thread_id,
        reply_to_id,
        message_type,
    )
    .map(drop)
}

/// `send_message`'s work; returns the message stored (`send_message_keyed` keeps its id).
pub(crate) fn post_message(
    ctx: &ReducerContext,
    channel_id: u64,
    content: String,
    thread_id: Option<u64>,
    reply_to_id: Option<u64>,
    message_type: MessageType,
) -> Result<Message, String> {
    let channel = find_channel(ctx, channel_id)?;
    let thread = match thread_id {
        Some(id) => Some(find_thread(ctx, id)?),
        None => None,
    };
    let reply_to = match reply_to_id {
        Some(id) => match ctx.db.message().id().find(id) {
            Some(message) => Some(message),
            None => return refuse(errors::REPLY_NOT_FOUND),
        },
        None => None,
    };
    let member = require_member(ctx, channel.server_id)?;
    if !is_client_type(message_type) {
        return refuse(errors::MESSAGE_TYPE_RESERVED);
    }
    if channel.channel_type == ChannelType::Voice {
        return refuse(errors::VOICE_NO_MESSAGES);
    }
    if channel.channel_type == ChannelType::Announcement && !roles::is_admin(member_role(&member)) {
        return refuse(errors::ANNOUNCEMENT_ADMIN_ONLY);
    }
    if let Some(thread) = &thread {
        if thread.channel_id != channel.id {
            return refuse(errors::THREAD_OTHER_CHANNEL);
        }
        if thread.archived {
            return refuse(errors::THREAD_ARCHIVED);
        }
    }
    if let Some(reply_to) = &reply_to {
        if reply_to.channel_id != channel.id {
            return refuse(errors::REPLY_OTHER_CHANNEL);
        }
    }
    check_content(message_type, &content)?;

    let now = ctx.timestamp;
    let me = ctx.sender();
    let mentioned = if message_type == MessageType::Text {
        mentions(&content)
    } else {
        Vec::new()
    };
    let message = ctx.db.message().insert(Message {
        id: 0,
        channel_id: channel.id,
        thread_id: thread.as_ref().map(|t| t.id),
        sender: me,
        content,
        message_type,
        created_at: now,
        edited_at: None,
        reply_to_id: reply_to.as_ref().map(|m| m.id),
    });
    if let Some(thread) = thread {
        ctx.db.thread().id().update(Thread {
            last_message_at: now,
            ..thread
        });
    }
    clear_typing(ctx, channel.id, me);
    let mut sender_name: Option<String> = None;
    for username in &mentioned {
        let Some(profile) = ctx.db.user_profile().username().find(username) else {
            continue;
        };
        if profile.identity == me || membership(ctx, channel.server_id, profile.identity).is_none()
        {
            continue;
        }
        let sender = sender_name.get_or_insert_with(|| name_of(ctx, me));
        notify(
            ctx,
            profile.identity,
            mention_title(sender, &channel.name),
            message.content.clone(),
        );
    }
    inbox::on_message(ctx, &channel, &message, &mentioned);
    Ok(message)
}

/// Edits a message's content (its sender only; not System, Join or Leave messages) and sets
/// `edited_at`.
#[spacetimedb::reducer]
pub fn edit_message(ctx: &ReducerContext, message_id: u64, content: String) -> Result<(), String> {
    let message = find_message(ctx, message_id)?;
    let channel = find_channel(ctx, message.channel_id)?;
    require_member(ctx, channel.server_id)?;
    if message.sender != ctx.sender() {
        return refuse(errors::EDIT_FORBIDDEN);
    }
    if !is_client_type(message.message_type) {
        return refuse(errors::EDIT_RESERVED_TYPE);
    }
    check_content(message.message_type, &content)?;
    ctx.db.message().id().update(Message {
        content,
        edited_at: Some(ctx.timestamp),
        ..message
    });
    Ok(())
}

/// Deletes a message and its reactions (its sender, or Moderator+).
#[spacetimedb::reducer]
pub fn delete_message(ctx: &ReducerContext, message_id: u64) -> Result<(), String> {
    let message = find_message(ctx, message_id)?;
    let channel = find_channel(ctx, message.channel_id)?;
    let member = require_member(ctx, channel.server_id)?;
    if message.sender != ctx.sender() && !roles::is_moderator(member_role(&member)) {
        return refuse(errors::DELETE_MESSAGE_FORBIDDEN);
    }
    delete_message_rows(ctx, message.id);
    Ok(())
}

/// The caller's reaction with `emoji` to a message, if any.
fn own_reaction(ctx: &ReducerContext, message_id: u64, emoji: &str) -> Option<Reaction> {
    let me = ctx.sender();
    ctx.db
        .reaction()
        .message_id()
        .filter(message_id)
        .find(|r| r.identity == me && r.emoji == emoji)
}

/// Reacts to a message (members); one reaction per (message, identity, emoji).
#[spacetimedb::reducer]
pub fn add_reaction(ctx: &ReducerContext, message_id: u64, emoji: String) -> Result<(), String> {
    let message = find_message(ctx, message_id)?;
    let channel = find_channel(ctx, message.channel_id)?;
    require_member(ctx, channel.server_id)?;
    check(validation::emoji(&emoji))?;
    if own_reaction(ctx, message.id, &emoji).is_some() {
        return refuse(errors::ALREADY_REACTED);
    }
    ctx.db.reaction().insert(Reaction {
        id: 0,
        message_id: message.id,
        identity: ctx.sender(),
        emoji,
    });
    inbox::read_where(ctx, |item| item.message_id == Some(message.id));
    Ok(())
}

/// Removes one's own reaction.
#[spacetimedb::reducer]
pub fn remove_reaction(ctx: &ReducerContext, message_id: u64, emoji: String) -> Result<(), String> {
    let message = find_message(ctx, message_id)?;
    let channel = find_channel(ctx, message.channel_id)?;
    require_member(ctx, channel.server_id)?;
    let Some(reaction) = own_reaction(ctx, message.id, &emoji) else {
        return refuse(errors::REACTION_NOT_FOUND);
    };
    ctx.db.reaction().id().delete(reaction.id);
    Ok(())
}
