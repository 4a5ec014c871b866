//! Who is logged in where: the server list, login with the refresh token kept in the OS
//! keyring, automatic login at start from that token, and logout.
//!
//! The refresh token and access tokens never leave this process: the UI gets the
//! [`OwnUser`] and nothing else.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use cromulent_client::api::{
    self, ApiError, Client, OriginError, RefreshTokenSink, ServerOrigin, TokenSource,
};
use cromulent_client::tokens::{Secret, StoreError, TokenKey, TokenStore};
use cromulent_protocol::user::OwnUser;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, Runtime};

use crate::servers::{ServerList, ServerListError};

/// The non-secret config file: servers and which account was last used on each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    #[serde(flatten)]
    pub servers: ServerList,
    /// Server origin → email of the account whose refresh token is in the keyring.
    #[serde(default)]
    pub accounts: BTreeMap<String, String>,
    /// The user opted in to reading keyboard devices for push-to-talk (Wayland).
    #[serde(default)]
    pub evdev_opt_in: bool,
    /// The push-to-talk key (`KeyboardEvent.code` name).
    #[serde(default)]
    pub ptt_key: Option<String>,
}

/// A logged-in account on one server.
#[derive(Clone)]
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
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Servers(#[from] ServerListError),
    /// The keyring refused; login still works for this run but will not survive a restart.
    #[error("the OS keyring: {0}")]
    Keyring(#[from] StoreError),
    #[error("not logged in")]
    NotLoggedIn,
}

pub struct AppState {
    config_path: PathBuf,
    pub config: Mutex<Config>,
    store: OnceLock<Result<TokenStore, String>>,
    session: tokio::sync::Mutex<Option<Session>>,
}

/// Saves each rotated refresh token, so the next start can log in.
struct KeyringSink {
    store: TokenStore,
    key: TokenKey,
}

impl RefreshTokenSink for KeyringSink {
    fn save(&self, refresh_token: &Secret) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.store.store(&self.key, refresh_token).map_err(Into::into)
    }
}

impl AppState {
    pub fn new<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Self> {
        let config_path = app.path().app_config_dir()?.join("servers.json");
        let config = match std::fs::read(&config_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => Config::default(),
        };
        Ok(Self {
            config_path,
            config: Mutex::new(config),
            store: OnceLock::new(),
            session: Default::default(),
        })
    }

    pub fn config(&self) -> Config {
        self.config.lock().expect("config lock is never poisoned").clone()
    }

    /// Changes the config and writes it to disk.
    pub fn update_config(&self, change: impl FnOnce(&mut Config)) -> Result<Config, ServerListError> {
        let mut config = self.config.lock().expect("config lock is never poisoned");
        change(&mut config);
        write_config(&self.config_path, &config)?;
        Ok(config.clone())
    }

    /// The keyring, probed once (blocking D-Bus calls, so off the async threads).
    async fn store(&self) -> Result<TokenStore, String> {
        if let Some(done) = self.store.get() {
            return done.clone();
        }
        let opened = tokio::task::spawn_blocking(|| TokenStore::open_default().map_err(|e| e.to_string()))
            .await
            .unwrap_or_else(|e| Err(format!("keyring probe panicked: {e}")));
        if let Err(reason) = &opened {
            tracing::warn!(%reason, "no secure token store: logins last until the app quits");
        }
        self.store.get_or_init(|| opened).clone()
    }

    pub async fn session(&self) -> Option<Session> {
        self.session.lock().await.clone()
    }

    /// Where the UI's REST calls may go: the server of `session` when logged in, else
    /// the current server (the one the UI was last started against, see
    /// [`AppState::resume`]).
    pub fn api_server(&self, session: Option<&Session>) -> Result<ServerOrigin, OriginError> {
        if let Some(session) = session {
            return ServerOrigin::of(session.client.server()).ok_or(OriginError::NotConfigured);
        }
        let current = self.config().servers.current.ok_or(OriginError::NotConfigured)?;
        ServerOrigin::parse(&current)
    }

