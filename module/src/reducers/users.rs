//! Users: the caller's own profile and presence.

use crate::auth::{caller_profile, check, refuse};
use crate::enums::MemberRole;
use crate::tables::*;
use spaces_logic::errors;
use spaces_logic::roles::{self, Role};
use spaces_logic::validation;
use spacetimedb::{ReducerContext, Table};

/// Sets the caller's username, display name (`None` keeps it, `""` clears it) and agent flag,
/// creating the profile if there is none. Becoming an agent turns every Member role of the
/// caller into Agent (refused while the caller holds an Owner, Admin or Moderator role). It
/// is one-way: an agent profile never becomes a person's.
#[spacetimedb::reducer]
pub fn register_user(
    ctx: &ReducerContext,
    username: String,
    display_name: Option<String>,
    is_agent: bool,
) -> Result<(), String> {
    let me = ctx.sender();
    let current = ctx.db.user_profile().identity().find(me);
    if current.as_ref().is_some_and(|p| p.is_agent) && !is_agent {
        return refuse(errors::AGENT_CANNOT_BECOME_PERSON);
    }
    check(validation::username(&username))?;
    if let Some(holder) = ctx.db.user_profile().username().find(&username) {
        if holder.identity != me {
            return refuse(errors::USERNAME_TAKEN);
        }
    }
    let checked_display = check(validation::display_name(display_name.as_deref()))?;
    let was_agent = match current {
        None => {
            ctx.db.user_profile().insert(UserProfile {
                identity: me,
                username,
                display_name: checked_display,
                avatar_url: None,
                bio: None,
                is_agent,
                created_at: ctx.timestamp,
            });
            false
        }
        Some(profile) => {
            let was_agent = profile.is_agent;
            let display_name = if display_name.is_some() {
                checked_display
            } else {
                profile.display_name.clone()
            };
            ctx.db.user_profile().identity().update(UserProfile {
                username,
                display_name,
                is_agent,
                ..profile
            });
            was_agent
        }
    };
    if !is_agent || was_agent {
        return Ok(());
    }
    let memberships: Vec<ServerMember> = ctx
        .db
        .server_member()
        .iter()
        .filter(|m| m.identity == me)
        .collect();
    if !roles::may_become_agent(memberships.iter().map(|m| Role::from(m.role))) {
        // The transaction rolls back: the profile is left as it was.
        return refuse(errors::AGENT_CANNOT_HOLD_ROLES);
    }
    for member in memberships
        .into_iter()
        .filter(|m| m.role == MemberRole::Member)
    {
        ctx.db.server_member().id().update(ServerMember {
            role: MemberRole::Agent,
            ..member
        });
    }
    Ok(())
}

/// Updates the caller's display name, avatar URL and bio: `None` leaves a field unchanged,
/// `""` clears it.
#[spacetimedb::reducer]
pub fn update_profile(
    ctx: &ReducerContext,
    display_name: Option<String>,
    avatar_url: Option<String>,
    bio: Option<String>,
) -> Result<(), String> {
    let profile = caller_profile(ctx)?;
    let new_display_name = check(validation::display_name(display_name.as_deref()))?;
    let new_avatar_url = check(validation::avatar_url(avatar_url.as_deref()))?;
    let new_bio = check(validation::bio(bio.as_deref()))?;
    ctx.db.user_profile().identity().update(UserProfile {
        display_name: if display_name.is_some() {
            new_display_name
        } else {
            profile.display_name.clone()
        },
        avatar_url: if avatar_url.is_some() {
            new_avatar_url
        } else {
            profile.avatar_url.clone()
        },
        bio: if bio.is_some() {
            new_bio
        } else {
            profile.bio.clone()
        },
        ..profile
    });
    Ok(())
}

/// Sets the caller's presence: online or not, and a status text (`None` leaves it unchanged,
/// `""` clears it). `last_seen` becomes now.
#[spacetimedb::reducer]
pub fn set_presence(
    ctx: &ReducerContext,
    online: bool,
    status_text: Option<String>,
) -> Result<(), String> {
    let me = ctx.sender();
    let new_status = check(validation::status_text(status_text.as_deref()))?;
    let current = ctx.db.user_presence().identity().find(me);
    let status_text = match (&status_text, &current) {
        (Some(_), _) => new_status,
        (None, Some(presence)) => presence.status_text.clone(),
        (None, None) => None,
    };
    let row = UserPresence {
        identity: me,
        online,
        status_text,
        last_seen: ctx.timestamp,
    };
    if current.is_some() {
        ctx.db.user_presence().identity().update(row);
    } else {
        ctx.db.user_presence().insert(row);
    }
    Ok(())
}
