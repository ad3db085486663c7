//! Tasks: the engine's `spacesd/engine/reducers/tasks.py`, rule for rule (its docstring states
//! them), and the expiry: every claim inserts an `expiry_schedule` row due when the claim ends;
//! the host runs `expire` then, which releases the claim if it is still due (a renewal moved
//! it). Every write also treats an expired claim as free, so correctness never waits for the
//! scheduler ("best effort, may be slightly delayed").

use crate::auth::{
    check, find_channel, find_message, member_role, membership, profile_of, refuse, require_member,
};
use crate::enums::{ExpiryKind, TaskState};
use crate::tables::*;
use spaces_logic::errors;
use spaces_logic::roles;
use spaces_logic::tasks::{fill, until_text};
use spaces_logic::validation;
use spacetimedb::{Identity, ReducerContext, Table, TimeDuration, Timestamp};

/// `@username` of a holder (the short hex if it has no profile).
pub(crate) fn holder_text(ctx: &ReducerContext, identity: Identity) -> String {
    match profile_of(ctx, identity) {
        Some(p) => format!("@{}", p.username),
        None => identity.to_hex().to_string()[..8].to_string(),
    }
}

/// `now + ttl_secs`, and an `expiry_schedule` row due then.
pub(crate) fn schedule_expiry(
    ctx: &ReducerContext,
    kind: ExpiryKind,
    target_id: u64,
    ttl_secs: u32,
) -> Timestamp {
    let due = ctx.timestamp + TimeDuration::from_micros(i64::from(ttl_secs) * 1_000_000);
    ctx.db.expiry_schedule().insert(ExpirySchedule {
        scheduled_id: 0,
        scheduled_at: due.into(),
        kind,
        target_id,
        due,
    });
    due
}

fn released(task: Task, now: Timestamp) -> Task {
    Task {
        state: TaskState::Open,
        assignee: None,
        claimed_at: None,
        lease_expires: None,
        updated_at: now,
        ..task
    }
}

fn is_open(task: &Task) -> bool {
    matches!(task.state, TaskState::Open | TaskState::Claimed)
}

fn held(task: &Task, now: Timestamp) -> bool {
    task.state == TaskState::Claimed && task.lease_expires.is_some_and(|t| t > now)
}

/// The scheduler's call: releases the claim or drops the lease if it is still due.
#[spacetimedb::reducer]
pub fn expire(ctx: &ReducerContext, row: ExpirySchedule) -> Result<(), String> {
    if ctx.sender() != ctx.database_identity() {
        return refuse(errors::SCHEDULER_ONLY);
    }
    let now = ctx.timestamp;
    match row.kind {
        ExpiryKind::TaskClaim => {
            if let Some(task) = ctx.db.task().id().find(row.target_id) {
                if task.state == TaskState::Claimed && task.lease_expires.is_some_and(|t| t <= now)
                {
                    ctx.db.task().id().update(released(task, now));
                }
            }
        }
        ExpiryKind::PathLease => {
            if let Some(lease) = ctx.db.path_lease().id().find(row.target_id) {
                if lease.expires_at <= now {
                    ctx.db.path_lease().id().delete(lease.id);
                }
            }
        }
    }
    Ok(())
}

/// Releases the claims and drops the leases `identity` holds (a session that ends).
pub fn release_all_of(ctx: &ReducerContext, identity: Identity) {
    let claimed: Vec<Task> = ctx
        .db
        .task()
        .iter()
        .filter(|t| t.state == TaskState::Claimed && t.assignee == Some(identity))
        .collect();
    for task in claimed {
        ctx.db.task().id().update(released(task, ctx.timestamp));
    }
    ctx.db.path_lease().holder().delete(identity);
}

fn find_task(ctx: &ReducerContext, task_id: u64) -> Result<Task, String> {
    ctx.db
        .task()
        .id()
        .find(task_id)
        .ok_or_else(|| errors::TASK_NOT_FOUND.to_string())
}

/// The caller's role level in the task's server (NOT_A_MEMBER if none).
fn member_of_task_server(ctx: &ReducerContext, task: &Task) -> Result<roles::Role, String> {
    let channel = find_channel(ctx, task.channel_id)?;
    Ok(member_role(&require_member(ctx, channel.server_id)?))
}

