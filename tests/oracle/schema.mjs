// Spaces' tables (the design's 13, write_key, server_invite, and issue 13's task, path_lease
// and vote) and the reducers' argument products, written by hand (from
// spacesd/model.py) with the official SDK's own type builders. tests/test_oracle.py checks
// that these agree with model.py (names, order and types) before trusting them.
import { t } from './node_modules/spacetimedb/src/lib/type_builders.ts';

const ChannelType = t.enum('ChannelType', {
  Text: t.unit(), Voice: t.unit(), Announcement: t.unit(), AgentLog: t.unit(),
});
const MessageType = t.enum('MessageType', {
  Text: t.unit(), System: t.unit(), AgentEvent: t.unit(), Join: t.unit(), Leave: t.unit(),
});
const MemberRole = t.enum('MemberRole', {
  Owner: t.unit(), Admin: t.unit(), Moderator: t.unit(), Member: t.unit(), Agent: t.unit(),
});

// -- tasks, path leases and votes (issue 13) --
const TaskState = t.enum('TaskState', {
  Open: t.unit(), Claimed: t.unit(), Done: t.unit(), Failed: t.unit(), Cancelled: t.unit(),
});
const VoteTarget = t.enum('VoteTarget', { Message: t.unit(), Task: t.unit() });
// -- end of tasks, path leases and votes --

// live sessions (issue 12)
const AgentKind = t.enum('AgentKind', {
  Claude: t.unit(), Codex: t.unit(), Gemini: t.unit(), Other: t.unit(),
});
const SessionState = t.enum('SessionState', {
  Working: t.unit(), WaitingForInput: t.unit(), Idle: t.unit(), Ended: t.unit(),
});
const InboxKind = t.enum('InboxKind', {
  Dm: t.unit(), Mention: t.unit(), Reply: t.unit(), Thread: t.unit(), Channel: t.unit(),
  Addressed: t.unit(), Task: t.unit(),
});
const DeliveryState = t.enum('DeliveryState', {
  Queued: t.unit(), Delivered: t.unit(), Read: t.unit(),
});
export const ENUMS = {
  ChannelType, MessageType, MemberRole, TaskState, VoteTarget, AgentKind, SessionState,
  InboxKind, DeliveryState,
};

