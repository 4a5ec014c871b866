//! The audit log: one row per moderation action or admin change, written in the
//! transaction of the change it records, so neither exists without the other.

use cromulent_protocol::moderation::{AuditAction, AuditEntry};
use cromulent_protocol::Id;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

const COLUMNS: &str = "id, actor_id, action, target_user_id, target_channel_id, reason, details, created_at";

/// One entry to record; `details` is what changed, as the wire shows it.
pub struct NewEntry<'a> {
    pub id: Id,
    pub actor_id: Id,
    pub action: AuditAction,
    pub target_user_id: Option<Id>,
    pub target_channel_id: Option<Id>,
    pub reason: Option<&'a str>,
    pub details: serde_json::Value,
    pub created_at: i64,
}

/// The action's wire name is its stored name, so the two cannot drift apart.
fn action_to_db(action: AuditAction) -> String {
    match serde_json::to_value(action) {
        Ok(serde_json::Value::String(name)) => name,
        _ => unreachable!("an audit action serializes to its snake_case name"),
    }
}

fn from_row(row: &AnyRow) -> sqlx::Result<AuditEntry> {
    let decode = |column: &str, e: serde_json::Error| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: Box::new(e),
    };
    let action: String = row.try_get("action")?;
    let details: String = row.try_get("details")?;
    Ok(AuditEntry {
        id: Id(row.try_get("id")?),
        actor_id: Id(row.try_get("actor_id")?),
        action: serde_json::from_value(serde_json::Value::String(action)).map_err(|e| decode("action", e))?,
        target_user_id: row.try_get::<Option<i64>, _>("target_user_id")?.map(Id),
        target_channel_id: row.try_get::<Option<i64>, _>("target_channel_id")?.map(Id),
        reason: row.try_get("reason")?,
        details: serde_json::from_str(&details).map_err(|e| decode("details", e))?,
        created_at: row.try_get("created_at")?,
    })
}

pub async fn record<'e>(ex: impl Executor<'e, Database = Any>, entry: NewEntry<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, actor_id, action, target_user_id, target_channel_id, reason, details, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(entry.id.0)
    .bind(entry.actor_id.0)
    .bind(action_to_db(entry.action))
    .bind(entry.target_user_id.map(|id| id.0))
    .bind(entry.target_channel_id.map(|id| id.0))
    .bind(entry.reason)
    .bind(entry.details.to_string())
    .bind(entry.created_at)
    .execute(ex)
    .await?;
    Ok(())
}

/// Up to `limit` entries older than `before` (or the newest), newest first.
pub async fn page<'e>(
    ex: impl Executor<'e, Database = Any>,
    before: Option<Id>,
    limit: u32,
) -> sqlx::Result<Vec<AuditEntry>> {
    let sql = format!("SELECT {COLUMNS} FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2");
    let rows = sqlx::query(&sql)
        .bind(before.map_or(i64::MAX, |id| id.0))
        .bind(i64::from(limit))
        .fetch_all(ex)
        .await?;
    rows.iter().map(from_row).collect()
}
