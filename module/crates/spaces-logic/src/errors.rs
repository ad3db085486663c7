//! Every refusal message of the module, byte for byte the same as the engine's
//! `spacesd/engine/errors.py` (constant names included). tests/test_schema_sync.py checks that
//! each Python constant appears here with the same name and text; change one only in both
//! implementations and the conformance scenarios at once.
//!
//! Order of checks (when several refusals apply, the first in this order is reported):
//! 1. the caller's profile, where the reducer needs it (`NO_PROFILE`);
//! 2. the referenced rows exist, in parameter order;
//! 3. membership of the server concerned;
//! 4. role or ownership (the "only ..." messages);
//! 5. the arguments' values (lengths, formats, uniqueness), in parameter order; a name's
//!    length, then blank, then its characters.

pub const SERVER_NOT_FOUND: &str = "no such server";
pub const CHANNEL_NOT_FOUND: &str = "no such channel";
pub const MESSAGE_NOT_FOUND: &str = "no such message";
pub const THREAD_NOT_FOUND: &str = "no such thread";
pub const USER_NOT_FOUND: &str = "no such user";
pub const CONVERSATION_NOT_FOUND: &str = "no such conversation";
pub const NOTIFICATION_NOT_FOUND: &str = "no such notification";
pub const REACTION_NOT_FOUND: &str = "you have not reacted to this message with this emoji";
pub const REPLY_NOT_FOUND: &str = "the message replied to does not exist";
pub const TARGET_NOT_A_MEMBER: &str = "that user is not a member of this server";
pub const NOT_A_MEMBER: &str = "you are not a member of this server";
pub const ALREADY_MEMBER: &str = "you are already a member of this server";
pub const NOT_A_PARTICIPANT: &str = "you are not a participant in this conversation";
pub const NOT_NOTIFICATION_TARGET: &str = "only its target can dismiss a notification";
pub const USERNAME_INVALID: &str = "usernames are 3-32 characters of a-z, 0-9, _, . and -";
pub const USERNAME_TAKEN: &str = "that username is taken";
pub const DISPLAY_NAME_TOO_LONG: &str = "display names are at most 64 characters";
pub const AVATAR_URL_INVALID: &str =
    "avatar URLs are http:// or https:// URLs of at most 512 characters";
pub const BIO_TOO_LONG: &str = "bios are at most 512 characters";
pub const STATUS_TEXT_TOO_LONG: &str = "status texts are at most 128 characters";
pub const AGENT_CANNOT_HOLD_ROLES: &str =
    "an agent can only hold the Agent role: give up Owner, Admin and Moderator roles first";
pub const AGENT_CANNOT_BECOME_PERSON: &str =
    "an agent stays an agent: is_agent cannot be turned off";
pub const DISPLAY_NAME_BLANK: &str = "display names cannot be blank (\"\" clears one)";
pub const DISPLAY_NAME_CHARACTERS: &str =
    "display names cannot contain control or bidirectional-control characters";
pub const AGENTS_CANNOT_CREATE_SERVERS: &str = "agents cannot create servers";
pub const SERVER_NAME_INVALID: &str = "server names are 1-100 characters and not blank";
pub const SERVER_NAME_CHARACTERS: &str =
    "server names cannot contain control or bidirectional-control characters";
pub const DESCRIPTION_TOO_LONG: &str = "descriptions are at most 1024 characters";
pub const ICON_URL_INVALID: &str =
    "icon URLs are http:// or https:// URLs of at most 512 characters";
pub const UPDATE_SERVER_FORBIDDEN: &str = "only Admins and the Owner can update a server";
pub const DELETE_SERVER_FORBIDDEN: &str = "only the Owner can delete a server";
pub const HUB_CANNOT_BE_DELETED: &str = "the Spaces Hub cannot be deleted";
pub const OWNER_CANNOT_LEAVE: &str = "the Owner cannot leave their server; delete it instead";
pub const SET_ROLE_FORBIDDEN: &str = "only Admins and the Owner can change roles";
pub const OWNER_ROLE_NOT_ASSIGNABLE: &str = "the Owner role cannot be given";
pub const OWNER_ROLE_FIXED: &str = "the Owner's role cannot be changed";
pub const ADMIN_ROLE_LIMIT: &str = "Admins can only give the Moderator, Member and Agent roles";
pub const ADMIN_TARGET_LIMIT: &str = "Admins can only change the roles of members below Admin";
pub const AGENT_ROLE_ONLY: &str = "an agent can only hold the Agent role";
pub const HUB_STAYS_OPEN: &str = "the Spaces Hub stays open to everyone";
pub const INVITE_FORBIDDEN: &str = "only Admins and the Owner can invite to a server";
pub const INVITE_NEEDED: &str =
    "this server is invite-only: an Admin or the Owner must invite you first";
pub const TARGET_ALREADY_MEMBER: &str = "that user is already a member of this server";
pub const CREATE_CHANNEL_FORBIDDEN: &str = "only Admins and the Owner can create channels";
pub const DELETE_CHANNEL_FORBIDDEN: &str = "only Admins and the Owner can delete channels";
pub const UPDATE_CHANNEL_FORBIDDEN: &str =
    "only Moderators, Admins and the Owner can update channels";
pub const CHANNEL_NAME_INVALID: &str = "channel names are 1-64 characters of a-z, 0-9, _ and -";
pub const CHANNEL_NAME_TAKEN: &str = "this server already has a channel with that name";
pub const TOPIC_TOO_LONG: &str = "topics are at most 1024 characters";
pub const MESSAGE_TYPE_RESERVED: &str = "clients can only send Text and AgentEvent messages";
pub const ANNOUNCEMENT_ADMIN_ONLY: &str =
    "only Admins and the Owner can post in announcement channels";
