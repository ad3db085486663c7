//! Lifecycle reducers: `init` (first publish, or `--clear-database`), `client_connected` and
//! `client_disconnected` (around every WebSocket connection and every HTTP call).

use crate::auth::{hub, membership};
use crate::enums::{ChannelType, MemberRole};
use crate::reducers::delete_typing_rows;
use crate::tables::*;
use spaces_logic::names::{default_username, HUB_NAME};
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

/// The default username of a new identity: `user_<first 8 hex>`, lengthened with more of the
/// identity's hex digits in the unlikely case that someone already took it.
fn free_default_username(ctx: &ReducerContext, identity: Identity) -> String {
    let hex = identity.to_hex().to_string();
    let base = default_username(&hex);
    let taken = |name: &str| {
        ctx.db
            .user_profile()
            .username()
            .find(name.to_string())
            .is_some()
    };
    if !taken(&base) {
        return base;
    }
    for digits in [12, 16, 20, 24, 27] {
        let candidate = format!("user_{}", &hex[..digits]);
        if !taken(&candidate) {
            return candidate;
        }
    }
    base
}

/// Presence online; a profile if the identity has none; membership of the hub.
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
            username: free_default_username(ctx, me),
            display_name: None,
            avatar_url: None,
            bio: None,
            is_agent: false,
            created_at: now,
        }),
    };
    if let Some(hub) = hub(ctx) {
        if membership(ctx, hub.id, me).is_none() {
            ctx.db.server_member().insert(ServerMember {
                id: 0,
                server_id: hub.id,
                identity: me,
                role: Role::for_newcomer(profile.is_agent).into(),
                joined_at: now,
            });
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
