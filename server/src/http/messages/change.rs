//! What a committed write changed: the seam where the real-time gateway plugs in.

use cromulent_protocol::channel::ReadState;
use cromulent_protocol::message::Message;
use cromulent_protocol::notification::Notification;
use cromulent_protocol::Id;

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
/// that was rolled back must never reach a client.
///
/// This is where the gateway plugs in: `state.bus.publish(BusMessage::Event(..))` with
/// message events for whoever may see `scope`'s channel, and notifications and read
/// state for their own user's sessions. Until then the change is only logged.
pub async fn announce(_state: &AppState, change: Change) {
    tracing::debug!(?change, "committed");
}
