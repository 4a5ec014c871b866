//! Who is logged in where, for a native app that shows a UI it does not trust with
//! tokens: the config file of servers and accounts, login with the refresh token kept
//! in the OS keyring, automatic login from it, logout, and the client the UI's REST
//! calls go through ([`Accounts::api_client`]).
//!
//! Servers are [`ServerOrigin`]s everywhere (config keys, keyring keys, the api check),
//! so no two spellings of one server ever disagree. The refresh token and access tokens
//! never leave this process: a login answers with the [`OwnUser`] and nothing else.

mod config;
mod device;
mod keyring;

use cromulent_protocol::user::OwnUser;

pub use config::{Config, ConfigError, ServerList};
pub use device::device_name;

use crate::api::{self, ApiError, CallFailure, Client, OriginError, ServerOrigin, TokenSource};
use crate::tokens::{Backend, KeyringSink, RefreshTokenSink, Secret, StoreError, TokenKey};
use config::ConfigFile;
use keyring::Keyring;

/// A logged-in account on one server.
#[derive(Clone, Debug)]
pub struct Session {
    pub client: Client,
    pub email: String,
    pub user: OwnUser,
}

impl Session {
    pub fn tokens(&self) -> &TokenSource {
        self.client.tokens().expect("a session's client is always logged in")
    }
}

