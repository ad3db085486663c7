//! Path leases: the engine's `spacesd/engine/reducers/leases.py`, rule for rule.

use crate::auth::{caller_profile, check, hub, member_role, membership, refuse};
use crate::enums::ExpiryKind;
use crate::reducers::tasks::{holder_text, schedule_expiry};
use crate::tables::*;
use spaces_logic::errors;
use spaces_logic::roles;
use spaces_logic::tasks::{fill, overlap, pattern as check_pattern, until_text};
use spaces_logic::validation;
use spacetimedb::{ReducerContext, Table};

fn find_lease(ctx: &ReducerContext, lease_id: u64) -> Result<PathLease, String> {
    ctx.db
        .path_lease()
        .id()
        .find(lease_id)
        .ok_or_else(|| errors::LEASE_NOT_FOUND.to_string())
}

/// Anyone with a profile; refused while another identity holds an unexpired overlapping lease
/// of the same project (the refusal names the holder and the expiry).
#[spacetimedb::reducer]
pub fn acquire_lease(
    ctx: &ReducerContext,
    project: String,
    pattern: String,
    ttl_secs: u32,
    reason: Option<String>,
) -> Result<(), String> {
    caller_profile(ctx)?;
    check(validation::lease_project(&project))?;
    let pattern = check(check_pattern(&pattern))?;
    check(validation::ttl_secs(ttl_secs))?;
    let reason = check(validation::lease_reason(reason.as_deref()))?;
    let now = ctx.timestamp;
    for other in ctx.db.path_lease().project().filter(&project) {
        if other.holder != ctx.sender()
            && other.expires_at > now
            && overlap(&other.pattern, &pattern)
        {
            let holder = holder_text(ctx, other.holder);
            let until = until_text(other.expires_at.to_micros_since_unix_epoch());
            return Err(fill(
                errors::LEASE_CONFLICT,
                &[
                    ("pattern", &other.pattern),
                    ("holder", &holder),
                    ("until", &until),
                ],
            ));
        }
    }
    let lease = ctx.db.path_lease().insert(PathLease {
        id: 0,
        project,
        pattern,
        holder: ctx.sender(),
        acquired_at: now,
        expires_at: now,
        reason,
    });
    let due = schedule_expiry(ctx, ExpiryKind::PathLease, lease.id, ttl_secs);
    ctx.db.path_lease().id().update(PathLease {
        expires_at: due,
        ..lease
    });
    Ok(())
}

/// The holder: the lease now ends ttl_secs from now.
#[spacetimedb::reducer]
pub fn renew_lease(ctx: &ReducerContext, lease_id: u64, ttl_secs: u32) -> Result<(), String> {
    let lease = find_lease(ctx, lease_id)?;
    if lease.holder != ctx.sender() {
        return refuse(errors::NOT_LEASE_HOLDER);
    }
    check(validation::ttl_secs(ttl_secs))?;
    let due = schedule_expiry(ctx, ExpiryKind::PathLease, lease.id, ttl_secs);
    ctx.db.path_lease().id().update(PathLease {
        expires_at: due,
        ..lease
    });
    Ok(())
}

/// The holder, or an Admin+ of the Spaces Hub (breaking a stale lease).
#[spacetimedb::reducer]
pub fn release_lease(ctx: &ReducerContext, lease_id: u64) -> Result<(), String> {
    let lease = find_lease(ctx, lease_id)?;
    if lease.holder != ctx.sender() {
        let admin = hub(ctx)
            .and_then(|h| membership(ctx, h.id, ctx.sender()))
            .is_some_and(|m| roles::is_admin(member_role(&m)));
        if !admin {
            return refuse(errors::LEASE_RELEASE_FORBIDDEN);
        }
    }
    ctx.db.path_lease().id().delete(lease.id);
    Ok(())
}
