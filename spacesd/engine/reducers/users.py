"""register_user, update_profile, set_presence: the caller's own rows only."""

from __future__ import annotations

import dataclasses

from spacesd.engine import auth, errors, validation
from spacesd.engine.context import ReducerContext
from spacesd.engine.context import reducer as register
from spacesd.engine.errors import ReducerError
from spacesd.model import MemberRole, UserPresence, UserProfile


def _keep_or_set(current: str | None, given: str | None, checked: str | None) -> str | None:
    """Option semantics of update reducers: None keeps, "" clears, else the checked value."""
    return current if given is None else checked


@register("register_user")
def register_user(ctx: ReducerContext, username: str, display_name: str | None,
                  is_agent: bool) -> None:
    """Set the caller's username, display name and agent flag (creating the profile).

    Becoming an agent turns every Member role of the caller into Agent (an agent can hold no
    Owner, Admin or Moderator role: refused). It is one-way: an agent profile never becomes a
    person's (a person's authority is not the agent's to take).
    """
    profile = ctx.db.profile(ctx.caller)
    if profile is not None and profile.is_agent and not is_agent:
        raise ReducerError(errors.AGENT_CANNOT_BECOME_PERSON)
    validation.username(username)
    holder = ctx.db.profile_by_username(username)
    if holder is not None and holder.identity != ctx.caller:
        raise ReducerError(errors.USERNAME_TAKEN)
    checked_display = validation.display_name(display_name)
    if profile is None:
        ctx.db.insert(UserProfile(ctx.caller, username, checked_display, None, None, is_agent,
                                  ctx.timestamp))
        was_agent = False
    else:
        ctx.db.update(dataclasses.replace(
            profile, username=username,
            display_name=_keep_or_set(profile.display_name, display_name, checked_display),
            is_agent=is_agent))
        was_agent = profile.is_agent
    if not is_agent or was_agent:
        return
    memberships = ctx.db.memberships(ctx.caller)
    if any(auth.level(m) > auth.level_of(MemberRole.Member) for m in memberships):
        raise ReducerError(errors.AGENT_CANNOT_HOLD_ROLES)
    for membership in memberships:
        if membership.role == MemberRole.Member:
            ctx.db.update(dataclasses.replace(membership, role=MemberRole.Agent))


@register("update_profile")
def update_profile(ctx: ReducerContext, display_name: str | None, avatar_url: str | None,
                   bio: str | None) -> None:
    profile = auth.require_profile(ctx)
    checked_display = validation.display_name(display_name)
    checked_avatar = validation.avatar_url(avatar_url)
    checked_bio = validation.bio(bio)
    ctx.db.update(dataclasses.replace(
        profile,
        display_name=_keep_or_set(profile.display_name, display_name, checked_display),
        avatar_url=_keep_or_set(profile.avatar_url, avatar_url, checked_avatar),
        bio=_keep_or_set(profile.bio, bio, checked_bio)))


@register("set_presence")
def set_presence(ctx: ReducerContext, online: bool, status_text: str | None) -> None:
    checked = validation.status_text(status_text)
    presence = ctx.db.presence(ctx.caller)
    if presence is None:
        ctx.db.insert(UserPresence(ctx.caller, online, checked, ctx.timestamp))
    else:
        ctx.db.update(UserPresence(
            ctx.caller, online, _keep_or_set(presence.status_text, status_text, checked),
            ctx.timestamp))
