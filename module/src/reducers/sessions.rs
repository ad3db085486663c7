//! Live sessions: register_session, set_session_state, end_session, follow_channel,
//! address_sessions, mark_delivered, mark_read. The inbox rules of new messages are in
//! `inbox.rs`.

use crate::auth::{caller_profile, find_channel, find_message, refuse, require_member};
use crate::enums::{AgentKind, DeliveryState, InboxKind, SessionState};
use crate::reducers::inbox::{mark, queue, Target};
use crate::tables::*;
use spaces_logic::errors;
use spacetimedb::{Identity, ReducerContext, Table};

const PROJECT_MAX: usize = 256;
const LABEL_MAX: usize = 64;
const BRANCH_MAX: usize = 256;

fn chars(text: &str) -> usize {
    text.chars().count()
}

/// Agent profiles only; the caller's own row, created Idle or refreshed (a resumed session:
/// an Ended one is Idle again, started_at kept).
#[spacetimedb::reducer]
pub fn register_session(
    ctx: &ReducerContext,
    agent: AgentKind,
    machine: Identity,
    project: String,
    project_label: String,
    branch: Option<String>,
    can_wake: bool,
) -> Result<(), String> {
    let profile = caller_profile(ctx)?;
    if !profile.is_agent {
        return refuse(errors::SESSION_AGENTS_ONLY);
    }
    if !(1..=PROJECT_MAX).contains(&chars(&project))
        || !(1..=LABEL_MAX).contains(&chars(&project_label))
        || branch.as_deref().is_some_and(|b| chars(b) > BRANCH_MAX)
    {
        return refuse(errors::SESSION_PROJECT_INVALID);
    }
    let now = ctx.timestamp;
    match ctx.db.session_info().identity().find(ctx.sender()) {
        None => {
            ctx.db.session_info().insert(SessionInfo {
                identity: ctx.sender(),
                machine,
                agent,
                project,
                project_label,
                branch,
                can_wake,
                state: SessionState::Idle,
                state_at: now,
                started_at: now,
                ended_at: None,
            });
        }
        Some(old) => {
            let state = if old.state == SessionState::Ended {
                SessionState::Idle
            } else {
                old.state
            };
            let state_at = if state != old.state {
                now
            } else {
                old.state_at
            };
            ctx.db.session_info().identity().update(SessionInfo {
                machine,
                agent,
                project,
                project_label,
                branch,
                can_wake,
                state,
                state_at,
                ended_at: None,
                ..old
            });
        }
    }
    Ok(())
}

fn set_state(ctx: &ReducerContext, info: SessionInfo, state: SessionState) {
    if info.state == state {
        return;
    }
    let ended_at = if state == SessionState::Ended {
        Some(ctx.timestamp)
    } else {
        None
    };
    let identity = info.identity;
    ctx.db.session_info().identity().update(SessionInfo {
        state,
        state_at: ctx.timestamp,
        ended_at,
        ..info
    });
    if state == SessionState::Ended {
        crate::reducers::tasks::release_all_of(ctx, identity);
    }
}

/// The session itself, or the machine that registered it (a crashed session is ended by its
/// daemon).
#[spacetimedb::reducer]
pub fn set_session_state(
    ctx: &ReducerContext,
    identity: Identity,
    state: SessionState,
) -> Result<(), String> {
    let Some(info) = ctx.db.session_info().identity().find(identity) else {
        return refuse(errors::SESSION_NOT_FOUND);
    };
    if ctx.sender() != info.identity && ctx.sender() != info.machine {
        return refuse(errors::SESSION_STATE_FORBIDDEN);
    }
    set_state(ctx, info, state);
    Ok(())
}

/// The caller's own session becomes Ended.
#[spacetimedb::reducer]
pub fn end_session(ctx: &ReducerContext) -> Result<(), String> {
    let Some(info) = ctx.db.session_info().identity().find(ctx.sender()) else {
        return refuse(errors::SESSION_NOT_FOUND);
    };
    set_state(ctx, info, SessionState::Ended);
    Ok(())
}

