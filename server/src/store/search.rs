//! The search query. Rights are part of it: the same visibility rule as the channel
//! list ([`super::channels::VISIBLE`]) filters the matches inside the database, so no
//! page can hold, and no count or timing can hint at, a message the caller may not read.

use cromulent_protocol::message::Message;
use cromulent_protocol::search::SearchHas;
use cromulent_protocol::{Id, Timestamp};
use sqlx::Row;

use super::{Backend, Conn};
use crate::search::Terms;

/// What to look for, and for whom.
pub struct Search<'a> {
    pub viewer: Id,
    pub viewer_is_admin: bool,
    pub terms: &'a Terms,
    pub channel_id: Option<Id>,
    pub author_id: Option<Id>,
    pub has: Option<SearchHas>,
    pub before: Option<Timestamp>,
    pub after: Option<Timestamp>,
    pub limit: u32,
}

/// The best `limit` matches, best first, each with its score (higher is better), with
/// mentions attached (the caller hydrates the rest).
pub async fn search(conn: &mut Conn, backend: Backend, s: &Search<'_>) -> sqlx::Result<Vec<(Message, f64)>> {
    let columns = "msg.id, msg.channel_id, msg.author_id, msg.body, msg.nonce, msg.created_at, msg.edited_at";
    let (from, score, matches, query) = match backend {
        Backend::Sqlite => (
            // CROSS JOIN keeps the index as the outer loop: matches first, then rights.
            "messages_fts CROSS JOIN messages msg ON msg.id = messages_fts.rowid",
            // bm25 is lower for better matches.
            "-bm25(messages_fts)",
            "messages_fts MATCH $3",
            s.terms.fts5(),
        ),
        Backend::Postgres => (
            "messages msg",
            "CAST(ts_rank(msg.search_vector, to_tsquery('simple', $3)) AS DOUBLE PRECISION)",
            "msg.search_vector @@ to_tsquery('simple', $3)",
            s.terms.tsquery(),
        ),
    };
    // `$1` viewer, `$2` admin (as VISIBLE needs), `$3` the terms; filters follow.
    let mut filters = String::new();
    let mut binds: Vec<i64> = Vec::new();
    let mut filter = |sql: &str, value: i64| {
        binds.push(value);
        filters.push_str(&format!(" AND {sql} ${}", binds.len() + 3));
    };
    if let Some(channel_id) = s.channel_id {
        filter("msg.channel_id =", channel_id.0);
    }
    if let Some(author_id) = s.author_id {
        filter("msg.author_id =", author_id.0);
    }
    if let Some(before) = s.before {
        filter("msg.created_at <", before);
    }
    if let Some(after) = s.after {
        filter("msg.created_at >", after);
    }
    let limit_param = 3 + binds.len() + 1;
    let has = match s.has {
        None => "",
        Some(SearchHas::Link) => " AND msg.has_link = 1",
        Some(SearchHas::Attachment) => " AND msg.has_attachment = 1",
    };
    let sql = format!(
        "SELECT {columns}, {score} AS score
         FROM {from}
         JOIN channels c ON c.id = msg.channel_id
         LEFT JOIN channel_memberships m ON m.channel_id = c.id AND m.user_id = $1
         WHERE {matches} AND {visible}{filters}{has}
         ORDER BY score DESC, msg.id DESC
         LIMIT ${limit_param}",
        visible = super::channels::VISIBLE,
    );
    let mut q = sqlx::query(&sql).bind(s.viewer.0).bind(super::flag_value(s.viewer_is_admin)).bind(query);
    for value in binds {
        q = q.bind(value);
    }
    let rows = q.bind(i64::from(s.limit)).fetch_all(&mut *conn).await?;
    let mut messages = rows.iter().map(super::messages::from_row).collect::<sqlx::Result<Vec<_>>>()?;
    let scores = rows.iter().map(|row| row.try_get::<f64, _>("score")).collect::<sqlx::Result<Vec<_>>>()?;
    super::messages::attach_mentions(conn, &mut messages).await?;
    Ok(messages.into_iter().zip(scores).collect())
}
