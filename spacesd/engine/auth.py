"""Lookups and authorization: does the row exist, is the caller a member, is the role enough.

Role levels (model.ROLE_LEVEL): Owner 4, Admin 3, Moderator 2, Member 1, Agent 1.
"""

from __future__ import annotations

from typing import Final

from spacesd.engine import errors
from spacesd.engine.context import ReducerContext
from spacesd.engine.errors import ReducerError
from spacesd.model import (
    ROLE_LEVEL,
    Channel,
    DirectConversation,
    Identity,
    MemberRole,
    Message,
    Server,
    ServerMember,
    SystemNotification,
    Thread,
    UserProfile,
)

OWNER: Final = ROLE_LEVEL[MemberRole.Owner]
ADMIN: Final = ROLE_LEVEL[MemberRole.Admin]
MODERATOR: Final = ROLE_LEVEL[MemberRole.Moderator]


def require_profile(ctx: ReducerContext) -> UserProfile:
    profile = ctx.db.profile(ctx.caller)
    if profile is None:
        raise ReducerError(errors.NO_PROFILE)
    return profile


def role_for(profile: UserProfile | None) -> MemberRole:
    """The role a joining identity gets: Agent for agent profiles, else Member."""
    return MemberRole.Agent if profile is not None and profile.is_agent else MemberRole.Member


def server(ctx: ReducerContext, server_id: int) -> Server:
    found = ctx.db.server(server_id)
    if found is None:
        raise ReducerError(errors.SERVER_NOT_FOUND)
    return found


def channel(ctx: ReducerContext, channel_id: int) -> Channel:
    found = ctx.db.channel(channel_id)
    if found is None:
        raise ReducerError(errors.CHANNEL_NOT_FOUND)
    return found


def message(ctx: ReducerContext, message_id: int) -> Message:
    found = ctx.db.message(message_id)
    if found is None:
        raise ReducerError(errors.MESSAGE_NOT_FOUND)
    return found


def thread(ctx: ReducerContext, thread_id: int) -> Thread:
    found: Thread | None = ctx.db.get("thread", thread_id)
    if found is None:
        raise ReducerError(errors.THREAD_NOT_FOUND)
    return found


def conversation(ctx: ReducerContext, conversation_id: int) -> DirectConversation:
    found: DirectConversation | None = ctx.db.get("direct_conversation", conversation_id)
    if found is None:
        raise ReducerError(errors.CONVERSATION_NOT_FOUND)
    return found


def notification(ctx: ReducerContext, notification_id: int) -> SystemNotification:
    found: SystemNotification | None = ctx.db.get("system_notification", notification_id)
    if found is None:
        raise ReducerError(errors.NOTIFICATION_NOT_FOUND)
    return found


def member(ctx: ReducerContext, server_id: int) -> ServerMember:
    """The caller's membership of a server, or NOT_A_MEMBER."""
    found = ctx.db.member(server_id, ctx.caller)
    if found is None:
        raise ReducerError(errors.NOT_A_MEMBER)
    return found


def channel_member(ctx: ReducerContext, channel_row: Channel) -> ServerMember:
    return member(ctx, channel_row.server_id)


def level(membership: ServerMember) -> int:
    return ROLE_LEVEL[membership.role]


def require_level(membership: ServerMember, minimum: int, message: str) -> None:
    if ROLE_LEVEL[membership.role] < minimum:
        raise ReducerError(message)


def participant(ctx: ReducerContext, conv: DirectConversation) -> Identity:
    """The other participant of a conversation the caller takes part in."""
    if ctx.caller == conv.participant_a:
        return conv.participant_b
    if ctx.caller == conv.participant_b:
        return conv.participant_a
    raise ReducerError(errors.NOT_A_PARTICIPANT)


def level_of(role: MemberRole) -> int:
    return ROLE_LEVEL[role]