export const TABLES = {
  user_profile: t.object('UserProfile', {
    identity: t.identity(),
    username: t.string(),
    display_name: t.option(t.string()),
    avatar_url: t.option(t.string()),
    bio: t.option(t.string()),
    is_agent: t.bool(),
    created_at: t.timestamp(),
  }),
  user_presence: t.object('UserPresence', {
    identity: t.identity(),
    online: t.bool(),
    status_text: t.option(t.string()),
    last_seen: t.timestamp(),
  }),
  server: t.object('Server', {
    id: t.u64(),
    name: t.string(),
    description: t.option(t.string()),
    icon_url: t.option(t.string()),
    owner: t.identity(),
    created_at: t.timestamp(),
    invite_only: t.bool(),
  }),
  server_member: t.object('ServerMember', {
    id: t.u64(),
    server_id: t.u64(),
    identity: t.identity(),
    role: MemberRole,
    joined_at: t.timestamp(),
  }),
  channel: t.object('Channel', {
    id: t.u64(),
    server_id: t.u64(),
    name: t.string(),
    topic: t.option(t.string()),
    channel_type: ChannelType,
    position: t.u32(),
    created_at: t.timestamp(),
  }),
  thread: t.object('Thread', {
    id: t.u64(),
    channel_id: t.u64(),
    name: t.string(),
    creator: t.identity(),
    created_at: t.timestamp(),
    archived: t.bool(),
    last_message_at: t.timestamp(),
  }),
  message: t.object('Message', {
    id: t.u64(),
    channel_id: t.u64(),
    thread_id: t.option(t.u64()),
    sender: t.identity(),
    content: t.string(),
    message_type: MessageType,
    created_at: t.timestamp(),
    edited_at: t.option(t.timestamp()),
    reply_to_id: t.option(t.u64()),
  }),
  reaction: t.object('Reaction', {
    id: t.u64(),
    message_id: t.u64(),
    identity: t.identity(),
    emoji: t.string(),
  }),
  channel_read_state: t.object('ChannelReadState', {
    id: t.u64(),
    identity: t.identity(),
    channel_id: t.u64(),
    last_read_msg_id: t.u64(),
  }),
  direct_conversation: t.object('DirectConversation', {
    id: t.u64(),
    participant_a: t.identity(),
    participant_b: t.identity(),
    created_at: t.timestamp(),
    last_message_at: t.timestamp(),
  }),
  direct_message: t.object('DirectMessage', {
    id: t.u64(),
    conversation_id: t.u64(),
    sender: t.identity(),
    content: t.string(),
    created_at: t.timestamp(),
    edited_at: t.option(t.timestamp()),
    read: t.bool(),
  }),
  typing_indicator: t.object('TypingIndicator', {
    id: t.u64(),
    channel_id: t.u64(),
    identity: t.identity(),
    started_at: t.timestamp(),
  }),
  system_notification: t.object('SystemNotification', {
    id: t.u64(),
    target: t.identity(),
    title: t.string(),
    body: t.string(),
    created_at: t.timestamp(),
  }),
  // -- tasks, path leases and votes (issue 13) --
  task: t.object('Task', {
    id: t.u64(),
    channel_id: t.u64(),
    message_id: t.option(t.u64()),
    parent_id: t.option(t.u64()),
    title: t.string(),
    body: t.string(),
    state: TaskState,
    creator: t.identity(),
    assignee: t.option(t.identity()),
    created_at: t.timestamp(),
    claimed_at: t.option(t.timestamp()),
    lease_expires: t.option(t.timestamp()),
    result: t.option(t.string()),
    updated_at: t.timestamp(),
  }),
  path_lease: t.object('PathLease', {
    id: t.u64(),
    project: t.string(),
    pattern: t.string(),
    holder: t.identity(),
    acquired_at: t.timestamp(),
    expires_at: t.timestamp(),
    reason: t.option(t.string()),
  }),
  vote: t.object('Vote', {
    id: t.u64(),
    target_kind: VoteTarget,
    target_id: t.u64(),
    voter: t.identity(),
    choice: t.string(),
    created_at: t.timestamp(),
  }),
  // -- end of tasks, path leases and votes --
  write_key: t.object('WriteKey', {
    key: t.string(),
    identity: t.identity(),
    reducer: t.string(),
    row_id: t.u64(),
    created_at: t.timestamp(),
  }),
  server_invite: t.object('ServerInvite', {
    id: t.u64(),
    server_id: t.u64(),
    identity: t.identity(),
    invited_by: t.identity(),
    created_at: t.timestamp(),
  }),
  // live sessions (issue 12)
  session_info: t.object('SessionInfo', {
    identity: t.identity(),
    machine: t.identity(),
    agent: AgentKind,
    project: t.string(),
    project_label: t.string(),
    branch: t.option(t.string()),
    can_wake: t.bool(),
    state: SessionState,
    state_at: t.timestamp(),
    started_at: t.timestamp(),
    ended_at: t.option(t.timestamp()),
  }),
  inbox_item: t.object('InboxItem', {
    id: t.u64(),
    recipient: t.identity(),
    sender: t.identity(),
    kind: InboxKind,
    channel_id: t.option(t.u64()),
    message_id: t.option(t.u64()),
    dm_id: t.option(t.u64()),
    task_id: t.option(t.u64()),
    priority: t.bool(),
    state: DeliveryState,
    created_at: t.timestamp(),
    delivered_at: t.option(t.timestamp()),
    read_at: t.option(t.timestamp()),
  }),
  channel_follow: t.object('ChannelFollow', {
    id: t.u64(),
    channel_id: t.u64(),
    identity: t.identity(),
  }),
  thread_poster: t.object('ThreadPoster', {
    id: t.u64(),
    thread_id: t.u64(),
    identity: t.identity(),
  }),
};

const args = (name, elements) => t.object(`${name}_args`, elements);