/// Members of the channel's server; following twice or unfollowing what one does not follow
/// changes nothing.
#[spacetimedb::reducer]
pub fn follow_channel(ctx: &ReducerContext, channel_id: u64, follow: bool) -> Result<(), String> {
    let channel = find_channel(ctx, channel_id)?;
    require_member(ctx, channel.server_id)?;
    let me = ctx.sender();
    let row = ctx
        .db
        .channel_follow()
        .channel_id()
        .filter(channel.id)
        .find(|f| f.identity == me);
    match (follow, row) {
        (true, None) => {
            ctx.db.channel_follow().insert(ChannelFollow {
                id: 0,
                channel_id: channel.id,
                identity: me,
            });
        }
        (false, Some(row)) => {
            ctx.db.channel_follow().id().delete(row.id);
        }
        _ => {}
    }
    Ok(())
}

/// A person addresses their own message to the live sessions of a project (its repository
/// identity or its label), of a machine, or to one participant: each gets an Addressed item
/// (an existing item of the message is raised to Addressed and, if asked, priority).
#[spacetimedb::reducer]
pub fn address_sessions(
    ctx: &ReducerContext,
    message_id: u64,
    project: Option<String>,
    machine: Option<Identity>,
    participant: Option<Identity>,
    priority: bool,
) -> Result<(), String> {
    let profile = caller_profile(ctx)?;
    let message = find_message(ctx, message_id)?;
    if profile.is_agent {
        return refuse(errors::ADDRESS_PEOPLE_ONLY);
    }
    if message.sender != ctx.sender() {
        return refuse(errors::ADDRESS_OWN_MESSAGE);
    }
    if project.is_none() && machine.is_none() && participant.is_none() {
        return refuse(errors::ADDRESS_NO_TARGET);
    }
    let me = ctx.sender();
    let sessions: Vec<SessionInfo> = ctx.db.session_info().iter().collect();
    for info in sessions {
        if info.state == SessionState::Ended || info.identity == me {
            continue;
        }
        let matches = project
            .as_deref()
            .is_some_and(|p| p == info.project || p == info.project_label)
            || machine == Some(info.machine)
            || participant == Some(info.identity);
        if !matches {
            continue;
        }
        let old = ctx
            .db
            .inbox_item()
            .recipient()
            .filter(info.identity)
            .find(|i| i.message_id == Some(message.id));
        match old {
            None => {
                let target = Target {
                    channel_id: Some(message.channel_id),
                    message_id: Some(message.id),
                    dm_id: None,
                };
                queue(ctx, info.identity, InboxKind::Addressed, target, priority);
            }
            Some(old) => {
                let weak = matches!(
                    old.kind,
                    InboxKind::Reply | InboxKind::Thread | InboxKind::Channel
                );
                if weak || (priority && !old.priority) {
                    let kind = if old.kind == InboxKind::Mention {
                        old.kind
                    } else {
                        InboxKind::Addressed
                    };
                    ctx.db.inbox_item().id().update(InboxItem {
                        kind,
                        priority: old.priority || priority,
                        ..old
                    });
                }
            }
        }
    }
    Ok(())
}

fn own_item(ctx: &ReducerContext, id: u64) -> Result<InboxItem, String> {
    let Some(item) = ctx.db.inbox_item().id().find(id) else {
        return refuse(errors::INBOX_ITEM_NOT_FOUND);
    };
    if item.recipient != ctx.sender() {
        return refuse(errors::INBOX_ITEM_NOT_YOURS);
    }
    Ok(item)
}

/// The recipient, after its hook flushed the item into the session; a Delivered or Read item
/// stays as it is (retries are safe).
#[spacetimedb::reducer]
pub fn mark_delivered(ctx: &ReducerContext, id: u64) -> Result<(), String> {
    let item = own_item(ctx, id)?;
    mark(ctx, item, DeliveryState::Delivered);
    Ok(())
}

/// The recipient; Read fills delivered_at when it was never marked delivered.
#[spacetimedb::reducer]
pub fn mark_read(ctx: &ReducerContext, id: u64) -> Result<(), String> {
    let item = own_item(ctx, id)?;
    mark(ctx, item, DeliveryState::Read);
    Ok(())
}