pub const VOICE_NO_MESSAGES: &str = "voice channels take no messages";
pub const TEXT_CONTENT_INVALID: &str = "messages are 1-4000 characters";
pub const AGENT_EVENT_INVALID: &str = "agent events are JSON objects of at most 16384 characters";
pub const THREAD_OTHER_CHANNEL: &str = "that thread belongs to another channel";
pub const THREAD_ARCHIVED: &str = "that thread is archived";
pub const REPLY_OTHER_CHANNEL: &str = "a reply must be in the channel of the message it answers";
pub const EDIT_FORBIDDEN: &str = "only the sender can edit a message";
pub const EDIT_RESERVED_TYPE: &str = "system, join and leave messages cannot be edited";
pub const DELETE_MESSAGE_FORBIDDEN: &str =
    "only the sender and Moderators, Admins or the Owner can delete a message";
pub const EMOJI_INVALID: &str = "emoji are 1-32 characters and not blank";
pub const EMOJI_CHARACTERS: &str =
    "emoji cannot contain control or bidirectional-control characters";
pub const ALREADY_REACTED: &str = "you already reacted to this message with this emoji";
pub const READ_MESSAGE_OTHER_CHANNEL: &str = "that message is not in this channel";
pub const THREAD_NAME_INVALID: &str = "thread names are 1-100 characters and not blank";
pub const THREAD_NAME_CHARACTERS: &str =
    "thread names cannot contain control or bidirectional-control characters";
pub const VOICE_NO_THREADS: &str = "voice channels have no threads";
pub const ARCHIVE_FORBIDDEN: &str =
    "only the thread's creator and Moderators, Admins or the Owner can archive a thread";
pub const THREAD_ALREADY_ARCHIVED: &str = "that thread is already archived";
pub const CANNOT_DM_SELF: &str = "you cannot start a conversation with yourself";
pub const DM_CONTENT_INVALID: &str = "direct messages are 1-4000 characters";
pub const WRITE_KEY_INVALID: &str =
    "write keys are 1-128 printable ASCII characters without spaces";
pub const SESSION_AGENTS_ONLY: &str = "only agent profiles can register a session";
pub const SESSION_NOT_FOUND: &str = "no such session";
pub const SESSION_STATE_FORBIDDEN: &str =
    "only the session itself or its machine can set its state";
pub const SESSION_PROJECT_INVALID: &str =
    "a session's project is 1-256 characters, its label 1-64 and its branch at most 256";
pub const ADDRESS_PEOPLE_ONLY: &str = "only people can address sessions";
pub const ADDRESS_OWN_MESSAGE: &str = "only the sender of a message can address it to sessions";
pub const ADDRESS_NO_TARGET: &str = "name a project, a machine or a participant to address";
pub const INBOX_ITEM_NOT_FOUND: &str = "no such inbox item";
pub const INBOX_ITEM_NOT_YOURS: &str = "only its recipient can mark an inbox item";
pub const NO_PROFILE: &str = "you have no profile yet: connect first";
pub const ALREADY_INITIALIZED: &str = "the database is already initialized";
pub const SCHEDULER_ONLY: &str = "only the database's scheduler may call expire";

// Tasks, path leases and votes (issue 13). TASK_CLAIMED and LEASE_CONFLICT are templates filled
// by `crate::tasks::fill`.
pub const TASK_NOT_FOUND: &str = "no such task";
pub const LEASE_NOT_FOUND: &str = "no such lease";
pub const PARENT_TASK_NOT_FOUND: &str = "the parent task does not exist";
pub const SUBTASK_OTHER_CHANNEL: &str = "a subtask must be in its parent task's channel";
pub const TASK_MESSAGE_OTHER_CHANNEL: &str =
    "a task's announcing message must be in the task's channel";
pub const TASK_MANAGE_FORBIDDEN: &str =
    "only the task's creator and Moderators, Admins or the Owner can cancel or reassign a task";
pub const TASK_CLOSED: &str = "that task is closed";
pub const TASK_CLAIMED: &str = "task {task} is claimed by {holder} until {until}";
pub const TASK_ALREADY_YOURS: &str = "you hold that task already: renew it instead";
pub const NOT_TASK_HOLDER: &str = "only the task's holder can do that";
pub const LEASE_RELEASE_FORBIDDEN: &str =
    "only the lease's holder and Admins or the Owner of the Spaces Hub can release a lease";
pub const NOT_LEASE_HOLDER: &str = "only the lease's holder can renew it";
pub const LEASE_CONFLICT: &str = "{pattern} is leased by {holder} until {until}";
pub const TASK_TITLE_INVALID: &str = "task titles are 1-200 characters and not blank";
pub const TASK_BODY_TOO_LONG: &str = "task bodies are at most 8000 characters";
pub const TASK_RESULT_TOO_LONG: &str = "task results are at most 8000 characters";
pub const TTL_INVALID: &str = "claims and leases last 1 to 86400 seconds";
pub const LEASE_PROJECT_INVALID: &str = "lease projects are 1-200 characters and not blank";
pub const LEASE_PATTERN_INVALID: &str = "lease patterns are 1-500 characters: a path relative to the repository root, a directory ending in /, or a glob with * and **; no .., no leading /, no ? [ ] or backslash";
pub const LEASE_REASON_TOO_LONG: &str = "lease reasons are at most 200 characters";
pub const VOTE_CHOICE_INVALID: &str = "vote choices are 1-32 characters and not blank";
