"""create_server, join_server, leave_server, update_server, delete_server, set_member_role,
set_invite_only, invite_to_server."""

from __future__ import annotations

import dataclasses
from typing import Final

from spacesd.engine import auth, effects, errors, validation
from spacesd.engine.context import ReducerContext
from spacesd.engine.context import reducer as register
from spacesd.engine.errors import ReducerError
from spacesd.model import (
    Channel,
    ChannelType,
    Identity,
    MemberRole,
    MessageType,
    Server,
    ServerInvite,
    ServerMember,
)

DEFAULT_CHANNEL: Final = "general"
ROLE_CHANGED_TITLE: Final = "Role changed"
INVITE_TITLE: Final = "Invitation"


def role_changed_body(server_name: str, role: MemberRole) -> str:
    return f"Your role in {server_name} is now {role.name}."


def invite_body(inviter: str, server_name: str) -> str:
    return f"{inviter} invited you to {server_name}."


@register("create_server")
def create_server(ctx: ReducerContext, name: str, description: str | None,
                  icon_url: str | None) -> None:
    """People only. The caller becomes Owner; the server starts with #general (Text, 0)."""
    profile = auth.require_profile(ctx)
    if profile.is_agent:
        raise ReducerError(errors.AGENTS_CANNOT_CREATE_SERVERS)
    validation.server_name(name)
    checked_description = validation.description(description)
    checked_icon = validation.icon_url(icon_url)
    server = ctx.db.insert(Server(0, name, checked_description, checked_icon, ctx.caller,
                                  ctx.timestamp))
    ctx.db.insert(ServerMember(0, server.id, ctx.caller, MemberRole.Owner, ctx.timestamp))
    ctx.db.insert(Channel(0, server.id, DEFAULT_CHANNEL, None, ChannelType.Text, 0,
                          ctx.timestamp))


@register("join_server")
def join_server(ctx: ReducerContext, server_id: int) -> None:
    """Anyone to an open server, the invited to an invite-only one (the invite is used up):
    role Agent for agent profiles, else Member; a Join message follows."""
    profile = auth.require_profile(ctx)
    server = auth.server(ctx, server_id)
    if ctx.db.member(server_id, ctx.caller) is not None:
        raise ReducerError(errors.ALREADY_MEMBER)
    invite: ServerInvite | None = ctx.db.select_one("server_invite", server_id=server_id,
                                                    identity=ctx.caller)
    if server.invite_only and invite is None:
        raise ReducerError(errors.INVITE_NEEDED)
    if invite is not None:
        ctx.db.delete_row(invite)
    effects.join(ctx, server_id, auth.role_for(profile))


@register("leave_server")
def leave_server(ctx: ReducerContext, server_id: int) -> None:
    """Any member but the Owner. The caller's typing rows in the server go; a Leave message
    follows."""
    auth.server(ctx, server_id)
    membership = auth.member(ctx, server_id)
    if membership.role == MemberRole.Owner:
        raise ReducerError(errors.OWNER_CANNOT_LEAVE)
    ctx.db.delete_row(membership)
    for channel in ctx.db.channels(server_id):
        ctx.db.delete_where("typing_indicator", channel_id=channel.id, identity=ctx.caller)
    effects.post_membership_message(ctx, server_id, MessageType.Leave)


@register("update_server")
def update_server(ctx: ReducerContext, server_id: int, name: str | None,
                  description: str | None, icon_url: str | None) -> None:
    """Admin+. None keeps a field, "" clears description or icon_url."""
    server = auth.server(ctx, server_id)
    auth.require_level(auth.member(ctx, server_id), auth.ADMIN, errors.UPDATE_SERVER_FORBIDDEN)
    if name is not None:
        validation.server_name(name)
    checked_description = validation.description(description)
    checked_icon = validation.icon_url(icon_url)
    ctx.db.update(dataclasses.replace(
        server,
        name=server.name if name is None else name,
        description=server.description if description is None else checked_description,
        icon_url=server.icon_url if icon_url is None else checked_icon))


