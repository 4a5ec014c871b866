//! The non-secret config file (`servers.json`): the servers the user added, the one in
//! use, which account was last used on each, the push-to-talk and sound settings. Tokens are
//! in the OS keyring, keyed by server origin and account, never here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::api::ServerOrigin;
use crate::voice::sound::SoundSettings;

/// The servers the user has added and the one in use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export_to = "bridge/"))]
pub struct ServerList {
    /// In the order they were added.
    pub servers: Vec<ServerOrigin>,
    /// The server the app logs in to at start.
    pub current: Option<ServerOrigin>,
}

impl ServerList {
    /// Adds (if new) and selects a server.
    pub fn choose(&mut self, server: &ServerOrigin) {
        if !self.servers.contains(server) {
            self.servers.push(server.clone());
        }
        self.current = Some(server.clone());
    }

    /// Removes a server; when it was the current one, none is current afterwards.
    pub fn remove(&mut self, server: &ServerOrigin) {
        self.servers.retain(|s| s != server);
        if self.current.as_ref() == Some(server) {
            self.current = None;
        }
    }
}

/// Everything in the config file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export_to = "bridge/", rename = "DesktopConfig"))]
pub struct Config {
    #[serde(flatten)]
    pub servers: ServerList,
    /// Server → email of the account whose refresh token is in the keyring.
    #[serde(default)]
    pub accounts: BTreeMap<ServerOrigin, String>,
    /// The user opted in to reading keyboard devices for push-to-talk (Wayland).
    #[serde(default)]
    pub evdev_opt_in: bool,
    /// The push-to-talk key (`KeyboardEvent.code` name).
    #[serde(default)]
    pub ptt_key: Option<String>,
    /// Devices, volumes, threshold and processing switches of this machine.
    #[serde(default)]
    pub sound: SoundSettings,
}

/// The config file could not be written. Retryable after fixing the disk or permissions.
#[derive(Debug, thiserror::Error)]
#[error("config file {path}: {source}")]
pub struct ConfigError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The config in memory and on disk; every change is written through.
#[derive(Debug)]
pub(super) struct ConfigFile {
    path: PathBuf,
    config: Mutex<Config>,
}

impl ConfigFile {
    /// Reads `path`; a missing or unreadable file is an empty config (the first start).
    pub fn open(path: PathBuf) -> Self {
        let config = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|error| {
                tracing::warn!(path = %path.display(), %error, "config file unreadable; starting empty");
                Config::default()
            }),
            Err(_) => Config::default(),
        };
        Self { path, config: Mutex::new(config) }
    }

    pub fn get(&self) -> Config {
        self.config.lock().expect("config lock is never poisoned").clone()
    }

    /// Changes the config and writes it to disk; returns the new config.
    pub fn update(&self, change: impl FnOnce(&mut Config)) -> Result<Config, ConfigError> {
        let mut config = self.config.lock().expect("config lock is never poisoned");
        change(&mut config);
        write(&self.path, &config)?;
        Ok(config.clone())
    }
}

/// Writes a temporary file and renames it over the old one, so a crash never leaves
/// half a config behind.
fn write(path: &Path, config: &Config) -> Result<(), ConfigError> {
    let io = |source| ConfigError { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("json.tmp");
    let json = serde_json::to_vec_pretty(config).expect("the config always serializes");
    std::fs::write(&tmp, json).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(typed: &str) -> ServerOrigin {
        ServerOrigin::from_typed(typed).expect("a valid address")
    }

    #[test]
    fn the_config_survives_a_write_and_read() {
        let dir = std::env::temp_dir().join(format!("cromulent-config-{}", std::process::id()));
        let path = dir.join("servers.json");
        let file = ConfigFile::open(path.clone());
        let config = file
            .update(|c| {
                c.servers.choose(&origin("http://127.0.0.1:4000"));
                c.accounts.insert(origin("http://127.0.0.1:4000"), "ada@example.test".into());
            })
            .expect("temp dir is writable");
        let back = ConfigFile::open(path).get();
        std::fs::remove_dir_all(&dir).expect("cleanup");
        assert_eq!(back, config, "servers and accounts come back as saved");
        let text = serde_json::to_string(&back).expect("serializes");
        assert!(!text.contains("token"), "nothing secret is in the config file");
    }

    #[test]
    fn files_written_before_origins_still_read() {
        // The layout the app has always written: keep reading it.
        let old = r#"{"servers":["https://a.example","http://127.0.0.1:4000"],"current":"https://a.example",
            "accounts":{"https://a.example":"ada@example.test"},"evdev_opt_in":true,"ptt_key":"ControlLeft"}"#;
        let config: Config = serde_json::from_str(old).expect("the old layout parses");
        assert_eq!(config.servers.current, Some(origin("a.example")));
        assert_eq!(
            config.accounts.get(&origin("https://A.example/")).map(String::as_str),
            Some("ada@example.test")
        );
        assert!(config.evdev_opt_in);
    }

    #[test]
    fn choosing_adds_once_and_removing_the_current_clears_it() {
        let mut list = ServerList::default();
        list.choose(&origin("a.example"));
        list.choose(&origin("https://b.example/"));
        list.choose(&origin("A.example:443"));
        assert_eq!(
            list.servers,
            vec![origin("https://a.example"), origin("https://b.example")],
            "no duplicates, order kept"
        );
        assert_eq!(list.current, Some(origin("https://a.example")));
        list.remove(&origin("https://a.example"));
        assert_eq!(list.current, None, "a removed server is not logged in to at start");
        assert_eq!(list.servers, vec![origin("https://b.example")]);
    }
}
