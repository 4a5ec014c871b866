//! The OS keyring from async code: probed once, and every call on a blocking thread,
//! since keyrings answer over D-Bus or syscalls.

use tokio::sync::OnceCell;

use crate::tokens::{Backend, Secret, StoreError, TokenKey, TokenStore};

pub(super) struct Keyring {
    backends: &'static [Backend],
    opened: OnceCell<Result<TokenStore, String>>,
}

impl Keyring {
    pub fn new(backends: &'static [Backend]) -> Self {
        Self { backends, opened: OnceCell::new() }
    }

    /// The first of the backends that works, probed on the first call; the reason when
    /// none does (logins then last until the app quits).
    pub async fn store(&self) -> Result<TokenStore, String> {
        let backends = self.backends;
        self.opened
            .get_or_init(|| async move {
                let opened = blocking(move || TokenStore::open(backends).map_err(|e| e.to_string())).await;
                if let Err(reason) = &opened {
                    tracing::warn!(%reason, "no secure token store: logins last until the app quits");
                }
                opened
            })
            .await
            .clone()
    }
}

pub(super) async fn save(store: &TokenStore, key: &TokenKey, token: &Secret) -> Result<(), StoreError> {
    let (store, key, token) = (store.clone(), key.clone(), token.clone());
    blocking(move || store.store(&key, &token)).await
}

pub(super) async fn load(store: &TokenStore, key: &TokenKey) -> Result<Option<Secret>, StoreError> {
    let (store, key) = (store.clone(), key.clone());
    blocking(move || store.load(&key)).await
}

pub(super) async fn delete(store: &TokenStore, key: &TokenKey) -> Result<bool, StoreError> {
    let (store, key) = (store.clone(), key.clone());
    blocking(move || store.delete(&key)).await
}

/// Runs `work` on tokio's blocking pool; a panic there goes on here, as if inline.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}
