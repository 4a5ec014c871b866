//! Deleting an account: its personal data goes and its row becomes a tombstone.
//!
//! The row stays because messages (and the audit log) point at it: kept messages stay
//! attributed to "Deleted user", and nothing that references users needs to learn that
//! one may vanish. Everything else that is the person's goes in the same transaction.

use cromulent_protocol::Id;

use super::notifications::Scope;
use super::Conn;

/// The name every deleted account shows.
pub const DELETED_USER_NAME: &str = "Deleted user";

/// What the deletion removed that clients must hear about.
#[derive(Debug, Default)]
pub struct Removed {
    /// Channels the user was a member of (member lists shrink).
    pub channel_ids: Vec<Id>,
    /// Groups the user was in (their member lists shrink).
    pub group_ids: Vec<Id>,
    /// Messages deleted with the account, when its owner chose so.
    pub messages: Vec<(Id, Scope)>,
}

/// Personal data of a user, one table per line: what `DELETE /api/users/me` removes
/// (the README lists the same). Messages are handled apart, by the owner's choice.
const PERSONAL_TABLES: &[&str] = &[
    // Logins, with their refresh and cookie secrets (cascade): every token stops working.
    "DELETE FROM auth_sessions WHERE user_id = $1",
    "DELETE FROM mail_tokens WHERE user_id = $1",
    "DELETE FROM channel_memberships WHERE user_id = $1",
    "DELETE FROM channel_reads WHERE user_id = $1",
    "DELETE FROM channel_notification_settings WHERE user_id = $1",
    "DELETE FROM group_memberships WHERE user_id = $1",
    "DELETE FROM notifications WHERE user_id = $1",
    "DELETE FROM voice_preferences WHERE user_id = $1",
    "DELETE FROM timeouts WHERE user_id = $1",
    // Whom they blocked and who blocked them: the tombstone can no longer write to anyone.
    "DELETE FROM user_blocks WHERE user_id = $1 OR blocked_id = $1",
];

/// Deletes the user's personal data and turns their row into a tombstone, in the
/// caller's transaction; with `delete_messages` their messages go too. The address is
/// freed (it may register again) unless it is banned: a ban is kept by address.
pub async fn delete_account(
    conn: &mut Conn,
    user_id: Id,
    delete_messages: bool,
    now: i64,
) -> sqlx::Result<Removed> {
    let mut removed = Removed::default();
    let channels: Vec<i64> =
        sqlx::query_scalar("SELECT channel_id FROM channel_memberships WHERE user_id = $1")
            .bind(user_id.0)
            .fetch_all(&mut *conn)
            .await?;
    removed.channel_ids = channels.into_iter().map(Id).collect();
    let groups: Vec<i64> = sqlx::query_scalar("SELECT group_id FROM group_memberships WHERE user_id = $1")
        .bind(user_id.0)
        .fetch_all(&mut *conn)
        .await?;
    removed.group_ids = groups.into_iter().map(Id).collect();
    if delete_messages {
        removed.messages = super::messages::delete_by_author_since(conn, user_id, i64::MIN).await?;
    }
    for sql in PERSONAL_TABLES {
        sqlx::query(sql).bind(user_id.0).execute(&mut *conn).await?;
    }
    // Links the user handed out stop registering people.
    sqlx::query("UPDATE invites SET revoked_at = $1 WHERE created_by = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(user_id.0)
        .execute(&mut *conn)
        .await?;
    tombstone(conn, user_id, now).await?;
    Ok(removed)
}

/// The row keeps its id and creation time only. The address and name become values no
/// valid address or username can equal (they hold a ':'), so both are free again and
/// nobody can sign in as, register as or `@mention` the tombstone; the empty password
/// hash matches no password.
async fn tombstone(conn: &mut Conn, user_id: Id, now: i64) -> sqlx::Result<()> {
    let placeholder = format!("deleted:{user_id}");
    let done = sqlx::query(
        "UPDATE users SET email = $1, username = $2, username_key = $2, password_hash = '', role = 'member', \
         display_name = $3, avatar_url = NULL, email_confirmed_at = NULL, voice_mode = 'ptt', \
         vad_threshold_db = -40, deleted_at = $4 WHERE id = $5",
    )
    .bind(&placeholder)
    .bind(&placeholder)
    .bind(DELETED_USER_NAME)
    .bind(now)
    .bind(user_id.0)
    .execute(&mut *conn)
    .await?;
    debug_assert_eq!(done.rows_affected(), 1, "the caller found the user in this transaction");
    Ok(())
}
