//! Single-use tokens sent by mail; only their SHA-256 is stored.

use cromulent_protocol::Id;
use sqlx::{Any, Executor, Row};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Confirm,
    ResetPassword,
    ChangeEmail,
}

impl Purpose {
    fn as_db(self) -> &'static str {
        match self {
            Purpose::Confirm => "confirm",
            Purpose::ResetPassword => "reset_password",
            Purpose::ChangeEmail => "change_email",
        }
    }
}

pub struct NewMailToken<'a> {
    pub token_hash: &'a str,
    pub user_id: Id,
    pub purpose: Purpose,
    pub sent_to: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

pub async fn insert<'e>(ex: impl Executor<'e, Database = Any>, t: &NewMailToken<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO mail_tokens (token_hash, user_id, purpose, sent_to, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(t.token_hash)
    .bind(t.user_id.0)
    .bind(t.purpose.as_db())
    .bind(t.sent_to)
    .bind(t.now)
    .bind(t.expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// What a redeemed token proves: whose it was and the address it was sent to.
#[derive(Debug, Clone)]
pub struct Redeemed {
    pub user_id: Id,
    pub sent_to: String,
}

/// The token with hash `$1` and purpose `$2` would redeem at `$3`: unused and
/// unexpired. The early look and the redemption ask the same question.
const REDEEMABLE: &str = "token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3";

/// Whether a token would redeem now, without spending it: lets a handler refuse a bad
/// link before doing slow work (hashing a new password) for it.
pub async fn is_redeemable<'e>(
    ex: impl Executor<'e, Database = Any>,
    token_hash: &str,
    purpose: Purpose,
    now: i64,
) -> sqlx::Result<bool> {
    let sql = format!("SELECT 1 FROM mail_tokens WHERE {REDEEMABLE}");
    let row = sqlx::query(&sql).bind(token_hash).bind(purpose.as_db()).bind(now).fetch_optional(ex).await?;
    Ok(row.is_some())
}

/// Spends an unexpired, unused token of this purpose, in the caller's transaction.
pub async fn redeem(
    conn: &mut super::Conn,
    token_hash: &str,
    purpose: Purpose,
    now: i64,
) -> sqlx::Result<Option<Redeemed>> {
    let sql = format!("SELECT user_id, sent_to FROM mail_tokens WHERE {REDEEMABLE}");
    let row =
        sqlx::query(&sql).bind(token_hash).bind(purpose.as_db()).bind(now).fetch_optional(&mut *conn).await?;
    let Some(row) = row else { return Ok(None) };
    let spent = sqlx::query("UPDATE mail_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL")
        .bind(now)
        .bind(token_hash)
        .execute(&mut *conn)
        .await?;
    if spent.rows_affected() != 1 {
        return Ok(None);
    }
    Ok(Some(Redeemed { user_id: Id(row.try_get("user_id")?), sent_to: row.try_get("sent_to")? }))
}

/// Voids a user's outstanding tokens of one purpose (a newer mail replaces them).
pub async fn void_outstanding<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
    purpose: Purpose,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE mail_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(user_id.0)
    .bind(purpose.as_db())
    .execute(ex)
    .await?;
    Ok(())
}
