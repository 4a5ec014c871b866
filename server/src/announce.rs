//! Telling clients about committed changes: the one way to do it. A writer builds a
//! [`Change`] from the rows it has just committed and hands it to [`publish`] (never
//! before commit: a rolled-back change must not reach anyone), which publishes the
//! matching events on the bus to exactly the sessions that may see them.
//!
//! Events about a channel go to its audience, read at publish time through
//! [`access::audience`], so a member removed a moment ago no longer hears from it;
//! notifications and read state go to their own user's sessions.

use cromulent_protocol::channel::{Channel, ChannelNotificationSettings, ReadState};
use cromulent_protocol::event::Event;
use cromulent_protocol::feature_flag::FeatureFlags;
use cromulent_protocol::group::Group;
use cromulent_protocol::message::Message;
use cromulent_protocol::notification::Notification;
use cromulent_protocol::user::{Role, User};
use cromulent_protocol::Id;

use crate::access;
use crate::bus::{Audience, BusMessage};
use crate::state::AppState;
use crate::store;
use crate::store::notifications::Scope;

/// A committed change clients should hear about.
#[derive(Debug, Clone)]
pub enum Change {
    ChannelCreated(Channel),
    /// `was_private` is the channel's privacy before the change: users who lost sight of
    /// it are told it is gone for them, users who gained it are told it exists.
    ChannelUpdated {
        channel: Channel,
        was_private: bool,
    },
    /// `audience` must be read before the delete, while the memberships still exist.
    ChannelDeleted {
        channel_id: Id,
        audience: Audience,
    },
    MemberJoined {
        channel: Channel,
        user_id: Id,
    },
    /// After the membership is gone: the remaining audience and the user hear of it; a
    /// user who lost sight of a private channel is told it is gone for them, at once.
    MemberLeft {
        channel: Channel,
        user_id: Id,
    },
    UserUpdated(User),
    /// A new role changes what the user may see (admins see every private channel).
    RoleChanged(User),
    GroupUpdated(Group),
    GroupDeleted(Id),
    FlagsUpdated(FeatureFlags),
    MessageCreated {
        message: Message,
        scope: Scope,
        notified: Vec<Notified>,
    },
    /// An edit; `notified` holds only users the edit newly mentions.
    MessageUpdated {
        message: Message,
        scope: Scope,
        notified: Vec<Notified>,
    },
    MessageDeleted {
        message_id: Id,
        scope: Scope,
    },
    /// A reaction was added (`added`) or taken back; repeats that changed nothing are
    /// not announced.
    ReactionChanged {
        scope: Scope,
        message_id: Id,
        user_id: Id,
        emoji: String,
        added: bool,
    },
    /// A message was pinned or unpinned (also by its deletion) by `user_id`.
    PinsUpdated {
        scope: Scope,
        message_id: Id,
        pinned: bool,
        user_id: Id,
    },
    /// A user's read marker moved; their notifications in the channel up to it are read.
    ReadStateMoved {
        user_id: Id,
        read_state: ReadState,
    },
    /// Some of a user's notifications were marked read.
    NotificationsRead {
        user_id: Id,
        which: Marked,
    },
    /// A user's notification settings for one channel changed.
    NotificationSettingsChanged {
        user_id: Id,
        settings: ChannelNotificationSettings,
    },
}

/// A notification and the user whose inbox it is in.
#[derive(Debug, Clone)]
pub struct Notified {
    pub user_id: Id,
    pub notification: Notification,
}

#[derive(Debug, Clone, Copy)]
pub enum Marked {
    One(Id),
    All,
}

/// Publishes a committed change. A failure is logged instead of failing the request:
/// the write is committed either way, and a client that missed an event catches up
/// over REST.
pub async fn publish(state: &AppState, change: Change) {
    let what = change.name();
    if let Err(e) = publish_events(state, change).await {
        tracing::error!(error = %e, what, "could not announce a change");
    }
}

