//! Relay-only voice preferences: each user's own choice and the admin's switch for everyone.

use cromulent_protocol::Id;
use sqlx::{Any, Executor};

use super::{flag, flag_value};

const FORCE_RELAY: &str = "force_relay";

/// The user's choice; no row means not chosen (off).
pub async fn relay_only<'e>(ex: impl Executor<'e, Database = Any>, user_id: Id) -> sqlx::Result<bool> {
    let row = sqlx::query("SELECT relay_only FROM voice_preferences WHERE user_id = $1")
        .bind(user_id.0)
        .fetch_optional(ex)
        .await?;
    row.map_or(Ok(false), |row| flag(&row, "relay_only"))
}

pub async fn set_relay_only<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
    relay_only: bool,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO voice_preferences (user_id, relay_only, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id) DO UPDATE SET relay_only = excluded.relay_only, updated_at = excluded.updated_at",
    )
    .bind(user_id.0)
    .bind(flag_value(relay_only))
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// Whether an admin forces relay-only voice for everyone (off until set).
pub async fn force_relay<'e>(ex: impl Executor<'e, Database = Any>) -> sqlx::Result<bool> {
    let row = sqlx::query("SELECT enabled FROM voice_settings WHERE name = $1")
        .bind(FORCE_RELAY)
        .fetch_optional(ex)
        .await?;
    row.map_or(Ok(false), |row| flag(&row, "enabled"))
}

pub async fn set_force_relay<'e>(
    ex: impl Executor<'e, Database = Any>,
    enabled: bool,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO voice_settings (name, enabled, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
    )
    .bind(FORCE_RELAY)
    .bind(flag_value(enabled))
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// Both settings for one user in one read: `(relay_only, forced_by_admin)`.
pub async fn for_user(conn: &mut super::Conn, user_id: Id) -> sqlx::Result<(bool, bool)> {
    let own = relay_only(&mut *conn, user_id).await?;
    let forced = force_relay(&mut *conn).await?;
    Ok((own, forced))
}
