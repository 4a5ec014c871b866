//! Logins (devices and browsers) and the hashes of the secrets they were issued.

use cromulent_protocol::Id;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

const COLUMNS: &str = "s.id, s.user_id, s.kind, s.device_name, s.device_type, s.ip_address, \
                       s.created_at, s.last_used_at, s.expires_at, s.revoked_at";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A device holding a rotating refresh token.
    Refresh,
    /// A browser holding a session cookie.
    Browser,
}

impl SessionKind {
    fn as_db(self) -> &'static str {
        match self {
            SessionKind::Refresh => "refresh",
            SessionKind::Browser => "browser",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: Id,
    pub user_id: Id,
    pub kind: SessionKind,
    pub device_name: Option<String>,
    pub device_type: Option<String>,
    pub ip_address: Option<String>,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl SessionRow {
    pub fn is_active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }

    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: Id(row.try_get("id")?),
            user_id: Id(row.try_get("user_id")?),
            kind: if row.try_get::<String, _>("kind")? == "browser" {
                SessionKind::Browser
            } else {
                SessionKind::Refresh
            },
            device_name: row.try_get("device_name")?,
            device_type: row.try_get("device_type")?,
            ip_address: row.try_get("ip_address")?,
            created_at: row.try_get("created_at")?,
            last_used_at: row.try_get("last_used_at")?,
            expires_at: row.try_get("expires_at")?,
            revoked_at: row.try_get("revoked_at")?,
        })
    }
}

pub struct NewSession<'a> {
    pub id: Id,
    pub user_id: Id,
    pub kind: SessionKind,
    pub device_name: Option<&'a str>,
    pub device_type: Option<&'a str>,
    pub ip_address: Option<&'a str>,
    pub now: i64,
    pub expires_at: i64,
}

pub async fn insert<'e>(ex: impl Executor<'e, Database = Any>, s: &NewSession<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO auth_sessions (id, user_id, kind, device_name, device_type, ip_address, \
         created_at, last_used_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(s.id.0)
    .bind(s.user_id.0)
    .bind(s.kind.as_db())
    .bind(s.device_name)
    .bind(s.device_type)
    .bind(s.ip_address)
    .bind(s.now)
    .bind(s.expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// What a login's secret is for: the two are never accepted in each other's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// A device's refresh token, spent and replaced on every use.
    Refresh,
    /// A browser's session cookie, valid for the whole login.
    Cookie,
}

impl SecretKind {
    fn as_db(self) -> &'static str {
        match self {
            SecretKind::Refresh => "refresh",
            SecretKind::Cookie => "cookie",
        }
    }
}

/// One secret as found by its hash.
#[derive(Debug, Clone, Copy)]
pub struct SecretRow {
    pub kind: SecretKind,
    pub created_at: i64,
    /// When a refresh token was traded in; `None` while it is still good.
    pub spent_at: Option<i64>,
    /// When a refresh token was replaced unused by a retry of the one before it.
    pub voided_at: Option<i64>,
}

pub async fn add_secret<'e>(
    ex: impl Executor<'e, Database = Any>,
    secret_hash: &str,
    kind: SecretKind,
    session_id: Id,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO session_secrets (secret_hash, session_id, kind, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(secret_hash)
    .bind(session_id.0)
    .bind(kind.as_db())
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// The session a secret belongs to, and the secret's own state.
pub async fn find_by_secret<'e>(
    ex: impl Executor<'e, Database = Any>,
    secret_hash: &str,
) -> sqlx::Result<Option<(SessionRow, SecretRow)>> {
    let sql = format!(
        "SELECT {COLUMNS}, t.kind AS secret_kind, t.created_at AS secret_created_at, t.spent_at, t.voided_at \
         FROM session_secrets t JOIN auth_sessions s ON s.id = t.session_id WHERE t.secret_hash = $1"
    );
    let row = sqlx::query(&sql).bind(secret_hash).fetch_optional(ex).await?;
    let Some(row) = row else { return Ok(None) };
    let kind = if row.try_get::<String, _>("secret_kind")? == "cookie" {
        SecretKind::Cookie
    } else {
        SecretKind::Refresh
    };
    let secret = SecretRow {
        kind,
        created_at: row.try_get("secret_created_at")?,
        spent_at: row.try_get("spent_at")?,
        voided_at: row.try_get("voided_at")?,
    };
    Ok(Some((SessionRow::from_row(&row)?, secret)))
}

/// Voids the refresh token issued at `issued_at` in exchange for a spent one, if nobody
/// has used it yet: the retry of a refresh whose answer was lost replaces it.
pub async fn void_unused_successor<'e>(
    ex: impl Executor<'e, Database = Any>,
    session_id: Id,
    issued_at: i64,
    now: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE session_secrets SET spent_at = $1, voided_at = $1 \
         WHERE session_id = $2 AND kind = 'refresh' AND created_at = $3 AND spent_at IS NULL",
    )
    .bind(now)
    .bind(session_id.0)
    .bind(issued_at)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a secret spent; false when it already was (a concurrent or replayed use).
pub async fn spend_secret<'e>(
    ex: impl Executor<'e, Database = Any>,
    secret_hash: &str,
    now: i64,
) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE session_secrets SET spent_at = $1 WHERE secret_hash = $2 AND spent_at IS NULL")
            .bind(now)
            .bind(secret_hash)
            .execute(ex)
            .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn find<'e>(ex: impl Executor<'e, Database = Any>, id: Id) -> sqlx::Result<Option<SessionRow>> {
    let sql = format!("SELECT {COLUMNS} FROM auth_sessions s WHERE s.id = $1");
    let row = sqlx::query(&sql).bind(id.0).fetch_optional(ex).await?;
    row.as_ref().map(SessionRow::from_row).transpose()
}

pub async fn touch<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: Id,
    now: i64,
    ip: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE auth_sessions SET last_used_at = $1, ip_address = COALESCE($2, ip_address) WHERE id = $3",
    )
    .bind(now)
    .bind(ip)
    .bind(id.0)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn revoke<'e>(ex: impl Executor<'e, Database = Any>, id: Id, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE auth_sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(id.0)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every login of a user but `keep` (the one making the request, if any).
pub async fn revoke_all_for_user<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
    keep: Option<Id>,
    now: i64,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE auth_sessions SET revoked_at = $1 \
         WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3",
    )
    .bind(now)
    .bind(user_id.0)
    .bind(keep.map_or(0, |id| id.0))
    .execute(ex)
    .await?;
    Ok(done.rows_affected())
}

pub async fn list_active<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
    now: i64,
) -> sqlx::Result<Vec<SessionRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM auth_sessions s \
         WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
         ORDER BY s.last_used_at DESC"
    );
    let rows = sqlx::query(&sql).bind(user_id.0).bind(now).fetch_all(ex).await?;
    rows.iter().map(SessionRow::from_row).collect()
}
