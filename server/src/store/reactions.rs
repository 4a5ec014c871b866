//! Reactions: one row per user and emoji on a message, counted per emoji for readers.

use cromulent_protocol::message::{Message, Reaction};
use cromulent_protocol::Id;
use sqlx::{Any, Executor, Row};

use super::Conn;

/// One user's reaction.
#[derive(Debug, Clone, Copy)]
pub struct OwnReaction<'a> {
    pub message_id: Id,
    pub user_id: Id,
    pub emoji: &'a str,
}

/// Adds the reaction; `false` when the user already reacted with this emoji.
pub async fn add<'e>(
    ex: impl Executor<'e, Database = Any>,
    r: OwnReaction<'_>,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO message_reactions (message_id, emoji, user_id, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (message_id, emoji, user_id) DO NOTHING",
    )
    .bind(r.message_id.0)
    .bind(r.emoji)
    .bind(r.user_id.0)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Takes the reaction back; `false` when there was none.
pub async fn remove<'e>(ex: impl Executor<'e, Database = Any>, r: OwnReaction<'_>) -> sqlx::Result<bool> {
    let done =
        sqlx::query("DELETE FROM message_reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3")
            .bind(r.message_id.0)
            .bind(r.emoji)
            .bind(r.user_id.0)
            .execute(ex)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// The distinct emoji on a message, and whether `emoji` is among them.
pub async fn distinct<'e>(
    ex: impl Executor<'e, Database = Any>,
    message_id: Id,
    emoji: &str,
) -> sqlx::Result<(i64, bool)> {
    let row = sqlx::query(
        "SELECT COUNT(DISTINCT emoji) AS n, CAST(COALESCE(MAX(CASE WHEN emoji = $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS present \
         FROM message_reactions WHERE message_id = $1",
    )
    .bind(message_id.0)
    .bind(emoji)
    .fetch_one(ex)
    .await?;
    Ok((row.try_get("n")?, row.try_get::<i64, _>("present")? != 0))
}

/// Fills in `reactions` for each message, as `viewer` sees them, in one query. Each
/// message's emoji come ordered by the earliest reaction still there.
pub async fn attach(conn: &mut Conn, messages: &mut [Message], viewer: Id) -> sqlx::Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let placeholders: Vec<String> = (2..=messages.len() + 1).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT message_id, emoji, COUNT(*) AS n, \
         CAST(MAX(CASE WHEN user_id = $1 THEN 1 ELSE 0 END) AS BIGINT) AS me, MIN(created_at) AS first_at \
         FROM message_reactions WHERE message_id IN ({}) \
         GROUP BY message_id, emoji ORDER BY message_id, first_at, emoji",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(viewer.0);
    for m in messages.iter() {
        query = query.bind(m.id.0);
    }
    for row in query.fetch_all(&mut *conn).await? {
        let message_id = Id(row.try_get("message_id")?);
        let count: i64 = row.try_get("n")?;
        let reaction = Reaction {
            emoji: row.try_get("emoji")?,
            count: u32::try_from(count).unwrap_or(u32::MAX),
            me: row.try_get::<i64, _>("me")? != 0,
        };
        if let Some(m) = messages.iter_mut().find(|m| m.id == message_id) {
            m.reactions.push(reaction);
        }
    }
    Ok(())
}
