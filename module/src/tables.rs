//! The tables of the data model (the design's 13, `write_key`, `server_invite`, and issue 13's
//! task, path_lease and vote), in one place. Field order is column order and part of the
//! wire format: it must match `spacesd/model.py` exactly (checked by
//! tests/test_schema_sync.py).
//!
//! Every table is `public` so that clients can subscribe to it by its own name. The three
//! tables that concern only some identities (`direct_conversation`, `direct_message`,
//! `system_notification`) are narrowed by row-level security filters in `visibility.rs`.

use crate::enums::{
    AgentKind, ChannelType, DeliveryState, ExpiryKind, InboxKind, MemberRole, MessageType,
    SessionState, TaskState, VoteTarget,
};
use spacetimedb::{Identity, ScheduleAt, Timestamp};

#[spacetimedb::table(accessor = user_profile, public)]
#[derive(Clone)]
pub struct UserProfile {
    #[primary_key]
    pub identity: Identity,
    #[unique]
    pub username: String,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    pub bio: Option<String>,
    pub is_agent: bool,
    pub created_at: Timestamp,
}

#[spacetimedb::table(accessor = user_presence, public)]
#[derive(Clone)]
pub struct UserPresence {
    #[primary_key]
    pub identity: Identity,
    pub online: bool,
    pub status_text: Option<String>,
    pub last_seen: Timestamp,
}

#[spacetimedb::table(accessor = server, public)]
#[derive(Clone)]
pub struct Server {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    pub name: String,
    pub description: Option<String>,
    pub icon_url: Option<String>,
    pub owner: Identity,
    pub created_at: Timestamp,
    /// Joining needs an invite (`server_invite`); appended with a default, so a database
    /// published before it migrates with its servers open.
    #[default(false)]
    pub invite_only: bool,
}

#[spacetimedb::table(accessor = server_member, public)]
#[derive(Clone)]
pub struct ServerMember {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[index(btree)]
    pub server_id: u64,
    pub identity: Identity,
    pub role: MemberRole,
    pub joined_at: Timestamp,
}

#[spacetimedb::table(accessor = channel, public)]
#[derive(Clone)]
pub struct Channel {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[index(btree)]
    pub server_id: u64,
    pub name: String,
    pub topic: Option<String>,
    pub channel_type: ChannelType,
    pub position: u32,
    pub created_at: Timestamp,
}

#[spacetimedb::table(accessor = thread, public)]
#[derive(Clone)]
pub struct Thread {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[index(btree)]
    pub channel_id: u64,
    pub name: String,
    pub creator: Identity,
    pub created_at: Timestamp,
    pub archived: bool,
    pub last_message_at: Timestamp,
}

#[spacetimedb::table(accessor = message, public)]
#[derive(Clone)]
pub struct Message {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[index(btree)]
    pub channel_id: u64,
    pub thread_id: Option<u64>,
    pub sender: Identity,
    pub content: String,
    pub message_type: MessageType,
    pub created_at: Timestamp,
    pub edited_at: Option<Timestamp>,
    pub reply_to_id: Option<u64>,
}

#[spacetimedb::table(accessor = reaction, public)]
#[derive(Clone)]
pub struct Reaction {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[index(btree)]
    pub message_id: u64,
    pub identity: Identity,
    pub emoji: String,
}

#[spacetimedb::table(accessor = channel_read_state, public)]
#[derive(Clone)]
pub struct ChannelReadState {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[index(btree)]
    pub identity: Identity,
    pub channel_id: u64,
    pub last_read_msg_id: u64,
}

#[spacetimedb::table(accessor = direct_conversation, public)]
#[derive(Clone)]
pub struct DirectConversation {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    pub participant_a: Identity,
    pub participant_b: Identity,
    pub created_at: Timestamp,
    pub last_message_at: Timestamp,
}

#[spacetimedb::table(accessor = direct_message, public)]
#[derive(Clone)]
pub struct DirectMessage {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[index(btree)]
    pub conversation_id: u64,
    pub sender: Identity,
    pub content: String,
    pub created_at: Timestamp,
    pub edited_at: Option<Timestamp>,
    pub read: bool,
}

#[spacetimedb::table(accessor = typing_indicator, public)]
#[derive(Clone)]
pub struct TypingIndicator {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    pub channel_id: u64,
    pub identity: Identity,
    pub started_at: Timestamp,
}

#[spacetimedb::table(accessor = system_notification, public)]
#[derive(Clone)]
pub struct SystemNotification {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[index(btree)]
    pub target: Identity,
    pub title: String,
    pub body: String,
    pub created_at: Timestamp,
}

