//! File attachments outside HTTP: where bytes are kept ([`blobs`]), how an upload is
//! spooled ([`spool`]), what images go through ([`images`]), turning a spooled upload
//! into a stored file ([`Attachments::keep`]) and removing files nothing needs any more
//! ([`Attachments::release`], [`Attachments::sweep`]).

pub mod blobs;
mod config;
pub mod images;
pub mod spool;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cromulent_protocol::limits::ATTACHMENT_THUMBNAIL_MAX_PX;
use tokio::sync::Semaphore;

pub use config::AttachmentsConfig;

use crate::auth::throttle::Throttle;
use crate::store::{self, Db};
use blobs::{BlobError, BlobStore};
use images::{ImageError, Kind};
use spool::Spooled;

/// How long an upload may wait to be sent.
pub const UNSENT_TTL_MS: i64 = 24 * 60 * 60 * 1000;
/// A blob claim older than this belongs to an upload that died; it no longer protects.
const CLAIM_TTL_MS: i64 = 60 * 60 * 1000;

/// The content type of every file that is not a recognised image. Whatever the client
/// said is ignored: the server never serves bytes under a type it did not check.
pub const PLAIN_FILE_TYPE: &str = "application/octet-stream";

#[derive(Debug)]
pub struct Attachments {
    pub config: AttachmentsConfig,
    pub blobs: Arc<dyn BlobStore>,
    /// Where uploads are spooled: inside the local store's directory, so keeping a file
    /// there is a rename on one file system.
    pub spool_dir: PathBuf,
    pub uploads_per_user: Throttle,
    /// Decoding images takes memory in proportion to their pixels; at most one per core
    /// runs at a time.
    images: Semaphore,
}

