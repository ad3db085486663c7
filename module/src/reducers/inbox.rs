//! The inbox rules of live sessions, shared by the reducers that write messages; the same
//! rules in the same order as the engine's `spacesd/engine/inbox.py`.
//!
//! Who gets an item for a new message (only live participants: a `session_info` row not
//! Ended; never the sender): `@handle` mentions (Text messages, members of the server), the
//! sender of the message replied to, every participant that posted in the thread, every
//! follower of the channel. One item per recipient, of the strongest kind, in the order the
//! recipients were first found. A DM gives its other participant a `Dm` item. A new task gives
//! every follower of its channel a `Task` item, and a task reassigned to a participant gives it
//! one (`on_task`).
//!
//! Read implied: replying to a message, posting in its thread, reacting to it, sending in or
//! marking read a DM conversation, or marking a channel read past it moves the caller's items
//! for it to Read (delivered_at filled if missing). States never move backwards.

use crate::auth::membership;
use crate::enums::{DeliveryState, InboxKind, SessionState};
use crate::tables::*;
use spacetimedb::{Identity, ReducerContext, Table};

/// A participant whose session is not Ended.
pub(crate) fn is_live(ctx: &ReducerContext, identity: Identity) -> bool {
    ctx.db
        .session_info()
        .identity()
        .find(identity)
        .is_some_and(|s| s.state != SessionState::Ended)
}

/// Recipients in first-found order, each with its strongest kind.
struct Recipients {
    me: Identity,
    found: Vec<(Identity, InboxKind)>,
}

impl Recipients {
    fn new(ctx: &ReducerContext) -> Recipients {
        Recipients {
            me: ctx.sender(),
            found: Vec::new(),
        }
    }

    fn add(&mut self, ctx: &ReducerContext, identity: Identity, kind: InboxKind) {
        if identity == self.me || !is_live(ctx, identity) {
            return;
        }
        match self.found.iter_mut().find(|(i, _)| *i == identity) {
            Some(entry) => {
                if kind.rank() < entry.1.rank() {
                    entry.1 = kind;
                }
            }
            None => self.found.push((identity, kind)),
        }
    }
}

/// Where an item points.
#[derive(Clone, Copy, Default)]
pub(crate) struct Target {
    pub channel_id: Option<u64>,
    pub message_id: Option<u64>,
    pub dm_id: Option<u64>,
}

/// A new Queued item from the caller.
pub(crate) fn queue(
    ctx: &ReducerContext,
    recipient: Identity,
    kind: InboxKind,
    target: Target,
    priority: bool,
) -> InboxItem {
    ctx.db.inbox_item().insert(InboxItem {
        id: 0,
        recipient,
        sender: ctx.sender(),
        kind,
        channel_id: target.channel_id,
        message_id: target.message_id,
        dm_id: target.dm_id,
        task_id: None,
        priority,
        state: DeliveryState::Queued,
        created_at: ctx.timestamp,
        delivered_at: None,
        read_at: None,
    })
}

/// The items of a new channel message (`mentioned`: the usernames of a Text message), then
/// the caller's own items it reads.
pub(crate) fn on_message(
    ctx: &ReducerContext,
    channel: &Channel,
    message: &Message,
    mentioned: &[String],
) {
    let mut found = Recipients::new(ctx);
    for username in mentioned {
        if let Some(profile) = ctx.db.user_profile().username().find(username) {
            if membership(ctx, channel.server_id, profile.identity).is_some() {
                found.add(ctx, profile.identity, InboxKind::Mention);
            }
        }
    }
    if let Some(replied) = message
        .reply_to_id
        .and_then(|id| ctx.db.message().id().find(id))
    {
        found.add(ctx, replied.sender, InboxKind::Reply);
    }
    if let Some(thread_id) = message.thread_id {
        let mut posters: Vec<ThreadPoster> = ctx
            .db
            .thread_poster()
            .thread_id()
            .filter(thread_id)
            .collect();
        posters.sort_by_key(|p| p.id);
        for poster in posters {
            found.add(ctx, poster.identity, InboxKind::Thread);
        }
    }
    let mut follows: Vec<ChannelFollow> = ctx
        .db
        .channel_follow()
        .channel_id()
        .filter(channel.id)
        .collect();
    follows.sort_by_key(|f| f.id);
    for follow in follows {
        found.add(ctx, follow.identity, InboxKind::Channel);
    }
    let target = Target {
        channel_id: Some(channel.id),
        message_id: Some(message.id),
        dm_id: None,
    };
    for (recipient, kind) in found.found {
        queue(ctx, recipient, kind, target, false);
    }
    let me = ctx.sender();
    if let Some(thread_id) = message.thread_id {
        let posted = ctx
            .db
            .thread_poster()
            .thread_id()
            .filter(thread_id)
            .any(|p| p.identity == me);
        if is_live(ctx, me) && !posted {
            ctx.db.thread_poster().insert(ThreadPoster {
                id: 0,
                thread_id,
                identity: me,
            });
        }
    }
    let (reply_to, thread_id) = (message.reply_to_id, message.thread_id);
    read_where(ctx, |item| {
        item.message_id.is_some_and(|id| {
            Some(id) == reply_to
                || thread_id.is_some_and(|t| {
                    ctx.db
                        .message()
                        .id()
                        .find(id)
                        .is_some_and(|m| m.thread_id == Some(t))
                })
        })
    });
}

