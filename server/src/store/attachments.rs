//! Attachment rows (an upload, then a file of a message) and the blob bookkeeping that
//! decides when stored bytes may go: a blob is deleted only when no row names it and no
//! upload is writing it.

use cromulent_protocol::attachment::Attachment;
use cromulent_protocol::message::Message;
use cromulent_protocol::Id;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::Conn;

/// An attachment as stored.
#[derive(Debug, Clone)]
pub struct AttachmentRow {
    pub id: Id,
    pub url_key: String,
    pub channel_id: Id,
    pub uploader_id: Id,
    pub message_id: Option<Id>,
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub blob: String,
    pub thumbnail_blob: Option<String>,
    pub created_at: i64,
}

const COLUMNS: &str = "id, url_key, channel_id, uploader_id, message_id, filename, content_type, size, \
                       width, height, blob, thumbnail_blob, created_at";

fn from_row(row: &AnyRow) -> sqlx::Result<AttachmentRow> {
    Ok(AttachmentRow {
        id: Id(row.try_get("id")?),
        url_key: row.try_get("url_key")?,
        channel_id: Id(row.try_get("channel_id")?),
        uploader_id: Id(row.try_get("uploader_id")?),
        message_id: row.try_get::<Option<i64>, _>("message_id")?.map(Id),
        filename: row.try_get("filename")?,
        content_type: row.try_get("content_type")?,
        size: row.try_get("size")?,
        width: row.try_get("width")?,
        height: row.try_get("height")?,
        blob: row.try_get("blob")?,
        thumbnail_blob: row.try_get("thumbnail_blob")?,
        created_at: row.try_get("created_at")?,
    })
}

impl AttachmentRow {
    /// The wire form. Addresses are paths on this server; see [`Attachment::url`].
    pub fn to_wire(&self) -> Attachment {
        let url = format!("/api/attachments/{}/{}", self.id, self.url_key);
        Attachment {
            id: self.id,
            filename: self.filename.clone(),
            content_type: self.content_type.clone(),
            size: u64::try_from(self.size).unwrap_or(0),
            width: self.width.and_then(|w| u32::try_from(w).ok()),
            height: self.height.and_then(|h| u32::try_from(h).ok()),
            thumbnail_url: self.thumbnail_blob.as_ref().map(|_| format!("{url}/thumbnail")),
            url,
        }
    }
}

pub async fn insert<'e>(ex: impl Executor<'e, Database = Any>, a: &AttachmentRow) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO attachments (id, url_key, channel_id, uploader_id, message_id, filename, content_type, \
         size, width, height, blob, thumbnail_blob, created_at) \
         VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(a.id.0)
    .bind(&a.url_key)
    .bind(a.channel_id.0)
    .bind(a.uploader_id.0)
    .bind(&a.filename)
    .bind(&a.content_type)
    .bind(a.size)
    .bind(a.width)
    .bind(a.height)
    .bind(&a.blob)
    .bind(&a.thumbnail_blob)
    .bind(a.created_at)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn find(conn: &mut Conn, id: Id) -> sqlx::Result<Option<AttachmentRow>> {
    let sql = format!("SELECT {COLUMNS} FROM attachments WHERE id = $1");
    sqlx::query(&sql).bind(id.0).fetch_optional(conn).await?.as_ref().map(from_row).transpose()
}

/// Of `ids`, the unsent uploads `uploader` made into `channel_id` at or after `since`.
pub async fn sendable(
    conn: &mut Conn,
    ids: &[Id],
    uploader: Id,
    channel_id: Id,
    since: i64,
) -> sqlx::Result<Vec<AttachmentRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (4..ids.len() + 4).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM attachments WHERE uploader_id = $1 AND channel_id = $2 AND created_at >= $3 \
         AND message_id IS NULL AND id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(uploader.0).bind(channel_id.0).bind(since);
    for id in ids {
        query = query.bind(id.0);
    }
    query.fetch_all(conn).await?.iter().map(from_row).collect()
}

