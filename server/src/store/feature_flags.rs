//! Server-wide switches; a missing row means the default.
//!
//! On/off flags live in `feature_flags` (0/1). The registration mode has three values,
//! so it is a row of `server_settings` (migration 0004 moved the old on/off there).

use cromulent_protocol::feature_flag::{FeatureFlags, RegistrationMode, UpdateFeatureFlagsRequest};
use sqlx::{Any, Executor, Row};

const REGISTRATION: &str = "registration";

/// Defaults before an admin has set anything. Email confirmation is required by default
/// only when real mail can be delivered.
pub fn defaults(mail_is_delivered: bool) -> FeatureFlags {
    FeatureFlags {
        voice: true,
        registration: RegistrationMode::Open,
        member_invites: false,
        link_previews: false,
        email_confirmation: mail_is_delivered,
        turn: true,
    }
}

/// Reads the flags and the registration mode in one query, so a caller holding a
/// transaction sees one consistent answer.
pub async fn load<'e>(
    ex: impl Executor<'e, Database = Any>,
    defaults: FeatureFlags,
) -> sqlx::Result<FeatureFlags> {
    let rows = sqlx::query(
        "SELECT name, CAST(enabled AS TEXT) AS value FROM feature_flags \
         UNION ALL SELECT name, value FROM server_settings",
    )
    .fetch_all(ex)
    .await?;
    let mut flags = defaults;
    for row in rows {
        let name: String = row.try_get("name")?;
        let value: String = row.try_get("value")?;
        let enabled = value == "1";
        match name.as_str() {
            "voice" => flags.voice = enabled,
            REGISTRATION => flags.registration = mode_from_db(&value).unwrap_or(flags.registration),
            "member_invites" => flags.member_invites = enabled,
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
        ("member_invites", change.member_invites),
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
    if let Some(mode) = change.registration {
        sqlx::query(
            "INSERT INTO server_settings (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(REGISTRATION)
        .bind(mode_to_db(mode))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn mode_to_db(mode: RegistrationMode) -> &'static str {
    match mode {
        RegistrationMode::Open => "open",
        RegistrationMode::InviteOnly => "invite_only",
        RegistrationMode::Closed => "closed",
    }
}

/// `None` cannot happen while the table's CHECK holds; the default is kept then.
fn mode_from_db(value: &str) -> Option<RegistrationMode> {
    match value {
        "open" => Some(RegistrationMode::Open),
        "invite_only" => Some(RegistrationMode::InviteOnly),
        "closed" => Some(RegistrationMode::Closed),
        _ => None,
    }
}
