//! What a reply shows of the message it answers: author, first line, or that it is gone.

use cromulent_protocol::limits::REPLY_EXCERPT_MAX_CHARS;
use cromulent_protocol::message::{Message, MessageReference};
use cromulent_protocol::Id;
use sqlx::Row;

use crate::store::Conn;

/// Characters of the original's body read for an excerpt: enough for any first line
/// that is cut to [`REPLY_EXCERPT_MAX_CHARS`], without reading 4,000-character bodies.
const EXCERPT_SOURCE_CHARS: usize = 4 * REPLY_EXCERPT_MAX_CHARS;

/// The first line of a body, at most [`REPLY_EXCERPT_MAX_CHARS`] characters; a cut
/// line ends in `…` (within the bound).
pub fn excerpt(body: &str) -> String {
    let line = body.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    if line.chars().count() <= REPLY_EXCERPT_MAX_CHARS {
        return line.to_owned();
    }
    let mut cut: String = line.chars().take(REPLY_EXCERPT_MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Fills in `reply_to` for every reply among `messages`, in one query.
pub async fn attach_references(conn: &mut Conn, messages: &mut [Message]) -> sqlx::Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let placeholders: Vec<String> = (1..=messages.len()).map(|i| format!("${i}")).collect();
    // The length is written into the query: PostgreSQL has no SUBSTR taking a BIGINT.
    let sql = format!(
        "SELECT r.id, r.reply_to_id, r.reply_to_author_id, o.id AS original_id, \
         SUBSTR(o.body, 1, {EXCERPT_SOURCE_CHARS}) AS excerpt_source, COALESCE(NULLIF(u.display_name, ''), u.username, '') AS author_name \
         FROM messages r LEFT JOIN messages o ON o.id = r.reply_to_id \
         LEFT JOIN users u ON u.id = r.reply_to_author_id \
         WHERE r.reply_to_id IS NOT NULL AND r.id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for m in messages.iter() {
        query = query.bind(m.id.0);
    }
    for row in query.fetch_all(&mut *conn).await? {
        let id = Id(row.try_get("id")?);
        let original: Option<i64> = row.try_get("original_id")?;
        let source: Option<String> = row.try_get("excerpt_source")?;
        let reference = MessageReference {
            id: Id(row.try_get("reply_to_id")?),
            author_id: Id(row.try_get("reply_to_author_id")?),
            author_name: row.try_get("author_name")?,
            excerpt: source.as_deref().map(excerpt).unwrap_or_default(),
            deleted: original.is_none(),
        };
        if let Some(m) = messages.iter_mut().find(|m| m.id == id) {
            m.reply_to = Some(reference);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_the_first_nonblank_line_and_bounded() {
        assert_eq!(excerpt("\n  first line  \nsecond"), "first line", "only the first line, trimmed");
        let long = "é".repeat(REPLY_EXCERPT_MAX_CHARS + 5);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), REPLY_EXCERPT_MAX_CHARS, "bounded in characters, not bytes");
        assert!(cut.ends_with('…'), "a cut line says so");
        assert_eq!(excerpt(&"a".repeat(REPLY_EXCERPT_MAX_CHARS)), "a".repeat(REPLY_EXCERPT_MAX_CHARS));
    }
}
