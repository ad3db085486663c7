//! Channels, and the per-channel state of one identity: read state and typing.

use crate::auth::{
    check, find_channel, find_message, find_server, refuse, require_admin, require_member,
    require_moderator,
};
use crate::enums::ChannelType;
use crate::reducers::inbox;
use crate::reducers::{clear_typing, delete_channel_rows};
use crate::tables::*;
use spaces_logic::errors;
use spaces_logic::validation;
use spacetimedb::{ReducerContext, Table};

/// Whether a server has a channel named `name`, other than `except`.
fn name_taken(ctx: &ReducerContext, server_id: u64, name: &str, except: Option<u64>) -> bool {
    ctx.db
        .channel()
        .server_id()
        .filter(server_id)
        .any(|c| c.name == name && Some(c.id) != except)
}

/// Creates a channel (Admin+) at the end of the server's channel list.
#[spacetimedb::reducer]
pub fn create_channel(
    ctx: &ReducerContext,
    server_id: u64,
    name: String,
    topic: Option<String>,
    channel_type: ChannelType,
) -> Result<(), String> {
    let server = find_server(ctx, server_id)?;
    let member = require_member(ctx, server.id)?;
    require_admin(&member, errors::CREATE_CHANNEL_FORBIDDEN)?;
    check(validation::channel_name(&name))?;
    if name_taken(ctx, server.id, &name, None) {
        return refuse(errors::CHANNEL_NAME_TAKEN);
    }
    let topic = check(validation::topic(topic.as_deref()))?;
    let position = ctx
        .db
        .channel()
        .server_id()
        .filter(server.id)
        .map(|c| c.position.saturating_add(1))
        .max()
        .unwrap_or(0);
    ctx.db.channel().insert(Channel {
        id: 0,
        server_id: server.id,
        name,
        topic,
        channel_type,
        position,
        created_at: ctx.timestamp,
    });
    Ok(())
}

/// Updates a channel's name, topic and position (Moderator+): `None` leaves a field
/// unchanged, `""` clears the topic.
#[spacetimedb::reducer]
pub fn update_channel(
    ctx: &ReducerContext,
    channel_id: u64,
    name: Option<String>,
    topic: Option<String>,
    position: Option<u32>,
) -> Result<(), String> {
    let channel = find_channel(ctx, channel_id)?;
    let member = require_member(ctx, channel.server_id)?;
    require_moderator(&member, errors::UPDATE_CHANNEL_FORBIDDEN)?;
    if let Some(name) = &name {
        check(validation::channel_name(name))?;
        if name_taken(ctx, channel.server_id, name, Some(channel.id)) {
            return refuse(errors::CHANNEL_NAME_TAKEN);
        }
    }
    let new_topic = check(validation::topic(topic.as_deref()))?;
    ctx.db.channel().id().update(Channel {
        name: name.unwrap_or_else(|| channel.name.clone()),
        topic: if topic.is_some() {
            new_topic
        } else {
            channel.topic.clone()
        },
        position: position.unwrap_or(channel.position),
        ..channel
    });
    Ok(())
}

/// Deletes a channel (Admin+) with its threads, messages, reactions, read states and typing
/// rows.
#[spacetimedb::reducer]
pub fn delete_channel(ctx: &ReducerContext, channel_id: u64) -> Result<(), String> {
    let channel = find_channel(ctx, channel_id)?;
    let member = require_member(ctx, channel.server_id)?;
    require_admin(&member, errors::DELETE_CHANNEL_FORBIDDEN)?;
    delete_channel_rows(ctx, channel.id);
    Ok(())
}

/// Records that the caller has read a channel up to a message; never moves backwards.
#[spacetimedb::reducer]
pub fn mark_channel_read(
    ctx: &ReducerContext,
    channel_id: u64,
    message_id: u64,
) -> Result<(), String> {
    let channel = find_channel(ctx, channel_id)?;
    let message = find_message(ctx, message_id)?;
    require_member(ctx, channel.server_id)?;
    if message.channel_id != channel.id {
        return refuse(errors::READ_MESSAGE_OTHER_CHANNEL);
    }
    let me = ctx.sender();
    let existing = ctx
        .db
        .channel_read_state()
        .identity()
        .filter(me)
        .find(|r| r.channel_id == channel.id);
    match existing {
        Some(state) if state.last_read_msg_id >= message.id => {}
        Some(state) => {
            ctx.db.channel_read_state().id().update(ChannelReadState {
                last_read_msg_id: message.id,
                ..state
            });
        }
        None => {
            ctx.db.channel_read_state().insert(ChannelReadState {
                id: 0,
                identity: me,
                channel_id: channel.id,
                last_read_msg_id: message.id,
            });
        }
    }
    let channel_id = channel.id;
    inbox::read_where(ctx, |item| {
        item.channel_id == Some(channel_id) && item.message_id.is_some_and(|m| m <= message.id)
    });
    Ok(())
}

/// Starts (inserts or refreshes the caller's row) or stops (deletes it) typing in a channel.
#[spacetimedb::reducer]
pub fn set_typing(ctx: &ReducerContext, channel_id: u64, typing: bool) -> Result<(), String> {
    let channel = find_channel(ctx, channel_id)?;
    require_member(ctx, channel.server_id)?;
    let me = ctx.sender();
    if !typing {
        clear_typing(ctx, channel.id, me);
        return Ok(());
    }
    let existing = ctx
        .db
        .typing_indicator()
        .iter()
        .find(|t| t.channel_id == channel.id && t.identity == me);
    match existing {
        Some(row) => {
            ctx.db.typing_indicator().id().update(TypingIndicator {
                started_at: ctx.timestamp,
                ..row
            });
        }
        None => {
            ctx.db.typing_indicator().insert(TypingIndicator {
                id: 0,
                channel_id: channel.id,
                identity: me,
                started_at: ctx.timestamp,
            });
        }
    }
    Ok(())
}
