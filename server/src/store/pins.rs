//! Pinned messages, per channel.

use cromulent_protocol::Id;
use sqlx::{Any, Executor, Row};

use super::Conn;

/// A pin as stored; the handler loads its message.
#[derive(Debug, Clone, Copy)]
pub struct PinRow {
    pub message_id: Id,
    pub pinned_by: Id,
    pub pinned_at: i64,
}

/// Pins the message; `false` when it already was.
pub async fn add<'e>(
    ex: impl Executor<'e, Database = Any>,
    channel_id: Id,
    pin: PinRow,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO channel_pins (channel_id, message_id, pinned_by, pinned_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (channel_id, message_id) DO NOTHING",
    )
    .bind(channel_id.0)
    .bind(pin.message_id.0)
    .bind(pin.pinned_by.0)
    .bind(pin.pinned_at)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Unpins the message; `false` when it was not pinned.
pub async fn remove<'e>(
    ex: impl Executor<'e, Database = Any>,
    channel_id: Id,
    message_id: Id,
) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM channel_pins WHERE channel_id = $1 AND message_id = $2")
        .bind(channel_id.0)
        .bind(message_id.0)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Holds the channel's row lock until commit (PostgreSQL; SQLite's write transaction
/// holds the database lock already), so pins of one channel are counted in turn.
pub async fn lock_channel<'e>(ex: impl Executor<'e, Database = Any>, channel_id: Id) -> sqlx::Result<()> {
    sqlx::query("UPDATE channels SET name = name WHERE id = $1").bind(channel_id.0).execute(ex).await?;
    Ok(())
}

pub async fn count<'e>(ex: impl Executor<'e, Database = Any>, channel_id: Id) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM channel_pins WHERE channel_id = $1")
        .bind(channel_id.0)
        .fetch_one(ex)
        .await
}

pub async fn is_pinned<'e>(ex: impl Executor<'e, Database = Any>, message_id: Id) -> sqlx::Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM channel_pins WHERE message_id = $1")
        .bind(message_id.0)
        .fetch_one(ex)
        .await?;
    Ok(n > 0)
}

/// The channel's pins, newest pin first.
pub async fn list(conn: &mut Conn, channel_id: Id) -> sqlx::Result<Vec<PinRow>> {
    let rows = sqlx::query(
        "SELECT message_id, pinned_by, pinned_at FROM channel_pins WHERE channel_id = $1 \
         ORDER BY pinned_at DESC, message_id DESC",
    )
    .bind(channel_id.0)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(PinRow {
                message_id: Id(row.try_get("message_id")?),
                pinned_by: Id(row.try_get("pinned_by")?),
                pinned_at: row.try_get("pinned_at")?,
            })
        })
        .collect()
}