@register("delete_server")
def delete_server(ctx: ReducerContext, server_id: int) -> None:
    """The Owner only, never the hub. Deletes its channels (with everything under them),
    memberships and invites."""
    server = auth.server(ctx, server_id)
    membership = auth.member(ctx, server_id)
    if membership.role != MemberRole.Owner:
        raise ReducerError(errors.DELETE_SERVER_FORBIDDEN)
    if server.id == ctx.hub_id:
        raise ReducerError(errors.HUB_CANNOT_BE_DELETED)
    for channel in ctx.db.channels(server_id):
        effects.delete_channel_cascade(ctx, channel)
    ctx.db.delete_where("server_member", server_id=server_id)
    ctx.db.delete_where("server_invite", server_id=server_id)
    ctx.db.delete_row(server)


@register("set_member_role")
def set_member_role(ctx: ReducerContext, server_id: int, identity: Identity,
                    role: MemberRole) -> None:
    """Owner: any role but Owner, on anyone but themself. Admin: Moderator, Member or Agent,
    on members below Admin. An agent profile holds only Agent. The target is notified."""
    server = auth.server(ctx, server_id)
    caller = auth.member(ctx, server_id)
    target = ctx.db.member(server_id, identity)
    if target is None:
        raise ReducerError(errors.TARGET_NOT_A_MEMBER)
    auth.require_level(caller, auth.ADMIN, errors.SET_ROLE_FORBIDDEN)
    if role == MemberRole.Owner:
        raise ReducerError(errors.OWNER_ROLE_NOT_ASSIGNABLE)
    if target.role == MemberRole.Owner:
        raise ReducerError(errors.OWNER_ROLE_FIXED)
    if caller.role != MemberRole.Owner:
        if role == MemberRole.Admin:
            raise ReducerError(errors.ADMIN_ROLE_LIMIT)
        if auth.level(target) >= auth.ADMIN:
            raise ReducerError(errors.ADMIN_TARGET_LIMIT)
    profile = ctx.db.profile(identity)
    if profile is not None and profile.is_agent and role != MemberRole.Agent:
        raise ReducerError(errors.AGENT_ROLE_ONLY)
    if target.role == role:
        return
    ctx.db.update(dataclasses.replace(target, role=role))
    effects.notify(ctx, identity, ROLE_CHANGED_TITLE, role_changed_body(server.name, role))


@register("set_invite_only")
def set_invite_only(ctx: ReducerContext, server_id: int, invite_only: bool) -> None:
    """Admin+: joining needs an invite, or the server is open to anyone. The hub stays open."""
    server = auth.server(ctx, server_id)
    auth.require_level(auth.member(ctx, server_id), auth.ADMIN, errors.UPDATE_SERVER_FORBIDDEN)
    if invite_only and server.id == ctx.hub_id:
        raise ReducerError(errors.HUB_STAYS_OPEN)
    if server.invite_only != invite_only:
        ctx.db.update(dataclasses.replace(server, invite_only=invite_only))


@register("invite_to_server")
def invite_to_server(ctx: ReducerContext, server_id: int, identity: Identity) -> None:
    """Admin+ invite a user who is not a member; the invitee is notified. Inviting again
    changes nothing. The invite is used up by join_server and goes with its server."""
    server = auth.server(ctx, server_id)
    if ctx.db.profile(identity) is None:
        raise ReducerError(errors.USER_NOT_FOUND)
    auth.require_level(auth.member(ctx, server_id), auth.ADMIN, errors.INVITE_FORBIDDEN)
    if ctx.db.member(server_id, identity) is not None:
        raise ReducerError(errors.TARGET_ALREADY_MEMBER)
    if ctx.db.select_one("server_invite", server_id=server_id, identity=identity) is not None:
        return
    ctx.db.insert(ServerInvite(0, server_id, identity, ctx.caller, ctx.timestamp))
    effects.notify(ctx, identity, INVITE_TITLE,
                   invite_body(effects.name_of(ctx, ctx.caller), server.name))
