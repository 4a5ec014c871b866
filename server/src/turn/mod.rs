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
pub mod own_host;
pub mod policy;
pub mod ranges;
pub mod relay;
pub mod self_test;
pub mod tcp;

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
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
use own_host::OwnHost;
use policy::{ChallengeBudget, PeerPolicy, Quotas};

/// What the listener, the relay sockets and the auth check share.
pub struct Shared {
    pub secret: TurnSecret,
    pub realm: String,
    pub policy: Arc<PeerPolicy>,
    pub quotas: Arc<Quotas>,
    pub metrics: Arc<TurnMetrics>,
    pub challenges: ChallengeBudget,
    /// The admin's `turn` feature flag: off refuses new allocations.
    pub accepting: AtomicBool,
    /// Clients whose request in flight may use expired credentials: a Refresh that
    /// ends its allocation (the guard checked the signature).
    graced: Mutex<HashSet<SocketAddr>>,
}

/// Graced clients remembered at most; a request always follows its grace at once, so
/// more means leftovers.
const GRACED_MAX: usize = 1024;

impl Shared {
    /// Lets the request from `src` now being handed to the crate use expired credentials.
    pub fn grace(&self, src: SocketAddr) {
        let mut graced = self.graced.lock().expect("grace lock");
        if graced.len() >= GRACED_MAX {
            graced.clear();
        }
        graced.insert(src);
    }

    fn take_grace(&self, src: SocketAddr) -> bool {
        self.graced.lock().expect("grace lock").remove(&src)
    }

    /// The long-term credential key (MD5 of `username:realm:password`).
    pub fn auth_key(&self, username: &str) -> Vec<u8> {
        generate_auth_key(username, &self.realm, &self.secret.password(username))
    }
}

/// The crate's credential check: our REST usernames, not expired. The crate asks for
/// every authenticated request (Allocate, Refresh, CreatePermission, ChannelBind), so an
/// expired name keeps nothing alive; only the release of an allocation is graced.
struct RestAuth(Arc<Shared>);

