//! Session state: channels, messages, presence and voice rooms, kept current from the
//! gateway's `ready` snapshot and events.
//!
//! [`Session::start`] subscribes to a [`Gateway`] and applies every event, in order, to
//! a [`SessionState`] in a task of its own. After applying, it re-publishes what
//! happened as a [`Change`], so a UI (the Tauri app) can forward changes to its view
//! and read the state it needs with [`Session::read`]. After `invalid_session` the
//! state is rebuilt from the new `ready`, and the message caches are refetched over
//! REST, then [`Change::Reset`] tells the UI to redraw everything.

mod state;

use std::sync::{Arc, RwLock};

use cromulent_protocol::gateway::{ControlFrame, Event, ServerFrame};
use cromulent_protocol::message::ListMessagesQuery;
use cromulent_protocol::Id;
use tokio::sync::broadcast;

pub use state::{SessionState, RECENT_MESSAGES};

use crate::api::{self, ApiError};
use crate::gateway::{ConnectionState, Gateway, GatewayEvent};

/// What changed, published after it was applied to the state.
#[derive(Debug, Clone)]
pub enum Change {
    /// The whole state was replaced (new `ready`, resync after a lost session).
    Reset,
    /// An event was applied (also events the state ignores, e.g. typing, signaling).
    Event(Event),
    /// The connection changed state.
    Connection(ConnectionState),
}

/// The live state of one logged-in gateway session. Cheap to clone.
#[derive(Clone)]
pub struct Session {
    state: Arc<RwLock<SessionState>>,
    changes: broadcast::Sender<Change>,
    client: api::Client,
}

impl Session {
    /// Starts from the gateway's `ready` snapshot and follows its events. `client`
    /// refetches over REST after a lost session.
    pub fn start(gateway: &Gateway, client: api::Client) -> Session {
        let state = Arc::new(RwLock::new(SessionState::from_ready(gateway.ready())));
        let (changes, _) = broadcast::channel(1024);
        let session = Session { state, changes, client };
        tokio::spawn(session.clone().follow(gateway.subscribe()));
        session
    }

    /// Receives every [`Change`] from now on.
    pub fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// Reads the state (briefly: a lock is held while `f` runs).
    pub fn read<T>(&self, f: impl FnOnce(&SessionState) -> T) -> T {
        f(&self.state.read().expect("session state lock is never poisoned"))
    }

    /// A copy of the whole state.
    pub fn snapshot(&self) -> SessionState {
        self.read(SessionState::clone)
    }

    /// Loads the newest page of a channel's history into the cache over REST.
    pub async fn load_messages(&self, channel_id: Id) -> Result<(), ApiError> {
        let page = self.client.messages(channel_id, &ListMessagesQuery::default()).await?;
        self.write(|state| state.merge_messages(channel_id, page));
        Ok(())
    }

    fn write<T>(&self, f: impl FnOnce(&mut SessionState) -> T) -> T {
        f(&mut self.state.write().expect("session state lock is never poisoned"))
    }

    fn publish(&self, change: Change) {
        let _ = self.changes.send(change);
    }

    async fn follow(self, mut events: broadcast::Receiver<GatewayEvent>) {
        let mut lost = false;
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Closed) => return,
                // Events were dropped: the state may be wrong; rebuild it over REST.
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "session fell behind the gateway; resyncing");
                    self.resync().await;
                    continue;
                }
            };
            match event {
                GatewayEvent::Frame(ServerFrame::Event(frame)) => {
                    self.write(|state| state.apply(&frame.event));
                    self.publish(Change::Event(frame.event));
                }
                GatewayEvent::Frame(ServerFrame::Control(ControlFrame::Ready { snapshot, .. })) => {
                    let cached: Vec<Id> = self.read(|s| s.messages.keys().copied().collect());
                    self.write(|state| *state = SessionState::from_ready(&snapshot));
                    if lost {
                        lost = false;
                        self.refetch_messages(&cached).await;
                    }
                    self.publish(Change::Reset);
                }
                GatewayEvent::State(state) => {
                    if state == ConnectionState::InvalidSession {
                        lost = true;
                    }
                    self.publish(Change::Connection(state));
                }
                GatewayEvent::Frame(ServerFrame::Control(_)) | GatewayEvent::Undelivered(_) => {}
            }
        }
    }

    /// Rebuilds channels over REST and refetches the cached channels' messages.
    async fn resync(&self) {
        match self.client.channels().await {
            Ok(channels) => self.write(|state| {
                state.channels = channels.into_iter().map(|c| (c.channel.id, c)).collect();
            }),
            Err(error) => tracing::warn!(%error, "could not refetch channels"),
        }
        let cached: Vec<Id> = self.read(|s| s.messages.keys().copied().collect());
        self.refetch_messages(&cached).await;
        self.publish(Change::Reset);
    }

    async fn refetch_messages(&self, channels: &[Id]) {
        for &channel_id in channels {
            if let Err(error) = self.load_messages(channel_id).await {
                tracing::warn!(%channel_id, %error, "could not refetch messages");
            }
        }
    }
}