fn require_holder(ctx: &ReducerContext, task: &Task) -> Result<(), String> {
    if !is_open(task) {
        return refuse(errors::TASK_CLOSED);
    }
    if !held(task, ctx.timestamp) || task.assignee != Some(ctx.sender()) {
        return refuse(errors::NOT_TASK_HOLDER);
    }
    Ok(())
}

/// Any member of the channel's server; a subtask names its parent, in the same channel.
#[spacetimedb::reducer]
pub fn create_task(
    ctx: &ReducerContext,
    channel_id: u64,
    title: String,
    body: String,
    parent_id: Option<u64>,
    message_id: Option<u64>,
) -> Result<(), String> {
    let channel = find_channel(ctx, channel_id)?;
    let parent = match parent_id {
        Some(id) => Some(
            ctx.db
                .task()
                .id()
                .find(id)
                .ok_or_else(|| errors::PARENT_TASK_NOT_FOUND.to_string())?,
        ),
        None => None,
    };
    let message = match message_id {
        Some(id) => Some(find_message(ctx, id)?),
        None => None,
    };
    require_member(ctx, channel.server_id)?;
    if parent.is_some_and(|p| p.channel_id != channel.id) {
        return refuse(errors::SUBTASK_OTHER_CHANNEL);
    }
    if message.is_some_and(|m| m.channel_id != channel.id) {
        return refuse(errors::TASK_MESSAGE_OTHER_CHANNEL);
    }
    check(validation::task_title(&title))?;
    check(validation::task_body(&body))?;
    let now = ctx.timestamp;
    let task = ctx.db.task().insert(Task {
        id: 0,
        channel_id: channel.id,
        message_id,
        parent_id,
        title,
        body,
        state: TaskState::Open,
        creator: ctx.sender(),
        assignee: None,
        created_at: now,
        claimed_at: None,
        lease_expires: None,
        result: None,
        updated_at: now,
    });
    super::inbox::on_task(ctx, &task, None);
    Ok(())
}

/// Any member, when the task is Open or its claim has expired; exactly one of any number of
/// concurrent claimers wins (reducers run one at a time), the others are told who holds it.
#[spacetimedb::reducer]
pub fn claim_task(ctx: &ReducerContext, task_id: u64, ttl_secs: u32) -> Result<(), String> {
    let task = find_task(ctx, task_id)?;
    member_of_task_server(ctx, &task)?;
    if !is_open(&task) {
        return refuse(errors::TASK_CLOSED);
    }
    if held(&task, ctx.timestamp) {
        if task.assignee == Some(ctx.sender()) {
            return refuse(errors::TASK_ALREADY_YOURS);
        }
        let holder = holder_text(ctx, task.assignee.unwrap_or(ctx.sender()));
        let until = task
            .lease_expires
            .map_or(0, |t| t.to_micros_since_unix_epoch());
        return Err(fill(
            errors::TASK_CLAIMED,
            &[
                ("task", &task.id.to_string()),
                ("holder", &holder),
                ("until", &until_text(until)),
            ],
        ));
    }
    check(validation::ttl_secs(ttl_secs))?;
    let now = ctx.timestamp;
    let due = schedule_expiry(ctx, ExpiryKind::TaskClaim, task.id, ttl_secs);
    ctx.db.task().id().update(Task {
        state: TaskState::Claimed,
        assignee: Some(ctx.sender()),
        claimed_at: Some(now),
        lease_expires: Some(due),
        updated_at: now,
        ..task
    });
    Ok(())
}

/// The holder: the claim now ends ttl_secs from now.
#[spacetimedb::reducer]
pub fn renew_task(ctx: &ReducerContext, task_id: u64, ttl_secs: u32) -> Result<(), String> {
    let task = find_task(ctx, task_id)?;
    member_of_task_server(ctx, &task)?;
    require_holder(ctx, &task)?;
    check(validation::ttl_secs(ttl_secs))?;
    let due = schedule_expiry(ctx, ExpiryKind::TaskClaim, task.id, ttl_secs);
    ctx.db.task().id().update(Task {
        lease_expires: Some(due),
        updated_at: ctx.timestamp,
        ..task
    });
    Ok(())
}

