"""Path leases: acquire_lease, renew_lease, release_lease.

Rules (the same in `module/src/reducers/leases.rs`): anyone with a profile takes a lease on a
project (a repository identity, see docs/live-coordination.md 10.2) and a pattern
(`spacesd.engine.patterns`); it is refused while another identity holds an unexpired lease of
the same project whose pattern overlaps (the refusal names the holder and the expiry). One's
own overlapping leases never conflict. Renew: the holder. Release: the holder, or an Admin+ of
the Spaces Hub (breaking a stale lease). An expired lease is gone (the engine drops it at the
start of every transaction, SpacetimeDB by its scheduled reducer).
"""

from __future__ import annotations

import dataclasses

from spacesd.engine import auth, errors, patterns, validation
from spacesd.engine.context import ReducerContext
from spacesd.engine.context import reducer as register
from spacesd.engine.errors import ReducerError
from spacesd.engine.reducers.tasks import SECOND, holder_text
from spacesd.model import PathLease


def lease(ctx: ReducerContext, lease_id: int) -> PathLease:
    found: PathLease | None = ctx.db.get("path_lease", lease_id)
    if found is None:
        raise ReducerError(errors.LEASE_NOT_FOUND)
    return found


@register("acquire_lease")
def acquire_lease(ctx: ReducerContext, project: str, pattern: str, ttl_secs: int,
                  reason: str | None) -> None:
    """Checks: profile; project, pattern, ttl, reason; then no overlapping lease of another."""
    auth.require_profile(ctx)
    validation.lease_project(project)
    pattern = patterns.pattern(pattern)
    validation.ttl_secs(ttl_secs)
    reason = validation.lease_reason(reason)
    now = ctx.timestamp
    for other in ctx.db.select("path_lease", project=project):
        if (other.holder != ctx.caller and other.expires_at > now
                and patterns.overlap(other.pattern, pattern)):
            raise ReducerError(errors.fill(
                errors.LEASE_CONFLICT, pattern=other.pattern,
                holder=holder_text(ctx, other.holder), until=patterns.until_text(other.expires_at)))
    ctx.db.insert(PathLease(0, project, pattern, ctx.caller, now, now + ttl_secs * SECOND,
                            reason))


@register("renew_lease")
def renew_lease(ctx: ReducerContext, lease_id: int, ttl_secs: int) -> None:
    """The holder: the lease now ends ttl_secs from now."""
    row = lease(ctx, lease_id)
    if row.holder != ctx.caller:
        raise ReducerError(errors.NOT_LEASE_HOLDER)
    validation.ttl_secs(ttl_secs)
    ctx.db.update(dataclasses.replace(row, expires_at=ctx.timestamp + ttl_secs * SECOND))


@register("release_lease")
def release_lease(ctx: ReducerContext, lease_id: int) -> None:
    """The holder, or an Admin+ of the Spaces Hub."""
    row = lease(ctx, lease_id)
    if row.holder != ctx.caller:
        hub = ctx.db.member(ctx.hub_id, ctx.caller) if ctx.hub_id is not None else None
        if hub is None or auth.level(hub) < auth.ADMIN:
            raise ReducerError(errors.LEASE_RELEASE_FORBIDDEN)
    ctx.db.delete_row(row)
