//! The enums of the data model (the three of the seed, then the tasks block, then the
//! live-session block). Variant order is the BSATN tag and part of the wire
//! format: it must match `spacesd/model.py` exactly (checked by tests/test_schema_sync.py).

use spaces_logic::roles::Role;
use spacetimedb::SpacetimeType;

/// What a channel is for.
#[derive(SpacetimeType, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelType {
    Text,
    Voice,
    Announcement,
    AgentLog,
}

/// Who or what wrote a message. Clients send `Text` and `AgentEvent`; the others are written
/// by reducers.
#[derive(SpacetimeType, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    Text,
    System,
    AgentEvent,
    Join,
    Leave,
}

/// A member's role in a server; levels Owner 4, Admin 3, Moderator 2, Member 1, Agent 1.
#[derive(SpacetimeType, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberRole {
    Owner,
    Admin,
    Moderator,
    Member,
    Agent,
}

impl From<MemberRole> for Role {
    fn from(role: MemberRole) -> Role {
        match role {
            MemberRole::Owner => Role::Owner,
            MemberRole::Admin => Role::Admin,
            MemberRole::Moderator => Role::Moderator,
            MemberRole::Member => Role::Member,
            MemberRole::Agent => Role::Agent,
        }
    }
}

impl From<Role> for MemberRole {
    fn from(role: Role) -> MemberRole {
        match role {
            Role::Owner => MemberRole::Owner,
            Role::Admin => MemberRole::Admin,
            Role::Moderator => MemberRole::Moderator,
            Role::Member => MemberRole::Member,
            Role::Agent => MemberRole::Agent,
        }
    }
}

impl MemberRole {
    /// The role's level (Owner 4 … Agent 1), from the logic crate.
    pub fn level(self) -> u8 {
        Role::from(self).level()
    }
}

// -- tasks, path leases and votes (issue 13) --

/// Where a task stands. Claimed carries an assignee and a lease expiry; Done and Failed keep
/// the assignee and carry a result.
#[derive(SpacetimeType, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    Open,
    Claimed,
    Done,
    Failed,
    Cancelled,
}

/// What a vote is about.
#[derive(SpacetimeType, Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteTarget {
    Message,
    Task,
}

/// What an `expiry_schedule` row expires (module only: the engine sweeps instead).
#[derive(SpacetimeType, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryKind {
    TaskClaim,
    PathLease,
}

// -- live sessions (issue 12) ------------------------------------------------------------------

/// Which client runs a session.
#[derive(SpacetimeType, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentKind {
    Claude,
    Codex,
    Gemini,
    Other,
}

/// A session's presence, from its client's hook events.
#[derive(SpacetimeType, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    Working,
    WaitingForInput,
    Idle,
    Ended,
}

/// Why an item is in an inbox.
#[derive(SpacetimeType, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboxKind {
    Dm,
    Mention,
    Reply,
    Thread,
    Channel,
    Addressed,
    Task,
}

impl InboxKind {
    /// When several rules match, the lowest rank wins: Dm, Mention, Addressed, Reply, Thread,
    /// Channel, Task.
    pub fn rank(self) -> u8 {
        match self {
            InboxKind::Dm => 0,
            InboxKind::Mention => 1,
            InboxKind::Addressed => 2,
            InboxKind::Reply => 3,
            InboxKind::Thread => 4,
            InboxKind::Channel => 5,
            InboxKind::Task => 6,
        }
    }
}

/// An inbox item's receipt: queued, delivered into the session, read.
#[derive(SpacetimeType, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeliveryState {
    Queued,
    Delivered,
    Read,
}
