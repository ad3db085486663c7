//! Lifecycle reducers: `init` (first publish, or `--clear-database`), `client_connected` and
//! `client_disconnected` (around every WebSocket connection and every HTTP call).

use crate::auth::{hub, membership, refuse};
use crate::enums::{ChannelType, MemberRole};
use crate::reducers::{delete_typing_rows, join};
use crate::tables::*;
use spaces_logic::errors;
use spaces_logic::names::{default_username, DEFAULT_USERNAME_DIGITS, HUB_NAME};
use spaces_logic::roles::Role;
use spacetimedb::{Identity, ReducerContext, Table};

/// The hub's channels: name, type, position.
pub const HUB_CHANNELS: [(&str, ChannelType, u32); 3] = [
    ("general", ChannelType::Text, 0),
    ("agent-logs", ChannelType::AgentLog, 1),
    ("system", ChannelType::Announcement, 2),
];

/// Creates the hub, owned by the database owner (the caller of `init`), with its three
/// channels; the owner is its Owner member.
#[spacetimedb::reducer(init)]
pub fn init(ctx: &ReducerContext) -> Result<(), String> {
    let owner = ctx.sender();
    let now = ctx.timestamp;
    let hub = ctx.db.server().insert(Server {
        id: 0,
        name: HUB_NAME.to_string(),
        description: None,
        icon_url: None,
        owner,
        created_at: now,
        invite_only: false,
    });
    ctx.db.server_member().insert(ServerMember {
        id: 0,
        server_id: hub.id,
        identity: owner,
        role: MemberRole::Owner,
        joined_at: now,
    });
    for (name, channel_type, position) in HUB_CHANNELS {
        ctx.db.channel().insert(Channel {
            id: 0,
            server_id: hub.id,
            name: name.to_string(),
            topic: None,
            channel_type,
            position,
            created_at: now,
        });
    }
    log::info!("spaces: hub {} created for owner {}", hub.id, owner);
    Ok(())
}

/// The default username of a new identity: `user_<first 8 hex>`, or `user_<first 27 hex>`
/// (32 characters) if that is taken; USERNAME_TAKEN if both are.
fn default_username_for(ctx: &ReducerContext, identity: Identity) -> Result<String, String> {
    let hex = identity.to_hex().to_string();
    for digits in DEFAULT_USERNAME_DIGITS {
        let candidate = default_username(&hex, digits);
        if ctx.db.user_profile().username().find(&candidate).is_none() {
            return Ok(candidate);
        }
    }
    refuse(errors::USERNAME_TAKEN)
}

/// Presence online; a profile if the identity has none; membership of the hub (with a Join
/// message in its #general).
#[spacetimedb::reducer(client_connected)]
pub fn client_connected(ctx: &ReducerContext) -> Result<(), String> {
    let me = ctx.sender();
    let now = ctx.timestamp;
    match ctx.db.user_presence().identity().find(me) {
        Some(presence) => {
            ctx.db.user_presence().identity().update(UserPresence {
                online: true,
                last_seen: now,
                ..presence
            });
        }
        None => {
            ctx.db.user_presence().insert(UserPresence {
                identity: me,
                online: true,
                status_text: None,
                last_seen: now,
            });
        }
    }
    let profile = match ctx.db.user_profile().identity().find(me) {
        Some(profile) => profile,
        None => ctx.db.user_profile().insert(UserProfile {
            identity: me,
            username: default_username_for(ctx, me)?,
            display_name: None,
            avatar_url: None,
            bio: None,
            is_agent: false,
            created_at: now,
        }),
    };
    if let Some(hub) = hub(ctx) {
        if membership(ctx, hub.id, me).is_none() {
            join(ctx, hub.id, Role::for_newcomer(profile.is_agent).into());
        }
    }
    Ok(())
}

/// Presence offline with `last_seen` now; the caller's typing rows go.
#[spacetimedb::reducer(client_disconnected)]
pub fn client_disconnected(ctx: &ReducerContext) -> Result<(), String> {
    let me = ctx.sender();
    let now = ctx.timestamp;
    match ctx.db.user_presence().identity().find(me) {
        Some(presence) => {
            ctx.db.user_presence().identity().update(UserPresence {
                online: false,
                last_seen: now,
                ..presence
            });
        }
        None => {
            ctx.db.user_presence().insert(UserPresence {
                identity: me,
                online: false,
                status_text: None,
                last_seen: now,
            });
        }
    }
    delete_typing_rows(ctx, |t| t.identity == me);
    Ok(())
}
