//! Keyed writes (docs/idempotency.md): a write made at most once per (caller, key).
//!
//! In the reducer's own transaction: the caller's key is looked up in `write_key`; found, the
//! call is a success that writes nothing (the row made before is that key's `row_id`); not
//! found, the write is made and the key inserted with the new row's id. Each keyed write also
//! prunes a few keys older than `WRITE_KEY_TTL`, by the transaction's timestamp. The same
//! rules as the engine's `spacesd/engine/reducers/keyed.py`.

use crate::enums::MessageType;
use crate::reducers::dms::post_dm;
use crate::reducers::messages::post_message;
use crate::tables::*;
use spaces_logic::errors;
use spacetimedb::{ReducerContext, Table, TimeDuration, Timestamp};

/// A client's key: 1-128 printable ASCII characters, no spaces.
const WRITE_KEY_MAX: usize = 128;
/// Keys older than this are pruned (7 days, as `spacesd.model.WRITE_KEY_TTL_S`).
const WRITE_KEY_TTL_MICROS: i64 = 7 * 24 * 3600 * 1_000_000;
/// How many expired keys one keyed write deletes at most.
const WRITE_KEY_PRUNE: usize = 16;

fn check_key(key: &str) -> Result<(), String> {
    let ok = (1..=WRITE_KEY_MAX).contains(&key.chars().count())
        && key.chars().all(|c| ('!'..='~').contains(&c));
    if ok {
        Ok(())
    } else {
        Err(errors::WRITE_KEY_INVALID.to_string())
    }
}

/// Runs `write` (returning the id of the row it made, or 0) once per (caller, key).
pub(crate) fn keyed(
    ctx: &ReducerContext,
    key: &str,
    reducer: &str,
    write: impl FnOnce() -> Result<u64, String>,
) -> Result<(), String> {
    check_key(key)?;
    let scoped = format!("{}/{}", ctx.sender().to_hex(), key);
    if ctx.db.write_key().key().find(&scoped).is_some() {
        return Ok(()); // made before: a success that writes nothing
    }
    let row_id = write()?;
    ctx.db.write_key().insert(WriteKey {
        key: scoped,
        identity: ctx.sender(),
        reducer: reducer.to_string(),
        row_id,
        created_at: ctx.timestamp,
    });
    prune(ctx);
    Ok(())
}

/// Deletes at most WRITE_KEY_PRUNE keys created more than WRITE_KEY_TTL ago, oldest first.
fn prune(ctx: &ReducerContext) {
    let cutoff: Timestamp = ctx.timestamp - TimeDuration::from_micros(WRITE_KEY_TTL_MICROS);
    let expired: Vec<String> = ctx
        .db
        .write_key()
        .created_at()
        .filter(..cutoff)
        .take(WRITE_KEY_PRUNE)
        .map(|k| k.key)
        .collect();
    for key in expired {
        ctx.db.write_key().key().delete(&key);
    }
}

/// `send_message`, at most once per (caller, key).
#[spacetimedb::reducer]
pub fn send_message_keyed(
    ctx: &ReducerContext,
    key: String,
    channel_id: u64,
    content: String,
    thread_id: Option<u64>,
    reply_to_id: Option<u64>,
    message_type: MessageType,
) -> Result<(), String> {
    keyed(ctx, &key, "send_message", || {
        post_message(
            ctx,
            channel_id,
            content,
            thread_id,
            reply_to_id,
            message_type,
        )
        .map(|m| m.id)
    })
}

/// `send_dm`, at most once per (caller, key).
#[spacetimedb::reducer]
pub fn send_dm_keyed(
    ctx: &ReducerContext,
    key: String,
    conversation_id: u64,
    content: String,
) -> Result<(), String> {
    keyed(ctx, &key, "send_dm", || {
        post_dm(ctx, conversation_id, content).map(|d| d.id)
    })
}
