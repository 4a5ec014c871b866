//! What every request handler shares: settings, database, and the long-lived parts.

use std::net::{IpAddr, SocketAddr};
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use cromulent_protocol::feature_flag::FeatureFlags;

use crate::attachments::Attachments;
use crate::auth::access_token::AccessTokens;
use crate::auth::cookie::CookiePolicy;
use crate::auth::password::PasswordHasher;
use crate::auth::throttle::Throttle;
use crate::bus::Bus;
use crate::client_address::TrustedProxies;
use crate::config::{Config, LimitsConfig};
use crate::gateway::Gateway;
use crate::ids::IdGenerator;
use crate::link_preview::LinkPreviews;
use crate::mail::Mailer;
use crate::store::{self, Db};
use crate::turn::Turn;

const HOUR: Duration = Duration::from_secs(60 * 60);
const MINUTE: Duration = Duration::from_secs(60);

/// What [`AppState::new`] assembles.
pub struct Parts {
    pub config: Config,
    pub db: Db,
    pub secret_key_base: Vec<u8>,
    pub mailer: Mailer,
    pub bus: Bus,
    pub gateway: Arc<Gateway>,
    pub turn: Arc<Turn>,
    pub ids: Arc<IdGenerator>,
    pub attachments: Arc<Attachments>,
}

#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub config: Config,
    pub db: Db,
    /// Shared with the gateway hub, which names new SFU peers when it re-homes a room.
    pub ids: Arc<IdGenerator>,
    pub passwords: PasswordHasher,
    pub access_tokens: AccessTokens,
    pub cookies: CookiePolicy,
    pub mailer: Mailer,
    pub bus: Bus,
    pub gateway: Arc<Gateway>,
    /// The STUN/TURN relay and its credentials.
    pub turn: Arc<Turn>,
    pub throttles: Throttles,
    pub trusted_proxies: TrustedProxies,
    pub public_url: String,
    /// The link preview fetcher and its cache.
    pub link_previews: LinkPreviews,
    pub attachments: Arc<Attachments>,
}

/// The rate limits of the HTTP API (settings in [`crate::config::LimitsConfig`]).
#[derive(Debug)]
pub struct Throttles {
    /// Failed password checks, per account and per client address.
    pub login_per_account: Throttle,
    pub login_per_ip: Throttle,
    /// Account mails per recipient address.
    pub mail_per_address: Throttle,
    pub email_change_per_user: Throttle,
    pub data_export_per_user: Throttle,
    pub registration_per_ip: Throttle,
    pub password_reset_per_ip: Throttle,
    /// Every write under `/api`, per user and per client address.
    pub writes_per_user: Throttle,
    pub writes_per_ip: Throttle,
    /// Reactions added or taken back, per user.
    pub reactions_per_user: Throttle,
    /// Searches, per user.
    pub searches_per_user: Throttle,
}

impl Throttles {
    fn new(limits: &LimitsConfig) -> Self {
        let login_window = Duration::from_secs(limits.login_window_secs);
        Self {
            login_per_account: Throttle::new(limits.login_failures_per_account, login_window),
            login_per_ip: Throttle::new(limits.login_failures_per_ip, login_window),
            mail_per_address: Throttle::new(limits.mails_per_address_per_hour, HOUR),
            email_change_per_user: Throttle::new(limits.email_changes_per_user_per_hour, HOUR),
            data_export_per_user: Throttle::new(limits.data_exports_per_user_per_hour, HOUR),
            registration_per_ip: Throttle::new(limits.registrations_per_ip_per_hour, HOUR),
            password_reset_per_ip: Throttle::new(limits.password_resets_per_ip_per_hour, HOUR),
            writes_per_user: Throttle::new(limits.http_writes_per_user_per_minute, MINUTE),
            writes_per_ip: Throttle::new(limits.http_writes_per_ip_per_minute, MINUTE),
            reactions_per_user: Throttle::new(limits.reactions_per_user_per_minute, MINUTE),
            searches_per_user: Throttle::new(limits.searches_per_user_per_minute, MINUTE),
        }
    }
}

impl AppState {
    pub fn new(parts: Parts) -> Self {
        let Parts { config, db, secret_key_base, mailer, bus, gateway, turn, ids, attachments } = parts;
        let public_url = config.public_url();
        Self(Arc::new(Inner {
            ids,
            passwords: PasswordHasher::new(),
            access_tokens: AccessTokens::new(&secret_key_base),
            cookies: CookiePolicy::new(&public_url, &config.allowed_origins),
            mailer,
            bus,
            gateway,
            turn,
            throttles: Throttles::new(&config.limits),
            trusted_proxies: TrustedProxies::new(config.trusted_proxies.clone()),
            public_url,
            link_previews: LinkPreviews::new(config.link_preview_allow_loopback),
            attachments,
            config,
            db,
        }))
    }

    /// The feature flags in force: admin choices over the defaults.
    pub async fn feature_flags(&self) -> sqlx::Result<FeatureFlags> {
        store::feature_flags::load(self.db.pool(), self.flag_defaults()).await
    }

    pub fn flag_defaults(&self) -> FeatureFlags {
        store::feature_flags::defaults(self.mailer.delivers_real_mail())
    }

    /// The client's address: the connection's peer, or the client a trusted reverse
    /// proxy forwarded. `None` when the listener records no peer.
    pub fn client_ip(&self, headers: &HeaderMap, extensions: &Extensions) -> Option<IpAddr> {
        let ConnectInfo(peer) = extensions.get::<ConnectInfo<SocketAddr>>()?;
        Some(self.trusted_proxies.client(peer.ip(), headers))
    }

    /// A link into the web client, e.g. `link("confirm", token)`.
    pub fn link(&self, route: &str, token: &str) -> String {
        format!("{}/{route}/{token}", self.public_url)
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}
