//! What every subcommand needs: the server, a logged-in client, a gateway.

use std::path::PathBuf;

use anyhow::Context as _;
use tokio::sync::OnceCell;

use super::config::{self, Remembered};
use crate::api::{self, TokenSource};
use crate::gateway::{Gateway, GatewayConfig};
use crate::tokens::{Backend, KeyringSink, TokenKey, TokenStore};

/// Which keyring to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyringChoice {
    /// The best one that works on this OS (Linux: Secret Service, then kernel keyring).
    Auto,
    SecretService,
    /// The Linux kernel keyring (lasts for the login session).
    Keyutils,
}

impl KeyringChoice {
    fn backends(self) -> &'static [Backend] {
        match self {
            KeyringChoice::Auto => Backend::candidates(),
            KeyringChoice::SecretService => &[Backend::SecretService],
            KeyringChoice::Keyutils => &[Backend::KernelKeyutils],
        }
    }
}

/// The state a subcommand works with.
pub struct Context {
    server: Option<url::Url>,
    config_dir: PathBuf,
    keyring: KeyringChoice,
    remembered: Remembered,
    client: OnceCell<api::Client>,
}

impl Context {
    /// `server` from the command line or environment wins; else the remembered one.
    pub fn new(
        server: Option<&str>,
        config_dir: Option<PathBuf>,
        keyring: KeyringChoice,
    ) -> anyhow::Result<Self> {
        let config_dir = match config_dir {
            Some(dir) => dir,
            None => config::default_dir()?,
        };
        let remembered = Remembered::load(&config_dir)?;
        let server = match server.or(remembered.server.as_deref()) {
            Some(server) => Some(api::Client::new(server)?.server().clone()),
            None => None,
        };
        Ok(Context { server, config_dir, keyring, remembered, client: OnceCell::new() })
    }

    /// The server address.
    pub fn server(&self) -> anyhow::Result<&url::Url> {
        self.server.as_ref().context("no server: pass --server <url> or set CROMULENT_SERVER")
    }

    /// A client without a login (for login itself).
    pub fn anonymous(&self) -> anyhow::Result<api::Client> {
        Ok(api::Client::new(self.server()?.as_str())?)
    }

    /// The REST client, logged in with the refresh token from the keyring; rotated
    /// tokens are written back there.
    pub async fn client(&self) -> anyhow::Result<api::Client> {
        let client = self.client.get_or_try_init(|| self.logged_in()).await?;
        Ok(client.clone())
    }

    /// Opens a gateway connection with the logged-in client's tokens; returns after
    /// `ready`.
    pub async fn gateway(&self) -> anyhow::Result<Gateway> {
        let client = self.client().await?;
        let tokens = client.tokens().context("logged-in clients have tokens")?.clone();
        Gateway::connect(GatewayConfig::new(client.server(), tokens))
            .await
            .context("connecting to the gateway")
    }

    /// The account logged in on this server, if any.
    pub fn account(&self) -> Option<&str> {
        let server = self.server.as_ref()?;
        let same_server =
            self.remembered.server.as_deref().and_then(|s| url::Url::parse(s).ok()) == Some(server.clone());
        if same_server {
            self.remembered.account.as_deref()
        } else {
            None
        }
    }

    /// Opens the keyring (probing it), off the async threads: D-Bus calls block.
    pub async fn token_store(&self) -> anyhow::Result<TokenStore> {
        let backends = self.keyring.backends();
        let store = tokio::task::spawn_blocking(move || TokenStore::open(backends))
            .await
            .context("keyring task")??;
        Ok(store)
    }

    pub(super) fn remember(&self, remembered: &Remembered) -> anyhow::Result<()> {
        remembered.save(&self.config_dir)
    }

    pub(super) fn remembered(&self) -> &Remembered {
        &self.remembered
    }

    async fn logged_in(&self) -> anyhow::Result<api::Client> {
        let server = self.server()?;
        let account = self.account().context("not logged in: run `cromulent login --email <address>`")?;
        let store = self.token_store().await?;
        let key = TokenKey::new(server, account);
        let refresh = {
            let (store, key) = (store.clone(), key.clone());
            tokio::task::spawn_blocking(move || store.load(&key)).await.context("keyring task")??
        }
        .context("not logged in (no token in the keyring): run `cromulent login`")?;
        let anonymous = self.anonymous()?;
        let sink = KeyringSink { store, key };
        Ok(anonymous.with_tokens(TokenSource::new(&anonymous, refresh, Some(Box::new(sink)))))
    }
}