impl AuthHandler for RestAuth {
    fn auth_handle(&self, username: &str, _realm: &str, src: SocketAddr) -> Result<Vec<u8>, turn::Error> {
        let parsed = RestUsername::parse(username)
            .ok_or_else(|| turn::Error::Other("not a TURN REST username".into()))?;
        if parsed.expires_at < listener::unix_now() && !self.0.take_grace(src) {
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
    /// Where it takes TURN over TCP, when it does.
    local_tcp: Option<SocketAddr>,
    /// Where it takes TURN over TLS, when it does.
    local_tls: Option<SocketAddr>,
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
    /// Starts the built-in server when enabled; either way, sets up credentials. `http`
    /// is where the HTTP API listens: the relay never sends there.
    pub async fn start(
        config: &TurnConfig,
        http: SocketAddr,
        secret_key_base: &[u8],
    ) -> anyhow::Result<Self> {
        let secret = match &config.turn_secret {
            Some(secret) if !secret.is_empty() => TurnSecret::new(secret.clone()),
            _ => TurnSecret::derive(secret_key_base),
        };
        let public_ip = config.turn_public_ip.unwrap_or_else(|| default_public_ip(config.turn_bind));
        let host = OwnHost::new([config.turn_bind, public_ip, http.ip()], config.turn_bind, public_ip);
        host.add_listener(http.port());
        let shared = Arc::new(Shared {
            secret,
            realm: config.turn_realm.clone(),
            policy: Arc::new(PeerPolicy::new(
                config.turn_allow_loopback_peers,
                config.turn_allow_private_peers,
                host,
            )),
            quotas: Arc::new(Quotas::new(config.turn_user_quota, config.turn_total_quota)),
            metrics: Arc::new(TurnMetrics::default()),
            challenges: ChallengeBudget::default(),
            accepting: AtomicBool::new(true),
            graced: Mutex::new(HashSet::new()),
        });
        let mut turn = Turn {
            shared,
            ttl: Duration::from_secs(config.turn_ttl_secs.max(60)),
            local: None,
            local_tcp: None,
            local_tls: None,
            stun_urls: Vec::new(),
            turn_urls: config.turn_urls.clone(),
            _server: None,
        };
        if !config.turn_enabled {
            return Ok(turn);
        }
        follow_interfaces(Arc::downgrade(&turn.shared.policy)).await;
        let bind = SocketAddr::new(config.turn_bind, config.turn_port);
        let socket = UdpSocket::bind(bind).await.with_context(|| {
            format!("binding the TURN server to udp {bind} (set TURN_PORT, or TURN_ENABLED=false to run without it)")
        })?;
        let local = socket.local_addr().context("TURN socket address")?;
        turn.shared.policy.host.add_listener(local.port());
        let relay_ports = |owner: listener::OwnerSlot| {
            Box::new(relay::RelayPorts {
                bind: config.turn_bind,
                public_ip,
                min: config.turn_relay_port_min,
                max: config.turn_relay_port_max,
                shared: Arc::clone(&turn.shared),
                owner,
            })
        };
        let guard =
            |owner: &listener::OwnerSlot| listener::Guard::new(Arc::clone(&turn.shared), Arc::clone(owner));
        let owner = listener::OwnerSlot::default();
        let mut conn_configs = vec![ConnConfig {
            conn: Arc::new(listener::GuardedListener::new(socket, guard(&owner))),
            relay_addr_generator: relay_ports(owner),
        }];
        let mut tcp_port = None;
        if config.turn_tcp {
            // The same port as UDP when one is set; any free one otherwise (tests).
            let tcp_bind = SocketAddr::new(config.turn_bind, config.turn_port);
            let tcp = tokio::net::TcpListener::bind(tcp_bind).await.with_context(|| {
                format!("binding the TURN server to tcp {tcp_bind} (or set TURN_TCP=false)")
            })?;
            let owner = listener::OwnerSlot::default();
            let mux = tcp::TcpMux::start(tcp, None, guard(&owner)).context("TURN over TCP")?;
            tcp_port = Some(mux.port());
            turn.shared.policy.host.add_listener(mux.port());
            conn_configs.push(ConnConfig { conn: Arc::new(mux), relay_addr_generator: relay_ports(owner) });
        }
        let mut tls_port = None;
        if let (Some(cert), Some(key)) = (&config.turn_tls_cert, &config.turn_tls_key) {
            let acceptor = tcp::tls_acceptor(cert, key)?;
            let tls_bind = SocketAddr::new(config.turn_bind, config.turn_tls_port);
            let listener = tokio::net::TcpListener::bind(tls_bind)
                .await
                .with_context(|| format!("binding the TURN server to tcp {tls_bind} for TLS"))?;
            let owner = listener::OwnerSlot::default();
            let mux = tcp::TcpMux::start(listener, Some(acceptor), guard(&owner)).context("TURN over TLS")?;
            tls_port = Some(mux.port());
            turn.shared.policy.host.add_listener(mux.port());
            conn_configs.push(ConnConfig { conn: Arc::new(mux), relay_addr_generator: relay_ports(owner) });
        }
        let server = Server::new(ServerConfig {
            conn_configs,
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
            if let Some(tcp_port) = tcp_port {
                turn.turn_urls.push(format!("turn:{host}:{tcp_port}?transport=tcp"));
            }
            if let Some(tls_port) = tls_port {
                turn.turn_urls.push(format!("turns:{host}:{tls_port}?transport=tcp"));
            }
        }
        turn.local = Some(local);
        turn.local_tcp = tcp_port.map(|p| SocketAddr::new(local.ip(), p));
        turn.local_tls = tls_port.map(|p| SocketAddr::new(local.ip(), p));
        turn._server = Some(server);
        tracing::info!(%local, tcp = ?tcp_port, tls = ?tls_port, %public_ip, "STUN/TURN relay listening");
        Ok(turn)
    }

    /// Whether new allocations are granted (the `turn` feature flag).
    pub fn set_accepting(&self, on: bool) {
        if self.shared.accepting.swap(on, Ordering::Relaxed) != on {
            tracing::info!(on, "TURN relay allocations switched");
        }
    }

    pub fn is_accepting(&self) -> bool {
        self.shared.accepting.load(Ordering::Relaxed)
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
    /// Lets clients relay to `peer` although it is the server's own address.
    pub fn allow_peer(&self, peer: SocketAddr) {
        self.shared.policy.allow_always(peer);
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }

    /// Where the built-in server takes TURN over TCP, when it does.
    pub fn local_tcp_addr(&self) -> Option<SocketAddr> {
        self.local_tcp
    }

    /// Where the built-in server takes TURN over TLS, when it does.
    pub fn local_tls_addr(&self) -> Option<SocketAddr> {
        self.local_tls
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

/// How often the relay rereads the `turn` feature flag. Polling the database keeps every
/// node in step without a message of its own.
const FLAG_POLL: Duration = Duration::from_secs(5);

/// Keeps the relay's `accepting` switch in step with the admin's `turn` feature flag.
pub fn follow_flag(
    turn: Arc<Turn>,
    db: crate::store::Db,
    defaults: cromulent_protocol::feature_flag::FeatureFlags,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(FLAG_POLL);
        loop {
            tick.tick().await;
            match crate::store::feature_flags::load(db.pool(), defaults).await {
                Ok(flags) => turn.set_accepting(flags.turn),
                Err(e) => tracing::debug!(error = %e, "reading the turn flag"),
            }
        }
    });
}

/// How often the relay rereads this host's interface addresses.
const INTERFACE_POLL: Duration = Duration::from_secs(60);

/// Reads this host's interface addresses now, then every [`INTERFACE_POLL`] for as long
/// as the relay lives.
async fn follow_interfaces(policy: std::sync::Weak<PeerPolicy>) {
    let read = |policy: Arc<PeerPolicy>| async move {
        // getifaddrs is a blocking system call, quick but not free.
        let _ = tokio::task::spawn_blocking(move || policy.host.refresh_interfaces()).await;
    };
    if let Some(policy) = policy.upgrade() {
        read(policy).await;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERFACE_POLL);
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(policy) = policy.upgrade() else { return };
            read(policy).await;
        }
    });
}

/// The bind address, or when that is "any", the address of the interface that routes
/// to the internet; 127.0.0.1 on a machine without one. Connecting a UDP socket sends
/// nothing: it only asks the kernel for a route.
pub(crate) fn default_public_ip(bind: IpAddr) -> IpAddr {
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
