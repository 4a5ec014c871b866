//! Messages and the mentions stored with them; history pages are in [`page`], what a
//! reply shows of its original in [`reference`].
//!
//! A channel's message ids grow in commit order: a writer first locks the channel row
//! ([`lock_channel`]) and only then draws an id above the channel's last one, so a
//! reader walking forward with `after` never misses a message that commits later with
//! a smaller id.

mod page;
mod reference;

pub use page::{page, Cursor};
pub use reference::attach_references;

use cromulent_protocol::message::{Mention, Message};
use cromulent_protocol::Id;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::Conn;
use crate::mention::Parsed;

const COLUMNS: &str = "id, channel_id, author_id, body, nonce, created_at, edited_at";

/// A message row; its mentions are attached separately.
pub(super) fn from_row(row: &AnyRow) -> sqlx::Result<Message> {
    Ok(Message {
        id: Id(row.try_get("id")?),
        channel_id: Id(row.try_get("channel_id")?),
        author_id: Id(row.try_get("author_id")?),
        body: row.try_get("body")?,
        nonce: row.try_get("nonce")?,
        mentions: Vec::new(),
        created_at: row.try_get("created_at")?,
        edited_at: row.try_get("edited_at")?,
        reply_to: None,
        reactions: Vec::new(),
        attachments: Vec::new(),
    })
}

pub struct NewMessage<'a> {
    pub id: Id,
    pub channel_id: Id,
    pub author_id: Id,
    pub body: &'a str,
    pub nonce: Option<&'a str>,
    pub created_at: i64,
    /// The message answered and its author.
    pub reply_to: Option<(Id, Id)>,
}

/// Also records what search filters on (`has_link`); the full-text index follows the
/// row by itself (migration 0011). `has_attachment` stays 0 here: the code that attaches
/// files to a message sets it in the same transaction.
///
/// Fails with a unique violation when the author already used the nonce
/// (`messages_author_nonce_key`) or, across nodes, the id is taken.
pub async fn insert<'e>(ex: impl Executor<'e, Database = Any>, m: &NewMessage<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO messages (id, channel_id, author_id, body, nonce, created_at, reply_to_id, reply_to_author_id, \
         has_link) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(m.id.0)
    .bind(m.channel_id.0)
    .bind(m.author_id.0)
    .bind(m.body)
    .bind(m.nonce)
    .bind(m.created_at)
    .bind(m.reply_to.map(|(id, _)| id.0))
    .bind(m.reply_to.map(|(_, author)| author.0))
    .bind(super::flag_value(crate::search::has_link(m.body)))
    .execute(ex)
    .await?;
    Ok(())
}

/// Takes the channel's row lock for the rest of the transaction (PostgreSQL; SQLite's
/// write transaction already holds the database lock) and returns the channel's last
/// message id, as committed by the writer before. `None` when the channel is gone.
pub async fn lock_channel(conn: &mut Conn, channel_id: Id, now: i64) -> sqlx::Result<Option<Option<Id>>> {
    let done = sqlx::query("UPDATE channels SET last_message_at = $1 WHERE id = $2")
        .bind(now)
        .bind(channel_id.0)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    let last: Option<i64> = sqlx::query_scalar("SELECT last_message_id FROM channels WHERE id = $1")
        .bind(channel_id.0)
        .fetch_one(&mut *conn)
        .await?;
    Ok(Some(last.map(Id)))
}

/// Records the channel's newest message. It is a high-water mark: deleting that message
/// leaves it in place, so later ids still come out above every id ever handed out.
pub async fn set_last_message<'e>(
    ex: impl Executor<'e, Database = Any>,
    channel_id: Id,
    message_id: Id,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE channels SET last_message_id = $1 \
         WHERE id = $2 AND (last_message_id IS NULL OR last_message_id < $1)",
    )
    .bind(message_id.0)
    .bind(channel_id.0)
    .execute(ex)
    .await?;
    Ok(())
}

