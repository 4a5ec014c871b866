//! Where a rotated refresh token goes: every refresh spends the old token and returns a
//! new one, so the new one must be saved each time or the next start cannot log in.

use super::{Secret, StoreError, TokenKey, TokenStore};

/// Keeps the replacement refresh token. Called on a blocking thread (see
/// [`crate::api::TokenSource`]): keyrings answer over D-Bus or syscalls.
pub trait RefreshTokenSink: Send + Sync + 'static {
    /// Saves the replacement refresh token.
    fn save(&self, refresh_token: &Secret) -> Result<(), Box<dyn std::error::Error + Send + Sync>>;
}

/// Writes each rotated refresh token back to its keyring entry.
#[derive(Debug, Clone)]
pub struct KeyringSink {
    pub store: TokenStore,
    pub key: TokenKey,
}

impl RefreshTokenSink for KeyringSink {
    fn save(&self, refresh_token: &Secret) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.store.store(&self.key, refresh_token).map_err(|e: StoreError| e.into())
    }
}