/// The Task items of a task: to `assignee` (a reassignment), else to every follower of its
/// channel (a new task). Live participants only, never the caller.
pub(crate) fn on_task(ctx: &ReducerContext, task: &Task, assignee: Option<Identity>) {
    let mut found = Recipients::new(ctx);
    match assignee {
        Some(identity) => found.add(ctx, identity, InboxKind::Task),
        None => {
            let mut follows: Vec<ChannelFollow> = ctx
                .db
                .channel_follow()
                .channel_id()
                .filter(task.channel_id)
                .collect();
            follows.sort_by_key(|f| f.id);
            for follow in follows {
                found.add(ctx, follow.identity, InboxKind::Task);
            }
        }
    }
    for (recipient, kind) in found.found {
        ctx.db.inbox_item().insert(InboxItem {
            id: 0,
            recipient,
            sender: ctx.sender(),
            kind,
            channel_id: Some(task.channel_id),
            message_id: task.message_id,
            dm_id: None,
            task_id: Some(task.id),
            priority: false,
            state: DeliveryState::Queued,
            created_at: ctx.timestamp,
            delivered_at: None,
            read_at: None,
        });
    }
}

/// The other participant's Dm item, then the caller's items of this conversation read.
pub(crate) fn on_dm(ctx: &ReducerContext, conversation: &DirectConversation, dm: &DirectMessage) {
    let me = ctx.sender();
    let other = if conversation.participant_a == me {
        conversation.participant_b
    } else {
        conversation.participant_a
    };
    let mut found = Recipients::new(ctx);
    found.add(ctx, other, InboxKind::Dm);
    let target = Target {
        dm_id: Some(dm.id),
        ..Target::default()
    };
    for (recipient, kind) in found.found {
        queue(ctx, recipient, kind, target, false);
    }
    read_conversation(ctx, conversation.id);
}

/// The caller's items of a DM conversation become Read.
pub(crate) fn read_conversation(ctx: &ReducerContext, conversation_id: u64) {
    read_where(ctx, |item| {
        item.dm_id.is_some_and(|id| {
            ctx.db
                .direct_message()
                .id()
                .find(id)
                .is_some_and(|dm| dm.conversation_id == conversation_id)
        })
    });
}

/// The caller's unread items that `matches` accepts become Read.
pub(crate) fn read_where(ctx: &ReducerContext, matches: impl Fn(&InboxItem) -> bool) {
    let items: Vec<InboxItem> = ctx
        .db
        .inbox_item()
        .recipient()
        .filter(ctx.sender())
        .filter(|i| i.state != DeliveryState::Read && matches(i))
        .collect();
    for item in items {
        mark(ctx, item, DeliveryState::Read);
    }
}

/// Moves an item forward to `state` (never backwards); Read fills delivered_at too.
pub(crate) fn mark(ctx: &ReducerContext, item: InboxItem, state: DeliveryState) {
    if item.state >= state {
        return;
    }
    let now = ctx.timestamp;
    let read_at = if state == DeliveryState::Read {
        Some(now)
    } else {
        item.read_at
    };
    ctx.db.inbox_item().id().update(InboxItem {
        state,
        delivered_at: Some(item.delivered_at.unwrap_or(now)),
        read_at,
        ..item
    });
}

/// A deleted message takes its items (all sent by its sender) with it.
pub(crate) fn delete_items_of_message(ctx: &ReducerContext, sender: Identity, message_id: u64) {
    let ids: Vec<u64> = ctx
        .db
        .inbox_item()
        .sender()
        .filter(sender)
        .filter(|i| i.message_id == Some(message_id))
        .map(|i| i.id)
        .collect();
    for id in ids {
        ctx.db.inbox_item().id().delete(id);
    }
}
