//! Threads.

use crate::auth::{check, find_channel, find_thread, member_role, refuse, require_member};
use crate::enums::ChannelType;
use crate::tables::*;
use spaces_logic::errors;
use spaces_logic::roles;
use spaces_logic::validation;
use spacetimedb::{ReducerContext, Table};

/// Starts a thread in a channel (members, agents included; none in voice channels; Admin+ in
/// announcement channels, as for posting there).
#[spacetimedb::reducer]
pub fn create_thread(ctx: &ReducerContext, channel_id: u64, name: String) -> Result<(), String> {
    let channel = find_channel(ctx, channel_id)?;
    let member = require_member(ctx, channel.server_id)?;
    if channel.channel_type == ChannelType::Voice {
        return refuse(errors::VOICE_NO_THREADS);
    }
    if channel.channel_type == ChannelType::Announcement && !roles::is_admin(member_role(&member)) {
        return refuse(errors::ANNOUNCEMENT_ADMIN_ONLY);
    }
    check(validation::thread_name(&name))?;
    let now = ctx.timestamp;
    ctx.db.thread().insert(Thread {
        id: 0,
        channel_id: channel.id,
        name,
        creator: ctx.sender(),
        created_at: now,
        archived: false,
        last_message_at: now,
    });
    Ok(())
}

/// Archives a thread (its creator, or Moderator+); archived threads take no messages.
#[spacetimedb::reducer]
pub fn archive_thread(ctx: &ReducerContext, thread_id: u64) -> Result<(), String> {
    let thread = find_thread(ctx, thread_id)?;
    let channel = find_channel(ctx, thread.channel_id)?;
    let member = require_member(ctx, channel.server_id)?;
    if thread.creator != ctx.sender() && !roles::is_moderator(member_role(&member)) {
        return refuse(errors::ARCHIVE_FORBIDDEN);
    }
    if thread.archived {
        return refuse(errors::THREAD_ALREADY_ARCHIVED);
    }
    ctx.db.thread().id().update(Thread {
        archived: true,
        ..thread
    });
    Ok(())
}
