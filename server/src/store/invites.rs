//! Invite links; only each code's SHA-256 digest is stored, beside a short prefix that
//! lets people tell their invites apart.

use cromulent_protocol::invite::Invite;
use cromulent_protocol::Id;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

pub struct NewInvite<'a> {
    pub id: Id,
    pub code_digest: &'a str,
    pub code_prefix: &'a str,
    pub created_by: Id,
    pub max_uses: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn insert<'e>(ex: impl Executor<'e, Database = Any>, new: &NewInvite<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO invites (id, code_digest, code_prefix, created_by, max_uses, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new.id.0)
    .bind(new.code_digest)
    .bind(new.code_prefix)
    .bind(new.created_by.0)
    .bind(new.max_uses)
    .bind(new.created_at)
    .bind(new.expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

const COLUMNS: &str = "i.id, i.code_prefix, i.created_by, u.username, i.max_uses, i.uses, \
                       i.created_at, i.expires_at, i.revoked_at";

fn from_row(row: &AnyRow) -> sqlx::Result<Invite> {
    Ok(Invite {
        id: Id(row.try_get("id")?),
        code_prefix: row.try_get("code_prefix")?,
        created_by: Id(row.try_get("created_by")?),
        created_by_username: row.try_get("username")?,
        max_uses: row.try_get("max_uses")?,
        uses: row.try_get("uses")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

/// Newest first: everyone's (`created_by` `None`, for admins) or one creator's.
pub async fn list<'e>(
    ex: impl Executor<'e, Database = Any>,
    created_by: Option<Id>,
    limit: i64,
) -> sqlx::Result<Vec<Invite>> {
    let from = "FROM invites i JOIN users u ON u.id = i.created_by";
    let rows = match created_by {
        None => {
            let sql = format!("SELECT {COLUMNS} {from} ORDER BY i.id DESC LIMIT $1");
            sqlx::query(&sql).bind(limit).fetch_all(ex).await?
        }
        Some(user) => {
            let sql = format!("SELECT {COLUMNS} {from} WHERE i.created_by = $1 ORDER BY i.id DESC LIMIT $2");
            sqlx::query(&sql).bind(user.0).bind(limit).fetch_all(ex).await?
        }
    };
    rows.iter().map(from_row).collect()
}

pub async fn find_by_id<'e>(ex: impl Executor<'e, Database = Any>, id: Id) -> sqlx::Result<Option<Invite>> {
    let sql = format!("SELECT {COLUMNS} FROM invites i JOIN users u ON u.id = i.created_by WHERE i.id = $1");
    let row = sqlx::query(&sql).bind(id.0).fetch_optional(ex).await?;
    row.as_ref().map(from_row).transpose()
}

/// Ends an invite; revoking it again keeps the first time.
pub async fn revoke<'e>(ex: impl Executor<'e, Database = Any>, id: Id, now: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE invites SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(id.0)
        .bind(now)
        .execute(ex)
        .await?;
    Ok(())
}

/// The invite whose code has digest `$1` can still be used at `$2`: not used up,
/// expired or revoked. Spending and the early look ask the same question.
const LIVE: &str = "code_digest = $1 AND uses < max_uses AND expires_at > $2 AND revoked_at IS NULL";

/// Spends one use of a live invite inside the caller's registration transaction. The
/// check and the increment are one statement, and the row it writes stays locked until
/// the transaction ends (SQLite writers are serial), so when two registrations race for
/// the last use exactly one sees `true`. False: unknown, revoked, expired or used up.
pub async fn take_use(conn: &mut super::Conn, code_digest: &str, now: i64) -> sqlx::Result<bool> {
    let sql = format!("UPDATE invites SET uses = uses + 1 WHERE {LIVE}");
    let done = sqlx::query(&sql).bind(code_digest).bind(now).execute(&mut *conn).await?;
    Ok(done.rows_affected() == 1)
}

/// Whether `take_use` would succeed now, without spending: lets registration refuse a
/// dead code before hashing a password for it.
pub async fn is_live<'e>(
    ex: impl Executor<'e, Database = Any>,
    code_digest: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let sql = format!("SELECT 1 FROM invites WHERE {LIVE}");
    let row = sqlx::query(&sql).bind(code_digest).bind(now).fetch_optional(ex).await?;
    Ok(row.is_some())
}
