//! Accounts: identity, password hash, role, profile and voice settings.

use cromulent_protocol::user::{OwnUser, Role, User, VoiceMode};
use cromulent_protocol::Id;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

const COLUMNS: &str = "id, email, username, password_hash, role, display_name, avatar_url, \
                       email_confirmed_at, voice_mode, vad_threshold_db, created_at, deleted_at";

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: Id,
    pub email: String,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    pub email_confirmed_at: Option<i64>,
    pub voice_mode: VoiceMode,
    pub vad_threshold_db: f64,
    pub created_at: i64,
    /// A tombstone: the account was deleted then ([`super::account_deletion`]).
    pub deleted_at: Option<i64>,
}

impl UserRow {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Admins and moderators: may time out, ban and unban.
    pub fn may_moderate(&self) -> bool {
        self.role.may_moderate()
    }

    pub fn to_public(&self) -> User {
        User {
            id: self.id,
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            avatar_url: self.avatar_url.clone(),
            role: self.role,
            created_at: self.created_at,
            deleted_at: self.deleted_at,
        }
    }

    pub fn to_own(&self) -> OwnUser {
        OwnUser {
            user: self.to_public(),
            email: self.email.clone(),
            email_confirmed: self.email_confirmed_at.is_some(),
            voice_mode: self.voice_mode,
            vad_threshold_db: self.vad_threshold_db,
        }
    }

    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: Id(row.try_get("id")?),
            email: row.try_get("email")?,
            username: row.try_get("username")?,
            password_hash: row.try_get("password_hash")?,
            role: role_from_db(&row.try_get::<String, _>("role")?),
            display_name: row.try_get("display_name")?,
            avatar_url: row.try_get("avatar_url")?,
            email_confirmed_at: row.try_get("email_confirmed_at")?,
            voice_mode: match row.try_get::<String, _>("voice_mode")?.as_str() {
                "vad" => VoiceMode::Vad,
                _ => VoiceMode::Ptt,
            },
            vad_threshold_db: row.try_get("vad_threshold_db")?,
            created_at: row.try_get("created_at")?,
            deleted_at: row.try_get("deleted_at")?,
        })
    }
}

pub fn role_to_db(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Moderator => "moderator",
        Role::Member => "member",
    }
}

fn role_from_db(role: &str) -> Role {
    match role {
        "admin" => Role::Admin,
        "moderator" => Role::Moderator,
        _ => Role::Member,
    }
}

/// Usernames compare without case: `Alice` and `alice` are one name.
pub fn username_key(username: &str) -> String {
    username.to_lowercase()
}

pub struct NewUser<'a> {
    pub id: Id,
    pub email: &'a str,
    pub username: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    pub email_confirmed_at: Option<i64>,
    pub created_at: i64,
}

pub async fn insert<'e>(ex: impl Executor<'e, Database = Any>, user: &NewUser<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO users (id, email, username, username_key, password_hash, role, \
         email_confirmed_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(user.id.0)
    .bind(user.email)
    .bind(user.username)
    .bind(username_key(user.username))
    .bind(user.password_hash)
    .bind(role_to_db(user.role))
    .bind(user.email_confirmed_at)
    .bind(user.created_at)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn count<'e>(ex: impl Executor<'e, Database = Any>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(ex).await
}

pub async fn find_by_id<'e>(ex: impl Executor<'e, Database = Any>, id: Id) -> sqlx::Result<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    let row = sqlx::query(&sql).bind(id.0).fetch_optional(ex).await?;
    row.as_ref().map(UserRow::from_row).transpose()
}

/// Emails are stored lower-cased, so callers pass the normalised form.
pub async fn find_by_email<'e>(
    ex: impl Executor<'e, Database = Any>,
    email: &str,
) -> sqlx::Result<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    let row = sqlx::query(&sql).bind(email).fetch_optional(ex).await?;
    row.as_ref().map(UserRow::from_row).transpose()
}

pub async fn username_taken<'e>(ex: impl Executor<'e, Database = Any>, username: &str) -> sqlx::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username_key = $1")
        .bind(username_key(username))
        .fetch_optional(ex)
        .await?;
    Ok(found.is_some())
}

/// Whether a new account may take `username`: no user has it, nor any group, since
/// `@name` resolves users before groups and a user named like a group would hide it.
pub async fn username_unavailable(conn: &mut super::Conn, username: &str) -> sqlx::Result<bool> {
    Ok(username_taken(&mut *conn, username).await?
        || super::groups::name_taken(&mut *conn, username, None).await?)
}

