//! Server-wide switches; a missing row means the default.

use cromulent_protocol::feature_flag::{FeatureFlags, UpdateFeatureFlagsRequest};
use sqlx::{Any, Executor, Row};

/// Defaults before an admin has set anything. Email confirmation is required by default
/// only when real mail can be delivered.
pub fn defaults(mail_is_delivered: bool) -> FeatureFlags {
    FeatureFlags {
        voice: true,
        registration: true,
        link_previews: false,
        email_confirmation: mail_is_delivered,
        turn: true,
    }
}

pub async fn load<'e>(
    ex: impl Executor<'e, Database = Any>,
    defaults: FeatureFlags,
) -> sqlx::Result<FeatureFlags> {
    let rows = sqlx::query("SELECT name, enabled FROM feature_flags").fetch_all(ex).await?;
    let mut flags = defaults;
    for row in rows {
        let name: String = row.try_get("name")?;
        let enabled = super::flag(&row, "enabled")?;
        match name.as_str() {
            "voice" => flags.voice = enabled,
            "registration" => flags.registration = enabled,
            "link_previews" => flags.link_previews = enabled,
            "email_confirmation" => flags.email_confirmation = enabled,
            "turn" => flags.turn = enabled,
            _ => {}
        }
    }
    Ok(flags)
}

pub async fn update(
    conn: &mut super::Conn,
    change: &UpdateFeatureFlagsRequest,
    now: i64,
) -> sqlx::Result<()> {
    let pairs = [
        ("voice", change.voice),
        ("registration", change.registration),
        ("link_previews", change.link_previews),
        ("email_confirmation", change.email_confirmation),
        ("turn", change.turn),
    ];
    for (name, value) in pairs {
        let Some(value) = value else { continue };
        sqlx::query(
            "INSERT INTO feature_flags (name, enabled, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(super::flag_value(value))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
