//! System notifications: written by reducers for their target, dismissed by that target.

use crate::auth::refuse;
use crate::tables::*;
use spaces_logic::errors;
use spacetimedb::{Identity, ReducerContext, Table};

/// Writes a notification for `target`.
pub(crate) fn notify(ctx: &ReducerContext, target: Identity, title: String, body: String) {
    ctx.db.system_notification().insert(SystemNotification {
        id: 0,
        target,
        title,
        body,
        created_at: ctx.timestamp,
    });
}

/// Deletes a notification; only its target may.
#[spacetimedb::reducer]
pub fn dismiss_notification(ctx: &ReducerContext, id: u64) -> Result<(), String> {
    let Some(notification) = ctx.db.system_notification().id().find(id) else {
        return refuse(errors::NOTIFICATION_NOT_FOUND);
    };
    if notification.target != ctx.sender() {
        return refuse(errors::NOT_NOTIFICATION_TARGET);
    }
    ctx.db.system_notification().id().delete(id);
    Ok(())
}
