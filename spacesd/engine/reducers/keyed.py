"""The keyed writes: a write made at most once per (caller, key). docs/idempotency.md.

`send_message_keyed(key, ...)` is send_message under an idempotency key. In one transaction it
looks up `write_key` for the caller's key: found, the call is a success that writes nothing
(the row it made before is `row_id` of that key); not found, it makes the write and inserts the
key with the new row's id. Each keyed write also prunes a few keys older than
`model.WRITE_KEY_TTL_S`, by the transaction's timestamp. `send_dm_keyed` is send_dm the same
way; future writes (task results, ...) get theirs with `keyed(ctx, key, reducer, write)`.
"""

from __future__ import annotations

from collections.abc import Callable

from spacesd import model
from spacesd.engine import errors
from spacesd.engine.context import ReducerContext
from spacesd.engine.context import reducer as register
from spacesd.engine.errors import ReducerError
from spacesd.engine.reducers.dms import post_dm
from spacesd.engine.reducers.messages import post_message
from spacesd.model import MessageType, WriteKey


def check_key(key: str) -> None:
    """1-128 printable ASCII characters (0x21-0x7e): no spaces, no control characters."""
    if not 1 <= len(key) <= model.WRITE_KEY_MAX or not all("!" <= c <= "~" for c in key):
        raise ReducerError(errors.WRITE_KEY_INVALID)


def keyed(ctx: ReducerContext, key: str, reducer: str, write: Callable[[], int]) -> None:
    """Run `write` (returning the id of the row it made, or 0) once per (caller, key)."""
    check_key(key)
    scoped = model.write_key_of(ctx.caller, key)
    if ctx.db.get("write_key", scoped) is not None:
        return  # made before: a success that writes nothing
    row_id = write()
    ctx.db.insert(WriteKey(scoped, ctx.caller, reducer, row_id, ctx.timestamp))
    prune(ctx)


def prune(ctx: ReducerContext) -> None:
    """Delete at most WRITE_KEY_PRUNE keys older than WRITE_KEY_TTL_S, oldest first."""
    cutoff = ctx.timestamp - model.WRITE_KEY_TTL_S * 1_000_000
    for row in ctx.db.write_keys_before(cutoff, model.WRITE_KEY_PRUNE):
        ctx.db.delete_row(row)


@register("send_message_keyed")
def send_message_keyed(ctx: ReducerContext, key: str, channel_id: int, content: str,
                       thread_id: int | None, reply_to_id: int | None,
                       message_type: MessageType) -> None:
    """send_message, at most once per (caller, key)."""
    keyed(ctx, key, "send_message", lambda: post_message(
        ctx, channel_id, content, thread_id, reply_to_id, message_type).id)


@register("send_dm_keyed")
def send_dm_keyed(ctx: ReducerContext, key: str, conversation_id: int, content: str) -> None:
    """send_dm, at most once per (caller, key)."""
    keyed(ctx, key, "send_dm", lambda: post_dm(ctx, conversation_id, content).id)