/// The message with its mentions (see [`hydrate`] for the rest).
pub async fn find(conn: &mut Conn, id: Id) -> sqlx::Result<Option<Message>> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE id = $1");
    let row = sqlx::query(&sql).bind(id.0).fetch_optional(&mut *conn).await?;
    with_mentions(conn, row).await
}

/// These messages (those that still exist), with their mentions, in id order.
pub async fn find_many(conn: &mut Conn, ids: &[Id]) -> sqlx::Result<Vec<Message>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE id IN ({}) ORDER BY id", placeholders.join(", "));
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(id.0);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let mut messages = rows.iter().map(from_row).collect::<sqlx::Result<Vec<_>>>()?;
    attach_mentions(conn, &mut messages).await?;
    Ok(messages)
}

/// The message an author already sent with this nonce, if any.
pub async fn find_by_nonce(conn: &mut Conn, author_id: Id, nonce: &str) -> sqlx::Result<Option<Message>> {
    let sql = format!("SELECT {COLUMNS} FROM messages WHERE author_id = $1 AND nonce = $2");
    let row = sqlx::query(&sql).bind(author_id.0).bind(nonce).fetch_optional(&mut *conn).await?;
    with_mentions(conn, row).await
}

/// Fills in what a message carries beyond its row and mentions: the reference of a
/// reply, the reactions as `viewer` sees them and the files. A query each for the whole
/// slice.
pub async fn hydrate(conn: &mut Conn, messages: &mut [Message], viewer: Id) -> sqlx::Result<()> {
    attach_references(conn, messages).await?;
    super::reactions::attach(conn, messages, viewer).await?;
    super::attachments::attach(conn, messages).await
}

async fn with_mentions(conn: &mut Conn, row: Option<AnyRow>) -> sqlx::Result<Option<Message>> {
    let Some(row) = row else { return Ok(None) };
    let mut message = [from_row(&row)?];
    attach_mentions(conn, &mut message).await?;
    let [message] = message;
    Ok(Some(message))
}

/// Replaces the body; on PostgreSQL this also locks the row until commit, so two edits
/// of one message apply one after the other.
pub async fn update_body<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: Id,
    body: &str,
    edited_at: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE messages SET body = $1, edited_at = $2, has_link = $4 WHERE id = $3")
        .bind(body)
        .bind(edited_at)
        .bind(id.0)
        .bind(super::flag_value(crate::search::has_link(body)))
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a message as carrying files, for `has=attachment` in search. Whatever attaches
/// files to a message calls this in the transaction that sends it.
pub async fn mark_has_attachment<'e>(ex: impl Executor<'e, Database = Any>, id: Id) -> sqlx::Result<()> {
    sqlx::query("UPDATE messages SET has_attachment = 1 WHERE id = $1").bind(id.0).execute(ex).await?;
    Ok(())
}

/// Locks the message's row until commit (PostgreSQL; SQLite's write transaction holds
/// the database lock already), for changes that must see each other in turn.
pub async fn lock<'e>(ex: impl Executor<'e, Database = Any>, id: Id) -> sqlx::Result<()> {
    sqlx::query("UPDATE messages SET edited_at = edited_at WHERE id = $1").bind(id.0).execute(ex).await?;
    Ok(())
}