/// Inserts the account and makes it a member of every default channel, in the caller's
/// transaction: every way of creating an account (registration, an admin, the command
/// line) goes through here, so none forgets the default channels.
pub async fn create_with_defaults(conn: &mut super::Conn, user: &NewUser<'_>) -> sqlx::Result<()> {
    insert(&mut *conn, user).await?;
    for channel in super::channels::default_ids(&mut *conn).await? {
        super::memberships::add(&mut *conn, channel, user.id, user.created_at).await?;
    }
    Ok(())
}

pub async fn list<'e>(ex: impl Executor<'e, Database = Any>) -> sqlx::Result<Vec<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users ORDER BY id");
    let rows = sqlx::query(&sql).fetch_all(ex).await?;
    rows.iter().map(UserRow::from_row).collect()
}

/// Ids of users whose names (lower-cased) are in `keys`, for resolving `@name` mentions.
pub async fn ids_by_username_keys(
    conn: &mut super::Conn,
    keys: &[String],
) -> sqlx::Result<Vec<(String, Id)>> {
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username_key = $1")
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(id) = id {
            found.push((key.clone(), Id(id)));
        }
    }
    Ok(found)
}

pub async fn all_ids<'e>(ex: impl Executor<'e, Database = Any>) -> sqlx::Result<Vec<Id>> {
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM users").fetch_all(ex).await?;
    Ok(ids.into_iter().map(Id).collect())
}

pub async fn set_role<'e>(ex: impl Executor<'e, Database = Any>, id: Id, role: Role) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
        .bind(role_to_db(role))
        .bind(id.0)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_password_hash<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: Id,
    hash: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(id.0)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn confirm_email<'e>(ex: impl Executor<'e, Database = Any>, id: Id, at: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET email_confirmed_at = COALESCE(email_confirmed_at, $1) WHERE id = $2")
        .bind(at)
        .bind(id.0)
        .execute(ex)
        .await?;
    Ok(())
}

/// A confirmed change of address: the new one is confirmed by the link that proved it.
pub async fn set_email<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: Id,
    email: &str,
    at: i64,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET email = $1, email_confirmed_at = $2 WHERE id = $3")
        .bind(email)
        .bind(at)
        .bind(id.0)
        .execute(ex)
        .await?;
    Ok(())
}

pub struct ProfileChange<'a> {
    pub display_name: Option<Option<&'a str>>,
    pub avatar_url: Option<Option<&'a str>>,
    pub voice_mode: Option<VoiceMode>,
    pub vad_threshold_db: Option<f64>,
}

pub async fn update_profile(conn: &mut super::Conn, id: Id, change: &ProfileChange<'_>) -> sqlx::Result<()> {
    if let Some(name) = change.display_name {
        sqlx::query("UPDATE users SET display_name = $1 WHERE id = $2")
            .bind(name)
            .bind(id.0)
            .execute(&mut *conn)
            .await?;
    }
    if let Some(url) = change.avatar_url {
        sqlx::query("UPDATE users SET avatar_url = $1 WHERE id = $2")
            .bind(url)
            .bind(id.0)
            .execute(&mut *conn)
            .await?;
    }
    if let Some(mode) = change.voice_mode {
        let mode = match mode {
            VoiceMode::Ptt => "ptt",
            VoiceMode::Vad => "vad",
        };
        sqlx::query("UPDATE users SET voice_mode = $1 WHERE id = $2")
            .bind(mode)
            .bind(id.0)
            .execute(&mut *conn)
            .await?;
    }
    if let Some(db) = change.vad_threshold_db {
        sqlx::query("UPDATE users SET vad_threshold_db = $1 WHERE id = $2")
            .bind(db)
            .bind(id.0)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Counts admins inside a write transaction, first touching their rows so that on
/// PostgreSQL two concurrent demotions queue up (row locks) and the second one counts
/// after the first has committed; SQLite write transactions are serial already.
pub async fn count_admins_locked(conn: &mut super::Conn) -> sqlx::Result<i64> {
    sqlx::query("UPDATE users SET role = role WHERE role = 'admin'").execute(&mut *conn).await?;
    sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'").fetch_one(&mut *conn).await
}

/// Takes the registration lock inside a write transaction: on PostgreSQL concurrent
/// registrations queue on this row until the holder commits, so exactly one of them
/// counts no users and becomes the admin; SQLite write transactions are serial already.
pub async fn lock_registrations(conn: &mut super::Conn) -> sqlx::Result<()> {
    sqlx::query("UPDATE registration_gate SET id = id WHERE id = 1").execute(&mut *conn).await?;
    Ok(())
}

/// Locks a user's row inside a write transaction: on PostgreSQL a ban and a login
/// opening a session for the same user queue here, so no session is opened after the
/// ban revoked the others; SQLite write transactions are serial already.
pub async fn lock<'e>(ex: impl Executor<'e, Database = Any>, id: Id) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE users SET role = role WHERE id = $1").bind(id.0).execute(ex).await?;
    Ok(done.rows_affected() == 1)
}
