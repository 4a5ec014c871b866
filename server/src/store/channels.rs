//! Text and voice channels.

use cromulent_protocol::channel::{Channel, ChannelKind, NotificationLevel, WritePermission};
use cromulent_protocol::voice::RoomMode;
use cromulent_protocol::Id;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

/// A direct message reads as kind `dm` (see [`kind_to_db`]).
const COLUMNS: &str = "c.id, c.name, CASE WHEN c.dm_key IS NULL THEN c.kind ELSE 'dm' END AS kind, \
                       c.topic, c.is_default, c.is_private, c.write_permission, c.voice_mode, \
                       c.last_message_id, c.created_at";

#[derive(Debug, Clone)]
pub struct ChannelRow {
    pub channel: Channel,
    pub last_message_id: Option<Id>,
}

impl ChannelRow {
    pub(crate) fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self {
            channel: Channel {
                id: Id(row.try_get("id")?),
                name: row.try_get("name")?,
                kind: match row.try_get::<String, _>("kind")?.as_str() {
                    "voice" => ChannelKind::Voice,
                    "dm" => ChannelKind::Dm,
                    _ => ChannelKind::Text,
                },
                topic: row.try_get("topic")?,
                is_default: super::flag(row, "is_default")?,
                is_private: super::flag(row, "is_private")?,
                write_permission: if row.try_get::<String, _>("write_permission")? == "admin_only" {
                    WritePermission::AdminOnly
                } else {
                    WritePermission::Everyone
                },
                voice_mode: row
                    .try_get::<Option<String>, _>("voice_mode")?
                    .as_deref()
                    .map(voice_mode_from_db),
                created_at: row.try_get("created_at")?,
            },
            last_message_id: row.try_get::<Option<i64>, _>("last_message_id")?.map(Id),
        })
    }
}

/// The stored kind. A direct message is stored as `text` and marked by its `dm_key`
/// (migration 0008 says why); reads turn it back into `dm`.
pub fn kind_to_db(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Text | ChannelKind::Dm => "text",
        ChannelKind::Voice => "voice",
    }
}

pub fn write_permission_to_db(p: WritePermission) -> &'static str {
    match p {
        WritePermission::Everyone => "everyone",
        WritePermission::AdminOnly => "admin_only",
    }
}

pub fn voice_mode_to_db(mode: RoomMode) -> &'static str {
    match mode {
        RoomMode::Mesh => "mesh",
        RoomMode::Sfu => "sfu",
    }
}

fn voice_mode_from_db(value: &str) -> RoomMode {
    if value == "sfu" {
        RoomMode::Sfu
    } else {
        RoomMode::Mesh
    }
}

pub async fn insert<'e>(ex: impl Executor<'e, Database = Any>, c: &Channel) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO channels (id, name, kind, topic, is_default, is_private, write_permission, voice_mode, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(c.id.0)
    .bind(&c.name)
    .bind(kind_to_db(c.kind))
    .bind(&c.topic)
    .bind(super::flag_value(c.is_default))
    .bind(super::flag_value(c.is_private))
    .bind(write_permission_to_db(c.write_permission))
    .bind(c.voice_mode.map(voice_mode_to_db))
    .bind(c.created_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// Writes every mutable field of `c` back.
pub async fn update<'e>(ex: impl Executor<'e, Database = Any>, c: &Channel) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE channels SET name = $1, topic = $2, is_default = $3, is_private = $4, \
         write_permission = $5, voice_mode = $6 WHERE id = $7",
    )
    .bind(&c.name)
    .bind(&c.topic)
    .bind(super::flag_value(c.is_default))
    .bind(super::flag_value(c.is_private))
    .bind(write_permission_to_db(c.write_permission))
    .bind(c.voice_mode.map(voice_mode_to_db))
    .bind(c.id.0)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn delete<'e>(ex: impl Executor<'e, Database = Any>, id: Id) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM channels WHERE id = $1").bind(id.0).execute(ex).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn find<'e>(ex: impl Executor<'e, Database = Any>, id: Id) -> sqlx::Result<Option<ChannelRow>> {
    let sql = format!("SELECT {COLUMNS} FROM channels c WHERE c.id = $1");
    let row = sqlx::query(&sql).bind(id.0).fetch_optional(ex).await?;
    row.as_ref().map(ChannelRow::from_row).transpose()
}

pub async fn name_taken<'e>(
    ex: impl Executor<'e, Database = Any>,
    name: &str,
    except: Option<Id>,
) -> sqlx::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM channels WHERE name = $1 AND id <> $2")
        .bind(name)
        .bind(except.map_or(0, |id| id.0))
        .fetch_optional(ex)
        .await?;
    Ok(found.is_some())
}

pub async fn count<'e>(ex: impl Executor<'e, Database = Any>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM channels").fetch_one(ex).await
}