fn finish(
    ctx: &ReducerContext,
    task_id: u64,
    result: String,
    state: TaskState,
) -> Result<(), String> {
    let task = find_task(ctx, task_id)?;
    member_of_task_server(ctx, &task)?;
    require_holder(ctx, &task)?;
    check(validation::task_result(&result))?;
    ctx.db.task().id().update(Task {
        state,
        lease_expires: None,
        result: Some(result),
        updated_at: ctx.timestamp,
        ..task
    });
    Ok(())
}

/// The holder: Done, with the result; the assignee stays as who did it.
#[spacetimedb::reducer]
pub fn complete_task(ctx: &ReducerContext, task_id: u64, result: String) -> Result<(), String> {
    finish(ctx, task_id, result, TaskState::Done)
}

/// The holder: Failed, with the reason as the result.
#[spacetimedb::reducer]
pub fn fail_task(ctx: &ReducerContext, task_id: u64, result: String) -> Result<(), String> {
    finish(ctx, task_id, result, TaskState::Failed)
}

/// The holder gives the task back: Open again.
#[spacetimedb::reducer]
pub fn release_task(ctx: &ReducerContext, task_id: u64) -> Result<(), String> {
    let task = find_task(ctx, task_id)?;
    member_of_task_server(ctx, &task)?;
    require_holder(ctx, &task)?;
    ctx.db.task().id().update(released(task, ctx.timestamp));
    Ok(())
}

/// The task, if the caller may cancel or reassign it (its creator, or a Moderator+).
fn managed(ctx: &ReducerContext, task_id: u64) -> Result<Task, String> {
    let task = find_task(ctx, task_id)?;
    let role = member_of_task_server(ctx, &task)?;
    if task.creator != ctx.sender() && !roles::is_moderator(role) {
        return refuse(errors::TASK_MANAGE_FORBIDDEN);
    }
    if !is_open(&task) {
        return refuse(errors::TASK_CLOSED);
    }
    Ok(task)
}

/// The creator or a Moderator+: Cancelled, with its open or claimed subtasks.
#[spacetimedb::reducer]
pub fn cancel_task(ctx: &ReducerContext, task_id: u64) -> Result<(), String> {
    let task = managed(ctx, task_id)?;
    let now = ctx.timestamp;
    let children: Vec<Task> = ctx
        .db
        .task()
        .iter()
        .filter(|t| t.parent_id == Some(task.id) && is_open(t))
        .collect();
    for row in std::iter::once(task).chain(children) {
        ctx.db.task().id().update(Task {
            state: TaskState::Cancelled,
            lease_expires: None,
            updated_at: now,
            ..row
        });
    }
    Ok(())
}

/// The creator or a Moderator+ gives the claim to a member of the server.
#[spacetimedb::reducer]
pub fn reassign_task(
    ctx: &ReducerContext,
    task_id: u64,
    identity: Identity,
    ttl_secs: u32,
) -> Result<(), String> {
    let task = managed(ctx, task_id)?;
    let channel = find_channel(ctx, task.channel_id)?;
    if membership(ctx, channel.server_id, identity).is_none() {
        return refuse(errors::TARGET_NOT_A_MEMBER);
    }
    check(validation::ttl_secs(ttl_secs))?;
    let now = ctx.timestamp;
    let due = schedule_expiry(ctx, ExpiryKind::TaskClaim, task.id, ttl_secs);
    let task = ctx.db.task().id().update(Task {
        state: TaskState::Claimed,
        assignee: Some(identity),
        claimed_at: Some(now),
        lease_expires: Some(due),
        updated_at: now,
        ..task
    });
    super::inbox::on_task(ctx, &task, Some(identity));
    Ok(())
}

/// The caller's claims are released and its leases dropped (a session ending).
#[spacetimedb::reducer]
pub fn release_all(ctx: &ReducerContext) -> Result<(), String> {
    release_all_of(ctx, ctx.sender());
    Ok(())
}
