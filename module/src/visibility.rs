//! Row-level security: who sees which rows of the tables that concern only some
//! identities. Each filter is a subscription-style query with `:sender` bound to the
//! subscribing client's identity; several filters on one table are OR-ed by the host.
//!
//! The tables stay `public` (clients subscribe to them by name, e.g.
//! `SELECT * FROM direct_message`), and the host narrows every subscription and SQL query of
//! a client to the rows below. The database owner bypasses these filters.
//!
//! A join is written from the table the `:sender` test narrows (`direct_conversation`) to
//! the table whose rows are returned (`direct_message`), over an indexed column of the latter
//! (`conversation_id`): SpacetimeDB 2.8 refuses a subscription whose filter joins the other
//! way ("Subscriptions require indexes on join columns").

use spacetimedb::{client_visibility_filter, Filter};

/// A conversation is visible to its first participant…
#[client_visibility_filter]
const DIRECT_CONVERSATION_PARTICIPANT_A: Filter =
    Filter::Sql("SELECT * FROM direct_conversation WHERE participant_a = :sender");

/// …and to its second.
#[client_visibility_filter]
const DIRECT_CONVERSATION_PARTICIPANT_B: Filter =
    Filter::Sql("SELECT * FROM direct_conversation WHERE participant_b = :sender");

/// A direct message is visible to the first participant of its conversation…
#[client_visibility_filter]
const DIRECT_MESSAGE_PARTICIPANT_A: Filter = Filter::Sql(
    "SELECT direct_message.* FROM direct_conversation \
     JOIN direct_message ON direct_conversation.id = direct_message.conversation_id \
     WHERE direct_conversation.participant_a = :sender",
);

/// …and to the second.
#[client_visibility_filter]
const DIRECT_MESSAGE_PARTICIPANT_B: Filter = Filter::Sql(
    "SELECT direct_message.* FROM direct_conversation \
     JOIN direct_message ON direct_conversation.id = direct_message.conversation_id \
     WHERE direct_conversation.participant_b = :sender",
);

/// A notification is visible to its target only.
#[client_visibility_filter]
const SYSTEM_NOTIFICATION_TARGET: Filter =
    Filter::Sql("SELECT * FROM system_notification WHERE target = :sender");

/// A write key is visible to the identity that wrote under it only.
#[client_visibility_filter]
const WRITE_KEY_IDENTITY: Filter = Filter::Sql("SELECT * FROM write_key WHERE identity = :sender");

/// An inbox item is visible to its recipient…
#[client_visibility_filter]
const INBOX_ITEM_RECIPIENT: Filter =
    Filter::Sql("SELECT * FROM inbox_item WHERE recipient = :sender");

/// …to its sender (the receipt)…
#[client_visibility_filter]
const INBOX_ITEM_SENDER: Filter = Filter::Sql("SELECT * FROM inbox_item WHERE sender = :sender");

/// …to the machine whose daemon runs the recipient session (it delivers the items)…
/// Written from the narrowed table to the returned one, over `inbox_item.recipient` (btree).
#[client_visibility_filter]
const INBOX_ITEM_MACHINE: Filter = Filter::Sql(
    "SELECT inbox_item.* FROM session_info \
     JOIN inbox_item ON session_info.identity = inbox_item.recipient \
     WHERE session_info.machine = :sender",
);

/// …and to the machine whose daemon runs the sending session (its receipts).
#[client_visibility_filter]
const INBOX_ITEM_SENDER_MACHINE: Filter = Filter::Sql(
    "SELECT inbox_item.* FROM session_info \
     JOIN inbox_item ON session_info.identity = inbox_item.sender \
     WHERE session_info.machine = :sender",
);
