"""The Spaces data model: its tables (the design's 13, `write_key`, `server_invite`, issue
13's task, path_lease and vote, then the live-session block of issue 12), enums and the
reducer signatures, written once.

Column order and enum variant order are part of the wire format (BSATN encodes rows and sums
positionally), so this module is the single source for the engine's SQLite schema, the BSATN
row codecs and the schema-sync test against the Rust module in `module/src/`.

Types are spelled as in the Rust module (`u64`, `String`, `Option<String>`, `Identity`,
`Timestamp`, `ChannelType`, ...); `parse_type` turns a spelling into a `TypeSpec`.

Python representations:
- Identity: `Identity` (a u256; `.hex` is the big-endian hex people see).
- Timestamp: `int`, microseconds since the Unix epoch.
- Option<T>: `T | None`.
- enums: the IntEnum classes below; the value is the BSATN tag.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Any, ClassVar, Final

# --------------------------------------------------------------------------------------------
# Scalars


class Identity:
    """A SpacetimeDB identity: an unsigned 256-bit integer.

    People see it as 64 hex digits, big-endian (`c200...`); BSATN carries it as 32 bytes
    little-endian, the byte-reverse of that.
    """

    __slots__ = ("_value",)
    _value: int

    def __init__(self, value: int) -> None:
        if not 0 <= value < 1 << 256:
            raise ValueError("identity out of range for u256")
        object.__setattr__(self, "_value", value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Identity is immutable")

    @classmethod
    def from_hex(cls, text: str) -> Identity:
        digits = text[2:] if text[:2].lower() == "0x" else text
        if len(digits) != 64:
            raise ValueError(f"identity must be 64 hex digits, got {len(digits)}")
        try:
            return cls(int(digits, 16))
        except ValueError:
            raise ValueError(f"identity is not hexadecimal: {text!r}") from None

    @classmethod
    def from_le_bytes(cls, data: bytes) -> Identity:
        if len(data) != 32:
            raise ValueError("identity must be 32 bytes")
        return cls(int.from_bytes(data, "little"))

    def to_le_bytes(self) -> bytes:
        return self._value.to_bytes(32, "little")

    @property
    def value(self) -> int:
        return self._value

    @property
    def hex(self) -> str:
        return f"{self._value:064x}"

    def short(self) -> str:
        """The first 8 hex digits, as in the default username `user_<short>`."""
        return self.hex[:8]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Identity) and other._value == self._value

    def __lt__(self, other: Identity) -> bool:
        return self._value < other._value

    def __le__(self, other: Identity) -> bool:
        return self._value <= other._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __str__(self) -> str:
        return self.hex

    def __repr__(self) -> str:
        return f"Identity(0x{self.hex})"


Timestamp = int
"""Microseconds since the Unix epoch (SpacetimeDB's Timestamp)."""


def now_micros() -> Timestamp:
    return time.time_ns() // 1000


def timestamp_to_iso(ts: Timestamp) -> str:
    """ISO 8601 in UTC with microseconds, e.g. `2026-11-20T09:00:07.259000Z`."""
    dt = datetime.fromtimestamp(ts / 1_000_000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --------------------------------------------------------------------------------------------
# Enums: member names are the wire/Rust variant names, values are the BSATN tags.


class ChannelType(enum.IntEnum):
    Text = 0
    Voice = 1
    Announcement = 2
    AgentLog = 3


class MessageType(enum.IntEnum):
    Text = 0
    System = 1
    AgentEvent = 2
    Join = 3
    Leave = 4


class MemberRole(enum.IntEnum):
    Owner = 0
    Admin = 1
    Moderator = 2
    Member = 3
    Agent = 4

    @property
    def level(self) -> int:
        return ROLE_LEVEL[self]


ROLE_LEVEL: Final[dict[MemberRole, int]] = {
    MemberRole.Owner: 4,
    MemberRole.Admin: 3,
    MemberRole.Moderator: 2,
    MemberRole.Member: 1,
    MemberRole.Agent: 1,
}

# -- tasks, path leases and votes (issue 13) --


class TaskState(enum.IntEnum):
    Open = 0
    Claimed = 1
    Done = 2
    Failed = 3
    Cancelled = 4


class VoteTarget(enum.IntEnum):
    Message = 0
    Task = 1


# -- end of tasks, path leases and votes --

# -- live sessions (issue 12): appended enums, variant order is the BSATN tag ------------------


class AgentKind(enum.IntEnum):
    Claude = 0
    Codex = 1
    Gemini = 2
    Other = 3


class SessionState(enum.IntEnum):
    Working = 0
    WaitingForInput = 1
    Idle = 2
    Ended = 3


class InboxKind(enum.IntEnum):
    """Why an item is in an inbox; when several rules match, the strongest (lowest rank in
    INBOX_KIND_RANK) wins."""

    Dm = 0
    Mention = 1
    Reply = 2
    Thread = 3
    Channel = 4
    Addressed = 5
    Task = 6


INBOX_KIND_RANK: Final[dict[InboxKind, int]] = {
    InboxKind.Dm: 0, InboxKind.Mention: 1, InboxKind.Addressed: 2, InboxKind.Reply: 3,
    InboxKind.Thread: 4, InboxKind.Channel: 5, InboxKind.Task: 6,
}


class DeliveryState(enum.IntEnum):
    Queued = 0
    Delivered = 1
    Read = 2

ENUMS: Final[dict[str, type[enum.IntEnum]]] = {
    "ChannelType": ChannelType,
    "MessageType": MessageType,
    "MemberRole": MemberRole,
    "TaskState": TaskState,
    "VoteTarget": VoteTarget,
    "AgentKind": AgentKind,
    "SessionState": SessionState,
    "InboxKind": InboxKind,
    "DeliveryState": DeliveryState,
}

# --------------------------------------------------------------------------------------------
# Type spellings


@dataclass(frozen=True)
class TypeSpec:
    """A column or parameter type.

    kind is one of: bool, u8, u16, u32, u64, i64, String, Identity, Timestamp, Option, Enum.
    `inner` is set for Option; `enum` for Enum.
    """

    kind: str
    inner: TypeSpec | None = None
    enum: type[enum.IntEnum] | None = None

    def __str__(self) -> str:
        if self.kind == "Option":
            return f"Option<{self.inner}>"
        if self.kind == "Enum":
            assert self.enum is not None
            return self.enum.__name__
        return self.kind


PRIMITIVES: Final = frozenset({"bool", "u8", "u16", "u32", "u64", "i64", "String", "Identity",
                               "Timestamp"})


def parse_type(text: str) -> TypeSpec:
    text = text.strip()
    if text.startswith("Option<") and text.endswith(">"):
        return TypeSpec("Option", inner=parse_type(text[len("Option<"):-1]))
    if text in PRIMITIVES:
        return TypeSpec(text)
    if text in ENUMS:
        return TypeSpec("Enum", enum=ENUMS[text])
    raise ValueError(f"unknown type {text!r}")


# --------------------------------------------------------------------------------------------
# Rows. Field order is column order.


@dataclass(slots=True)
class UserProfile:
    identity: Identity
    username: str
    display_name: str | None
    avatar_url: str | None
    bio: str | None
    is_agent: bool
    created_at: Timestamp


@dataclass(slots=True)
class UserPresence:
    identity: Identity
    online: bool
    status_text: str | None
    last_seen: Timestamp


@dataclass(slots=True)
class Server:
    id: int
    name: str
    description: str | None
    icon_url: str | None
    owner: Identity
    created_at: Timestamp
    invite_only: bool = False


@dataclass(slots=True)
class ServerMember:
    id: int
    server_id: int
    identity: Identity
    role: MemberRole
    joined_at: Timestamp


@dataclass(slots=True)
class Channel:
    id: int
    server_id: int
    name: str
    topic: str | None
    channel_type: ChannelType
    position: int
    created_at: Timestamp


@dataclass(slots=True)
class Thread:
    id: int
    channel_id: int
    name: str
    creator: Identity
    created_at: Timestamp
    archived: bool
    last_message_at: Timestamp


@dataclass(slots=True)
class Message:
    id: int
    channel_id: int
    thread_id: int | None
    sender: Identity
    content: str
    message_type: MessageType
    created_at: Timestamp
    edited_at: Timestamp | None
    reply_to_id: int | None


@dataclass(slots=True)
class Reaction:
    id: int
    message_id: int
    identity: Identity
    emoji: str


@dataclass(slots=True)
class ChannelReadState:
    id: int
    identity: Identity
    channel_id: int
    last_read_msg_id: int


@dataclass(slots=True)
class DirectConversation:
    id: int
    participant_a: Identity
    participant_b: Identity
    created_at: Timestamp
    last_message_at: Timestamp


@dataclass(slots=True)
class DirectMessage:
    id: int
    conversation_id: int
    sender: Identity
    content: str
    created_at: Timestamp
    edited_at: Timestamp | None
    read: bool


@dataclass(slots=True)
class TypingIndicator:
    id: int
    channel_id: int
    identity: Identity
    started_at: Timestamp


@dataclass(slots=True)
class SystemNotification:
    id: int
    target: Identity
    title: str
    body: str
    created_at: Timestamp


# -- tasks, path leases and votes (issue 13) --


@dataclass(slots=True)
class Task:
    id: int
    channel_id: int
    message_id: int | None
    parent_id: int | None
    title: str
    body: str
    state: TaskState
    creator: Identity
    assignee: Identity | None
    created_at: Timestamp
    claimed_at: Timestamp | None
    lease_expires: Timestamp | None
    result: str | None
    updated_at: Timestamp


@dataclass(slots=True)
class PathLease:
    id: int
    project: str
    pattern: str
    holder: Identity
    acquired_at: Timestamp
    expires_at: Timestamp
    reason: str | None


@dataclass(slots=True)
class Vote:
    id: int
    target_kind: VoteTarget
    target_id: int
    voter: Identity
    choice: str
    created_at: Timestamp


# -- end of tasks, path leases and votes --

@dataclass(slots=True)
class WriteKey:
    """An idempotency key: the write `reducer` made under `key` (the caller's identity hex,
    "/", the key the client chose), and the id of the row it made (`row_id`; 0 when the write
    makes no single row). See docs/idempotency.md."""

    key: str
    identity: Identity
    reducer: str
    row_id: int
    created_at: Timestamp


@dataclass(slots=True)
class ServerInvite:
    id: int
    server_id: int
    identity: Identity
    invited_by: Identity
    created_at: Timestamp


# -- live sessions (issue 12) ---------------------------------------------------------------


@dataclass(slots=True)
class SessionInfo:
    identity: Identity
    machine: Identity
    agent: AgentKind
    project: str
    project_label: str
    branch: str | None
    can_wake: bool
    state: SessionState
    state_at: Timestamp
    started_at: Timestamp
    ended_at: Timestamp | None


@dataclass(slots=True)
class InboxItem:
    id: int
    recipient: Identity
    sender: Identity
    kind: InboxKind
    channel_id: int | None
    message_id: int | None
    dm_id: int | None
    task_id: int | None
    priority: bool
    state: DeliveryState
    created_at: Timestamp
    delivered_at: Timestamp | None
    read_at: Timestamp | None


@dataclass(slots=True)
class ChannelFollow:
    id: int
    channel_id: int
    identity: Identity


@dataclass(slots=True)
class ThreadPoster:
    id: int
    thread_id: int
    identity: Identity


Row = Any
"""Any of the row dataclasses above."""

# --------------------------------------------------------------------------------------------
# Table definitions


@dataclass(frozen=True)
class Column:
    name: str
    type_name: str

    @property
    def type(self) -> TypeSpec:
        return parse_type(self.type_name)


@dataclass(frozen=True)
class TableDef:
    name: str
    row_type: type
    columns: tuple[Column, ...]
    primary_key: str
    auto_inc: bool = False
    unique: tuple[str, ...] = ()
    btree: tuple[str, ...] = ()
    # Private tables: rows concern only the identities named in `visible_to` columns.
    visible_to: tuple[str, ...] = ()

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def public(self) -> bool:
        return not self.visible_to

    def row_from_values(self, values: tuple[Any, ...] | list[Any]) -> Any:
        return self.row_type(*values)

    def values_of(self, row: Any) -> tuple[Any, ...]:
        return tuple(getattr(row, c.name) for c in self.columns)


def _table(name: str, row_type: type, spec: str, primary_key: str, **kw: Any) -> TableDef:
    cols = []
    for part in spec.split(";"):
        col_name, _, type_name = part.strip().partition(" ")
        cols.append(Column(col_name, type_name.strip()))
    table = TableDef(name, row_type, tuple(cols), primary_key, **kw)
    declared = [f.name for f in fields(row_type)]
    if declared != list(table.column_names):
        raise AssertionError(f"{name}: row fields {declared} != columns {table.column_names}")
    return table


TABLES: Final[tuple[TableDef, ...]] = (
    _table("user_profile", UserProfile,
           "identity Identity; username String; display_name Option<String>; "
           "avatar_url Option<String>; bio Option<String>; is_agent bool; created_at Timestamp",
           "identity", unique=("username",)),
    _table("user_presence", UserPresence,
           "identity Identity; online bool; status_text Option<String>; last_seen Timestamp",
           "identity"),
    _table("server", Server,
           "id u64; name String; description Option<String>; icon_url Option<String>; "
           "owner Identity; created_at Timestamp; invite_only bool",
           "id", auto_inc=True),
    _table("server_member", ServerMember,
           "id u64; server_id u64; identity Identity; role MemberRole; joined_at Timestamp",
           "id", auto_inc=True, btree=("server_id",)),
    _table("channel", Channel,
           "id u64; server_id u64; name String; topic Option<String>; "
           "channel_type ChannelType; position u32; created_at Timestamp",
           "id", auto_inc=True, btree=("server_id",)),
    _table("thread", Thread,
           "id u64; channel_id u64; name String; creator Identity; created_at Timestamp; "
           "archived bool; last_message_at Timestamp",
           "id", auto_inc=True, btree=("channel_id",)),
    _table("message", Message,
           "id u64; channel_id u64; thread_id Option<u64>; sender Identity; content String; "
           "message_type MessageType; created_at Timestamp; edited_at Option<Timestamp>; "
           "reply_to_id Option<u64>",
           "id", auto_inc=True, btree=("channel_id",)),
    _table("reaction", Reaction,
           "id u64; message_id u64; identity Identity; emoji String",
           "id", auto_inc=True, btree=("message_id",)),
    _table("channel_read_state", ChannelReadState,
           "id u64; identity Identity; channel_id u64; last_read_msg_id u64",
           "id", auto_inc=True, btree=("identity",)),
    _table("direct_conversation", DirectConversation,
           "id u64; participant_a Identity; participant_b Identity; created_at Timestamp; "
           "last_message_at Timestamp",
           "id", auto_inc=True, visible_to=("participant_a", "participant_b")),
    _table("direct_message", DirectMessage,
           "id u64; conversation_id u64; sender Identity; content String; "
           "created_at Timestamp; edited_at Option<Timestamp>; read bool",
           "id", auto_inc=True, btree=("conversation_id",),
           # visible to the participants of its conversation (resolved through the join)
           visible_to=("conversation_id",)),
    _table("typing_indicator", TypingIndicator,
           "id u64; channel_id u64; identity Identity; started_at Timestamp",
           "id", auto_inc=True),
    _table("system_notification", SystemNotification,
           "id u64; target Identity; title String; body String; created_at Timestamp",
           "id", auto_inc=True, btree=("target",), visible_to=("target",)),
    # -- tasks, path leases and votes (issue 13) --
    _table("task", Task,
           "id u64; channel_id u64; message_id Option<u64>; parent_id Option<u64>; "
           "title String; body String; state TaskState; creator Identity; "
           "assignee Option<Identity>; created_at Timestamp; claimed_at Option<Timestamp>; "
           "lease_expires Option<Timestamp>; result Option<String>; updated_at Timestamp",
           "id", auto_inc=True, btree=("channel_id",)),
    _table("path_lease", PathLease,
           "id u64; project String; pattern String; holder Identity; acquired_at Timestamp; "
           "expires_at Timestamp; reason Option<String>",
           "id", auto_inc=True, btree=("project", "holder")),
    _table("vote", Vote,
           "id u64; target_kind VoteTarget; target_id u64; voter Identity; choice String; "
           "created_at Timestamp",
           "id", auto_inc=True, btree=("target_id",)),
    # -- end of tasks, path leases and votes --
    _table("write_key", WriteKey,
           "key String; identity Identity; reducer String; row_id u64; created_at Timestamp",
           "key", btree=("created_at",), visible_to=("identity",)),
    _table("server_invite", ServerInvite,
           "id u64; server_id u64; identity Identity; invited_by Identity; "
           "created_at Timestamp",
           "id", auto_inc=True, btree=("server_id",)),
    # -- live sessions (issue 12)
    _table("session_info", SessionInfo,
           "identity Identity; machine Identity; agent AgentKind; project String; "
           "project_label String; branch Option<String>; can_wake bool; state SessionState; "
           "state_at Timestamp; started_at Timestamp; ended_at Option<Timestamp>",
           "identity", btree=("machine",)),
    _table("inbox_item", InboxItem,
           "id u64; recipient Identity; sender Identity; kind InboxKind; "
           "channel_id Option<u64>; message_id Option<u64>; dm_id Option<u64>; "
           "task_id Option<u64>; priority bool; state DeliveryState; created_at Timestamp; "
           "delivered_at Option<Timestamp>; read_at Option<Timestamp>",
           "id", auto_inc=True, btree=("recipient", "sender"),
           visible_to=("recipient", "sender")),
    _table("channel_follow", ChannelFollow,
           "id u64; channel_id u64; identity Identity",
           "id", auto_inc=True, btree=("channel_id",)),
    _table("thread_poster", ThreadPoster,
           "id u64; thread_id u64; identity Identity",
           "id", auto_inc=True, btree=("thread_id",)),
)

TABLE_BY_NAME: Final[dict[str, TableDef]] = {t.name: t for t in TABLES}
TABLE_BY_ROW: Final[dict[type, TableDef]] = {t.row_type: t for t in TABLES}

# --------------------------------------------------------------------------------------------
# Reducers: name and parameters in order (the order of CallReducer's BSATN args and of the
# JSON array of the HTTP call route). Lifecycle reducers take no arguments.
#
# Update reducers take Option parameters: None leaves a field unchanged; an empty string
# clears an optional text field.


MACHINE_TEXT_PARAMS: Final = frozenset({"key", "project", "pattern"})
"""String parameters a program fills with an identifier (an idempotency key), not text a person
or agent wrote: the redaction gate leaves them as they are (a key scrubbed to `[REDACTED]`
would make two writes one). A lease's project (`git:<root commit>`) and pattern (a path) are
identifiers too: a path with a random-looking directory name scrubbed to `[REDACTED]` would
lease nothing the PreToolUse check ever compares against."""


@dataclass(frozen=True)
class ReducerDef:
    name: str
    params: tuple[tuple[str, str], ...]
    lifecycle: bool = False

    LIFECYCLE: ClassVar[frozenset[str]] = frozenset(
        {"init", "client_connected", "client_disconnected"})

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p for p, _ in self.params)

    @property
    def text_params(self) -> tuple[int, ...]:
        """Positions of the parameters that carry text someone wrote (String,
        Option<String>, except `MACHINE_TEXT_PARAMS`): what the daemon's redaction gate
        scrubs before a call leaves the machine."""
        return tuple(i for i, (name, t) in enumerate(self.params)
                     if t in ("String", "Option<String>") and name not in MACHINE_TEXT_PARAMS)


def _reducer(name: str, spec: str = "") -> ReducerDef:
    params: list[tuple[str, str]] = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        pname, _, ptype = part.partition(" ")
        parse_type(ptype)
        params.append((pname, ptype.strip()))
    return ReducerDef(name, tuple(params), lifecycle=name in ReducerDef.LIFECYCLE)


REDUCERS: Final[tuple[ReducerDef, ...]] = (
    _reducer("init"),
    _reducer("client_connected"),
    _reducer("client_disconnected"),
    # users
    _reducer("register_user", "username String; display_name Option<String>; is_agent bool"),
    _reducer("update_profile",
             "display_name Option<String>; avatar_url Option<String>; bio Option<String>"),
    _reducer("set_presence", "online bool; status_text Option<String>"),
    # servers
    _reducer("create_server", "name String; description Option<String>; icon_url Option<String>"),
    _reducer("join_server", "server_id u64"),
    _reducer("leave_server", "server_id u64"),
    _reducer("update_server",
             "server_id u64; name Option<String>; description Option<String>; "
             "icon_url Option<String>"),
    _reducer("delete_server", "server_id u64"),
    _reducer("set_member_role", "server_id u64; identity Identity; role MemberRole"),
    _reducer("set_invite_only", "server_id u64; invite_only bool"),
    _reducer("invite_to_server", "server_id u64; identity Identity"),
    # channels
    _reducer("create_channel",
             "server_id u64; name String; topic Option<String>; channel_type ChannelType"),
    _reducer("update_channel",
             "channel_id u64; name Option<String>; topic Option<String>; position Option<u32>"),
    _reducer("delete_channel", "channel_id u64"),
    # messages
    _reducer("send_message",
             "channel_id u64; content String; thread_id Option<u64>; reply_to_id Option<u64>; "
             "message_type MessageType"),
    _reducer("edit_message", "message_id u64; content String"),
    _reducer("delete_message", "message_id u64"),
    _reducer("add_reaction", "message_id u64; emoji String"),
    _reducer("remove_reaction", "message_id u64; emoji String"),
    # threads
    _reducer("create_thread", "channel_id u64; name String"),
    _reducer("archive_thread", "thread_id u64"),
    # direct messages
    _reducer("start_dm", "other Identity"),
    _reducer("send_dm", "conversation_id u64; content String"),
    _reducer("mark_dm_read", "conversation_id u64"),
    # read state, typing, notifications
    _reducer("mark_channel_read", "channel_id u64; message_id u64"),
    _reducer("set_typing", "channel_id u64; typing bool"),
    _reducer("dismiss_notification", "id u64"),
    # -- tasks, path leases and votes (issue 13) --
    _reducer("create_task",
             "channel_id u64; title String; body String; parent_id Option<u64>; "
             "message_id Option<u64>"),
    _reducer("claim_task", "task_id u64; ttl_secs u32"),
    _reducer("renew_task", "task_id u64; ttl_secs u32"),
    _reducer("complete_task", "task_id u64; result String"),
    _reducer("fail_task", "task_id u64; result String"),
    _reducer("release_task", "task_id u64"),
    _reducer("cancel_task", "task_id u64"),
    _reducer("reassign_task", "task_id u64; identity Identity; ttl_secs u32"),
    _reducer("acquire_lease",
             "project String; pattern String; ttl_secs u32; reason Option<String>"),
    _reducer("renew_lease", "lease_id u64; ttl_secs u32"),
    _reducer("release_lease", "lease_id u64"),
    _reducer("release_all"),
    _reducer("cast_vote", "target_kind VoteTarget; target_id u64; choice String"),
    # -- end of tasks, path leases and votes --
    # keyed writes (docs/idempotency.md): the write of the reducer named without `_keyed`,
    # made at most once per (caller, key)
    _reducer("send_message_keyed",
             "key String; channel_id u64; content String; thread_id Option<u64>; "
             "reply_to_id Option<u64>; message_type MessageType"),
    # live sessions (issue 12)
    _reducer("register_session",
             "agent AgentKind; machine Identity; project String; project_label String; "
             "branch Option<String>; can_wake bool"),
    _reducer("set_session_state", "identity Identity; state SessionState"),
    _reducer("end_session"),
    _reducer("follow_channel", "channel_id u64; follow bool"),
    _reducer("address_sessions",
             "message_id u64; project Option<String>; machine Option<Identity>; "
             "participant Option<Identity>; priority bool"),
    _reducer("mark_delivered", "id u64"),
    _reducer("mark_read", "id u64"),
    # keyed DMs (docs/idempotency.md): send_dm at most once per (caller, key)
    _reducer("send_dm_keyed", "key String; conversation_id u64; content String"),
)

REDUCER_BY_NAME: Final[dict[str, ReducerDef]] = {r.name: r for r in REDUCERS}

WRITE_KEY_MAX: Final = 128
"""A client's idempotency key: 1-128 printable ASCII characters, no spaces."""
WRITE_KEY_TTL_S: Final = 7 * 24 * 3600
"""Keys older than this (by the database's clock) are pruned, a few at each keyed write."""
WRITE_KEY_PRUNE: Final = 16
"""How many expired keys one keyed write deletes at most (the work of a write stays small)."""


def write_key_of(caller: Identity, key: str) -> str:
    """The `write_key` primary key of `key` sent by `caller`: keys are namespaced by the
    caller's identity, so one client can never shadow another's."""
    return f"{caller.hex}/{key}"

HUB_NAME: Final = "Spaces Hub"
HUB_CHANNELS: Final = (
    ("general", ChannelType.Text, 0),
    ("agent-logs", ChannelType.AgentLog, 1),
    ("system", ChannelType.Announcement, 2),
)