/// What an upload became: the bytes kept and what was learned about them.
pub struct Kept {
    pub blob: String,
    pub thumbnail_blob: Option<String>,
    pub content_type: &'static str,
    pub size: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeepError {
    /// Not retryable.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Retryable.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// Retryable.
    #[error("attachment bookkeeping: {0}")]
    Db(#[from] sqlx::Error),
}

impl Attachments {
    pub fn new(config: AttachmentsConfig, data_dir: &std::path::Path) -> Result<Self, BlobError> {
        let root = data_dir.join("attachments");
        let blobs = blobs::from_config(&config, &root)?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        // Part files left by a previous run of this node are uploads that never finished.
        let spool_dir = root.join("tmp");
        if let Err(e) = std::fs::remove_dir_all(&spool_dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(e.into());
            }
        }
        Ok(Self {
            uploads_per_user: Throttle::new(
                config.attachment_uploads_per_user_per_minute,
                Duration::from_secs(60),
            ),
            config,
            blobs,
            spool_dir,
            images: Semaphore::new(cores),
        })
    }

    /// Stores a finished upload: images are checked, cleaned and previewed (off the async
    /// threads), then the bytes go to the store under a claim (see
    /// [`store::attachments::claim_blob`]). The caller inserts the row and then calls
    /// [`Attachments::unclaim`].
    pub async fn keep(&self, db: &Db, upload: Spooled, head: &[u8], now: i64) -> Result<Kept, KeepError> {
        let Some(kind) = Kind::sniff(head) else {
            let kept = Kept {
                blob: upload.hash().to_owned(),
                thumbnail_blob: None,
                content_type: PLAIN_FILE_TYPE,
                size: upload.len(),
                width: None,
                height: None,
            };
            self.put(db, upload, now).await?;
            return Ok(kept);
        };
        let processed = {
            let _turn = self.images.acquire().await.expect("the semaphore is never closed");
            let path = upload.path().to_owned();
            let max_pixels = self.config.attachment_image_max_pixels;
            tokio::task::spawn_blocking(move || {
                let bytes = std::fs::read(path)?;
                Ok::<_, std::io::Error>(images::process(
                    &bytes,
                    kind,
                    max_pixels,
                    ATTACHMENT_THUMBNAIL_MAX_PX,
                ))
            })
            .await
            .map_err(|e| BlobError::Io(std::io::Error::other(e)))?
            .map_err(BlobError::Io)??
        };
        drop(upload);
        let file = Spooled::from_bytes(&self.spool_dir, &processed.bytes).await.map_err(BlobError::Io)?;
        let thumbnail =
            Spooled::from_bytes(&self.spool_dir, &processed.thumbnail).await.map_err(BlobError::Io)?;
        let kept = Kept {
            blob: file.hash().to_owned(),
            thumbnail_blob: Some(thumbnail.hash().to_owned()),
            content_type: kind.content_type(),
            size: file.len(),
            width: Some(processed.width),
            height: Some(processed.height),
        };
        self.put(db, file, now).await?;
        if let Err(e) = self.put(db, thumbnail, now).await {
            self.unclaim(db, &kept.blob).await;
            return Err(e);
        }
        Ok(kept)
    }

    async fn put(&self, db: &Db, file: Spooled, now: i64) -> Result<(), KeepError> {
        let hash = file.hash().to_owned();
        store::attachments::claim_blob(db.pool(), &hash, now).await?;
        if let Err(e) = self.blobs.put(file).await {
            self.unclaim(db, &hash).await;
            return Err(e.into());
        }
        Ok(())
    }

    /// Ends the claims [`Attachments::keep`] took on `kept`'s blobs.
    pub async fn unclaim_kept(&self, db: &Db, kept: &Kept) {
        self.unclaim(db, &kept.blob).await;
        if let Some(thumbnail) = &kept.thumbnail_blob {
            self.unclaim(db, thumbnail).await;
        }
    }

    async fn unclaim(&self, db: &Db, hash: &str) {
        if let Err(e) = store::attachments::unclaim_blob(db.pool(), hash).await {
            // The claim lapses on its own after an hour.
            tracing::warn!(error = %e, hash, "could not end an attachment blob's claim");
        }
    }

    /// Deletes each blob that nothing refers to any more. Failures are logged; the next
    /// sweep tries again.
    pub async fn release(&self, db: &Db, hashes: &[String], now: i64) {
        for hash in hashes {
            if let Err(e) = self.forget(db, hash, now).await {
                tracing::warn!(error = %e, hash, "could not delete an attachment blob; the sweep retries");
            }
        }
    }

    async fn forget(&self, db: &Db, hash: &str, now: i64) -> Result<(), KeepError> {
        let mut tx = db.begin_write().await?;
        if store::attachments::forget_blob(&mut *tx, hash, now - CLAIM_TTL_MS).await? {
            // Deleted while the row is still locked: an upload of the same bytes waits
            // for this commit and then writes them afresh.
            self.blobs.delete(hash).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes unsent uploads older than a day, then every blob nothing refers to (files
    /// of messages deleted by any path: one at a time, by moderation, with their channel
    /// or account).
    pub async fn sweep(&self, db: &Db, now: i64) -> Result<(), KeepError> {
        let expired = store::attachments::delete_unsent_before(db.pool(), now - UNSENT_TTL_MS).await?;
        let mut conn = db.pool().acquire().await?;
        let unreferenced = store::attachments::unreferenced_blobs(&mut conn).await?;
        drop(conn);
        if expired > 0 || !unreferenced.is_empty() {
            tracing::info!(expired, blobs = unreferenced.len(), "sweeping attachments");
        }
        self.release(db, &unreferenced, now).await;
        Ok(())
    }
}

/// Sweeps every ATTACHMENT_SWEEP_INTERVAL_SECS for as long as the server runs; a failed
/// sweep is logged and retried at the next tick.
pub fn spawn_sweeper(attachments: Arc<Attachments>, db: Db) {
    let every = Duration::from_secs(attachments.config.attachment_sweep_interval_secs.max(1));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            ticks.tick().await;
            if let Err(e) = attachments.sweep(&db, crate::ids::now_ms()).await {
                tracing::warn!(error = %e, "attachment sweep failed");
            }
        }
    });
}