/// Why an account operation failed; the UI shows the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// The server refused or could not be reached; see [`ApiError`] for what is retryable.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Not a server address. Not retryable: the user must correct it.
    #[error(transparent)]
    Address(#[from] OriginError),
    /// The config file could not be written.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The keyring refused; login still works for this run but will not survive a restart.
    #[error("the OS keyring: {0}")]
    Keyring(#[from] StoreError),
}

/// The account store: the config file, the keyring and the one logged-in session.
pub struct Accounts {
    config: ConfigFile,
    keyring: Keyring,
    session: tokio::sync::Mutex<Option<Session>>,
    /// Shown in the account's device list, e.g. "Cromulent desktop on laptop".
    device_name: String,
}

impl Accounts {
    /// The store whose config lives at `config_path`, with this OS's keyrings, logging
    /// in as `device_name` (see [`device_name`]).
    pub fn open(config_path: std::path::PathBuf, device_name: String) -> Self {
        Self::with_keyrings(config_path, device_name, Backend::candidates())
    }

    /// As [`Accounts::open`], trying only `backends` for the refresh token.
    pub fn with_keyrings(
        config_path: std::path::PathBuf,
        device_name: String,
        backends: &'static [Backend],
    ) -> Self {
        Self {
            config: ConfigFile::open(config_path),
            keyring: Keyring::new(backends),
            session: Default::default(),
            device_name,
        }
    }

    pub fn config(&self) -> Config {
        self.config.get()
    }

    /// Changes the config and writes it to disk.
    pub fn update_config(&self, change: impl FnOnce(&mut Config)) -> Result<Config, ConfigError> {
        self.config.update(change)
    }

    /// Forgets a server the user added; an address that names no server changes nothing.
    pub fn remove_server(&self, server: &str) -> Result<Config, ConfigError> {
        match ServerOrigin::from_typed(server) {
            Ok(origin) => self.config.update(|c| c.servers.remove(&origin)),
            Err(_) => Ok(self.config.get()),
        }
    }

    pub async fn session(&self) -> Option<Session> {
        self.session.lock().await.clone()
    }

    /// The client for a call the UI addressed to `requested`: the session's when logged
    /// in, else an anonymous one for the current server (the one the UI was last started
    /// against, see [`Accounts::resume`]), where calls before login (registration,
    /// password reset) go. Any other server is refused before anything is sent, so the
    /// access token stays with the server it came from.
    pub async fn api_client(&self, requested: &str) -> Result<Client, CallFailure> {
        let session = self.session().await;
        let configured = match &session {
            Some(session) => session.client.origin(),
            None => self.config().servers.current.ok_or(OriginError::NotConfigured)?,
        };
        configured.check(requested)?;
        match session {
            Some(session) => Ok(session.client),
            None => Client::for_origin(&configured).map_err(CallFailure::from),
        }
    }

    /// Logs in to `server` (as typed), keeps the refresh token in the keyring, makes the
    /// server the current one.
    pub async fn login(&self, server: &str, email: &str, password: Secret) -> Result<Session, AccountError> {
        let origin = ServerOrigin::from_typed(server)?;
        let client = Client::for_origin(&origin)?;
        let request = api::LoginRequest {
            email: email.to_owned(),
            password,
            device_name: Some(self.device_name.clone()),
            device_type: Some("desktop".to_owned()),
        };
        let login = client.login(&request).await?;
        let key = TokenKey::new(client.server(), email);
        let sink: Option<Box<dyn RefreshTokenSink>> = match self.keyring.store().await {
            Ok(store) => {
                keyring::save(&store, &key, &login.refresh_token).await?;
                Some(Box::new(KeyringSink { store, key }))
            }
            Err(_) => None,
        };
        self.config.update(|c| {
            c.servers.choose(&origin);
            c.accounts.insert(origin.clone(), email.to_owned());
        })?;
        let tokens = TokenSource::new(&client, login.refresh_token, sink);
        let session =
            Session { client: client.with_tokens(tokens), email: email.to_owned(), user: login.user };
        *self.session.lock().await = Some(session.clone());
        Ok(session)
    }

    /// The session for `server`: the one in memory, or one made from the refresh token
    /// in the keyring (automatic login). `None` when the user must log in. The UI asks
    /// this first whenever it starts against a server; while nobody is logged in, that
    /// server becomes the current one, where its calls before login may go.
    pub async fn resume(&self, server: &str) -> Result<Option<Session>, AccountError> {
        let origin = ServerOrigin::from_typed(server)?;
        let session = self.session().await;
        if let Some(s) = session.clone().filter(|s| s.client.origin() == origin) {
            return Ok(Some(s));
        }
        if session.is_none() && self.config().servers.current.as_ref() != Some(&origin) {
            self.config.update(|c| c.servers.current = Some(origin.clone()))?;
        }
        let Some(email) = self.config().accounts.get(&origin).cloned() else {
            return Ok(None);
        };
        let Ok(store) = self.keyring.store().await else {
            return Ok(None);
        };
        let client = Client::for_origin(&origin)?;
        let key = TokenKey::new(client.server(), &email);
        let Some(refresh) = keyring::load(&store, &key).await? else {
            return Ok(None);
        };
        let sink = KeyringSink { store: store.clone(), key: key.clone() };
        let client = client.with_tokens(TokenSource::new(&client, refresh, Some(Box::new(sink))));
        match client.me().await {
            Ok(user) => {
                let session = Session { client, email, user };
                *self.session.lock().await = Some(session.clone());
                self.config.update(|c| c.servers.current = Some(origin.clone()))?;
                Ok(Some(session))
            }
            Err(e) if e.is_login_lost() => {
                // Revoked or expired: the stored token is useless, forget it.
                keyring::delete(&store, &key).await?;
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Ends the login on the server (best effort) and deletes the keyring entry.
    pub async fn logout(&self) -> Result<(), AccountError> {
        let Some(session) = self.session.lock().await.take() else {
            return Ok(());
        };
        let refresh = session.tokens().refresh_token().await;
        if let Err(e) = session.client.logout(&refresh).await {
            tracing::warn!(error = %e, "the server did not confirm the logout; the token is deleted here anyway");
        }
        if let Ok(store) = self.keyring.store().await {
            keyring::delete(&store, &TokenKey::new(session.client.server(), &session.email)).await?;
        }
        let origin = session.client.origin();
        self.config.update(|c| {
            c.accounts.remove(&origin);
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Refusal;

    /// A store in a fresh temp dir with no keyring at all.
    fn accounts(name: &str) -> (Accounts, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("cromulent-accounts-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        (Accounts::with_keyrings(dir.join("servers.json"), "test rig".into(), &[]), dir)
    }

    #[tokio::test]
    async fn before_any_server_is_chosen_no_call_goes_anywhere() {
        let (accounts, dir) = accounts("none");
        let refused = accounts.api_client("http://127.0.0.1:4000").await.expect_err("no server yet");
        assert_eq!(refused.refused, Some(Refusal::NoServer), "nothing is configured to call");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn logged_out_calls_go_only_to_the_server_the_ui_started_against() {
        let (accounts, dir) = accounts("current");
        // Nobody has logged in there: the UI must log in, and the server becomes current.
        assert!(accounts.resume("127.0.0.1:1/login").await.expect("no keyring is no error").is_none());
        assert_eq!(
            accounts.config().servers.current.map(|o| o.to_string()).as_deref(),
            Some("https://127.0.0.1:1")
        );
        let client =
            accounts.api_client("https://127.0.0.1:1/").await.expect("the same origin, spelled otherwise");
        assert_eq!(client.origin().to_string(), "https://127.0.0.1:1");
        assert!(client.tokens().is_none(), "logged out: no token to attach");
        for other in ["http://127.0.0.1:1", "https://127.0.0.1:2", "https://127.0.0.1:1@evil.example"] {
            let refused = accounts.api_client(other).await.expect_err("another server");
            assert_eq!(refused.refused, Some(Refusal::OtherServer), "{other} is not the current server");
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_failed_login_changes_nothing() {
        let (accounts, dir) = accounts("failed");
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let failed = accounts.login("http://127.0.0.1:1", "ada@example.test", "pw".into()).await;
        assert!(
            matches!(failed, Err(AccountError::Api(ApiError::Transport { .. }))),
            "unreachable: {failed:?}"
        );
        assert!(accounts.session().await.is_none(), "no session from a failed login");
        assert_eq!(accounts.config(), Config::default(), "nothing was remembered");
        let refused = accounts.login("ftp://example.org", "ada@example.test", "pw".into()).await;
        assert!(matches!(refused, Err(AccountError::Address(_))), "not a server address: {refused:?}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
