//! Fan-out of everything real-time: events for clients, presence and voice-room changes,
//! and orders to close sessions.
//!
//! One node delivers in process. With `NATS_URL`, every node publishes to one NATS
//! subject and consumes the same subject (its own messages included), so all nodes see
//! one order per publisher: a membership change and the messages after it arrive in the
//! order they were made, which keeps the rights check at publish time sound.

mod nats;

use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::PresenceStatus;
use cromulent_protocol::voice::VoiceParticipant;
use cromulent_protocol::Id;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// Messages waiting for the gateway hub before publishers are made to wait.
const QUEUE: usize = 65_536;

/// Who receives an event. Computed by the publisher, which has just checked rights
/// against the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Audience {
    /// Every signed-in session.
    Everyone,
    /// Every session of these users.
    Users { user_ids: Vec<Id> },
    /// These gateway sessions only (voice peers, signaling).
    Sessions { session_ids: Vec<Id> },
    /// Whoever may see the channel: everyone for a public channel; for a private one its
    /// members (listed here) and admins.
    Channel { channel_id: Id, private_members: Option<Vec<Id>> },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub audience: Audience,
    pub event: Event,
    /// Sessions of this user are left out (e.g. their own typing indicator).
    #[serde(default)]
    pub skip_user: Option<Id>,
}

/// A voice-room change made on `node`, applied by every node to its view of the rooms.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VoiceChange {
    pub node: u16,
    pub channel_id: Id,
    pub participant: VoiceParticipant,
    pub left: bool,
    /// Who sees a join in their sidebar (a private channel's members only); later
    /// changes and the leave go to the same audience, so they carry `None`.
    pub audience: Option<Audience>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(
    clippy::large_enum_variant,
    reason = "events are most of the traffic: boxing them would add an allocation to the common case to save a few hundred bytes of copying"
)]
pub enum BusMessage {
    Event(Envelope),
    /// A node's summary of one user's sessions on it.
    Presence {
        node: u16,
        user_id: Id,
        status: PresenceStatus,
    },
    Voice(VoiceChange),
    /// A voice room's rights changed: participants no longer admitted leave it.
    VoiceAccess {
        channel_id: Id,
        access: crate::voice::rooms::RoomAccess,
    },
    /// A voice room changed how it carries audio (mesh or SFU, and which SFU peer).
    VoiceRoute {
        channel_id: Id,
        route: crate::voice::route::RoomRoute,
    },
    /// A node is alive (sent every `NODE_HEARTBEAT_MS`).
    NodeAlive {
        node: u16,
    },
    /// A node is shutting down: what it served moves now, without waiting for it to
    /// go silent.
    NodeLeft {
        node: u16,
    },
    /// Signaling for the SFU on `node`, from a participant connected to any node.
    Sfu {
        node: u16,
        signal: crate::voice::sfu::SfuSignal,
    },
    /// Close the gateway sessions of one login (logout, revocation, token reuse).
    EndLogin {
        login_id: Id,
    },
    /// Close every gateway session of a user but those of `keep_login` (password change).
    EndUserLogins {
        user_id: Id,
        keep_login: Option<Id>,
    },
    /// The user's account was deleted: every gateway session of theirs closes with
    /// `ACCOUNT_DELETED`, so clients sign out instead of reconnecting.
    EndAccount {
        user_id: Id,
    },
    /// A user's role changed: admins see every private channel.
    RoleChange {
        user_id: Id,
        is_admin: bool,
    },
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BusError {
    #[error("connecting to NATS at {url}")]
    Connect {
        url: String,
        #[source]
        source: async_nats::ConnectError,
    },
    #[error("subscribing to NATS")]
    Subscribe(#[source] async_nats::SubscribeError),
}

/// The publishing side, cheap to clone.
#[derive(Debug, Clone)]
pub struct Bus {
    route: Route,
}

#[derive(Debug, Clone)]
enum Route {
    Local(mpsc::Sender<BusMessage>),
    Nats(nats::Link),
}

/// The consuming side: what the gateway hub reads, in order.
pub type Inbox = mpsc::Receiver<BusMessage>;

impl Bus {
    /// In-process only.
    pub fn local() -> (Self, Inbox) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Self { route: Route::Local(tx) }, rx)
    }

    /// Through NATS, shared with every node on the same subject.
    pub async fn nats(url: &str, subject: &str) -> Result<(Self, Inbox), BusError> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let link = nats::Link::connect(url, subject, tx).await?;
        Ok((Self { route: Route::Nats(link) }, rx))
    }

    /// Hands a message to every node's hub. Failures are logged: real-time delivery is
    /// best effort on top of the database, which already holds the truth.
    pub async fn publish(&self, message: BusMessage) {
        match &self.route {
            Route::Local(tx) => {
                if tx.send(message).await.is_err() {
                    tracing::warn!("gateway hub has stopped; event dropped");
                }
            }
            Route::Nats(link) => link.publish(&message).await,
        }
    }

    /// Shorthand for an event.
    pub async fn event(&self, audience: Audience, event: Event) {
        self.publish(BusMessage::Event(Envelope { audience, event, skip_user: None })).await;
    }
}
