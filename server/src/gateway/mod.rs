//! The real-time gateway at `/api/gateway`: one WebSocket per client carrying events,
//! presence, typing and voice signaling.
//!
//! [`connection`] runs one socket (hello, identify or resume, then a reader and a
//! writer task); [`ops`] carries out what clients ask; [`hub`] holds every session of
//! this node and routes bus messages to them with per-session sequence numbers and a
//! bounded [`replay`] buffer for resume; [`presence`] merges sessions across nodes.
//! [`limits`] caps the sockets of one address and the sessions of one user.

pub mod connection;
pub mod hub;
pub mod limits;
pub mod ops;
pub mod presence;
pub mod rate_limit;
pub mod replay;
pub mod snapshot;

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use cromulent_protocol::gateway::MAX_INBOUND_FRAME_BYTES;
use cromulent_protocol::ErrorCode;

use crate::bus::{Bus, Inbox};
use crate::http::error::HttpError;
use crate::http::extract::ClientIp;
use crate::state::AppState;
use hub::{Hub, HubLimits};
use limits::{AddressSlot, Caps, ConnectionLimits};

/// The `Retry-After` given with a per-address refusal.
const ADDRESS_RETRY_AFTER_SECS: u64 = 5;

/// Origins of the desktop app's webview, allowed besides our own.
const DESKTOP_ORIGINS: [&str; 3] = ["tauri://localhost", "http://tauri.localhost", "https://tauri.localhost"];

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
    /// Frames queued for one connection before it counts as a slow consumer.
    pub outbound_queue: usize,
    /// Commands per connection per window, and signaling messages per window.
    pub command_limit: u32,
    pub signaling_limit: u32,
    pub rate_window: Duration,
    pub replay_events: usize,
    pub replay_bytes: usize,
    pub resume_window: Duration,
}

impl GatewayConfig {
    pub fn new(heartbeat_interval: Duration, max_connections: usize) -> Self {
        Self {
            heartbeat_interval,
            max_connections,
            max_connections_per_user: 20,
            max_connections_per_ip: 100,
            identify_timeout: Duration::from_secs(10),
            outbound_queue: 256,
            command_limit: 120,
            signaling_limit: 600,
            rate_window: Duration::from_secs(60),
            replay_events: 1000,
            replay_bytes: 1 << 20,
            resume_window: Duration::from_secs(120).max(heartbeat_interval * 4),
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
}

impl Gateway {
    /// Builds the hub and starts the tasks that feed it from the bus and age sessions.
    pub fn start(config: GatewayConfig, node: u16, bus: Bus, inbox: Inbox) -> Arc<Self> {
        let hub = Arc::new(Hub::new(
            node,
            HubLimits {
                replay_events: config.replay_events,
                replay_bytes: config.replay_bytes,
                heartbeat_timeout: config.heartbeat_timeout(),
                resume_window: config.resume_window,
            },
        ));
        tokio::spawn(route_bus(hub.clone(), bus.clone(), inbox));
        tokio::spawn(sweep(hub.clone(), bus, config.heartbeat_interval / 4));
        let limits = ConnectionLimits::new(Caps {
            per_user: config.max_connections_per_user,
            per_address: config.max_connections_per_ip,
        });
        Arc::new(Self { config, hub, limits, connections: AtomicUsize::new(0), next_link: AtomicU64::new(1) })
    }

    pub fn connection_count(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    fn next_link_id(&self) -> u64 {
        self.next_link.fetch_add(1, Ordering::Relaxed)
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

pub fn router() -> Router<AppState> {
    Router::new().route("/api/gateway", get(upgrade))
}

/// Counts a connection while it lives: on the node, and against its address (when
/// known; a server run without peer addresses has only the node's cap).
struct ConnectionSlot {
    gateway: Arc<Gateway>,
    _address: Option<AddressSlot>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.gateway.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn upgrade(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // Browsers attach cookies to cross-site WebSocket handshakes: without this check any
    // page could open a gateway session as the visitor.
    let origin = headers.get(axum::http::header::ORIGIN).and_then(|v| v.to_str().ok());
    let desktop = origin.is_some_and(|o| DESKTOP_ORIGINS.contains(&o));
    if !desktop && !state.cookies.is_same_origin(&headers) {
        return HttpError::new(StatusCode::FORBIDDEN, ErrorCode::CsrfRejected, "origin not allowed")
            .into_response();
    }
    let gateway = state.gateway.clone();
    let address = match client_ip.as_deref().map(str::parse::<IpAddr>) {
        Some(Ok(ip)) => match gateway.limits.claim_address(ip) {
            Ok(slot) => Some(slot),
            Err(e) => return address_refused(e),
        },
        Some(Err(_)) => {
            tracing::warn!(client_ip = ?client_ip, "client address is not an IP address; not capped per address");
            None
        }
        None => None,
    };
    if gateway.connections.fetch_add(1, Ordering::Relaxed) >= gateway.config.max_connections {
        gateway.connections.fetch_sub(1, Ordering::Relaxed);
        return HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "too many connections",
        )
        .into_response();
    }
    let slot = ConnectionSlot { gateway, _address: address };
    let cookie = state.cookies.read(&headers);
    ws.read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(MAX_INBOUND_FRAME_BYTES)
        .max_frame_size(MAX_INBOUND_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            let link_id = slot.gateway.next_link_id();
            connection::serve(socket, state, cookie, link_id).await;
            drop(slot);
        })
}

/// The upgrade refused because the address holds its cap of sockets.
fn address_refused(error: limits::LimitError) -> Response {
    let mut refusal =
        HttpError::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited, error.to_string());
    // Sockets do not expire on a clock, so this is a hint: long enough that a client
    // honouring it does not hammer the server, short enough to notice a freed place.
    refusal.body.retry_after_secs = Some(ADDRESS_RETRY_AFTER_SECS);
    refusal.into_response()
}
