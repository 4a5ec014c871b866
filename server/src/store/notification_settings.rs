//! Each user's notification setting per channel: level and mute. No row means the
//! default (`mentions`, not muted).

use std::collections::BTreeSet;

use cromulent_protocol::channel::{ChannelNotificationSettings, NotificationLevel};
use cromulent_protocol::Id;
use sqlx::{Any, Executor, Row};

pub fn level_to_db(level: NotificationLevel) -> &'static str {
    match level {
        NotificationLevel::All => "all",
        NotificationLevel::Mentions => "mentions",
        NotificationLevel::Nothing => "nothing",
    }
}

/// The column's CHECK constraint allows only the three names; a missing row (NULL from
/// a LEFT JOIN) is the default.
pub fn level_from_db(value: Option<&str>) -> NotificationLevel {
    match value {
        Some("all") => NotificationLevel::All,
        Some("nothing") => NotificationLevel::Nothing,
        _ => NotificationLevel::Mentions,
    }
}

/// A mute that has run out is no mute.
pub fn live_mute(muted_until: Option<i64>, now: i64) -> Option<i64> {
    muted_until.filter(|until| *until > now)
}

/// Replaces the user's setting for a channel.
pub async fn put<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
    settings: &ChannelNotificationSettings,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO channel_notification_settings (user_id, channel_id, level, muted_until, updated_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id, channel_id) DO UPDATE \
         SET level = excluded.level, muted_until = excluded.muted_until, updated_at = excluded.updated_at",
    )
    .bind(user_id.0)
    .bind(settings.channel_id.0)
    .bind(level_to_db(settings.level))
    .bind(settings.muted_until)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// The user's setting for a channel, the default when they never chose one.
pub async fn find<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
    channel_id: Id,
    now: i64,
) -> sqlx::Result<ChannelNotificationSettings> {
    let row = sqlx::query(
        "SELECT level, muted_until FROM channel_notification_settings WHERE user_id = $1 AND channel_id = $2",
    )
    .bind(user_id.0)
    .bind(channel_id.0)
    .fetch_optional(ex)
    .await?;
    let (level, muted_until) = match row {
        Some(row) => (row.try_get::<String, _>("level")?, row.try_get::<Option<i64>, _>("muted_until")?),
        None => {
            return Ok(ChannelNotificationSettings {
                channel_id,
                level: NotificationLevel::Mentions,
                muted_until: None,
            })
        }
    };
    Ok(ChannelNotificationSettings {
        channel_id,
        level: level_from_db(Some(&level)),
        muted_until: live_mute(muted_until, now),
    })
}

/// Users who want nothing from a channel right now: level `nothing`, or muted. Their
/// mentions there make no notification.
pub async fn silenced<'e>(
    ex: impl Executor<'e, Database = Any>,
    channel_id: Id,
    now: i64,
) -> sqlx::Result<BTreeSet<Id>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT user_id FROM channel_notification_settings \
         WHERE channel_id = $1 AND (level = 'nothing' OR muted_until > $2)",
    )
    .bind(channel_id.0)
    .bind(now)
    .fetch_all(ex)
    .await?;
    Ok(ids.into_iter().map(Id).collect())
}
