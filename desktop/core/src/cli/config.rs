//! What the command remembers between runs: the server and account last logged in.
//! Never a token: that lives in the keyring only.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

const FILE: &str = "cli.json";

/// The remembered login, stored as JSON in the config directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Remembered {
    pub server: Option<String>,
    /// The email of the account logged in on `server`.
    pub account: Option<String>,
}

impl Remembered {
    pub fn load(dir: &Path) -> anyhow::Result<Remembered> {
        let path = dir.join(FILE);
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Remembered::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(FILE);
        let json = serde_json::to_vec_pretty(self).expect("plain strings serialize");
        std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))
    }
}

/// The per-user config directory: `$XDG_CONFIG_HOME/cromulent` (else `~/.config`) on
/// Linux, `~/Library/Application Support/cromulent` on macOS, `%APPDATA%\cromulent` on
/// Windows.
pub fn default_dir() -> anyhow::Result<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let base = if cfg!(target_os = "windows") {
        var("APPDATA")
    } else if cfg!(target_os = "macos") {
        var("HOME").map(|home| home.join("Library/Application Support"))
    } else {
        var("XDG_CONFIG_HOME").or_else(|| var("HOME").map(|home| home.join(".config")))
    };
    base.map(|dir| dir.join("cromulent"))
        .context("no config directory: set HOME (or XDG_CONFIG_HOME), or pass --config-dir")
}
