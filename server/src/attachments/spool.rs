//! Temporary files that uploads stream into, hashed and counted on the way, so a file
//! is never held whole in memory and its size limit holds however the client sends it.

use std::path::{Path, PathBuf};

use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// Bytes kept from the start of a file, for sniffing its type.
const HEAD_BYTES: usize = 64;

/// A file being written under the spool directory; removed when dropped unfinished.
pub struct Spool {
    file: tokio::fs::File,
    guard: Spooled,
    hasher: Sha256,
    len: u64,
    head: Vec<u8>,
    max_bytes: u64,
}

/// The spool was given more than its limit; nothing past the limit was written.
#[derive(Debug, thiserror::Error)]
#[error("larger than {0} bytes")]
pub struct TooLarge(pub u64);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    /// The disk failed; retryable.
    #[error("spooling: {0}")]
    Io(#[from] std::io::Error),
}

impl Spool {
    /// A new empty file in `dir`, which is created if needed.
    pub async fn create(dir: &Path, max_bytes: u64) -> std::io::Result<Self> {
        tokio::fs::create_dir_all(dir).await?;
        let mut name = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut name);
        let path = dir.join(format!("{}.part", hex(&name)));
        let file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&path).await?;
        let guard = Spooled { path, hash: String::new(), len: 0, armed: true };
        Ok(Self { file, guard, hasher: Sha256::new(), len: 0, head: Vec::new(), max_bytes })
    }

    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), SpoolError> {
        self.len += chunk.len() as u64;
        if self.len > self.max_bytes {
            return Err(TooLarge(self.max_bytes).into());
        }
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(chunk);
        self.file.write_all(chunk).await?;
        Ok(())
    }

    /// The first bytes written so far.
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Flushes and fsyncs the file: once it is kept (renamed or uploaded), it is whole.
    pub async fn finish(mut self) -> std::io::Result<Spooled> {
        self.file.flush().await?;
        self.file.sync_all().await?;
        let mut done = self.guard;
        done.hash = hex(&self.hasher.finalize());
        done.len = self.len;
        Ok(done)
    }
}

/// A finished spool file and its SHA-256; the file is removed on drop unless a store
/// took it ([`Spooled::forget`]).
#[derive(Debug)]
pub struct Spooled {
    path: PathBuf,
    hash: String,
    len: u64,
    armed: bool,
}

impl Spooled {
    /// Writes `bytes` (a thumbnail, a re-encoded image) to a finished spool file in `dir`.
    pub async fn from_bytes(dir: &Path, bytes: &[u8]) -> std::io::Result<Self> {
        let mut spool = Spool::create(dir, u64::MAX).await?;
        spool.write(bytes).await.map_err(|e| match e {
            SpoolError::Io(e) => e,
            SpoolError::TooLarge(e) => std::io::Error::other(e),
        })?;
        spool.finish().await
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lowercase hex SHA-256 of the bytes.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file moved elsewhere: nothing to remove.
    pub fn forget(mut self) {
        self.armed = false;
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: a left-over part file is harmless and the next start's sweep
            // of the spool directory removes it.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_spool_hashes_what_it_writes_and_stops_at_its_limit() {
        let dir = std::env::temp_dir().join(format!("spool-test-{}", std::process::id()));
        let mut spool = Spool::create(&dir, 5).await.expect("create");
        spool.write(b"abc").await.expect("within the limit");
        assert_eq!(spool.head(), b"abc");
        assert!(matches!(spool.write(b"def").await, Err(SpoolError::TooLarge(_))), "6 bytes > 5");
        let mut spool = Spool::create(&dir, 5).await.expect("create");
        spool.write(b"abc").await.expect("within the limit");
        let done = spool.finish().await.expect("finish");
        assert_eq!(
            done.hash(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "SHA-256 of abc"
        );
        let path = done.path().to_owned();
        drop(done);
        assert!(!path.exists(), "an unkept spool file is removed");
        let _ = std::fs::remove_dir_all(dir);
    }
}