export const REDUCERS = {
  init: args('init', {}),
  client_connected: args('client_connected', {}),
  client_disconnected: args('client_disconnected', {}),
  register_user: args('register_user', {
    username: t.string(), display_name: t.option(t.string()), is_agent: t.bool(),
  }),
  update_profile: args('update_profile', {
    display_name: t.option(t.string()), avatar_url: t.option(t.string()),
    bio: t.option(t.string()),
  }),
  set_presence: args('set_presence', { online: t.bool(), status_text: t.option(t.string()) }),
  create_server: args('create_server', {
    name: t.string(), description: t.option(t.string()), icon_url: t.option(t.string()),
  }),
  join_server: args('join_server', { server_id: t.u64() }),
  leave_server: args('leave_server', { server_id: t.u64() }),
  update_server: args('update_server', {
    server_id: t.u64(), name: t.option(t.string()), description: t.option(t.string()),
    icon_url: t.option(t.string()),
  }),
  delete_server: args('delete_server', { server_id: t.u64() }),
  set_member_role: args('set_member_role', {
    server_id: t.u64(), identity: t.identity(), role: MemberRole,
  }),
  set_invite_only: args('set_invite_only', { server_id: t.u64(), invite_only: t.bool() }),
  invite_to_server: args('invite_to_server', { server_id: t.u64(), identity: t.identity() }),
  create_channel: args('create_channel', {
    server_id: t.u64(), name: t.string(), topic: t.option(t.string()),
    channel_type: ChannelType,
  }),
  update_channel: args('update_channel', {
    channel_id: t.u64(), name: t.option(t.string()), topic: t.option(t.string()),
    position: t.option(t.u32()),
  }),
  delete_channel: args('delete_channel', { channel_id: t.u64() }),
  send_message: args('send_message', {
    channel_id: t.u64(), content: t.string(), thread_id: t.option(t.u64()),
    reply_to_id: t.option(t.u64()), message_type: MessageType,
  }),
  edit_message: args('edit_message', { message_id: t.u64(), content: t.string() }),
  delete_message: args('delete_message', { message_id: t.u64() }),
  add_reaction: args('add_reaction', { message_id: t.u64(), emoji: t.string() }),
  remove_reaction: args('remove_reaction', { message_id: t.u64(), emoji: t.string() }),
  create_thread: args('create_thread', { channel_id: t.u64(), name: t.string() }),
  archive_thread: args('archive_thread', { thread_id: t.u64() }),
  start_dm: args('start_dm', { other: t.identity() }),
  send_dm: args('send_dm', { conversation_id: t.u64(), content: t.string() }),
  mark_dm_read: args('mark_dm_read', { conversation_id: t.u64() }),
  mark_channel_read: args('mark_channel_read', { channel_id: t.u64(), message_id: t.u64() }),
  set_typing: args('set_typing', { channel_id: t.u64(), typing: t.bool() }),
  dismiss_notification: args('dismiss_notification', { id: t.u64() }),
  // -- tasks, path leases and votes (issue 13) --
  create_task: args('create_task', {
    channel_id: t.u64(), title: t.string(), body: t.string(), parent_id: t.option(t.u64()),
    message_id: t.option(t.u64()),
  }),
  claim_task: args('claim_task', { task_id: t.u64(), ttl_secs: t.u32() }),
  renew_task: args('renew_task', { task_id: t.u64(), ttl_secs: t.u32() }),
  complete_task: args('complete_task', { task_id: t.u64(), result: t.string() }),
  fail_task: args('fail_task', { task_id: t.u64(), result: t.string() }),
  release_task: args('release_task', { task_id: t.u64() }),
  cancel_task: args('cancel_task', { task_id: t.u64() }),
  reassign_task: args('reassign_task', {
    task_id: t.u64(), identity: t.identity(), ttl_secs: t.u32(),
  }),
  acquire_lease: args('acquire_lease', {
    project: t.string(), pattern: t.string(), ttl_secs: t.u32(), reason: t.option(t.string()),
  }),
  renew_lease: args('renew_lease', { lease_id: t.u64(), ttl_secs: t.u32() }),
  release_lease: args('release_lease', { lease_id: t.u64() }),
  release_all: args('release_all', {}),
  cast_vote: args('cast_vote', {
    target_kind: VoteTarget, target_id: t.u64(), choice: t.string(),
  }),
  // -- end of tasks, path leases and votes --
  send_message_keyed: args('send_message_keyed', {
    key: t.string(), channel_id: t.u64(), content: t.string(), thread_id: t.option(t.u64()),
    reply_to_id: t.option(t.u64()), message_type: MessageType,
  }),
  // live sessions (issue 12)
  register_session: args('register_session', {
    agent: AgentKind, machine: t.identity(), project: t.string(), project_label: t.string(),
    branch: t.option(t.string()), can_wake: t.bool(),
  }),
  set_session_state: args('set_session_state', { identity: t.identity(), state: SessionState }),
  end_session: args('end_session', {}),
  follow_channel: args('follow_channel', { channel_id: t.u64(), follow: t.bool() }),
  address_sessions: args('address_sessions', {
    message_id: t.u64(), project: t.option(t.string()), machine: t.option(t.identity()),
    participant: t.option(t.identity()), priority: t.bool(),
  }),
  mark_delivered: args('mark_delivered', { id: t.u64() }),
  mark_read: args('mark_read', { id: t.u64() }),
  // keyed DMs (docs/idempotency.md)
  send_dm_keyed: args('send_dm_keyed', {
    key: t.string(), conversation_id: t.u64(), content: t.string(),
  }),
};
