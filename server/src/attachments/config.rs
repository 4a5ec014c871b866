//! The settings of file attachments: limits, and where the files are kept.

use clap::Args;
use cromulent_protocol::limits::ServerLimits;

const DEFAULT_MAX_BYTES: u64 = ServerLimits::DEFAULT_ATTACHMENT_MAX_BYTES;

#[derive(Debug, Clone, Args)]
pub struct AttachmentsConfig {
    /// Largest file one upload may carry, in bytes; larger uploads are cut off while
    /// streaming and refused with 413 (`payload_too_large`).
    #[arg(long, env = "ATTACHMENT_MAX_BYTES", default_value_t = DEFAULT_MAX_BYTES, global = true)]
    pub attachment_max_bytes: u64,

    /// Uploads per user per minute.
    #[arg(long, env = "ATTACHMENT_UPLOADS_PER_USER_PER_MINUTE", default_value_t = 30, global = true)]
    pub attachment_uploads_per_user_per_minute: u32,

    /// Largest image, in pixels (width × height), that is decoded for its thumbnail; the
    /// size is read from the header first, so a larger image (a decompression bomb) is
    /// refused (422) before any decoding.
    #[arg(long, env = "ATTACHMENT_IMAGE_MAX_PIXELS", default_value_t = 40_000_000, global = true)]
    pub attachment_image_max_pixels: u64,

    /// How often unsent uploads older than a day, and files nothing refers to any more,
    /// are removed.
    #[arg(long, env = "ATTACHMENT_SWEEP_INTERVAL_SECS", default_value_t = 600, global = true)]
    pub attachment_sweep_interval_secs: u64,

    /// Keep files in this S3-compatible bucket instead of under DATA_DIR/attachments.
    #[arg(long, env = "ATTACHMENTS_S3_BUCKET", global = true)]
    pub attachments_s3_bucket: Option<String>,

    /// The store's address for S3-compatible services other than AWS
    /// (`https://minio.example:9000`); `http://` is accepted for a store on the same
    /// host or network. Unset: AWS S3 in ATTACHMENTS_S3_REGION.
    #[arg(long, env = "ATTACHMENTS_S3_ENDPOINT", global = true)]
    pub attachments_s3_endpoint: Option<String>,

    #[arg(long, env = "ATTACHMENTS_S3_REGION", default_value = "us-east-1", global = true)]
    pub attachments_s3_region: String,

    #[arg(long, env = "ATTACHMENTS_S3_ACCESS_KEY_ID", global = true)]
    pub attachments_s3_access_key_id: Option<String>,

    #[arg(long, env = "ATTACHMENTS_S3_SECRET_ACCESS_KEY", hide_env_values = true, global = true)]
    pub attachments_s3_secret_access_key: Option<String>,

    /// A folder inside the bucket for this server's files (e.g. `cromulent/`).
    #[arg(long, env = "ATTACHMENTS_S3_PREFIX", default_value = "", global = true)]
    pub attachments_s3_prefix: String,
}
