//! The refresh token in the OS keyring, with the store chosen explicitly per OS and
//! probed before it is trusted.
//!
//! Order on Linux: Secret Service (GNOME Keyring, KWallet; persistent), then the kernel
//! keyring (keyutils; lives only as long as the login session, which the user is told),
//! else [`StoreError::NoSecureStore`]. macOS uses the Keychain, Windows the Credential
//! Manager. There is deliberately no plain-file fallback and no in-memory mock: when
//! nothing safe works the caller must ask for the password each time.

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};

use super::Secret;

/// Which keyring holds the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// The freedesktop Secret Service over D-Bus (GNOME Keyring, KWallet).
    SecretService,
    /// The Linux kernel keyring; cleared when the login session ends.
    KernelKeyutils,
    /// The macOS Keychain.
    Keychain,
    /// The Windows Credential Manager.
    CredentialManager,
}

impl Backend {
    /// What the user should know about this store, when it is less than permanent.
    pub fn caveat(self) -> Option<&'static str> {
        match self {
            Backend::KernelKeyutils => Some(
                "no Secret Service found: the login is kept in the kernel keyring and lasts only \
                 until this login session ends",
            ),
            _ => None,
        }
    }

    /// Stores tried in order on this OS.
    pub fn candidates() -> &'static [Backend] {
        if cfg!(target_os = "linux") {
            &[Backend::SecretService, Backend::KernelKeyutils]
        } else if cfg!(target_os = "macos") {
            &[Backend::Keychain]
        } else if cfg!(target_os = "windows") {
            &[Backend::CredentialManager]
        } else {
            &[]
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::SecretService => "Secret Service",
            Backend::KernelKeyutils => "kernel keyring",
            Backend::Keychain => "Keychain",
            Backend::CredentialManager => "Credential Manager",
        })
    }
}

/// A keyring failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No persistent secure store works here. Not retryable: log in each time (or ask
    /// for the password) instead of keeping the token.
    #[error("no secure store for the login token ({}); log in each time instead", summary(.tried))]
    NoSecureStore { tried: Vec<(Backend, String)> },
    /// The store worked at start but refused this operation. Retryable.
    #[error("{backend}: {source}")]
    Keyring {
        backend: Backend,
        #[source]
        source: keyring_core::Error,
    },
}

fn summary(tried: &[(Backend, String)]) -> String {
    if tried.is_empty() {
        return "none is supported on this OS".into();
    }
    tried.iter().map(|(b, why)| format!("{b}: {why}")).collect::<Vec<_>>().join("; ")
}

/// Names one stored token: one per server and account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenKey {
    pub server: String,
    pub account: String,
}

impl TokenKey {
    pub fn new(server: &url::Url, account: &str) -> Self {
        TokenKey { server: server.as_str().trim_end_matches('/').to_owned(), account: account.to_owned() }
    }

    fn service(&self) -> String {
        format!("cromulent refresh token {}", self.server)
    }
}

/// A probed, working keyring.
#[derive(Clone)]
pub struct TokenStore {
    backend: Backend,
    store: Arc<CredentialStore>,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore").field("backend", &self.backend).finish()
    }
}

impl TokenStore {
    /// The first store among `backends` (in order) that passes a write/read/delete
    /// probe. Blocking: D-Bus and keyutils calls; run it off the async threads.
    pub fn open(backends: &[Backend]) -> Result<TokenStore, StoreError> {
        let mut tried = Vec::new();
        for &backend in backends {
            match instantiate(backend).and_then(|store| probe(&store).map(|()| store)) {
                Ok(store) => {
                    tracing::debug!(%backend, "token store works");
                    return Ok(TokenStore { backend, store });
                }
                Err(error) => {
                    tracing::debug!(%backend, %error, "token store unusable");
                    tried.push((backend, error.to_string()));
                }
            }
        }
        Err(StoreError::NoSecureStore { tried })
    }

    /// [`TokenStore::open`] over this OS's stores, in order.
    pub fn open_default() -> Result<TokenStore, StoreError> {
        Self::open(Backend::candidates())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Saves (or replaces) the token under `key`.
    pub fn store(&self, key: &TokenKey, token: &Secret) -> Result<(), StoreError> {
        self.entry(key)?.set_password(token.expose()).map_err(|e| self.error(e))
    }

    /// The token under `key`, if one is stored.
    pub fn load(&self, key: &TokenKey) -> Result<Option<Secret>, StoreError> {
        match self.entry(key)?.get_password() {
            Ok(token) => Ok(Some(Secret::from(token))),
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Deletes the token under `key`; true when there was one.
    pub fn delete(&self, key: &TokenKey) -> Result<bool, StoreError> {
        match self.entry(key)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring_core::Error::NoEntry) => Ok(false),
            Err(e) => Err(self.error(e)),
        }
    }

    fn entry(&self, key: &TokenKey) -> Result<Entry, StoreError> {
        Entry::new_in_store(&self.store, &key.service(), &key.account).map_err(|e| self.error(e))
    }

    fn error(&self, source: keyring_core::Error) -> StoreError {
        StoreError::Keyring { backend: self.backend, source }
    }
}

/// Writes, reads back and deletes a throw-away entry: a store that cannot do all three
/// (a locked keyring, keyutils without a session keyring) is no store.
fn probe(store: &Arc<CredentialStore>) -> Result<(), keyring_core::Error> {
    let user = format!("probe-{:016x}", rand::random::<u64>());
    let entry = Entry::new_in_store(store, "cromulent store probe", &user)?;
    entry.set_password("probe")?;
    let read = entry.get_password();
    let deleted = entry.delete_credential();
    match read? {
        value if value == "probe" => deleted,
        _ => Err(keyring_core::Error::Invalid("probe".into(), "read back something else".into())),
    }
}

fn instantiate(backend: Backend) -> Result<Arc<CredentialStore>, keyring_core::Error> {
    let unsupported =
        || Err(keyring_core::Error::NotSupportedByStore(format!("{backend} is not on this OS")));
    match backend {
        #[cfg(target_os = "linux")]
        Backend::SecretService => Ok(zbus_secret_service_keyring_store::Store::new()?),
        #[cfg(target_os = "linux")]
        Backend::KernelKeyutils => Ok(linux_keyutils_keyring_store::Store::new()?),
        #[cfg(target_os = "macos")]
        Backend::Keychain => Ok(apple_native_keyring_store::keychain::Store::new()?),
        #[cfg(target_os = "windows")]
        Backend::CredentialManager => Ok(windows_native_keyring_store::Store::new()?),
        #[allow(unreachable_patterns)]
        _ => unsupported(),
    }
}
