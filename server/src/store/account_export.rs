//! What a user's data export reads: their memberships, read markers, notification
//! settings, groups, and their messages page by page (an export never loads them all).

use cromulent_protocol::account::{ExportedGroup, ExportedMembership, ExportedMessage};
use cromulent_protocol::channel::{ChannelNotificationSettings, ReadState};
use cromulent_protocol::Id;
use sqlx::{Any, Executor, Row};

use super::notification_settings::{level_from_db, live_mute};

pub async fn memberships<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
) -> sqlx::Result<Vec<ExportedMembership>> {
    let rows = sqlx::query(
        "SELECT c.id, c.name, m.joined_at FROM channel_memberships m JOIN channels c ON c.id = m.channel_id \
         WHERE m.user_id = $1 ORDER BY c.id",
    )
    .bind(user_id.0)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ExportedMembership {
                channel_id: Id(row.try_get("id")?),
                name: row.try_get("name")?,
                joined_at: row.try_get("joined_at")?,
            })
        })
        .collect()
}

pub async fn read_states<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
) -> sqlx::Result<Vec<ReadState>> {
    let rows = sqlx::query(
        "SELECT channel_id, last_read_message_id FROM channel_reads WHERE user_id = $1 ORDER BY channel_id",
    )
    .bind(user_id.0)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ReadState {
                channel_id: Id(row.try_get("channel_id")?),
                last_read_message_id: Some(Id(row.try_get("last_read_message_id")?)),
            })
        })
        .collect()
}

/// The settings the user chose (channels left at the default have no row).
pub async fn notification_settings<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
    now: i64,
) -> sqlx::Result<Vec<ChannelNotificationSettings>> {
    let rows = sqlx::query(
        "SELECT channel_id, level, muted_until FROM channel_notification_settings WHERE user_id = $1 \
         ORDER BY channel_id",
    )
    .bind(user_id.0)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ChannelNotificationSettings {
                channel_id: Id(row.try_get("channel_id")?),
                level: level_from_db(Some(&row.try_get::<String, _>("level")?)),
                muted_until: live_mute(row.try_get("muted_until")?, now),
            })
        })
        .collect()
}

pub async fn groups<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
) -> sqlx::Result<Vec<ExportedGroup>> {
    let rows = sqlx::query(
        "SELECT g.id, g.name FROM group_memberships m JOIN groups g ON g.id = m.group_id \
         WHERE m.user_id = $1 ORDER BY g.name_key",
    )
    .bind(user_id.0)
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| Ok(ExportedGroup { group_id: Id(row.try_get("id")?), name: row.try_get("name")? }))
        .collect()
}

/// Up to `limit` of the user's messages with ids above `after`, oldest first.
pub async fn messages_page<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
    after: Option<Id>,
    limit: u32,
) -> sqlx::Result<Vec<ExportedMessage>> {
    let rows = sqlx::query(
        "SELECT id, channel_id, body, created_at, edited_at FROM messages WHERE author_id = $1 AND id > $2 \
         ORDER BY id LIMIT $3",
    )
    .bind(user_id.0)
    .bind(after.map_or(i64::MIN, |id| id.0))
    .bind(i64::from(limit))
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ExportedMessage {
                id: Id(row.try_get("id")?),
                channel_id: Id(row.try_get("channel_id")?),
                body: row.try_get("body")?,
                created_at: row.try_get("created_at")?,
                edited_at: row.try_get("edited_at")?,
            })
        })
        .collect()
}
