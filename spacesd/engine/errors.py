"""Every refusal a Spaces reducer can produce, in one place.

The embedded engine (`spacesd.engine`) and the SpacetimeDB module (`module/`, Rust) return the
SAME message for the same refusal, so clients, the daemon and the conformance scenarios
(`tests/conformance/`) can rely on the text. Copy the strings byte for byte; change one only
in both implementations and the scenarios at once.

Order of checks (when several refusals apply, the first in this order is reported):
1. the caller's profile, where the reducer needs it (NO_PROFILE; create_server, join_server,
   start_dm, update_profile);
2. the rows the arguments refer to exist (SERVER_NOT_FOUND, CHANNEL_NOT_FOUND, ...), in
   parameter order (send_message: channel, thread, replied-to message; mark_channel_read:
   channel, message; start_dm: the other user);
3. the caller's membership of the server concerned (NOT_A_MEMBER; NOT_A_PARTICIPANT), then a
   target's (TARGET_NOT_A_MEMBER);
4. role, ownership and the state of the rows: the "only ..." messages, then rules on the
   channel or thread (send_message: MESSAGE_TYPE_RESERVED, VOICE_NO_MESSAGES,
   ANNOUNCEMENT_ADMIN_ONLY, THREAD_OTHER_CHANNEL, THREAD_ARCHIVED, REPLY_OTHER_CHANNEL;
   set_member_role: SET_ROLE_FORBIDDEN, OWNER_ROLE_NOT_ASSIGNABLE, OWNER_ROLE_FIXED,
   ADMIN_ROLE_LIMIT, ADMIN_TARGET_LIMIT, AGENT_ROLE_ONLY; edit_message: EDIT_FORBIDDEN,
   EDIT_RESERVED_TYPE; delete_server: DELETE_SERVER_FORBIDDEN, HUB_CANNOT_BE_DELETED;
   archive_thread: ARCHIVE_FORBIDDEN, THREAD_ALREADY_ARCHIVED);
5. the arguments' values (format, length, then uniqueness), in parameter order
   (register_user: AGENT_CANNOT_BECOME_PERSON first, then USERNAME_INVALID, USERNAME_TAKEN,
   the display name's, then AGENT_CANNOT_HOLD_ROLES; start_dm: CANNOT_DM_SELF; add_reaction:
   EMOJI_INVALID, EMOJI_CHARACTERS, ALREADY_REACTED). A name is checked for its length, then
   for being blank, then for its characters (`validation.py`).

Four kinds of message live here:
- module-level string constants: reducer refusals, produced identically by both
  implementations and each exercised by at least one conformance scenario;
- `ENGINE_ONLY`: refusals that SpacetimeDB's host makes before a module runs (unknown reducer,
  wrong arguments, calling init twice) or that a real server never reaches (a caller without a
  profile: every SpacetimeDB connection runs client_connected first). The module may use the
  same words for its defensive branches; the engine tests cover these;
- functions for the engine's argument errors, whose text names the reducer and argument
  (a text argument that is not valid Unicode included: `invalid_text`);
- `lifecycle_reducer`: the host's refusal of a client's call of init, client_connected or
  client_disconnected, worded as a real SpacetimeDB server words it (`host_messages`).
"""

from __future__ import annotations

from typing import Final


