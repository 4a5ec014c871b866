//! What a committed write changed, and publishing it to the real-time gateway.

use cromulent_protocol::channel::ReadState;
use cromulent_protocol::event::Event;
use cromulent_protocol::message::Message;
use cromulent_protocol::notification::Notification;
use cromulent_protocol::Id;

use crate::access;
use crate::bus::Audience;
use crate::state::AppState;
use crate::store::notifications::Scope;

/// A change clients should hear about, built by a handler from the rows it has just
/// committed and handed to [`announce`].
#[derive(Debug, Clone)]
pub enum Change {
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

/// Tells the rest of the system about a committed change. Only after commit: a change
/// that was rolled back must never reach a client. Message events go to whoever may see
/// the channel (its audience is read now, so a member removed a moment ago no longer
/// hears from it); notifications and read state go to their own user's sessions.
pub async fn announce(state: &AppState, change: Change) {
    let result: sqlx::Result<()> = async {
        match change {
            Change::MessageCreated { message, scope, notified } => {
                let audience = channel_audience(state, scope).await?;
                state.bus.event(audience, Event::MessageCreate { message }).await;
                notify(state, notified).await;
            }
            Change::MessageUpdated { message, scope, notified } => {
                let audience = channel_audience(state, scope).await?;
                state.bus.event(audience, Event::MessageUpdate { message }).await;
                notify(state, notified).await;
            }
            Change::MessageDeleted { message_id, scope } => {
                let audience = channel_audience(state, scope).await?;
                let channel_id = scope.channel_id;
                state.bus.event(audience, Event::MessageDelete { channel_id, message_id }).await;
            }
            Change::ReadStateMoved { user_id, read_state } => {
                let own = Audience::Users { user_ids: vec![user_id] };
                state.bus.event(own, Event::ReadStateUpdate { read_state }).await;
            }
            Change::NotificationsRead { user_id, which } => {
                let notification_id = match which {
                    Marked::One(id) => Some(id),
                    Marked::All => None,
                };
                let own = Audience::Users { user_ids: vec![user_id] };
                state.bus.event(own, Event::NotificationsRead { notification_id }).await;
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        // The write is committed; clients that miss the event catch up over REST.
        tracing::error!(error = %e, "could not announce a change");
    }
}

async fn channel_audience(state: &AppState, scope: Scope) -> sqlx::Result<Audience> {
    let mut conn = state.db.pool().acquire().await?;
    access::audience(&mut conn, scope.channel_id, scope.is_private).await
}

async fn notify(state: &AppState, notified: Vec<Notified>) {
    for Notified { user_id, notification } in notified {
        let own = Audience::Users { user_ids: vec![user_id] };
        state.bus.event(own, Event::NotificationCreate { notification }).await;
    }
}
