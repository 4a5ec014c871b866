//! Read markers: the newest message each user has read in each channel.
//!
//! `store::channels::list_visible` counts unread messages and mentions above the marker.

use cromulent_protocol::Id;
use sqlx::{Any, Executor};

use super::Conn;

/// Moves the user's marker in a channel up to `message_id`, never back; returns the
/// marker as it stands afterwards.
pub async fn advance(
    conn: &mut Conn,
    user_id: Id,
    channel_id: Id,
    message_id: Id,
    now: i64,
) -> sqlx::Result<Id> {
    sqlx::query(
        "INSERT INTO channel_reads (user_id, channel_id, last_read_message_id, updated_at) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, channel_id) DO UPDATE \
         SET last_read_message_id = excluded.last_read_message_id, updated_at = excluded.updated_at \
         WHERE channel_reads.last_read_message_id < excluded.last_read_message_id",
    )
    .bind(user_id.0)
    .bind(channel_id.0)
    .bind(message_id.0)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    let marker = find(&mut *conn, user_id, channel_id).await?;
    Ok(marker.unwrap_or(message_id))
}

/// The user's marker in a channel; `None` before they read anything there.
pub async fn find<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
    channel_id: Id,
) -> sqlx::Result<Option<Id>> {
    let id: Option<i64> = sqlx::query_scalar(
        "SELECT last_read_message_id FROM channel_reads WHERE user_id = $1 AND channel_id = $2",
    )
    .bind(user_id.0)
    .bind(channel_id.0)
    .fetch_optional(ex)
    .await?;
    Ok(id.map(Id))
}