class ReducerError(Exception):
    """A reducer refused the call; nothing changed. `message` is the person-readable reason."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ReducerError) and other.message == self.message

    def __hash__(self) -> int:
        return hash(self.message)

    def __repr__(self) -> str:
        return f"ReducerError({self.message!r})"


# --------------------------------------------------------------------------------------------
# Lookups (the row an argument refers to does not exist)

SERVER_NOT_FOUND: Final = "no such server"
CHANNEL_NOT_FOUND: Final = "no such channel"
MESSAGE_NOT_FOUND: Final = "no such message"
THREAD_NOT_FOUND: Final = "no such thread"
USER_NOT_FOUND: Final = "no such user"
CONVERSATION_NOT_FOUND: Final = "no such conversation"
NOTIFICATION_NOT_FOUND: Final = "no such notification"
REACTION_NOT_FOUND: Final = "you have not reacted to this message with this emoji"
REPLY_NOT_FOUND: Final = "the message replied to does not exist"
TARGET_NOT_A_MEMBER: Final = "that user is not a member of this server"

# --------------------------------------------------------------------------------------------
# Membership

NOT_A_MEMBER: Final = "you are not a member of this server"
ALREADY_MEMBER: Final = "you are already a member of this server"
NOT_A_PARTICIPANT: Final = "you are not a participant in this conversation"
NOT_NOTIFICATION_TARGET: Final = "only its target can dismiss a notification"

# --------------------------------------------------------------------------------------------
# Users

USERNAME_INVALID: Final = "usernames are 3-32 characters of a-z, 0-9, _, . and -"
USERNAME_TAKEN: Final = "that username is taken"
DISPLAY_NAME_TOO_LONG: Final = "display names are at most 64 characters"
AVATAR_URL_INVALID: Final = "avatar URLs are http:// or https:// URLs of at most 512 characters"
BIO_TOO_LONG: Final = "bios are at most 512 characters"
STATUS_TEXT_TOO_LONG: Final = "status texts are at most 128 characters"
AGENT_CANNOT_HOLD_ROLES: Final = (
    "an agent can only hold the Agent role: give up Owner, Admin and Moderator roles first")
AGENT_CANNOT_BECOME_PERSON: Final = "an agent stays an agent: is_agent cannot be turned off"
DISPLAY_NAME_BLANK: Final = "display names cannot be blank (\"\" clears one)"
DISPLAY_NAME_CHARACTERS: Final = (
    "display names cannot contain control or bidirectional-control characters")

# --------------------------------------------------------------------------------------------
# Servers and roles

AGENTS_CANNOT_CREATE_SERVERS: Final = "agents cannot create servers"
SERVER_NAME_INVALID: Final = "server names are 1-100 characters and not blank"
SERVER_NAME_CHARACTERS: Final = (
    "server names cannot contain control or bidirectional-control characters")
DESCRIPTION_TOO_LONG: Final = "descriptions are at most 1024 characters"
ICON_URL_INVALID: Final = "icon URLs are http:// or https:// URLs of at most 512 characters"
UPDATE_SERVER_FORBIDDEN: Final = "only Admins and the Owner can update a server"
DELETE_SERVER_FORBIDDEN: Final = "only the Owner can delete a server"
HUB_CANNOT_BE_DELETED: Final = "the Spaces Hub cannot be deleted"
OWNER_CANNOT_LEAVE: Final = "the Owner cannot leave their server; delete it instead"
SET_ROLE_FORBIDDEN: Final = "only Admins and the Owner can change roles"
OWNER_ROLE_NOT_ASSIGNABLE: Final = "the Owner role cannot be given"
OWNER_ROLE_FIXED: Final = "the Owner's role cannot be changed"
ADMIN_ROLE_LIMIT: Final = "Admins can only give the Moderator, Member and Agent roles"
ADMIN_TARGET_LIMIT: Final = "Admins can only change the roles of members below Admin"
AGENT_ROLE_ONLY: Final = "an agent can only hold the Agent role"
HUB_STAYS_OPEN: Final = "the Spaces Hub stays open to everyone"
INVITE_FORBIDDEN: Final = "only Admins and the Owner can invite to a server"
INVITE_NEEDED: Final = "this server is invite-only: an Admin or the Owner must invite you first"
TARGET_ALREADY_MEMBER: Final = "that user is already a member of this server"

# --------------------------------------------------------------------------------------------
# Channels

CREATE_CHANNEL_FORBIDDEN: Final = "only Admins and the Owner can create channels"
DELETE_CHANNEL_FORBIDDEN: Final = "only Admins and the Owner can delete channels"
UPDATE_CHANNEL_FORBIDDEN: Final = "only Moderators, Admins and the Owner can update channels"
CHANNEL_NAME_INVALID: Final = "channel names are 1-64 characters of a-z, 0-9, _ and -"
CHANNEL_NAME_TAKEN: Final = "this server already has a channel with that name"
TOPIC_TOO_LONG: Final = "topics are at most 1024 characters"

# --------------------------------------------------------------------------------------------
# Messages and reactions

MESSAGE_TYPE_RESERVED: Final = "clients can only send Text and AgentEvent messages"
ANNOUNCEMENT_ADMIN_ONLY: Final = "only Admins and the Owner can post in announcement channels"
VOICE_NO_MESSAGES: Final = "voice channels take no messages"
TEXT_CONTENT_INVALID: Final = "messages are 1-4000 characters"
AGENT_EVENT_INVALID: Final = "agent events are JSON objects of at most 16384 characters"
THREAD_OTHER_CHANNEL: Final = "that thread belongs to another channel"
THREAD_ARCHIVED: Final = "that thread is archived"
REPLY_OTHER_CHANNEL: Final = "a reply must be in the channel of the message it answers"
EDIT_FORBIDDEN: Final = "only the sender can edit a message"
EDIT_RESERVED_TYPE: Final = "system, join and leave messages cannot be edited"
DELETE_MESSAGE_FORBIDDEN: Final = (
    "only the sender and Moderators, Admins or the Owner can delete a message")
EMOJI_INVALID: Final = "emoji are 1-32 characters and not blank"
EMOJI_CHARACTERS: Final = "emoji cannot contain control or bidirectional-control characters"
ALREADY_REACTED: Final = "you already reacted to this message with this emoji"
READ_MESSAGE_OTHER_CHANNEL: Final = "that message is not in this channel"

# --------------------------------------------------------------------------------------------
# Threads

THREAD_NAME_INVALID: Final = "thread names are 1-100 characters and not blank"
THREAD_NAME_CHARACTERS: Final = (
    "thread names cannot contain control or bidirectional-control characters")
VOICE_NO_THREADS: Final = "voice channels have no threads"
ARCHIVE_FORBIDDEN: Final = (
    "only the thread's creator and Moderators, Admins or the Owner can archive a thread")
THREAD_ALREADY_ARCHIVED: Final = "that thread is already archived"

# --------------------------------------------------------------------------------------------
# Direct messages

CANNOT_DM_SELF: Final = "you cannot start a conversation with yourself"
DM_CONTENT_INVALID: Final = "direct messages are 1-4000 characters"

# --------------------------------------------------------------------------------------------
# Tasks, path leases and votes (issue 13). TASK_CLAIMED and LEASE_CONFLICT are templates:
# `{task}` the task's id, `{pattern}` the lease's pattern, `{holder}` `@username` of the holder,
# `{until}` the expiry as `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds); fill them with `fill`.

TASK_NOT_FOUND: Final = "no such task"
LEASE_NOT_FOUND: Final = "no such lease"
PARENT_TASK_NOT_FOUND: Final = "the parent task does not exist"
SUBTASK_OTHER_CHANNEL: Final = "a subtask must be in its parent task's channel"
TASK_MESSAGE_OTHER_CHANNEL: Final = "a task's announcing message must be in the task's channel"
TASK_MANAGE_FORBIDDEN: Final = (
    "only the task's creator and Moderators, Admins or the Owner can cancel or reassign a task")
TASK_CLOSED: Final = "that task is closed"
TASK_CLAIMED: Final = "task {task} is claimed by {holder} until {until}"
TASK_ALREADY_YOURS: Final = "you hold that task already: renew it instead"
NOT_TASK_HOLDER: Final = "only the task's holder can do that"
LEASE_RELEASE_FORBIDDEN: Final = (
    "only the lease's holder and Admins or the Owner of the Spaces Hub can release a lease")
NOT_LEASE_HOLDER: Final = "only the lease's holder can renew it"
LEASE_CONFLICT: Final = "{pattern} is leased by {holder} until {until}"
TASK_TITLE_INVALID: Final = "task titles are 1-200 characters and not blank"
TASK_BODY_TOO_LONG: Final = "task bodies are at most 8000 characters"
TASK_RESULT_TOO_LONG: Final = "task results are at most 8000 characters"
TTL_INVALID: Final = "claims and leases last 1 to 86400 seconds"
LEASE_PROJECT_INVALID: Final = "lease projects are 1-200 characters and not blank"
LEASE_PATTERN_INVALID: Final = (
    "lease patterns are 1-500 characters: a path relative to the repository root, a directory "
    "ending in /, or a glob with * and **; no .., no leading /, no ? [ ] or backslash")
LEASE_REASON_TOO_LONG: Final = "lease reasons are at most 200 characters"
VOTE_CHOICE_INVALID: Final = "vote choices are 1-32 characters and not blank"


def fill(template: str, **values: object) -> str:
    """A template message with its `{name}` fields filled (TASK_CLAIMED, LEASE_CONFLICT)."""
    text = template
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


TEMPLATES: Final = ("TASK_CLAIMED", "LEASE_CONFLICT")
# Idempotency keys (the `_keyed` reducers; docs/idempotency.md)

WRITE_KEY_INVALID: Final = "write keys are 1-128 printable ASCII characters without spaces"
# Live sessions (issue 12): register_session, set_session_state, end_session, follow_channel,
# address_sessions, mark_delivered, mark_read

SESSION_AGENTS_ONLY: Final = "only agent profiles can register a session"
SESSION_NOT_FOUND: Final = "no such session"
SESSION_STATE_FORBIDDEN: Final = "only the session itself or its machine can set its state"
SESSION_PROJECT_INVALID: Final = (
    "a session's project is 1-256 characters, its label 1-64 and its branch at most 256")
ADDRESS_PEOPLE_ONLY: Final = "only people can address sessions"
ADDRESS_OWN_MESSAGE: Final = "only the sender of a message can address it to sessions"
ADDRESS_NO_TARGET: Final = "name a project, a machine or a participant to address"
INBOX_ITEM_NOT_FOUND: Final = "no such inbox item"
INBOX_ITEM_NOT_YOURS: Final = "only its recipient can mark an inbox item"

# --------------------------------------------------------------------------------------------
# Engine only (see the module docstring): the host's refusals, and unreachable on a real server.

NO_PROFILE: Final = "you have no profile yet: connect first"
ALREADY_INITIALIZED: Final = "the database is already initialized"
# The module's scheduled `expire` refuses any caller but the database itself; it is not a
# reducer of the model, so no client of Spaces can reach it (the engine expires by `sweep`).
SCHEDULER_ONLY: Final = "only the database's scheduler may call expire"


def unknown_reducer(name: str) -> str:
    return f"no such reducer: {name}"


def wrong_arity(reducer: str, expected: int, got: int) -> str:
    return f"{reducer} takes {expected} argument{'' if expected == 1 else 's'}, got {got}"


def not_an_array(reducer: str) -> str:
    return f"the arguments of {reducer} must be an array"


def bad_argument(reducer: str, param: str, expected: str) -> str:
    return f"argument {param} of {reducer} must be {expected}"


def invalid_text(reducer: str, param: str) -> str:
    """A text argument holding a lone surrogate (U+D800..U+DFFF: no Unicode scalar value, so
    neither UTF-8, BSATN nor SQLite can carry it)."""
    return bad_argument(reducer, param, "valid Unicode text (it holds a lone surrogate)")

#: The lifecycle reducers, by SpacetimeDB's name for them (its `Lifecycle` enum).
LIFECYCLE: Final[dict[str, str]] = {
    "init": "Init", "client_connected": "OnConnect", "client_disconnected": "OnDisconnect"}


def lifecycle_reducer(name: str) -> str:
    """A client's call of a lifecycle reducer: the host refuses it before the module runs,
    in SpacetimeDB's words (`ReducerCallError::LifecycleReducer`)."""
    return f"can't directly call special {LIFECYCLE[name]} lifecycle reducer"


def host_messages() -> dict[str, str]:
    """Refusals the host makes (a real SpacetimeDB server, and the engine for a client's
    call): scenarios may expect them, and must produce each."""
    return {f"lifecycle_reducer({name})": lifecycle_reducer(name) for name in LIFECYCLE}


ENGINE_ONLY: Final[frozenset[str]] = frozenset({NO_PROFILE, ALREADY_INITIALIZED,
                                               SCHEDULER_ONLY})


def all_messages() -> dict[str, str]:
    """Every constant refusal message by constant name (engine-only ones included)."""
    return {name: value for name, value in globals().items()
            if name.isupper() and isinstance(value, str)}


def module_messages() -> dict[str, str]:
    """The refusals both implementations produce: what the conformance scenarios must cover."""
    return {name: value for name, value in all_messages().items() if value not in ENGINE_ONLY}
