//! Servers, roles and invites.

use crate::auth::{
    caller_profile, check, find_server, is_hub, member_role, membership, profile_of, refuse,
    require_admin, require_member, require_owner,
};
use crate::enums::{ChannelType, MemberRole, MessageType};
use crate::reducers::notifications::notify;
use crate::reducers::{
    delete_channel_rows, delete_typing_rows, join, name_of, post_membership_message,
};
use crate::tables::*;
use spaces_logic::errors;
use spaces_logic::names::{
    invite_body, role_changed_body, DEFAULT_CHANNEL, INVITE_TITLE, ROLE_CHANGED_TITLE,
};
use spaces_logic::roles::{self, Role};
use spaces_logic::validation;
use spacetimedb::{Identity, ReducerContext, Table};

/// Creates a server; the caller, who must not be an agent, becomes its Owner. The server
/// starts with #general (Text, position 0).
#[spacetimedb::reducer]
pub fn create_server(
    ctx: &ReducerContext,
    name: String,
    description: Option<String>,
    icon_url: Option<String>,
) -> Result<(), String> {
    let profile = caller_profile(ctx)?;
    if profile.is_agent {
        return refuse(errors::AGENTS_CANNOT_CREATE_SERVERS);
    }
    check(validation::server_name(&name))?;
    let description = check(validation::description(description.as_deref()))?;
    let icon_url = check(validation::icon_url(icon_url.as_deref()))?;
    let now = ctx.timestamp;
    let server = ctx.db.server().insert(Server {
        id: 0,
        name,
        description,
        icon_url,
        owner: ctx.sender(),
        created_at: now,
        invite_only: false,
    });
    ctx.db.server_member().insert(ServerMember {
        id: 0,
        server_id: server.id,
        identity: ctx.sender(),
        role: MemberRole::Owner,
        joined_at: now,
    });
    ctx.db.channel().insert(Channel {
        id: 0,
        server_id: server.id,
        name: DEFAULT_CHANNEL.to_string(),
        topic: None,
        channel_type: ChannelType::Text,
        position: 0,
        created_at: now,
    });
    Ok(())
}

/// Joins a server as Agent (agent profiles) or Member, with a Join message; joining twice is
/// refused. An invite-only server takes only the invited, and the invite is used up.
#[spacetimedb::reducer]
pub fn join_server(ctx: &ReducerContext, server_id: u64) -> Result<(), String> {
    let profile = caller_profile(ctx)?;
    let server = find_server(ctx, server_id)?;
    if membership(ctx, server.id, ctx.sender()).is_some() {
        return refuse(errors::ALREADY_MEMBER);
    }
    let invite = invite_of(ctx, server.id, ctx.sender());
    if server.invite_only && invite.is_none() {
        return refuse(errors::INVITE_NEEDED);
    }
    if let Some(invite) = invite {
        ctx.db.server_invite().id().delete(invite.id);
    }
    join(ctx, server.id, Role::for_newcomer(profile.is_agent).into());
    Ok(())
}

/// Leaves a server; the Owner cannot (they delete it instead). The caller's typing rows in
/// its channels go too, and a Leave message follows.
#[spacetimedb::reducer]
pub fn leave_server(ctx: &ReducerContext, server_id: u64) -> Result<(), String> {
    let server = find_server(ctx, server_id)?;
    let member = require_member(ctx, server.id)?;
    if member.role == MemberRole::Owner {
        return refuse(errors::OWNER_CANNOT_LEAVE);
    }
    ctx.db.server_member().id().delete(member.id);
    let channel_ids = channel_ids_of(ctx, server.id);
    let me = ctx.sender();
    delete_typing_rows(ctx, |t| {
        t.identity == me && channel_ids.contains(&t.channel_id)
    });
    post_membership_message(ctx, server.id, MessageType::Leave);
    Ok(())
}

/// Updates a server's name, description and icon URL (Admin+): `None` leaves a field
/// unchanged, `""` clears an optional one.
#[spacetimedb::reducer]
pub fn update_server(
    ctx: &ReducerContext,
    server_id: u64,
    name: Option<String>,
    description: Option<String>,
    icon_url: Option<String>,
) -> Result<(), String> {
    let server = find_server(ctx, server_id)?;
    let member = require_member(ctx, server.id)?;
    require_admin(&member, errors::UPDATE_SERVER_FORBIDDEN)?;
    if let Some(name) = &name {
        check(validation::server_name(name))?;
    }
    let new_description = check(validation::description(description.as_deref()))?;
    let new_icon_url = check(validation::icon_url(icon_url.as_deref()))?;
    ctx.db.server().id().update(Server {
        name: name.unwrap_or_else(|| server.name.clone()),
        description: if description.is_some() {
            new_description
        } else {
            server.description.clone()
        },
        icon_url: if icon_url.is_some() {
            new_icon_url
        } else {
            server.icon_url.clone()
        },
        ..server
    });
    Ok(())
}

