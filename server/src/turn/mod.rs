//! The built-in STUN/TURN relay (webrtc-rs's `turn` crate on one UDP port) and the
//! short-lived credentials voice clients use with it or with an external coturn.
//!
//! Datagrams reach the crate through [`listener::GuardedListener`], which refuses
//! relaying to denied peer ranges and allocations past the quotas; each allocation's
//! relay socket comes from [`relay::RelayPorts`] and counts its traffic in
//! [`metrics::TurnMetrics`].

pub mod credentials;
pub mod listener;
pub mod metrics;
pub mod policy;
pub mod privacy;
pub mod relay;
pub mod self_test;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use cromulent_protocol::Id;
use tokio::net::UdpSocket;
use turn::auth::{generate_auth_key, AuthHandler};
use turn::server::config::{ConnConfig, ServerConfig};
use turn::server::Server;

use crate::config::TurnConfig;
use credentials::{Credentials, RestUsername, TurnSecret};
use metrics::TurnMetrics;
use policy::{PeerPolicy, Quotas};

/// What the listener, the relay sockets and the auth check share.
pub struct Shared {
    pub secret: TurnSecret,
    pub realm: String,
    pub policy: Arc<PeerPolicy>,
    pub quotas: Arc<Quotas>,
    pub metrics: Arc<TurnMetrics>,
    /// The owner of the Allocate request being handled. The crate handles one request
    /// per listener at a time, so the relay socket made for it is that owner's.
    pub pending_owner: Mutex<Option<String>>,
}

impl Shared {
    /// The long-term credential key (MD5 of `username:realm:password`).
    pub fn auth_key(&self, username: &str) -> Vec<u8> {
        generate_auth_key(username, &self.realm, &self.secret.password(username))
    }
}

/// The crate's credential check: our REST usernames, not expired.
struct RestAuth(Arc<Shared>);

impl AuthHandler for RestAuth {
    fn auth_handle(&self, username: &str, _realm: &str, _src: SocketAddr) -> Result<Vec<u8>, turn::Error> {
        let parsed = RestUsername::parse(username)
            .ok_or_else(|| turn::Error::Other("not a TURN REST username".into()))?;
        if parsed.expires_at < listener::unix_now() {
            return Err(turn::Error::Other("expired credentials".into()));
        }
        Ok(self.0.auth_key(username))
    }
}

/// The relay and the credentials for it, for the life of the process.
pub struct Turn {
    shared: Arc<Shared>,
    ttl: Duration,
    /// The built-in server's address, when it runs.
    local: Option<SocketAddr>,
    /// `stun:` URL of the built-in server (empty when it is off).
    stun_urls: Vec<String>,
    /// `turn:` URLs handed to clients with credentials: TURN_URLS or the built-in one.
    turn_urls: Vec<String>,
    _server: Option<Server>,
}

impl fmt::Debug for Turn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Turn").field("local", &self.local).field("turn_urls", &self.turn_urls).finish()
    }
}

impl Turn {
    /// Starts the built-in server when enabled; either way, sets up credentials.
    pub async fn start(config: &TurnConfig, secret_key_base: &[u8]) -> anyhow::Result<Self> {
        let secret = match &config.turn_secret {
            Some(secret) if !secret.is_empty() => TurnSecret::new(secret.clone()),
            _ => TurnSecret::derive(secret_key_base),
        };
        let shared = Arc::new(Shared {
            secret,
            realm: config.turn_realm.clone(),
            policy: Arc::new(PeerPolicy::new(
                config.turn_allow_loopback_peers,
                config.turn_allow_private_peers,
            )),
            quotas: Arc::new(Quotas::new(config.turn_user_quota, config.turn_total_quota)),
            metrics: Arc::new(TurnMetrics::default()),
            pending_owner: Mutex::new(None),
        });
        let mut turn = Turn {
            shared,
            ttl: Duration::from_secs(config.turn_ttl_secs.max(60)),
            local: None,
            stun_urls: Vec::new(),
            turn_urls: config.turn_urls.clone(),
            _server: None,
        };
        if !config.turn_enabled {
            return Ok(turn);
        }
        let bind = SocketAddr::new(config.turn_bind, config.turn_port);
        let socket = UdpSocket::bind(bind).await.with_context(|| {
            format!("binding the TURN server to udp {bind} (set TURN_PORT, or TURN_ENABLED=false to run without it)")
        })?;
        let local = socket.local_addr().context("TURN socket address")?;
        let public_ip = config.turn_public_ip.unwrap_or_else(|| default_public_ip(config.turn_bind));
        let server = Server::new(ServerConfig {
            conn_configs: vec![ConnConfig {
                conn: Arc::new(listener::GuardedListener::new(socket, Arc::clone(&turn.shared))),
                relay_addr_generator: Box::new(relay::RelayPorts {
                    bind: config.turn_bind,
                    public_ip,
                    min: config.turn_relay_port_min,
                    max: config.turn_relay_port_max,
                    shared: Arc::clone(&turn.shared),
                }),
            }],
            realm: config.turn_realm.clone(),
            auth_handler: Arc::new(RestAuth(Arc::clone(&turn.shared))),
            channel_bind_timeout: Duration::ZERO,
            alloc_close_notify: None,
        })
        .await
        .context("starting the TURN server")?;
        let host = match &config.turn_host {
            Some(host) => host.clone(),
            None if public_ip.is_ipv6() => format!("[{public_ip}]"),
            None => public_ip.to_string(),
        };
        let port = local.port();
        turn.stun_urls = vec![format!("stun:{host}:{port}")];
        if turn.turn_urls.is_empty() {
            turn.turn_urls = vec![format!("turn:{host}:{port}?transport=udp")];
        }
        turn.local = Some(local);
        turn._server = Some(server);
        tracing::info!(%local, %public_ip, "STUN/TURN relay listening (udp)");
        Ok(turn)
    }

    /// Fresh credentials for `user_id`, good for the configured lifetime.
    pub fn credentials(&self, user_id: Id) -> Credentials {
        self.shared.secret.issue(user_id, listener::unix_now() + self.ttl.as_secs())
    }

    pub fn secret(&self) -> &TurnSecret {
        &self.shared.secret
    }

    pub fn realm(&self) -> &str {
        &self.shared.realm
    }

    /// Where the built-in server listens, when it runs.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }

    pub fn stun_urls(&self) -> &[String] {
        &self.stun_urls
    }

    pub fn turn_urls(&self) -> &[String] {
        &self.turn_urls
    }

    pub fn policy(&self) -> &Arc<PeerPolicy> {
        &self.shared.policy
    }

    pub fn metrics(&self) -> &TurnMetrics {
        &self.shared.metrics
    }

    /// The Prometheus exposition of the relay's counters.
    pub fn render_metrics(&self) -> String {
        self.shared.metrics.render(self.shared.quotas.live_total())
    }
}

/// The bind address, or when that is "any", the address of the interface that routes
/// to the internet; 127.0.0.1 on a machine without one. Connecting a UDP socket sends
/// nothing: it only asks the kernel for a route.
fn default_public_ip(bind: IpAddr) -> IpAddr {
    if !bind.is_unspecified() {
        return bind;
    }
    let probe = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|s| s.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).map(|()| s))
        .and_then(|s| s.local_addr());
    match probe {
        Ok(addr) if !addr.ip().is_unspecified() => addr.ip(),
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}
