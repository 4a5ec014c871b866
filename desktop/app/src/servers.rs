//! The list of servers the user has added and the one in use (saved with the app's
//! config, see [`crate::account`]). Nothing secret lives here: tokens are in the
//! OS keyring, keyed by server URL.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerList {
    /// Normalised origins (`https://chat.example.org`), in the order they were added.
    pub servers: Vec<String>,
    /// The server the app logs in to at start.
    pub current: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerListError {
    /// Not an http(s) address; the user must correct it.
    #[error("not a server address: {0:?} (expected e.g. https://chat.example.org)")]
    BadAddress(String),
    /// The file could not be read or written. Retryable after fixing the disk/permissions.
    #[error("server list {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Reduces what a user typed to the origin the app talks to: scheme (https unless
/// given), host and port, no path or trailing slash.
pub fn normalise(raw: &str) -> Result<String, ServerListError> {
    let raw = raw.trim();
    let bad = || ServerListError::BadAddress(raw.to_string());
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, rest)) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {
            (s.to_ascii_lowercase(), rest)
        }
        Some(_) => return Err(bad()),
        None => ("https".to_string(), raw),
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default().to_ascii_lowercase();
    let valid = !host.is_empty()
        && !host.contains('@')
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !valid {
        return Err(bad());
    }
    Ok(format!("{scheme}://{host}"))
}

impl ServerList {
    /// Adds (if new) and selects a server; returns its normalised form.
    pub fn choose(&mut self, raw: &str) -> Result<String, ServerListError> {
        let url = normalise(raw)?;
        if !self.servers.contains(&url) {
            self.servers.push(url.clone());
        }
        self.current = Some(url.clone());
        Ok(url)
    }

    /// Removes a server; when it was the current one, none is current afterwards.
    pub fn remove(&mut self, url: &str) {
        self.servers.retain(|s| s != url);
        if self.current.as_deref() == Some(url) {
            self.current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_reduce_to_their_origin() {
        assert_eq!(normalise("chat.example.org").expect("valid"), "https://chat.example.org");
        assert_eq!(normalise(" HTTP://127.0.0.1:4000/channels/1 ").expect("valid"), "http://127.0.0.1:4000");
        assert_eq!(normalise("https://Chat.Example.org/").expect("valid"), "https://chat.example.org");
    }

    #[test]
    fn other_schemes_and_junk_are_refused() {
        // The token would otherwise be sent wherever the address points.
        assert!(normalise("ftp://example.org").is_err());
        assert!(normalise("https://user@evil.example").is_err());
        assert!(normalise("").is_err());
        assert!(normalise("https://").is_err());
    }

    #[test]
    fn choosing_adds_once_and_removing_the_current_clears_it() {
        let mut list = ServerList::default();
        list.choose("a.example").expect("valid");
        list.choose("https://b.example/").expect("valid");
        list.choose("a.example").expect("valid");
        assert_eq!(list.servers, vec!["https://a.example", "https://b.example"], "no duplicates, order kept");
        assert_eq!(list.current.as_deref(), Some("https://a.example"));
        list.remove("https://a.example");
        assert_eq!(list.current, None, "a removed server is not logged in to at start");
        assert_eq!(list.servers, vec!["https://b.example"]);
    }
}
