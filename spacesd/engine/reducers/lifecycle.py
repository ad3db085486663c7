"""init, client_connected, client_disconnected: called by the host, never by clients."""

from __future__ import annotations

from spacesd import model
from spacesd.engine import auth, effects, errors
from spacesd.engine.context import META_HUB_ID, META_INITIALIZED, META_OWNER, ReducerContext
from spacesd.engine.context import reducer as register
from spacesd.engine.errors import ReducerError
from spacesd.model import Channel, MemberRole, Server, ServerMember, UserPresence, UserProfile


@register("init")
def init(ctx: ReducerContext) -> None:
    """Create the Spaces Hub, owned by the database owner, with its three channels."""
    if ctx.db.meta_get(META_INITIALIZED) is not None:
        raise ReducerError(errors.ALREADY_INITIALIZED)
    hub = ctx.db.insert(Server(0, model.HUB_NAME, None, None, ctx.caller, ctx.timestamp))
    ctx.db.insert(ServerMember(0, hub.id, ctx.caller, MemberRole.Owner, ctx.timestamp))
    for name, channel_type, position in model.HUB_CHANNELS:
        ctx.db.insert(Channel(0, hub.id, name, None, channel_type, position, ctx.timestamp))
    ctx.db.meta_set(META_HUB_ID, str(hub.id))
    ctx.db.meta_set(META_OWNER, ctx.caller.hex)
    ctx.db.meta_set(META_INITIALIZED, str(ctx.timestamp))
    ctx.hub_id = hub.id


def default_username(ctx: ReducerContext) -> str:
    """`user_<first 8 hex>`, or `user_<first 27 hex>` (32 characters) if that is taken."""
    for digits in (8, 27):
        candidate = f"user_{ctx.caller.hex[:digits]}"
        if ctx.db.profile_by_username(candidate) is None:
            return candidate
    raise ReducerError(errors.USERNAME_TAKEN)


@register("client_connected")
def client_connected(ctx: ReducerContext) -> None:
    """Presence online; a default profile if none; join the hub if not a member."""
    presence = ctx.db.presence(ctx.caller)
    if presence is None:
        ctx.db.insert(UserPresence(ctx.caller, True, None, ctx.timestamp))
    else:
        ctx.db.update(UserPresence(ctx.caller, True, presence.status_text, ctx.timestamp))
    profile = ctx.db.profile(ctx.caller)
    if profile is None:
        profile = ctx.db.insert(UserProfile(ctx.caller, default_username(ctx), None, None, None,
                                            False, ctx.timestamp))
    hub_id = ctx.hub_id
    if (hub_id is not None and ctx.db.server(hub_id) is not None
            and ctx.db.member(hub_id, ctx.caller) is None):
        effects.join(ctx, hub_id, auth.role_for(profile))


@register("client_disconnected")
def client_disconnected(ctx: ReducerContext) -> None:
    """Presence offline with last_seen = now; the caller's typing rows go."""
    presence = ctx.db.presence(ctx.caller)
    if presence is None:
        ctx.db.insert(UserPresence(ctx.caller, False, None, ctx.timestamp))
    else:
        ctx.db.update(UserPresence(ctx.caller, False, presence.status_text, ctx.timestamp))
    ctx.db.delete_where("typing_indicator", identity=ctx.caller)
