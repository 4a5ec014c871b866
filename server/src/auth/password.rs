//! Argon2id password hashing, off the async threads and bounded by the core count.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// OWASP's argon2id baseline: 19 MiB, two passes, one lane.
const MEMORY_KIB: u32 = 19_456;
const ITERATIONS: u32 = 2;
const PARALLELISM: u32 = 1;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// The stored hash is not a PHC string we can read: data corruption, not retryable.
    #[error("stored password hash is unreadable")]
    Corrupt,
    #[error("hashing failed: {0}")]
    Hash(String),
    #[error("the hashing task was cancelled")]
    Cancelled,
}

/// Runs at most one hash per core at a time, so a burst of logins queues instead of
/// starving every other request of CPU and memory.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// Verified against when an account does not exist, so both answers take as long.
    dummy_hash: Arc<str>,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("constant params are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_now(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Hash(e.to_string()))
}

impl PasswordHasher {
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let dummy = hash_now("not a real password, only for timing").expect("hashing a constant works");
        Self { permits: Arc::new(Semaphore::new(cores)), dummy_hash: dummy.into() }
    }

    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let _permit = self.permits.acquire().await.map_err(|_| HashError::Cancelled)?;
        tokio::task::spawn_blocking(move || hash_now(&password)).await.map_err(|_| HashError::Cancelled)?
    }

    /// `None` for the hash means "no such account": the work is done all the same.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, HashError> {
        let _permit = self.permits.acquire().await.map_err(|_| HashError::Cancelled)?;
        let exists = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.to_string());
        let ok = tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&hash).map_err(|_| HashError::Corrupt)?;
            Ok::<_, HashError>(argon2().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
        .map_err(|_| HashError::Cancelled)??;
        Ok(ok && exists)
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let hasher = PasswordHasher::new();
        let hash = hasher.hash("correct horse battery".into()).await.expect("hashes");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "parameters are the ones promised: {hash}"
        );
        assert!(hasher.verify("correct horse battery".into(), Some(hash.clone())).await.expect("verifies"));
        assert!(!hasher.verify("wrong horse battery".into(), Some(hash)).await.expect("verifies"));
    }

    #[tokio::test]
    async fn a_missing_account_never_verifies() {
        let hasher = PasswordHasher::new();
        let ok = hasher.verify("not a real password, only for timing".into(), None).await.expect("runs");
        assert!(!ok, "even the dummy's own password must not log anyone in");
    }
}
