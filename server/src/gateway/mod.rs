//! The real-time gateway at `/api/gateway`: one WebSocket per client carrying events,
//! presence, typing and voice signaling.
//!
//! [`connection`] runs one socket (hello, identify or resume, then a reader and a
//! writer task); [`ops`] carries out what clients ask; [`hub`] holds every session of
//! this node and routes bus messages to them with per-session sequence numbers and a
//! bounded [`replay`] buffer for resume; [`presence`] merges sessions across nodes.
//! [`limits`] caps the sockets of one address and the sessions of one user. The HTTP
//! upgrade that opens a socket is `http::gateway`, which asks [`Gateway::admit`] first.

pub mod connection;
pub mod hub;
pub mod limits;
pub mod nodes;
pub mod ops;
pub mod presence;
pub mod rate_limit;
pub mod replay;
pub mod snapshot;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::WebSocket;
use tokio::sync::{watch, Notify};

use cromulent_protocol::gateway::{close_code, ClientFrame, MAX_INBOUND_FRAME_BYTES};

use crate::bus::{Bus, BusMessage, Inbox};
use crate::state::AppState;
pub use hub::HubVoice;
use hub::{Hub, HubLimits};
use limits::{AddressSlot, Caps, ConnectionLimits};

/// Settings of the gateway; the defaults suit production, tests shorten the timers.
#[derive(Debug, Clone, Copy)]
pub struct GatewayConfig {
    pub heartbeat_interval: Duration,
    pub max_connections: usize,
    /// Sessions one user may have open on this node, and sockets one address may.
    pub max_connections_per_user: usize,
    pub max_connections_per_ip: usize,
    /// How long a socket may stay open without identifying or resuming.
    pub identify_timeout: Duration,
    /// Largest `sdp_offer`/`sdp_answer` frame read; every other frame stays within
    /// `MAX_INBOUND_FRAME_BYTES`.
    pub max_sdp_frame_bytes: usize,
    /// Frames queued for one connection before it counts as a slow consumer.
    pub outbound_queue: usize,
    /// Commands per connection per window, and signaling messages per window.
    pub command_limit: u32,
    pub signaling_limit: u32,
    pub rate_window: Duration,
    pub replay_events: usize,
    pub replay_bytes: usize,
    pub resume_window: Duration,
    /// How often this node beats on the bus; three missed beats make a node dead.
    pub node_heartbeat: Duration,
}

impl GatewayConfig {
    pub fn new(heartbeat_interval: Duration, max_connections: usize) -> Self {
        Self {
            heartbeat_interval,
            max_connections,
            max_connections_per_user: 20,
            max_connections_per_ip: 100,
            identify_timeout: Duration::from_secs(10),
            max_sdp_frame_bytes: 128 * 1024,
            outbound_queue: 256,
            command_limit: 120,
            signaling_limit: 600,
            rate_window: Duration::from_secs(60),
            replay_events: 1000,
            replay_bytes: 1 << 20,
            resume_window: Duration::from_secs(120).max(heartbeat_interval * 4),
            node_heartbeat: Duration::from_secs(2),
        }
    }

    /// Largest frame the WebSocket layer lets through; [`Self::decode`] then holds
    /// each op to its own limit.
    pub fn max_socket_frame_bytes(&self) -> usize {
        self.max_sdp_frame_bytes.max(MAX_INBOUND_FRAME_BYTES)
    }

    /// Reads a client frame, each op within its own size limit: session descriptions
    /// grow with an SFU room (about half a KiB per participant), nothing else does.
    /// The error is the close code.
    pub fn decode(&self, text: &str) -> Result<ClientFrame, u16> {
        let oversized = text.len() > MAX_INBOUND_FRAME_BYTES;
        match serde_json::from_str(text) {
            Ok(frame @ (ClientFrame::SdpOffer { .. } | ClientFrame::SdpAnswer { .. })) => Ok(frame),
            Ok(_) | Err(_) if oversized => Err(close_code::FRAME_TOO_LARGE),
            Ok(frame) => Ok(frame),
            Err(_) => Err(close_code::DECODE_ERROR),
        }
    }

    /// Silence longer than this ends a connection (and, detached, a session's presence).
    pub fn heartbeat_timeout(&self) -> Duration {
        self.heartbeat_interval + self.heartbeat_interval / 2
    }
}

/// The gateway's shared parts.
#[derive(Debug)]
pub struct Gateway {
    pub config: GatewayConfig,
    pub hub: Arc<Hub>,
    pub limits: Arc<ConnectionLimits>,
    connections: AtomicUsize,
    next_link: AtomicU64,
    /// Set once this node announced it is leaving: its beat stops.
    leaving: Arc<AtomicBool>,
    /// True once the server is stopping: every socket closes with 1001 (reconnect).
    closing: watch::Sender<bool>,
    /// Woken when the last connection ends, for a stopping server waiting on them.
    drained: Notify,
    bus: Bus,
}

