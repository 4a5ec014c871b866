//! What every request handler shares: settings, database, and the long-lived parts.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use cromulent_protocol::feature_flag::FeatureFlags;

use crate::auth::access_token::AccessTokens;
use crate::auth::cookie::CookiePolicy;
use crate::auth::password::PasswordHasher;
use crate::auth::throttle::Throttle;
use crate::bus::Bus;
use crate::config::Config;
use crate::gateway::Gateway;
use crate::ids::IdGenerator;
use crate::link_preview::LinkPreviews;
use crate::mail::Mailer;
use crate::store::{self, Db};
use crate::turn::Turn;

/// Failed logins allowed per account, and per client address, in one window.
const LOGIN_FAILURES_PER_ACCOUNT: u32 = 10;
const LOGIN_FAILURES_PER_IP: u32 = 50;
const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Account mails (reset, confirmation resend) per address per window.
const MAILS_PER_ADDRESS: u32 = 5;
const MAIL_WINDOW: Duration = Duration::from_secs(60 * 60);

/// What [`AppState::new`] assembles.
pub struct Parts {
    pub config: Config,
    pub db: Db,
    pub secret_key_base: Vec<u8>,
    pub mailer: Mailer,
    pub bus: Bus,
    pub gateway: Arc<Gateway>,
    pub turn: Arc<Turn>,
}

#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub config: Config,
    pub db: Db,
    pub ids: IdGenerator,
    pub passwords: PasswordHasher,
    pub access_tokens: AccessTokens,
    pub cookies: CookiePolicy,
    pub mailer: Mailer,
    pub bus: Bus,
    pub gateway: Arc<Gateway>,
    /// The STUN/TURN relay and its credentials.
    pub turn: Arc<Turn>,
    pub throttles: Throttles,
    pub public_url: String,
    /// The link preview fetcher and its cache.
    pub link_previews: LinkPreviews,
}

#[derive(Debug)]
pub struct Throttles {
    pub login_per_account: Throttle,
    pub login_per_ip: Throttle,
    pub mail_per_address: Throttle,
}

impl AppState {
    pub fn new(parts: Parts) -> Self {
        let Parts { config, db, secret_key_base, mailer, bus, gateway, turn } = parts;
        let public_url = config.public_url();
        Self(Arc::new(Inner {
            ids: IdGenerator::new(config.node_id),
            passwords: PasswordHasher::new(),
            access_tokens: AccessTokens::new(&secret_key_base),
            cookies: CookiePolicy::new(&public_url, &config.allowed_origins),
            mailer,
            bus,
            gateway,
            turn,
            throttles: Throttles {
                login_per_account: Throttle::new(LOGIN_FAILURES_PER_ACCOUNT, LOGIN_WINDOW),
                login_per_ip: Throttle::new(LOGIN_FAILURES_PER_IP, LOGIN_WINDOW),
                mail_per_address: Throttle::new(MAILS_PER_ADDRESS, MAIL_WINDOW),
            },
            public_url,
            link_previews: LinkPreviews::new(config.link_preview_allow_loopback),
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
