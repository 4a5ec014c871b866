//! One page of a channel's history, newest first.

use cromulent_protocol::message::Message;
use cromulent_protocol::Id;

use crate::store::Conn;

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// The newest messages.
    Latest,
    /// Messages older than this id.
    Before(Id),
    /// Messages newer than this id.
    After(Id),
    /// Up to half the page older than this id, then this message and newer ones.
    Around(Id),
}

/// Up to `limit` messages of the channel, newest first, with their mentions, reply
/// references and reactions as `viewer` sees them: a fixed number of queries per page.
pub async fn page(
    conn: &mut Conn,
    channel_id: Id,
    cursor: Cursor,
    limit: u32,
    viewer: Id,
) -> sqlx::Result<Vec<Message>> {
    let limit = i64::from(limit);
    let mut messages = match cursor {
        Cursor::Latest => older(conn, channel_id, i64::MAX, limit).await?,
        Cursor::Before(id) => older(conn, channel_id, id.0, limit).await?,
        Cursor::After(id) => {
            let mut newer = newer(conn, channel_id, id.0, limit).await?;
            newer.reverse();
            newer
        }
        Cursor::Around(id) => {
            let older_count = limit / 2;
            // "Newer than id - 1" starts with the message itself when it exists.
            let mut page = newer(conn, channel_id, id.0.saturating_sub(1), limit - older_count).await?;
            page.reverse();
            page.extend(older(conn, channel_id, id.0, older_count).await?);
            page
        }
    };
    super::attach_mentions(conn, &mut messages).await?;
    super::hydrate(conn, &mut messages, viewer).await?;
    Ok(messages)
}

/// Messages below `below`, newest first.
async fn older(conn: &mut Conn, channel_id: Id, below: i64, limit: i64) -> sqlx::Result<Vec<Message>> {
    let sql = format!(
        "SELECT {} FROM messages WHERE channel_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
        super::COLUMNS
    );
    fetch(conn, &sql, channel_id, below, limit).await
}

/// Messages above `above`, oldest first (the ones right after the cursor).
async fn newer(conn: &mut Conn, channel_id: Id, above: i64, limit: i64) -> sqlx::Result<Vec<Message>> {
    let sql = format!(
        "SELECT {} FROM messages WHERE channel_id = $1 AND id > $2 ORDER BY id ASC LIMIT $3",
        super::COLUMNS
    );
    fetch(conn, &sql, channel_id, above, limit).await
}

async fn fetch(
    conn: &mut Conn,
    sql: &str,
    channel_id: Id,
    bound: i64,
    limit: i64,
) -> sqlx::Result<Vec<Message>> {
    if limit <= 0 {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(sql).bind(channel_id.0).bind(bound).bind(limit).fetch_all(&mut *conn).await?;
    rows.iter().map(super::from_row).collect()
}
