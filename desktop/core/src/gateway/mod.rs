//! Gateway connection: one WebSocket to `/api/gateway` that survives drops.
//!
//! [`Gateway::connect`] opens the socket, waits for `hello`, identifies with an access
//! token from a [`TokenSource`] and returns once `ready` has arrived. From then on a task
//! owns the connection:
//!
//! - it sends `heartbeat` every `heartbeat_interval_ms` from `hello`; a beat that is not
//!   acknowledged before the next one counts as a dead connection;
//! - on a drop it reconnects with jittered exponential backoff and sends
//!   `resume {session_id, last_seq}`, so the server replays exactly the missed events
//!   (events already seen are never delivered twice: `seq` is checked);
//! - on `invalid_session` it identifies afresh on the same socket, publishes
//!   [`ConnectionState::InvalidSession`] (refetch state over REST) and a new `ready`;
//! - close 4004 (authentication failed) refreshes the access token and retries; 4009
//!   (session revoked) and 4010 (unsupported version) stop for good;
//! - a busy server (close 4008 rate limited, 4012 full, 4014 too many sessions for
//!   this user, or `429`/`503` at the upgrade) is retried after a pause of at least 5 s
//!   (or the server's `Retry-After`), never in a tight loop.
//!
//! Everything the server sends, and every connection-state change, is published as a
//! [`GatewayEvent`] on a broadcast channel ([`Gateway::subscribe`]). Frames handed to
//! [`Gateway::send`] are queued and written in order whenever a connection is up; frames
//! still queued when the session is lost (invalid session, revoked, closed) come back as
//! [`GatewayEvent::Undelivered`] rather than vanishing.
//!
//! ```no_run
//! # async fn demo(client: cromulent_client::api::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use cromulent_client::gateway::{Gateway, GatewayConfig, GatewayEvent};
//! use cromulent_protocol::gateway::{ClientFrame, ServerFrame};
//! let tokens = client.tokens().expect("logged in").clone();
//! let gateway = Gateway::connect(GatewayConfig::new(client.server(), tokens)).await?;
//! let mut events = gateway.subscribe();
//! gateway.send(ClientFrame::SetMute { muted: true }).await?;
//! while let Ok(event) = events.recv().await {
//!     if let GatewayEvent::Frame(ServerFrame::Event(frame)) = event {
//!         println!("{} {:?}", frame.seq, frame.event);
//!     }
//! }
//! # Ok(()) }
//! ```

mod connection;
mod socket;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cromulent_protocol::gateway::{ClientFrame, ReadySnapshot, ServerFrame};
use cromulent_protocol::Id;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::api::{ApiError, TokenSource};

/// How a gateway connects and how patiently it reconnects.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The server's base address (`http(s)://host:port`); the socket goes to
    /// `ws(s)://host:port/api/gateway`.
    pub server: url::Url,
    pub tokens: TokenSource,
    /// First reconnect delay; doubled per failed attempt up to `max_backoff`, and each
    /// delay drawn at random between half and all of it so many clients do not return
    /// in step after a server restart.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// How long connecting plus the hello/identify handshake may take.
    pub handshake_timeout: Duration,
    /// Events buffered per subscriber; a subscriber that falls further behind gets
    /// `RecvError::Lagged` and should resync over REST.
    pub event_capacity: usize,
    /// Frames [`Gateway::send`] can queue before it waits.
    pub send_capacity: usize,
}

impl GatewayConfig {
    pub fn new(server: &url::Url, tokens: TokenSource) -> Self {
        GatewayConfig {
            server: server.clone(),
            tokens,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(15),
            event_capacity: 1024,
            send_capacity: 256,
        }
    }
}

/// What subscribers receive.
// Frames are nearly every event (messages grew by their files); boxing them would
// allocate per frame to shrink the rare state changes, as in `socket::Incoming`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum GatewayEvent {
    /// A frame from the server: events (with `seq`), `ready`, `voice_joined`, `error`,
    /// `heartbeat_ack`, ... exactly as sent, after replays have been de-duplicated.
    Frame(ServerFrame),
    /// The connection changed state.
    State(ConnectionState),
    /// Frames given to [`Gateway::send`] that were never written, because the session
    /// they belonged to is gone. Voice signaling among them is stale; resend if needed.
    Undelivered(Vec<ClientFrame>),
}

/// The connection's life, as subscribers see it.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnectionState {
    /// Identified afresh; a `ready` frame with the full snapshot was just published.
    Connected { session_id: Id },
    /// A dropped connection was resumed; the missed events were published before this.
    Resumed { session_id: Id, replayed: u64 },
    /// The connection dropped; the next attempt follows after `delay`.
    Reconnecting { attempt: u32, delay: Duration, reason: String },
    /// The server could not resume the session: events were lost. Refetch state over
    /// REST; a new `ready` and [`ConnectionState::Connected`] follow.
    InvalidSession,
    /// The gateway stopped and will not reconnect.
    Closed(CloseReason),
}