/// Makes the upload a file of the message, at `position` among its files. False if it
/// was sent meanwhile.
pub async fn attach_to_message<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: Id,
    message_id: Id,
    position: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE attachments SET message_id = $1, position = $2 WHERE id = $3 AND message_id IS NULL",
    )
    .bind(message_id.0)
    .bind(position)
    .bind(id.0)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Fills in each message's files, in the order they were sent. One query for the slice.
pub async fn attach(conn: &mut Conn, messages: &mut [Message]) -> sqlx::Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let placeholders: Vec<String> = (1..=messages.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {COLUMNS} FROM attachments WHERE message_id IN ({}) ORDER BY message_id, position",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for m in messages.iter() {
        query = query.bind(m.id.0);
    }
    for row in query.fetch_all(&mut *conn).await? {
        let row = from_row(&row)?;
        if let Some(m) = messages.iter_mut().find(|m| Some(m.id) == row.message_id) {
            m.attachments.push(row.to_wire());
        }
    }
    Ok(())
}

/// Whether a sent message carries files (then it may have no text).
pub async fn message_has_files<'e>(
    ex: impl Executor<'e, Database = Any>,
    message_id: Id,
) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attachments WHERE message_id = $1")
        .bind(message_id.0)
        .fetch_one(ex)
        .await?;
    Ok(n > 0)
}

/// The blobs a message's files use (files and thumbnails), to release after it is gone.
pub async fn blobs_of_message(conn: &mut Conn, message_id: Id) -> sqlx::Result<Vec<String>> {
    let rows = sqlx::query("SELECT blob, thumbnail_blob FROM attachments WHERE message_id = $1")
        .bind(message_id.0)
        .fetch_all(conn)
        .await?;
    let mut blobs = Vec::new();
    for row in rows {
        blobs.push(row.try_get::<String, _>("blob")?);
        blobs.extend(row.try_get::<Option<String>, _>("thumbnail_blob")?);
    }
    Ok(blobs)
}

/// Removes unsent uploads made before `cutoff`; their blobs are released by the sweep.
pub async fn delete_unsent_before<'e>(
    ex: impl Executor<'e, Database = Any>,
    cutoff: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM attachments WHERE message_id IS NULL AND created_at < $1")
        .bind(cutoff)
        .execute(ex)
        .await?;
    Ok(done.rows_affected())
}

/// Marks a blob as being written by an upload, so no sweep deletes it before the
/// upload's row names it.
pub async fn claim_blob<'e>(ex: impl Executor<'e, Database = Any>, hash: &str, now: i64) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO attachment_blobs (hash, claims, claimed_at) VALUES ($1, 1, $2) \
         ON CONFLICT (hash) DO UPDATE SET claims = attachment_blobs.claims + 1, claimed_at = excluded.claimed_at",
    )
    .bind(hash)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// The upload's row is committed (or the upload gave up): its claim ends. Runs in a
/// transaction of its own, after the row's, so a sweep that sees the claim gone also
/// sees the row.
pub async fn unclaim_blob<'e>(ex: impl Executor<'e, Database = Any>, hash: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE attachment_blobs SET claims = claims - 1 WHERE hash = $1 AND claims > 0")
        .bind(hash)
        .execute(ex)
        .await?;
    Ok(())
}

/// Blobs no row names, candidates for [`forget_blob`].
pub async fn unreferenced_blobs(conn: &mut Conn) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT b.hash FROM attachment_blobs b WHERE NOT EXISTS \
         (SELECT 1 FROM attachments a WHERE a.blob = b.hash OR a.thumbnail_blob = b.hash)",
    )
    .fetch_all(conn)
    .await
}

/// Forgets the blob if nothing names it and no live upload claims it (a claim made
/// before `stale_before` is a crashed upload's). True when it did: the caller then
/// deletes the bytes before committing, while this row's lock keeps a new upload of the
/// same bytes waiting.
pub async fn forget_blob<'e>(
    ex: impl Executor<'e, Database = Any>,
    hash: &str,
    stale_before: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "DELETE FROM attachment_blobs WHERE hash = $1 AND (claims = 0 OR claimed_at < $2) AND NOT EXISTS \
         (SELECT 1 FROM attachments a WHERE a.blob = $3 OR a.thumbnail_blob = $4)",
    )
    .bind(hash)
    .bind(stale_before)
    .bind(hash)
    .bind(hash)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}