pub async fn default_ids<'e>(ex: impl Executor<'e, Database = Any>) -> sqlx::Result<Vec<Id>> {
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM channels WHERE is_default = 1").fetch_all(ex).await?;
    Ok(ids.into_iter().map(Id).collect())
}

/// One row of the caller's channel list: the channel, their membership and counters.
#[derive(Debug, Clone)]
pub struct VisibleChannel {
    pub row: ChannelRow,
    pub is_member: bool,
    pub last_read_message_id: Option<Id>,
    pub unread_count: i64,
    pub mention_count: i64,
    pub notification_level: NotificationLevel,
    /// As stored: it may have run out (see [`VisibleChannel::into_entry`]).
    pub muted_until: Option<i64>,
}

/// Whether the caller may see channel `c` ([`crate::access::may_see`] in SQL): `m` is
/// their membership row (left joined), `$1` the caller, `$2` whether they are an admin.
/// Shared with search, which must filter by the same rule inside its query.
pub(super) const VISIBLE: &str =
    "(c.is_private = 0 OR m.user_id IS NOT NULL OR ($2 = 1 AND c.dm_key IS NULL))";

/// The caller's view of channels: membership, read marker and counters. `$1` is the
/// user, `$2` whether they are an admin (admins see every private channel but no one
/// else's direct messages); `filter` narrows the rows further. A direct message
/// notifies of every message unless its participant chose otherwise.
fn visible_sql(filter: &str) -> String {
    format!(
        "SELECT {COLUMNS},
            CASE WHEN m.user_id IS NULL THEN 0 ELSE 1 END AS is_member,
            r.last_read_message_id,
            (SELECT COUNT(*) FROM messages msg
              WHERE msg.channel_id = c.id AND msg.author_id <> $1
                AND msg.id > COALESCE(r.last_read_message_id, 0)) AS unread_count,
            (SELECT COUNT(*) FROM notifications n
              WHERE n.user_id = $1 AND n.channel_id = c.id
                AND n.message_id > COALESCE(r.last_read_message_id, 0)) AS mention_count,
            COALESCE(ns.level, CASE WHEN c.dm_key IS NULL THEN NULL ELSE 'all' END) AS notification_level,
            ns.muted_until
         FROM channels c
         LEFT JOIN channel_memberships m ON m.channel_id = c.id AND m.user_id = $1
         LEFT JOIN channel_reads r ON r.channel_id = c.id AND r.user_id = $1
         LEFT JOIN channel_notification_settings ns ON ns.channel_id = c.id AND ns.user_id = $1
         WHERE {VISIBLE} {filter}
         ORDER BY c.kind DESC, c.name"
    )
}

impl VisibleChannel {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(VisibleChannel {
            row: ChannelRow::from_row(row)?,
            is_member: super::flag(row, "is_member")?,
            last_read_message_id: row.try_get::<Option<i64>, _>("last_read_message_id")?.map(Id),
            unread_count: row.try_get("unread_count")?,
            mention_count: row.try_get("mention_count")?,
            notification_level: super::notification_settings::level_from_db(
                row.try_get::<Option<String>, _>("notification_level")?.as_deref(),
            ),
            muted_until: row.try_get("muted_until")?,
        })
    }
}

impl VisibleChannel {
    /// The caller's view of the channel, as listed on the wire.
    pub fn into_entry(self) -> cromulent_protocol::channel::ChannelListEntry {
        cromulent_protocol::channel::ChannelListEntry {
            channel: self.row.channel,
            is_member: self.is_member,
            last_message_id: self.row.last_message_id,
            last_read_message_id: self.last_read_message_id,
            unread_count: self.unread_count,
            mention_count: self.mention_count,
            notification_level: self.notification_level,
            muted_until: super::notification_settings::live_mute(self.muted_until, crate::ids::now_ms()),
        }
    }
}

/// Every channel `user_id` may see, with unread and mention counts, in one query.
/// Public channels are visible to all; private ones to their members, and to admins;
/// direct messages to their participants only.
pub async fn list_visible<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
    is_admin: bool,
) -> sqlx::Result<Vec<VisibleChannel>> {
    let sql = visible_sql("");
    let rows = sqlx::query(&sql).bind(user_id.0).bind(super::flag_value(is_admin)).fetch_all(ex).await?;
    rows.iter().map(VisibleChannel::from_row).collect()
}

/// One row of [`list_visible`]: `None` when the channel does not exist or is hidden
/// from the user.
pub async fn find_visible<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
    is_admin: bool,
    channel_id: Id,
) -> sqlx::Result<Option<VisibleChannel>> {
    let sql = visible_sql("AND c.id = $3");
    let row = sqlx::query(&sql)
        .bind(user_id.0)
        .bind(super::flag_value(is_admin))
        .bind(channel_id.0)
        .fetch_optional(ex)
        .await?;
    row.as_ref().map(VisibleChannel::from_row).transpose()
}
