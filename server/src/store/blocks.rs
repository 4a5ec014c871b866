//! Who blocked whom.

use cromulent_protocol::dm::Block;
use cromulent_protocol::Id;
use sqlx::{Any, Executor, Row};

/// `user_id` blocks `blocked_id`; blocking twice keeps the first time. `true` when new.
pub async fn put<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
    blocked_id: Id,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO user_blocks (user_id, blocked_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, blocked_id) DO NOTHING",
    )
    .bind(user_id.0)
    .bind(blocked_id.0)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Lifts a block; `false` when there was none.
pub async fn delete<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
    blocked_id: Id,
) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM user_blocks WHERE user_id = $1 AND blocked_id = $2")
        .bind(user_id.0)
        .bind(blocked_id.0)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Everyone `user_id` blocked, newest first.
pub async fn list<'e>(ex: impl Executor<'e, Database = Any>, user_id: Id) -> sqlx::Result<Vec<Block>> {
    let rows = sqlx::query(
        "SELECT blocked_id, created_at FROM user_blocks WHERE user_id = $1 \
         ORDER BY created_at DESC, blocked_id",
    )
    .bind(user_id.0)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Block { user_id: Id(row.try_get("blocked_id")?), created_at: row.try_get("created_at")? })
        })
        .collect()
}

/// Whether `user_id` and any of `others` blocked one another, in either direction.
pub async fn any_between<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
    others: &[Id],
) -> sqlx::Result<bool> {
    if others.is_empty() {
        return Ok(false);
    }
    // At most `DM_OTHERS_MAX` ids (a direct message's size): a short list of parameters.
    let params: Vec<String> = (0..others.len()).map(|i| format!("${}", i + 2)).collect();
    let list = params.join(", ");
    let sql = format!(
        "SELECT COUNT(*) FROM user_blocks \
         WHERE (user_id = $1 AND blocked_id IN ({list})) OR (blocked_id = $1 AND user_id IN ({list}))"
    );
    let mut query = sqlx::query_scalar::<_, i64>(&sql).bind(user_id.0);
    for other in others {
        query = query.bind(other.0);
    }
    Ok(query.fetch_one(ex).await? > 0)
}