impl Gateway {
    /// Builds the hub and starts the tasks that feed it from the bus and age sessions.
    pub fn start(config: GatewayConfig, node: u16, bus: Bus, inbox: Inbox, voice: HubVoice) -> Arc<Self> {
        let hub = Arc::new(Hub::new(
            node,
            HubLimits {
                replay_events: config.replay_events,
                replay_bytes: config.replay_bytes,
                heartbeat_timeout: config.heartbeat_timeout(),
                resume_window: config.resume_window,
                node_timeout: config.node_heartbeat * 3,
            },
            voice,
        ));
        let leaving = Arc::new(AtomicBool::new(false));
        tokio::spawn(route_bus(hub.clone(), bus.clone(), inbox));
        tokio::spawn(beat(node, bus.clone(), config.node_heartbeat, Arc::clone(&leaving)));
        tokio::spawn(sweep(hub.clone(), bus.clone(), config.heartbeat_interval / 4));
        let limits = ConnectionLimits::new(Caps {
            per_user: config.max_connections_per_user,
            per_address: config.max_connections_per_ip,
        });
        Arc::new(Self {
            config,
            hub,
            limits,
            connections: AtomicUsize::new(0),
            next_link: AtomicU64::new(1),
            leaving,
            closing: watch::Sender::new(false),
            drained: Notify::new(),
            bus,
        })
    }

    /// Closes every socket, open or still in its handshake, with 1001 ("going away":
    /// reconnect and resume, on another node or once this one is back). Sockets that
    /// open later are closed the same way.
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }

    /// Becomes true when [`Self::close_all`] was called.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Returns once no connection is left (each ends after its close frame went out,
    /// or after its close grace when the peer stopped reading).
    pub async fn drained(&self) {
        loop {
            let notified = self.drained.notified();
            tokio::pin!(notified);
            // Registered before the count is read, so a last connection ending in
            // between still wakes us.
            notified.as_mut().enable();
            if self.connection_count() == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Tells the other nodes this one is shutting down, so the voice rooms it serves
    /// move to them now instead of after its silence times out.
    pub async fn leave_cluster(&self) {
        self.leaving.store(true, Ordering::Relaxed);
        self.bus.publish(BusMessage::NodeLeft { node: self.hub.node() }).await;
    }

    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    fn next_link_id(&self) -> u64 {
        self.next_link.fetch_add(1, Ordering::Relaxed)
    }
}

/// Tells the other nodes this one is alive, until it leaves.
async fn beat(node: u16, bus: Bus, every: Duration, leaving: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(50)));
    loop {
        tick.tick().await;
        if leaving.load(Ordering::Relaxed) {
            return;
        }
        bus.publish(BusMessage::NodeAlive { node }).await;
    }
}

/// The hub's one consumer: bus messages in order, and what they cause published back.
async fn route_bus(hub: Arc<Hub>, bus: Bus, mut inbox: Inbox) {
    while let Some(message) = inbox.recv().await {
        for follow in hub.handle(&message) {
            bus.publish(follow).await;
        }
    }
}

async fn sweep(hub: Arc<Hub>, bus: Bus, every: Duration) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(50)));
    loop {
        tick.tick().await;
        for follow in hub.sweep() {
            bus.publish(follow).await;
        }
    }
}

/// Why a new connection was turned away before its upgrade.
#[derive(Debug, thiserror::Error)]
pub enum Turnaway {
    /// The client's address holds its cap of sockets; retryable once one closes.
    #[error(transparent)]
    Address(limits::LimitError),
    /// This node holds its cap of connections; retryable, perhaps on another node.
    #[error("too many connections")]
    Node,
}

impl Gateway {
    /// Claims a place for a new connection: on the node, and against its address (when
    /// known; a server run without peer addresses has only the node's cap).
    pub fn admit(self: &Arc<Self>, client_ip: Option<&str>) -> Result<ConnectionSlot, Turnaway> {
        let address = match client_ip.map(str::parse::<IpAddr>) {
            Some(Ok(ip)) => Some(self.limits.claim_address(ip).map_err(Turnaway::Address)?),
            Some(Err(_)) => {
                tracing::warn!(client_ip = ?client_ip, "client address is not an IP address; not capped per address");
                None
            }
            None => None,
        };
        if self.connections.fetch_add(1, Ordering::Relaxed) >= self.config.max_connections {
            self.connections.fetch_sub(1, Ordering::Relaxed);
            return Err(Turnaway::Node);
        }
        Ok(ConnectionSlot { gateway: Arc::clone(self), _address: address })
    }
}

/// Counts a connection while it lives, on the node and against its address.
#[derive(Debug)]
pub struct ConnectionSlot {
    gateway: Arc<Gateway>,
    _address: Option<AddressSlot>,
}

impl ConnectionSlot {
    /// Runs an upgraded socket to its end; the place is given back after it.
    pub async fn serve(self, socket: WebSocket, state: AppState, cookie: Option<String>) {
        let link_id = self.gateway.next_link_id();
        connection::serve(socket, state, cookie, link_id).await;
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if self.gateway.connections.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.gateway.drained.notify_waiters();
        }
    }
}
