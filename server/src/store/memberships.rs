//! Who belongs to which channel.

use cromulent_protocol::Id;
use sqlx::{Any, Executor, Row};

/// Adds a member; joining twice is not an error.
pub async fn add<'e>(
    ex: impl Executor<'e, Database = Any>,
    channel_id: Id,
    user_id: Id,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO channel_memberships (channel_id, user_id, joined_at) VALUES ($1, $2, $3) \
         ON CONFLICT (channel_id, user_id) DO NOTHING",
    )
    .bind(channel_id.0)
    .bind(user_id.0)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn remove<'e>(
    ex: impl Executor<'e, Database = Any>,
    channel_id: Id,
    user_id: Id,
) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM channel_memberships WHERE channel_id = $1 AND user_id = $2")
        .bind(channel_id.0)
        .bind(user_id.0)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn is_member<'e>(
    ex: impl Executor<'e, Database = Any>,
    channel_id: Id,
    user_id: Id,
) -> sqlx::Result<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT user_id FROM channel_memberships WHERE channel_id = $1 AND user_id = $2")
            .bind(channel_id.0)
            .bind(user_id.0)
            .fetch_optional(ex)
            .await?;
    Ok(found.is_some())
}

/// Members and when they joined, oldest first.
pub async fn list<'e>(ex: impl Executor<'e, Database = Any>, channel_id: Id) -> sqlx::Result<Vec<(Id, i64)>> {
    let rows = sqlx::query("SELECT user_id, joined_at FROM channel_memberships WHERE channel_id = $1 ORDER BY joined_at, user_id")
        .bind(channel_id.0)
        .fetch_all(ex)
        .await?;
    rows.iter().map(|r| Ok((Id(r.try_get("user_id")?), r.try_get("joined_at")?))).collect()
}

/// Up to `limit` members whose user id is above `after`, by user id: a cursor that stays
/// put while people join and leave, unlike the join time.
pub async fn page<'e>(
    ex: impl Executor<'e, Database = Any>,
    channel_id: Id,
    after: Option<Id>,
    limit: u32,
) -> sqlx::Result<Vec<(Id, i64)>> {
    let rows = sqlx::query(
        "SELECT user_id, joined_at FROM channel_memberships WHERE channel_id = $1 AND user_id > $2 \
         ORDER BY user_id LIMIT $3",
    )
    .bind(channel_id.0)
    .bind(after.map_or(i64::MIN, |id| id.0))
    .bind(i64::from(limit))
    .fetch_all(ex)
    .await?;
    rows.iter().map(|r| Ok((Id(r.try_get("user_id")?), r.try_get("joined_at")?))).collect()
}

/// Puts every user into a channel (a new default channel).
pub async fn add_everyone<'e>(
    ex: impl Executor<'e, Database = Any>,
    channel_id: Id,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO channel_memberships (channel_id, user_id, joined_at) \
         SELECT $1, id, $2 FROM users WHERE 1 = 1 ON CONFLICT (channel_id, user_id) DO NOTHING",
    )
    .bind(channel_id.0)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// When `user_id` joined the channel, if they are a member.
pub async fn joined_at<'e>(
    ex: impl Executor<'e, Database = Any>,
    channel_id: Id,
    user_id: Id,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT joined_at FROM channel_memberships WHERE channel_id = $1 AND user_id = $2")
        .bind(channel_id.0)
        .bind(user_id.0)
        .fetch_optional(ex)
        .await
}

/// Users, admins aside, who are not members of a channel: if it is private they cannot
/// see it.
pub async fn outsiders<'e>(ex: impl Executor<'e, Database = Any>, channel_id: Id) -> sqlx::Result<Vec<Id>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM users WHERE role <> 'admin' \
         AND id NOT IN (SELECT user_id FROM channel_memberships WHERE channel_id = $1)",
    )
    .bind(channel_id.0)
    .fetch_all(ex)
    .await?;
    Ok(ids.into_iter().map(Id).collect())
}
