//! Cromulent's server: one binary with the HTTP API, the real-time gateway, voice
//! signaling, the STUN/TURN relay, mail and the web client.
//!
//! A request enters through [`http`], whose extractors turn credentials into an
//! [`auth::Caller`] and bad input into the one error shape; handlers check rights
//! ([`access`]), run the queries in [`store`] (SQLite or PostgreSQL, one set of SQL) in a
//! transaction, then [`announce`] what changed on the [`bus`] and hand mail to [`mail`].
//! The [`gateway`] hub takes bus messages to every WebSocket session allowed to see
//! them; [`voice`] keeps the rooms that gateway signaling runs in and [`turn`] relays
//! their media when peers cannot reach each other. [`web`] serves the built client,
//! [`link_preview`] fetches pages for previews without reaching private networks,
//! [`attachments`] keeps uploaded files (local or S3-compatible) and cleans images.
//! Each part refuses with an error of its own ([`access::Denied`], [`validate::Invalid`],
//! [`store::Failure`], …); `http::error` gives them a status and the gateway an `error`
//! frame, both with the same code; no other part imports [`http`].
//! [`state::AppState`] carries the long-lived parts; [`run`] wires them from a
//! [`config::Config`] and serves until SIGTERM or Ctrl-C, then [`shutdown`] stops it.

pub mod access;
pub mod admin_cli;
pub mod announce;
pub mod attachments;
pub mod auth;
pub mod bus;
pub mod client_address;
pub mod config;
pub mod gateway;
pub mod healthcheck;
pub mod http;
pub mod ids;
pub mod link_preview;
pub mod mail;
pub mod mention;
pub mod releases;
pub mod search;
pub mod secret;
pub mod seed;
pub mod shutdown;
pub mod state;
pub mod store;
pub mod turn;
pub mod validate;
pub mod voice;
pub mod web;

use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;

pub use http::app;

use config::Config;
use state::AppState;
use store::Db;

/// Opens (creating if needed) the data directory and database, applies migrations and
/// seeds the default channels.
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    }
    let db = Db::connect(&config.database_url(), config.pool_size).await.context("opening the database")?;
    db.migrate().await.context("migrating the database")?;
    seed::default_channels(&db, &ids::IdGenerator::new(config.node_id)).await.context("seeding channels")?;
    Ok(db)
}

/// Builds the shared state from settings: database, secret, mailer.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let secret = secret::load_or_create(config.secret_key_base.as_deref(), &config.data_dir)?;
    let db = open_database(&config).await?;
    let mailer = mail::Mailer::from_config(&config).context("configuring mail")?;
    if mailer.dev_mailbox().is_some() {
        tracing::warn!(
            "DEV_MAILBOX is on: mail is not sent but shown at /dev/mailbox; set SMTP_HOST for production"
        );
    }
    let (bus, inbox) = match &config.nats_url {
        Some(url) => {
            bus::Bus::nats(url, &config.nats_subject).await.context("connecting the real-time bus")?
        }
        None => bus::Bus::local(),
    };
    let mut gateway_config = gateway::GatewayConfig::new(
        std::time::Duration::from_millis(config.gateway_heartbeat_ms.max(100)),
        config.gateway_max_connections,
    );
    gateway_config.replay_events = config.gateway_replay_events.max(1);
    gateway_config.max_connections_per_user = config.gateway_max_connections_per_user;
    gateway_config.max_connections_per_ip = config.gateway_max_connections_per_ip;
    gateway_config.node_heartbeat = std::time::Duration::from_millis(config.node_heartbeat_ms.max(50));
    gateway_config.max_sdp_frame_bytes = config.gateway_max_sdp_bytes;
    gateway_config.identify_timeout =
        std::time::Duration::from_millis(config.gateway_identify_timeout_ms.max(100));
    // TURN_PUBLIC_IP names the server's public address for both; without it, an SFU
    // bound to one address advertises that one.
    let public_ip = config.turn.turn_public_ip.unwrap_or_else(|| {
        let bind = config.voice.voice_sfu_bind;
        if bind.is_unspecified() {
            turn::default_public_ip(config.turn.turn_bind)
        } else {
            bind
        }
    });
    let sfu = voice::sfu::Sfu::start(&config.voice, public_ip, bus.clone()).await?;
    let sfu_address = sfu.advertised();
    let ids = std::sync::Arc::new(ids::IdGenerator::new(config.node_id));
    let voice = gateway::HubVoice {
        sfu,
        policy: voice::route::RoutePolicy::from_config(&config.voice),
        ids: std::sync::Arc::clone(&ids),
    };
    let gateway = gateway::Gateway::start(gateway_config, config.node_id, bus.clone(), inbox, voice);
    let http = SocketAddr::new(config.bind, config.port);
    let turn = std::sync::Arc::new(turn::Turn::start(&config.turn, http, &secret).await?);
    // Relay-only participants reach the SFU through the relay, which otherwise refuses
    // the server's own addresses.
    turn.allow_peer(sfu_address);
    let flag_defaults = store::feature_flags::defaults(mailer.delivers_real_mail());
    turn::follow_flag(std::sync::Arc::clone(&turn), db.clone(), flag_defaults);
    let attachments = std::sync::Arc::new(
        attachments::Attachments::new(config.attachments.clone(), &config.data_dir)
            .context("opening the attachment store")?,
    );
    attachments::spawn_sweeper(std::sync::Arc::clone(&attachments), db.clone());
    let parts =
        state::Parts { config, db, secret_key_base: secret, mailer, bus, gateway, turn, ids, attachments };
    Ok(AppState::new(parts))
}

/// Serves until a shutdown signal, then finishes in-flight requests and closes gateway
/// sockets with a close frame telling clients to reconnect ([`shutdown`]).
pub async fn run(config: Config) -> anyhow::Result<()> {
    let addr = SocketAddr::new(config.bind, config.port);
    let grace = std::time::Duration::from_millis(config.shutdown_grace_ms);
    let state = build_state(config).await?;
    let listener = TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    tracing::info!(%addr, "listening");
    println!("Cromulent is running at {}/", state.public_url);
    let db = state.db.clone();
    let stop = shutdown::Shutdown::new(grace, std::sync::Arc::clone(&state.gateway));
    let serve = axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(std::sync::Arc::clone(&stop).signalled());
    tokio::select! {
        served = std::future::IntoFuture::into_future(serve) => served.context("serving HTTP")?,
        () = stop.grace_over() => {
            tracing::warn!("requests still under way at the end of SHUTDOWN_GRACE_MS; stopping anyway");
        }
    }
    stop.finish().await;
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}
