//! Bans (by address) and timeouts (by user).

use cromulent_protocol::moderation::{Ban, Timeout};
use cromulent_protocol::Id;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

const BAN_COLUMNS: &str = "user_id, reason, created_by, created_at";
const TIMEOUT_COLUMNS: &str = "user_id, ends_at, reason, created_by, created_at";

fn ban_from_row(row: &AnyRow) -> sqlx::Result<Ban> {
    Ok(Ban {
        user_id: row.try_get::<Option<i64>, _>("user_id")?.map(Id),
        reason: row.try_get("reason")?,
        created_by: row.try_get::<Option<i64>, _>("created_by")?.map(Id),
        created_at: row.try_get("created_at")?,
    })
}

fn timeout_from_row(row: &AnyRow) -> sqlx::Result<Timeout> {
    Ok(Timeout {
        user_id: Id(row.try_get("user_id")?),
        ends_at: row.try_get("ends_at")?,
        reason: row.try_get("reason")?,
        created_by: row.try_get::<Option<i64>, _>("created_by")?.map(Id),
        created_at: row.try_get("created_at")?,
    })
}

pub struct NewBan<'a> {
    /// Lower-cased, as stored on the account.
    pub email: &'a str,
    pub user_id: Id,
    pub reason: Option<&'a str>,
    pub created_by: Id,
    pub created_at: i64,
}

pub async fn insert_ban<'e>(ex: impl Executor<'e, Database = Any>, ban: &NewBan<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO bans (email, user_id, reason, created_by, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(ban.email)
    .bind(ban.user_id.0)
    .bind(ban.reason)
    .bind(ban.created_by.0)
    .bind(ban.created_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// Whether an address is banned; callers pass the lower-cased form.
pub async fn is_email_banned<'e>(ex: impl Executor<'e, Database = Any>, email: &str) -> sqlx::Result<bool> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT email FROM bans WHERE email = $1").bind(email).fetch_optional(ex).await?;
    Ok(found.is_some())
}

pub async fn find_ban<'e>(ex: impl Executor<'e, Database = Any>, user_id: Id) -> sqlx::Result<Option<Ban>> {
    let sql = format!("SELECT {BAN_COLUMNS} FROM bans WHERE user_id = $1");
    let row = sqlx::query(&sql).bind(user_id.0).fetch_optional(ex).await?;
    row.as_ref().map(ban_from_row).transpose()
}

/// Lifts a user's ban; false when there was none.
pub async fn delete_ban<'e>(ex: impl Executor<'e, Database = Any>, user_id: Id) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM bans WHERE user_id = $1").bind(user_id.0).execute(ex).await?;
    Ok(done.rows_affected() > 0)
}

/// Newest first.
pub async fn list_bans<'e>(ex: impl Executor<'e, Database = Any>) -> sqlx::Result<Vec<Ban>> {
    let sql = format!("SELECT {BAN_COLUMNS} FROM bans ORDER BY created_at DESC");
    let rows = sqlx::query(&sql).fetch_all(ex).await?;
    rows.iter().map(ban_from_row).collect()
}

/// Sets (or replaces) a user's timeout.
pub async fn set_timeout<'e>(ex: impl Executor<'e, Database = Any>, timeout: &Timeout) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO timeouts (user_id, ends_at, reason, created_by, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id) DO UPDATE SET ends_at = excluded.ends_at, reason = excluded.reason, \
         created_by = excluded.created_by, created_at = excluded.created_at",
    )
    .bind(timeout.user_id.0)
    .bind(timeout.ends_at)
    .bind(timeout.reason.as_deref())
    .bind(timeout.created_by.map(|id| id.0))
    .bind(timeout.created_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// The user's timeout, if one is in force at `now`.
pub async fn active_timeout<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
    now: i64,
) -> sqlx::Result<Option<Timeout>> {
    let sql = format!("SELECT {TIMEOUT_COLUMNS} FROM timeouts WHERE user_id = $1 AND ends_at > $2");
    let row = sqlx::query(&sql).bind(user_id.0).bind(now).fetch_optional(ex).await?;
    row.as_ref().map(timeout_from_row).transpose()
}

/// Ends a user's timeout early; false when none was in force (an expired row goes too).
pub async fn lift_timeout(conn: &mut super::Conn, user_id: Id, now: i64) -> sqlx::Result<bool> {
    let active = active_timeout(&mut *conn, user_id, now).await?.is_some();
    sqlx::query("DELETE FROM timeouts WHERE user_id = $1").bind(user_id.0).execute(&mut *conn).await?;
    Ok(active)
}

/// Timeouts in force at `now`, ending soonest first.
pub async fn list_timeouts<'e>(
    ex: impl Executor<'e, Database = Any>,
    now: i64,
) -> sqlx::Result<Vec<Timeout>> {
    let sql = format!("SELECT {TIMEOUT_COLUMNS} FROM timeouts WHERE ends_at > $1 ORDER BY ends_at");
    let rows = sqlx::query(&sql).bind(now).fetch_all(ex).await?;
    rows.iter().map(timeout_from_row).collect()
}
