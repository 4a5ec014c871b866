//! Files uploaded into a channel and the messages that carry them.

use serde::{Deserialize, Serialize};

use crate::Id;

/// One uploaded file: the answer of `POST /api/channels/{id}/attachments`, and each entry
/// of a message's `attachments`.
///
/// An upload belongs to its uploader and channel until a message of theirs in that channel
/// names it in `attachment_ids`; unsent uploads are removed after a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Attachment {
    pub id: Id,
    /// The name the uploader gave, without any directory part.
    pub filename: String,
    /// Sniffed from the bytes for images (`image/png`, `image/jpeg`, `image/gif`,
    /// `image/webp`); any other file is `application/octet-stream`, whatever it claimed.
    pub content_type: String,
    /// Bytes as stored (for images after their metadata was stripped).
    pub size: u64,
    /// Pixels, for images; `null` for other files.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Where to download the file: a path on this server,
    /// `/api/attachments/{id}/{key}` with a random `key`, so knowing an id is not enough.
    /// Fetching it needs the same credentials as the API (the bearer token, or in browsers
    /// the session cookie, which `<img src>` sends by itself) and the right to read the
    /// channel now; anything else answers 404. Images come inline, other files as
    /// downloads.
    pub url: String,
    /// A small PNG preview (at most `ATTACHMENT_THUMBNAIL_MAX_PX` on its longer side) at
    /// `{url}/thumbnail`, for images only.
    pub thumbnail_url: Option<String>,
}