// -- tasks, path leases and votes (issue 13) --

#[spacetimedb::table(accessor = task, public)]
#[derive(Clone)]
pub struct Task {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[index(btree)]
    pub channel_id: u64,
    pub message_id: Option<u64>,
    pub parent_id: Option<u64>,
    pub title: String,
    pub body: String,
    pub state: TaskState,
    pub creator: Identity,
    pub assignee: Option<Identity>,
    pub created_at: Timestamp,
    pub claimed_at: Option<Timestamp>,
    pub lease_expires: Option<Timestamp>,
    pub result: Option<String>,
    pub updated_at: Timestamp,
}

#[spacetimedb::table(accessor = path_lease, public)]
#[derive(Clone)]
pub struct PathLease {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[index(btree)]
    pub project: String,
    pub pattern: String,
    #[index(btree)]
    pub holder: Identity,
    pub acquired_at: Timestamp,
    pub expires_at: Timestamp,
    pub reason: Option<String>,
}

#[spacetimedb::table(accessor = vote, public)]
#[derive(Clone)]
pub struct Vote {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    pub target_kind: VoteTarget,
    #[index(btree)]
    pub target_id: u64,
    pub voter: Identity,
    pub choice: String,
    pub created_at: Timestamp,
}

/// Module only (not in `spacesd/model.py`): one row per claim or lease expiry to run; the
/// host calls `reducers::tasks::expire` with it at `scheduled_at` and then deletes it. Private:
/// clients have no use for it (the database owner still reads it).
#[spacetimedb::table(accessor = expiry_schedule, scheduled(crate::reducers::tasks::expire))]
#[derive(Clone)]
pub struct ExpirySchedule {
    #[primary_key]
    #[auto_inc]
    pub scheduled_id: u64,
    pub scheduled_at: ScheduleAt,
    pub kind: ExpiryKind,
    pub target_id: u64,
    pub due: Timestamp,
}
/// An idempotency key (docs/idempotency.md): the write `reducer` made under `key` (the caller's
/// identity hex, "/", the key the client chose) and the id of the row it made (`row_id`; 0
/// when the write makes no single row). Visible to its `identity` only (`visibility.rs`).
#[spacetimedb::table(accessor = write_key, public)]
#[derive(Clone)]
pub struct WriteKey {
    #[primary_key]
    pub key: String,
    pub identity: Identity,
    pub reducer: String,
    pub row_id: u64,
    #[index(btree)]
    pub created_at: Timestamp,
}

/// An invitation to join a server: `identity` may join it even while it is invite-only. Used
/// up by `join_server`; goes with its server.
#[spacetimedb::table(accessor = server_invite, public)]
#[derive(Clone)]
pub struct ServerInvite {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[index(btree)]
    pub server_id: u64,
    pub identity: Identity,
    pub invited_by: Identity,
    pub created_at: Timestamp,
}

// -- live sessions (issue 12): appended after the others, in one block -----------------------------

/// One agent session taking part as its own identity: where it runs and its presence.
#[spacetimedb::table(accessor = session_info, public)]
#[derive(Clone)]
pub struct SessionInfo {
    #[primary_key]
    pub identity: Identity,
    #[index(btree)]
    pub machine: Identity,
    pub agent: AgentKind,
    pub project: String,
    pub project_label: String,
    pub branch: Option<String>,
    pub can_wake: bool,
    pub state: SessionState,
    pub state_at: Timestamp,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
}

/// What was addressed to a session, with its delivery state (the sender's receipt).
#[spacetimedb::table(accessor = inbox_item, public)]
#[derive(Clone)]
pub struct InboxItem {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[index(btree)]
    pub recipient: Identity,
    #[index(btree)]
    pub sender: Identity,
    pub kind: InboxKind,
    pub channel_id: Option<u64>,
    pub message_id: Option<u64>,
    pub dm_id: Option<u64>,
    pub task_id: Option<u64>,
    pub priority: bool,
    pub state: DeliveryState,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub read_at: Option<Timestamp>,
}

/// A participant follows a channel: its new messages reach the participant's inbox.
#[spacetimedb::table(accessor = channel_follow, public)]
#[derive(Clone)]
pub struct ChannelFollow {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[index(btree)]
    pub channel_id: u64,
    pub identity: Identity,
}

/// A participant posted in a thread: the thread's new messages reach its inbox.
#[spacetimedb::table(accessor = thread_poster, public)]
#[derive(Clone)]
pub struct ThreadPoster {
    #[primary_key]
    #[auto_inc]
    pub id: u64,
    #[index(btree)]
    pub thread_id: u64,
    pub identity: Identity,
}