async fn publish_events(state: &AppState, change: Change) -> sqlx::Result<()> {
    let bus = &state.bus;
    match change {
        Change::ChannelCreated(channel) => {
            let audience = audience_of(state, Scope::of(&channel)).await?;
            bus.event(audience, Event::ChannelCreate { channel }).await;
        }
        Change::ChannelUpdated { channel, was_private } => {
            let audience = audience_of(state, Scope::of(&channel)).await?;
            bus.event(audience, Event::ChannelUpdate { channel: channel.clone() }).await;
            if channel.is_private != was_private {
                let user_ids = store::memberships::outsiders(state.db.pool(), channel.id).await?;
                let event = if channel.is_private {
                    Event::ChannelDelete { channel_id: channel.id }
                } else {
                    Event::ChannelCreate { channel }
                };
                bus.event(Audience::Users { user_ids }, event).await;
            }
        }
        Change::ChannelDeleted { channel_id, audience } => {
            bus.event(audience, Event::ChannelDelete { channel_id }).await;
        }
        Change::MemberJoined { channel, user_id } => {
            let audience = audience_of(state, Scope::of(&channel)).await?;
            bus.event(audience, Event::MemberJoin { channel_id: channel.id, user_id }).await;
            if channel.is_private {
                // The new member could not see the channel until now.
                bus.event(own(user_id), Event::ChannelCreate { channel }).await;
            }
        }
        Change::MemberLeft { channel, user_id } => {
            let audience = audience_of(state, Scope::of(&channel)).await?;
            let event = Event::MemberLeave { channel_id: channel.id, user_id };
            bus.event(audience, event.clone()).await;
            if channel.is_private {
                let is_admin =
                    store::users::find_by_id(state.db.pool(), user_id).await?.is_some_and(|u| u.is_admin());
                bus.event(own(user_id), event).await;
                if !is_admin {
                    bus.event(own(user_id), Event::ChannelDelete { channel_id: channel.id }).await;
                }
            }
        }
        Change::UserUpdated(user) => {
            bus.event(Audience::Everyone, Event::UserUpdate { user }).await;
        }
        Change::RoleChanged(user) => {
            let is_admin = user.role == Role::Admin;
            bus.publish(BusMessage::RoleChange { user_id: user.id, is_admin }).await;
            bus.event(Audience::Everyone, Event::UserUpdate { user }).await;
        }
        Change::GroupUpdated(group) => {
            bus.event(Audience::Everyone, Event::GroupUpdate { group }).await;
        }
        Change::GroupDeleted(group_id) => {
            bus.event(Audience::Everyone, Event::GroupDelete { group_id }).await;
        }
        Change::FlagsUpdated(feature_flags) => {
            bus.event(Audience::Everyone, Event::FeatureFlagsUpdate { feature_flags }).await;
        }
        Change::MessageCreated { message, scope, notified } => {
            let audience = audience_of(state, scope).await?;
            bus.event(audience, Event::MessageCreate { message }).await;
            notify(state, notified).await;
        }
        Change::MessageUpdated { message, scope, notified } => {
            let audience = audience_of(state, scope).await?;
            bus.event(audience, Event::MessageUpdate { message }).await;
            notify(state, notified).await;
        }
        Change::MessageDeleted { message_id, scope } => {
            let audience = audience_of(state, scope).await?;
            let channel_id = scope.channel_id;
            bus.event(audience, Event::MessageDelete { channel_id, message_id }).await;
        }
        Change::ReactionChanged { scope, message_id, user_id, emoji, added } => {
            let audience = audience_of(state, scope).await?;
            let channel_id = scope.channel_id;
            let event = if added {
                Event::ReactionAdd { channel_id, message_id, user_id, emoji }
            } else {
                Event::ReactionRemove { channel_id, message_id, user_id, emoji }
            };
            bus.event(audience, event).await;
        }
        Change::PinsUpdated { scope, message_id, pinned, user_id } => {
            let audience = audience_of(state, scope).await?;
            let channel_id = scope.channel_id;
            bus.event(audience, Event::PinsUpdate { channel_id, message_id, pinned, user_id }).await;
        }
        Change::ReadStateMoved { user_id, read_state } => {
            bus.event(own(user_id), Event::ReadStateUpdate { read_state }).await;
        }
        Change::NotificationsRead { user_id, which } => {
            let notification_id = match which {
                Marked::One(id) => Some(id),
                Marked::All => None,
            };
            bus.event(own(user_id), Event::NotificationsRead { notification_id }).await;
        }
        Change::NotificationSettingsChanged { user_id, settings } => {
            bus.event(own(user_id), Event::NotificationSettingsUpdate { settings }).await;
        }
    }
    Ok(())
}

impl Change {
    /// The event family, for the log.
    fn name(&self) -> &'static str {
        match self {
            Change::ChannelCreated(_) => "channel_create",
            Change::ChannelUpdated { .. } => "channel_update",
            Change::ChannelDeleted { .. } => "channel_delete",
            Change::MemberJoined { .. } => "member_join",
            Change::MemberLeft { .. } => "member_leave",
            Change::UserUpdated(_) | Change::RoleChanged(_) => "user_update",
            Change::GroupUpdated(_) => "group_update",
            Change::GroupDeleted(_) => "group_delete",
            Change::FlagsUpdated(_) => "feature_flags_update",
            Change::MessageCreated { .. } => "message_create",
            Change::MessageUpdated { .. } => "message_update",
            Change::MessageDeleted { .. } => "message_delete",
            Change::ReactionChanged { added: true, .. } => "reaction_add",
            Change::ReactionChanged { added: false, .. } => "reaction_remove",
            Change::PinsUpdated { .. } => "pins_update",
            Change::ReadStateMoved { .. } => "read_state_update",
            Change::NotificationsRead { .. } => "notifications_read",
            Change::NotificationSettingsChanged { .. } => "notification_settings_update",
        }
    }
}

/// Who may see a channel right now.
pub async fn audience_of(state: &AppState, scope: Scope) -> sqlx::Result<Audience> {
    let mut conn = state.db.pool().acquire().await?;
    access::audience(&mut conn, scope).await
}

/// One user's own sessions.
fn own(user_id: Id) -> Audience {
    Audience::Users { user_ids: vec![user_id] }
}

async fn notify(state: &AppState, notified: Vec<Notified>) {
    for Notified { user_id, notification } in notified {
        state.bus.event(own(user_id), Event::NotificationCreate { notification }).await;
    }
}
