//! Lookups and authorization, in one place. Every check is about `ctx.sender()`, the
//! authenticated caller; no reducer takes the caller's identity as an argument.
//!
//! The engine's order of checks (see `spaces_logic::errors`): the caller's profile, the
//! referenced rows, membership, role or ownership, then the arguments' values.

use crate::enums::MemberRole;
use crate::tables::*;
use spaces_logic::errors;
use spaces_logic::roles::{self, Role};
use spacetimedb::{Identity, ReducerContext, Table};

/// A refusal: the message as the reducer's error.
pub fn refuse<T>(message: &str) -> Result<T, String> {
    Err(message.to_string())
}

/// Turns a logic-crate check into a reducer result.
pub fn check<T>(result: Result<T, &'static str>) -> Result<T, String> {
    result.map_err(str::to_string)
}

// ------------------------------------------------------------------------------------------
// Lookups

/// The caller's profile. On a real server every connection runs `client_connected` first, so
/// this refusal is defensive.
pub fn caller_profile(ctx: &ReducerContext) -> Result<UserProfile, String> {
    match ctx.db.user_profile().identity().find(ctx.sender()) {
        Some(profile) => Ok(profile),
        None => refuse(errors::NO_PROFILE),
    }
}

pub fn profile_of(ctx: &ReducerContext, identity: Identity) -> Option<UserProfile> {
    ctx.db.user_profile().identity().find(identity)
}

pub fn find_server(ctx: &ReducerContext, server_id: u64) -> Result<Server, String> {
    ctx.db
        .server()
        .id()
        .find(server_id)
        .ok_or_else(|| errors::SERVER_NOT_FOUND.to_string())
}

pub fn find_channel(ctx: &ReducerContext, channel_id: u64) -> Result<Channel, String> {
    ctx.db
        .channel()
        .id()
        .find(channel_id)
        .ok_or_else(|| errors::CHANNEL_NOT_FOUND.to_string())
}

pub fn find_message(ctx: &ReducerContext, message_id: u64) -> Result<Message, String> {
    ctx.db
        .message()
        .id()
        .find(message_id)
        .ok_or_else(|| errors::MESSAGE_NOT_FOUND.to_string())
}

pub fn find_thread(ctx: &ReducerContext, thread_id: u64) -> Result<Thread, String> {
    ctx.db
        .thread()
        .id()
        .find(thread_id)
        .ok_or_else(|| errors::THREAD_NOT_FOUND.to_string())
}

pub fn find_conversation(
    ctx: &ReducerContext,
    conversation_id: u64,
) -> Result<DirectConversation, String> {
    ctx.db
        .direct_conversation()
        .id()
        .find(conversation_id)
        .ok_or_else(|| errors::CONVERSATION_NOT_FOUND.to_string())
}

/// The hub: the server `init` created. It is the first server (the smallest id) and cannot be
/// deleted, so it stays the first even if renamed.
pub fn hub(ctx: &ReducerContext) -> Option<Server> {
    ctx.db.server().iter().min_by_key(|s| s.id)
}

/// Whether `server_id` is the hub.
pub fn is_hub(ctx: &ReducerContext, server_id: u64) -> bool {
    hub(ctx).is_some_and(|h| h.id == server_id)
}

// ------------------------------------------------------------------------------------------
// Membership and roles

/// `identity`'s membership of a server, if any.
pub fn membership(
    ctx: &ReducerContext,
    server_id: u64,
    identity: Identity,
) -> Option<ServerMember> {
    ctx.db
        .server_member()
        .server_id()
        .filter(server_id)
        .find(|m| m.identity == identity)
}

/// The caller's membership of a server, or NOT_A_MEMBER.
pub fn require_member(ctx: &ReducerContext, server_id: u64) -> Result<ServerMember, String> {
    match membership(ctx, server_id, ctx.sender()) {
        Some(member) => Ok(member),
        None => refuse(errors::NOT_A_MEMBER),
    }
}

/// The logic crate's view of a member's role.
pub fn member_role(member: &ServerMember) -> Role {
    Role::from(member.role)
}

/// Admin or Owner, else `message`.
pub fn require_admin(member: &ServerMember, message: &str) -> Result<(), String> {
    if roles::is_admin(member_role(member)) {
        Ok(())
    } else {
        refuse(message)
    }
}

/// Moderator, Admin or Owner, else `message`.
pub fn require_moderator(member: &ServerMember, message: &str) -> Result<(), String> {
    if roles::is_moderator(member_role(member)) {
        Ok(())
    } else {
        refuse(message)
    }
}

/// The Owner, else `message`.
pub fn require_owner(member: &ServerMember, message: &str) -> Result<(), String> {
    if member.role == MemberRole::Owner {
        Ok(())
    } else {
        refuse(message)
    }
}

/// A conversation's participant check for the caller.
pub fn require_participant(
    ctx: &ReducerContext,
    conversation: &DirectConversation,
) -> Result<(), String> {
    let caller = ctx.sender();
    if conversation.participant_a == caller || conversation.participant_b == caller {
        Ok(())
    } else {
        refuse(errors::NOT_A_PARTICIPANT)
    }
}
