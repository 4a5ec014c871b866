//! Where attachment bytes live: one trait, with local content-addressed files under
//! `DATA_DIR/attachments` and any S3-compatible bucket as its two stores.
//!
//! Blobs are named by the SHA-256 of their bytes, so one name always means the same
//! bytes: storing a blob twice is harmless, and identical files are kept once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::ObjectStore;
use tokio::io::AsyncWriteExt;

use super::spool::Spooled;
use super::AttachmentsConfig;

/// A blob's bytes, read as they arrive from disk or the network.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// What a store may fail with. Every variant is retryable: the disk or the network
/// failed, not the request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    #[error("attachment files: {0}")]
    Io(#[from] std::io::Error),
    #[error("attachment bucket: {0}")]
    Bucket(#[from] object_store::Error),
}

#[async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Keeps the spooled file under its hash. Afterwards the spool is gone either way.
    async fn put(&self, file: Spooled) -> Result<(), BlobError>;
    /// The blob's bytes; `None` if there is no such blob.
    async fn get(&self, hash: &str) -> Result<Option<ByteStream>, BlobError>;
    /// Removes the blob; removing one that is not there is no error.
    async fn delete(&self, hash: &str) -> Result<(), BlobError>;
}

/// The store the settings name: the bucket when ATTACHMENTS_S3_BUCKET is set, else files
/// under `root`.
pub fn from_config(config: &AttachmentsConfig, root: &Path) -> Result<Arc<dyn BlobStore>, BlobError> {
    match &config.attachments_s3_bucket {
        Some(bucket) => Ok(Arc::new(BucketBlobs::new(config, bucket)?)),
        None => Ok(Arc::new(LocalBlobs { root: root.to_owned() })),
    }
}

/// Files under `root`, two directory levels deep by hash prefix so no directory grows
/// huge. The spool lives on the same file system, so keeping a file is a rename.
#[derive(Debug)]
pub struct LocalBlobs {
    root: PathBuf,
}

impl LocalBlobs {
    fn path(&self, hash: &str) -> PathBuf {
        self.root.join(&hash[..2]).join(&hash[2..4]).join(hash)
    }
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn put(&self, file: Spooled) -> Result<(), BlobError> {
        let target = self.path(file.hash());
        let dir = target.parent().expect("a blob path has a directory").to_owned();
        tokio::fs::create_dir_all(&dir).await?;
        // The spool was fsynced when it was finished; the rename makes the whole file
        // appear at once, and syncing the directory makes the rename survive a crash.
        tokio::fs::rename(file.path(), &target).await?;
        file.forget();
        tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
            .await
            .map_err(std::io::Error::other)??;
        Ok(())
    }

    async fn get(&self, hash: &str) -> Result<Option<ByteStream>, BlobError> {
        match tokio::fs::File::open(self.path(hash)).await {
            Ok(file) => Ok(Some(tokio_util::io::ReaderStream::new(file).boxed())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, hash: &str) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path(hash)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

/// An S3-compatible bucket, through the HTTP client stack the server already has.
#[derive(Debug)]
pub struct BucketBlobs {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

/// Parts of a multipart upload; S3 wants at least 5 MiB for every part but the last.
const PART_BYTES: usize = 5 * 1024 * 1024;

impl BucketBlobs {
    fn new(config: &AttachmentsConfig, bucket: &str) -> Result<Self, BlobError> {
        let mut builder =
            AmazonS3Builder::new().with_bucket_name(bucket).with_region(&config.attachments_s3_region);
        if let Some(endpoint) = &config.attachments_s3_endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(key) = &config.attachments_s3_access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &config.attachments_s3_secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        Ok(Self { store: Arc::new(builder.build()?), prefix: config.attachments_s3_prefix.clone() })
    }

    fn path(&self, hash: &str) -> object_store::path::Path {
        object_store::path::Path::from(format!("{}{hash}", self.prefix))
    }
}

#[async_trait]
impl BlobStore for BucketBlobs {
    async fn put(&self, file: Spooled) -> Result<(), BlobError> {
        // Streamed from the spool a part at a time: a 25 MiB file never sits in memory.
        let mut source = tokio::fs::File::open(file.path()).await?;
        let mut writer =
            BufWriter::with_capacity(Arc::clone(&self.store), self.path(file.hash()), PART_BYTES);
        match tokio::io::copy(&mut source, &mut writer).await {
            Ok(_) => writer.shutdown().await?,
            Err(e) => {
                writer.abort().await?;
                return Err(e.into());
            }
        }
        Ok(())
    }

    async fn get(&self, hash: &str) -> Result<Option<ByteStream>, BlobError> {
        match self.store.get(&self.path(hash)).await {
            Ok(found) => Ok(Some(found.into_stream().map_err(std::io::Error::other).boxed())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, hash: &str) -> Result<(), BlobError> {
        match self.store.delete(&self.path(hash)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
