//! Direct messages: private channels marked by the sorted ids of their participants.

use cromulent_protocol::channel::{Channel, ChannelKind, WritePermission};
use cromulent_protocol::Id;
use sqlx::{Any, Executor, Row};

use super::Conn;

/// The key that makes one set of people one conversation, whatever order they are
/// named in: their ids, sorted, joined by ','.
pub fn key_of(participants: &[Id]) -> String {
    let mut ids: Vec<i64> = participants.iter().map(|id| id.0).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// The conversation of exactly these participants, if it exists.
pub async fn find_by_key<'e>(ex: impl Executor<'e, Database = Any>, key: &str) -> sqlx::Result<Option<Id>> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM channels WHERE dm_key = $1").bind(key).fetch_optional(ex).await?;
    Ok(id.map(Id))
}

/// A new direct message's channel: private, named after its id (a name no channel
/// created by an admin can have: `@` is not allowed there), kind `dm`.
pub fn new_channel(id: Id, now: i64) -> Channel {
    Channel {
        id,
        name: format!("@dm-{id}"),
        kind: ChannelKind::Dm,
        topic: None,
        is_default: false,
        is_private: true,
        write_permission: WritePermission::Everyone,
        voice_mode: None,
        created_at: now,
    }
}

/// Stores the conversation and its participants. A racing open of the same set makes
/// this fail on `channels_dm_key` (a unique violation): the caller reads the winner's.
pub async fn insert(conn: &mut Conn, channel: &Channel, participants: &[Id]) -> sqlx::Result<()> {
    super::channels::insert(&mut *conn, channel).await?;
    sqlx::query("UPDATE channels SET dm_key = $1 WHERE id = $2")
        .bind(key_of(participants))
        .bind(channel.id.0)
        .execute(&mut *conn)
        .await?;
    for user_id in participants {
        super::memberships::add(&mut *conn, channel.id, *user_id, channel.created_at).await?;
    }
    Ok(())
}

/// Participants of a direct message, in id order.
pub async fn participants<'e>(
    ex: impl Executor<'e, Database = Any>,
    channel_id: Id,
) -> sqlx::Result<Vec<Id>> {
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT user_id FROM channel_memberships WHERE channel_id = $1 ORDER BY user_id")
            .bind(channel_id.0)
            .fetch_all(ex)
            .await?;
    Ok(ids.into_iter().map(Id).collect())
}

/// Every direct message `user_id` takes part in, with all its participants in id order;
/// newest activity first.
pub async fn list_for_user<'e>(
    ex: impl Executor<'e, Database = Any>,
    user_id: Id,
) -> sqlx::Result<Vec<(Id, Vec<Id>)>> {
    let rows = sqlx::query(
        "SELECT c.id, o.user_id FROM channels c \
         JOIN channel_memberships me ON me.channel_id = c.id AND me.user_id = $1 \
         JOIN channel_memberships o ON o.channel_id = c.id \
         WHERE c.dm_key IS NOT NULL \
         ORDER BY COALESCE(c.last_message_id, c.id) DESC, c.id, o.user_id",
    )
    .bind(user_id.0)
    .fetch_all(ex)
    .await?;
    let mut out: Vec<(Id, Vec<Id>)> = Vec::new();
    for row in &rows {
        let channel_id = Id(row.try_get("id")?);
        let member = Id(row.try_get("user_id")?);
        match out.last_mut() {
            Some((id, members)) if *id == channel_id => members.push(member),
            _ => out.push((channel_id, vec![member])),
        }
    }
    Ok(out)
}