    /// Logs in to `server`, keeps the refresh token in the keyring, makes the server the
    /// current one.
    pub async fn login(&self, server: &str, email: &str, password: String) -> Result<Session, AccountError> {
        let server = crate::servers::normalise(server)?;
        let client = Client::new(&server)?;
        let request = api::LoginRequest {
            email: email.to_owned(),
            password: Secret::from(password),
            device_name: Some(device_name()),
            device_type: Some("desktop".to_owned()),
        };
        let login = client.login(&request).await?;
        let key = TokenKey::new(client.server(), email);
        let sink: Option<Box<dyn RefreshTokenSink>> = match self.store().await {
            Ok(store) => {
                store.store(&key, &login.refresh_token)?;
                Some(Box::new(KeyringSink { store, key }))
            }
            Err(_) => None,
        };
        self.update_config(|c| {
            let _ = c.servers.choose(&server);
            c.accounts.insert(server.clone(), email.to_owned());
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
    /// server becomes the current one, where its calls before login (registration,
    /// password reset) may go.
    pub async fn resume(&self, server: &str) -> Result<Option<Session>, AccountError> {
        let server = crate::servers::normalise(server)?;
        let session = self.session().await;
        if let Some(s) =
            session.clone().filter(|s| s.client.server().as_str().trim_end_matches('/') == server)
        {
            return Ok(Some(s));
        }
        if session.is_none() && self.config().servers.current.as_deref() != Some(server.as_str()) {
            self.update_config(|c| c.servers.current = Some(server.clone()))?;
        }
        let Some(email) = self.config().accounts.get(&server).cloned() else {
            return Ok(None);
        };
        let Ok(store) = self.store().await else {
            return Ok(None);
        };
        let client = Client::new(&server)?;
        let key = TokenKey::new(client.server(), &email);
        let Some(refresh) = store.load(&key)? else {
            return Ok(None);
        };
        let tokens = TokenSource::new(
            &client,
            refresh,
            Some(Box::new(KeyringSink { store: store.clone(), key: key.clone() })),
        );
        let client = client.with_tokens(tokens);
        match client.me().await {
            Ok(user) => {
                let session = Session { client, email, user };
                *self.session.lock().await = Some(session.clone());
                self.update_config(|c| c.servers.current = Some(server.clone()))?;
                Ok(Some(session))
            }
            Err(e) if e.is_login_lost() => {
                // Revoked or expired: the stored token is useless, forget it.
                store.delete(&key)?;
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
        if let Ok(store) = self.store().await {
            store.delete(&TokenKey::new(session.client.server(), &session.email))?;
        }
        self.update_config(|c| {
            let server = session.client.server().as_str().trim_end_matches('/').to_owned();
            c.accounts.remove(&server);
        })?;
        Ok(())
    }
}

fn write_config(path: &std::path::Path, config: &Config) -> Result<(), ServerListError> {
    let io = |source| ServerListError::Io { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("json.tmp");
    let json = serde_json::to_vec_pretty(config).expect("the config always serializes");
    std::fs::write(&tmp, json).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Shown in the account's device list.
fn device_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|s| s.trim().to_owned()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this computer".to_owned());
    format!("Cromulent desktop on {host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_survives_a_write_and_read() {
        let dir = std::env::temp_dir().join(format!("cromulent-config-{}", std::process::id()));
        let path = dir.join("servers.json");
        let mut config = Config::default();
        config.servers.choose("http://127.0.0.1:4000").expect("valid address");
        config.accounts.insert("http://127.0.0.1:4000".into(), "ada@example.test".into());
        write_config(&path, &config).expect("temp dir is writable");
        let back: Config = serde_json::from_slice(&std::fs::read(&path).expect("written")).expect("parses");
        std::fs::remove_dir_all(&dir).expect("cleanup");
        assert_eq!(back, config, "servers and accounts come back as saved");
        let text = serde_json::to_string(&back).expect("serializes");
        assert!(!text.contains("token"), "nothing secret is in the config file");
    }
}