/// Deletes a server and everything under it, invites included (Owner only; never the hub).
#[spacetimedb::reducer]
pub fn delete_server(ctx: &ReducerContext, server_id: u64) -> Result<(), String> {
    let server = find_server(ctx, server_id)?;
    let member = require_member(ctx, server.id)?;
    require_owner(&member, errors::DELETE_SERVER_FORBIDDEN)?;
    if is_hub(ctx, server.id) {
        return refuse(errors::HUB_CANNOT_BE_DELETED);
    }
    let channel_ids = channel_ids_of(ctx, server.id);
    for channel_id in channel_ids {
        delete_channel_rows(ctx, channel_id);
    }
    ctx.db.server_member().server_id().delete(server.id);
    ctx.db.server_invite().server_id().delete(server.id);
    ctx.db.server().id().delete(server.id);
    Ok(())
}

/// Changes a member's role: the Owner may give any role but Owner; an Admin may give
/// Moderator, Member or Agent to members below Admin; an agent can only hold Agent. The
/// target is notified (a role set to what it already is changes nothing and notifies no one).
#[spacetimedb::reducer]
pub fn set_member_role(
    ctx: &ReducerContext,
    server_id: u64,
    identity: Identity,
    role: MemberRole,
) -> Result<(), String> {
    let server = find_server(ctx, server_id)?;
    let actor = require_member(ctx, server.id)?;
    let Some(target) = membership(ctx, server.id, identity) else {
        return refuse(errors::TARGET_NOT_A_MEMBER);
    };
    let target_is_agent = profile_of(ctx, identity).is_some_and(|p| p.is_agent);
    check(roles::check_set_role(
        member_role(&actor),
        member_role(&target),
        Role::from(role),
        target_is_agent,
    ))?;
    if target.role == role {
        return Ok(());
    }
    ctx.db
        .server_member()
        .id()
        .update(ServerMember { role, ..target });
    notify(
        ctx,
        identity,
        ROLE_CHANGED_TITLE.to_string(),
        role_changed_body(&server.name, Role::from(role).name()),
    );
    Ok(())
}

/// Makes a server invite-only, or open to anyone (Admin+); the hub stays open.
#[spacetimedb::reducer]
pub fn set_invite_only(
    ctx: &ReducerContext,
    server_id: u64,
    invite_only: bool,
) -> Result<(), String> {
    let server = find_server(ctx, server_id)?;
    let member = require_member(ctx, server.id)?;
    require_admin(&member, errors::UPDATE_SERVER_FORBIDDEN)?;
    if invite_only && is_hub(ctx, server.id) {
        return refuse(errors::HUB_STAYS_OPEN);
    }
    if server.invite_only != invite_only {
        ctx.db.server().id().update(Server {
            invite_only,
            ..server
        });
    }
    Ok(())
}

/// Invites a user who is not a member (Admin+); the invitee is notified. Inviting again
/// changes nothing.
#[spacetimedb::reducer]
pub fn invite_to_server(
    ctx: &ReducerContext,
    server_id: u64,
    identity: Identity,
) -> Result<(), String> {
    let server = find_server(ctx, server_id)?;
    if profile_of(ctx, identity).is_none() {
        return refuse(errors::USER_NOT_FOUND);
    }
    let member = require_member(ctx, server.id)?;
    require_admin(&member, errors::INVITE_FORBIDDEN)?;
    if membership(ctx, server.id, identity).is_some() {
        return refuse(errors::TARGET_ALREADY_MEMBER);
    }
    if invite_of(ctx, server.id, identity).is_some() {
        return Ok(());
    }
    ctx.db.server_invite().insert(ServerInvite {
        id: 0,
        server_id: server.id,
        identity,
        invited_by: ctx.sender(),
        created_at: ctx.timestamp,
    });
    let inviter = name_of(ctx, ctx.sender());
    notify(
        ctx,
        identity,
        INVITE_TITLE.to_string(),
        invite_body(&inviter, &server.name),
    );
    Ok(())
}

/// `identity`'s invite to a server, if any.
fn invite_of(ctx: &ReducerContext, server_id: u64, identity: Identity) -> Option<ServerInvite> {
    ctx.db
        .server_invite()
        .server_id()
        .filter(server_id)
        .find(|i| i.identity == identity)
}

/// The ids of a server's channels (collected, so the caller may delete while it goes).
fn channel_ids_of(ctx: &ReducerContext, server_id: u64) -> Vec<u64> {
    ctx.db
        .channel()
        .server_id()
        .filter(server_id)
        .map(|c| c.id)
        .collect()
}