/// Why the gateway stopped for good.
#[derive(Debug, Clone, PartialEq)]
pub enum CloseReason {
    /// [`Gateway::close`] was called, or every handle was dropped.
    Requested,
    /// The login ended (logout, revocation, password change): log in again.
    Revoked,
    /// The access token could not be refreshed: log in again.
    AuthenticationFailed(String),
    /// The server does not speak this client's protocol version: update the client.
    UnsupportedVersion,
}

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The socket could not be opened or broke during the handshake. Retryable.
    #[error("could not connect to {url}: {detail}")]
    Connect { url: String, detail: String },
    /// The server refused the upgrade: it is full (`503`) or this address holds too many
    /// connections (`429`). Retryable after `retry_after` (its `Retry-After`), if given.
    #[error("the server is busy ({status}); try again later")]
    Busy { status: u16, retry_after: Option<Duration> },
    /// The server closed the socket during the handshake. Retryable unless the code says
    /// otherwise (see `cromulent_protocol::gateway::close_code`).
    #[error("the server closed the gateway ({code}): {reason}")]
    Closed { code: u16, reason: String },
    /// The handshake did not finish within the configured timeout. Retryable.
    #[error("the gateway handshake timed out while waiting for {0}")]
    Timeout(&'static str),
    /// The server sent something the protocol does not allow here. Not retryable.
    #[error("gateway protocol violation: {0}")]
    Protocol(String),
    /// No access token could be had: log in again.
    #[error("could not get an access token: {0}")]
    Auth(#[source] ApiError),
    /// The gateway has stopped ([`GatewayEvent::State`] said why); nothing more is sent.
    #[error("the gateway has stopped")]
    Stopped,
}

enum Command {
    Send(ClientFrame),
    Reconnect,
    Close(oneshot::Sender<()>),
}

/// A handle to the gateway connection. Clones share it; the connection closes when the
/// last handle is dropped or [`Gateway::close`] is called.
#[derive(Clone)]
pub struct Gateway {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<GatewayEvent>,
    /// Created before the connection task started, so the first subscriber misses
    /// nothing that arrived after `ready`.
    first_subscriber: Arc<Mutex<Option<broadcast::Receiver<GatewayEvent>>>>,
    session_id: Id,
    ready: Arc<ReadySnapshot>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").field("session_id", &self.session_id).finish()
    }
}

impl Gateway {
    /// Connects and identifies; returns after `ready`. A failure here is returned, not
    /// retried: the caller decides whether an unreachable server is worth waiting for.
    pub async fn connect(config: GatewayConfig) -> Result<Gateway, GatewayError> {
        let (events, first) = broadcast::channel(config.event_capacity.max(1));
        let (commands, command_rx) = mpsc::channel(config.send_capacity.max(1));
        let (task, session_id, ready) = connection::Connection::open(config, events.clone()).await?;
        tokio::spawn(task.run(command_rx));
        Ok(Gateway {
            commands,
            events,
            first_subscriber: Arc::new(Mutex::new(Some(first))),
            session_id,
            ready: Arc::new(ready),
        })
    }

    /// Receives every [`GatewayEvent`] from now on. The first call also receives those
    /// published since `connect` returned.
    pub fn subscribe(&self) -> broadcast::Receiver<GatewayEvent> {
        let first = self.first_subscriber.lock().expect("subscriber lock is never poisoned").take();
        first.unwrap_or_else(|| self.events.subscribe())
    }

    /// Queues a frame; it is written as soon as a connection is up (in order with other
    /// queued frames). Identify, resume and heartbeat are the gateway's own business and
    /// are ignored here.
    pub async fn send(&self, frame: ClientFrame) -> Result<(), GatewayError> {
        self.commands.send(Command::Send(frame)).await.map_err(|_| GatewayError::Stopped)
    }

    /// Drops the current socket and resumes on a new one (e.g. after the network
    /// changed, when the old socket may hang for a long time before failing).
    pub async fn reconnect(&self) -> Result<(), GatewayError> {
        self.commands.send(Command::Reconnect).await.map_err(|_| GatewayError::Stopped)
    }

    /// Closes the connection (normal closure) and stops; waits until it is closed.
    pub async fn close(&self) {
        let (done, wait) = oneshot::channel();
        if self.commands.send(Command::Close(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// The session id from the first `ready` (after an invalid session the server
    /// assigns a new one, published in [`ConnectionState::Connected`]).
    pub fn session_id(&self) -> Id {
        self.session_id
    }

    /// The snapshot from the first `ready`.
    pub fn ready(&self) -> &ReadySnapshot {
        &self.ready
    }
}