/// Deletes the message; its mention rows and notifications go with it (cascade).
pub async fn delete<'e>(ex: impl Executor<'e, Database = Any>, id: Id) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM messages WHERE id = $1").bind(id.0).execute(ex).await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a user's messages written at or after `since` and returns each one's id with
/// its channel scope, for the deletion events.
pub async fn delete_by_author_since(
    conn: &mut Conn,
    author_id: Id,
    since: i64,
) -> sqlx::Result<Vec<(Id, super::notifications::Scope)>> {
    let rows = sqlx::query(
        "SELECT m.id, m.channel_id, c.is_private, CASE WHEN c.dm_key IS NULL THEN 0 ELSE 1 END AS is_dm \
         FROM messages m JOIN channels c ON c.id = m.channel_id \
         WHERE m.author_id = $1 AND m.created_at >= $2",
    )
    .bind(author_id.0)
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM messages WHERE author_id = $1 AND created_at >= $2")
        .bind(author_id.0)
        .bind(since)
        .execute(&mut *conn)
        .await?;
    rows.iter()
        .map(|row| {
            let scope = super::notifications::Scope {
                channel_id: Id(row.try_get("channel_id")?),
                is_private: super::flag(row, "is_private")?,
                is_dm: super::flag(row, "is_dm")?,
            };
            Ok((Id(row.try_get("id")?), scope))
        })
        .collect()
}

fn mention_to_db(m: &Mention) -> (&'static str, i64) {
    match m {
        Mention::User { user_id } => ("user", user_id.0),
        Mention::Group { group_id } => ("group", group_id.0),
        Mention::Here => ("here", 0),
        Mention::Everyone => ("everyone", 0),
    }
}

fn mention_from_db(kind: &str, target: i64) -> Option<Mention> {
    match kind {
        "user" => Some(Mention::User { user_id: Id(target) }),
        "group" => Some(Mention::Group { group_id: Id(target) }),
        "here" => Some(Mention::Here),
        "everyone" => Some(Mention::Everyone),
        _ => None,
    }
}

/// Names to users first and to groups second (both without case); names that match
/// neither are plain text. Sorted as [`attach_mentions`] reads them back, so a freshly
/// sent message and the same message fetched later compare equal.
pub async fn resolve_mentions(conn: &mut Conn, parsed: &Parsed) -> sqlx::Result<Vec<Mention>> {
    let mut mentions = Vec::new();
    if parsed.everyone {
        mentions.push(Mention::Everyone);
    }
    if parsed.here {
        mentions.push(Mention::Here);
    }
    let users = super::users::ids_by_username_keys(conn, &parsed.names).await?;
    for key in &parsed.names {
        if let Some((_, user_id)) = users.iter().find(|(k, _)| k == key) {
            mentions.push(Mention::User { user_id: *user_id });
            continue;
        }
        let group: Option<i64> = sqlx::query_scalar("SELECT id FROM groups WHERE name_key = $1")
            .bind(super::groups::name_key(key))
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(id) = group {
            mentions.push(Mention::Group { group_id: Id(id) });
        }
    }
    mentions.sort_by_key(mention_to_db);
    mentions.dedup();
    Ok(mentions)
}

/// Makes the stored mentions of a message exactly `mentions`.
pub async fn replace_mentions(conn: &mut Conn, message_id: Id, mentions: &[Mention]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM message_mentions WHERE message_id = $1")
        .bind(message_id.0)
        .execute(&mut *conn)
        .await?;
    for mention in mentions {
        let (kind, target) = mention_to_db(mention);
        sqlx::query("INSERT INTO message_mentions (message_id, kind, target_id) VALUES ($1, $2, $3)")
            .bind(message_id.0)
            .bind(kind)
            .bind(target)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Fills in `mentions` for each message, in one query.
pub(crate) async fn attach_mentions(conn: &mut Conn, messages: &mut [Message]) -> sqlx::Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let placeholders: Vec<String> = (1..=messages.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT message_id, kind, target_id FROM message_mentions WHERE message_id IN ({}) \
         ORDER BY message_id, kind, target_id",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for m in messages.iter() {
        query = query.bind(m.id.0);
    }
    for row in query.fetch_all(&mut *conn).await? {
        let message_id = Id(row.try_get("message_id")?);
        let kind: String = row.try_get("kind")?;
        let Some(mention) = mention_from_db(&kind, row.try_get("target_id")?) else { continue };
        if let Some(m) = messages.iter_mut().find(|m| m.id == message_id) {
            m.mentions.push(mention);
        }
    }
    Ok(())
}
