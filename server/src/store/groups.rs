//! Groups of users: a mentionable name, a colour, and members.

use cromulent_protocol::group::Group;
use cromulent_protocol::Id;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::Conn;

/// Group names compare without case, like usernames, because both are `@mentioned`.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// A group's own columns; members are read separately.
#[derive(Debug, Clone)]
struct GroupRow {
    id: Id,
    name: String,
    colour: String,
}

impl GroupRow {
    fn from_row(row: &AnyRow) -> sqlx::Result<Self> {
        Ok(Self { id: Id(row.try_get("id")?), name: row.try_get("name")?, colour: row.try_get("colour")? })
    }

    fn with_members(self, member_ids: Vec<Id>) -> Group {
        Group { id: self.id, name: self.name, colour: self.colour, member_ids }
    }
}

pub struct NewGroup<'a> {
    pub id: Id,
    pub name: &'a str,
    pub colour: &'a str,
    pub created_at: i64,
}

pub async fn insert<'e>(ex: impl Executor<'e, Database = Any>, group: &NewGroup<'_>) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO groups (id, name, name_key, colour, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(group.id.0)
        .bind(group.name)
        .bind(name_key(group.name))
        .bind(group.colour)
        .bind(group.created_at)
        .execute(ex)
        .await?;
    Ok(())
}

/// Renames and recolours; `name_key` follows the name.
pub async fn update<'e>(
    ex: impl Executor<'e, Database = Any>,
    id: Id,
    name: &str,
    colour: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE groups SET name = $1, name_key = $2, colour = $3 WHERE id = $4")
        .bind(name)
        .bind(name_key(name))
        .bind(colour)
        .bind(id.0)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Members go with the group (`ON DELETE CASCADE`).
pub async fn delete<'e>(ex: impl Executor<'e, Database = Any>, id: Id) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM groups WHERE id = $1").bind(id.0).execute(ex).await?;
    Ok(done.rows_affected() == 1)
}

/// Whether another group (not `except`) already has this name, ignoring case.
pub async fn name_taken<'e>(
    ex: impl Executor<'e, Database = Any>,
    name: &str,
    except: Option<Id>,
) -> sqlx::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM groups WHERE name_key = $1 AND id <> $2")
        .bind(name_key(name))
        .bind(except.map_or(0, |id| id.0))
        .fetch_optional(ex)
        .await?;
    Ok(found.is_some())
}

async fn member_ids(conn: &mut Conn, group_id: Id) -> sqlx::Result<Vec<Id>> {
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT user_id FROM group_memberships WHERE group_id = $1 ORDER BY user_id")
            .bind(group_id.0)
            .fetch_all(&mut *conn)
            .await?;
    Ok(ids.into_iter().map(Id).collect())
}

pub async fn find(conn: &mut Conn, id: Id) -> sqlx::Result<Option<Group>> {
    let row = sqlx::query("SELECT id, name, colour FROM groups WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row.as_ref().map(GroupRow::from_row).transpose()? else { return Ok(None) };
    let members = member_ids(conn, row.id).await?;
    Ok(Some(row.with_members(members)))
}

/// Every group with its members, by name; two queries whatever the number of groups.
pub async fn list(conn: &mut Conn) -> sqlx::Result<Vec<Group>> {
    let rows =
        sqlx::query("SELECT id, name, colour FROM groups ORDER BY name_key").fetch_all(&mut *conn).await?;
    let pairs = sqlx::query("SELECT group_id, user_id FROM group_memberships ORDER BY group_id, user_id")
        .fetch_all(&mut *conn)
        .await?;
    let mut members: std::collections::HashMap<i64, Vec<Id>> = std::collections::HashMap::new();
    for pair in &pairs {
        members.entry(pair.try_get("group_id")?).or_default().push(Id(pair.try_get("user_id")?));
    }
    rows.iter()
        .map(|row| {
            let row = GroupRow::from_row(row)?;
            let ids = members.remove(&row.id.0).unwrap_or_default();
            Ok(row.with_members(ids))
        })
        .collect()
}

/// Groups whose names (lower-cased) are in `keys`, with members, for resolving
/// `@name` mentions that matched no user.
pub async fn find_by_name_keys(conn: &mut Conn, keys: &[String]) -> sqlx::Result<Vec<Group>> {
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        let row = sqlx::query("SELECT id, name, colour FROM groups WHERE name_key = $1")
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
        if let Some(row) = row.as_ref().map(GroupRow::from_row).transpose()? {
            let members = member_ids(conn, row.id).await?;
            found.push(row.with_members(members));
        }
    }
    Ok(found)
}

/// Replaces the member list. Callers check that the users exist first.
pub async fn set_members(conn: &mut Conn, group_id: Id, user_ids: &[Id]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM group_memberships WHERE group_id = $1")
        .bind(group_id.0)
        .execute(&mut *conn)
        .await?;
    for user_id in user_ids {
        sqlx::query(
            "INSERT INTO group_memberships (group_id, user_id) VALUES ($1, $2) \
             ON CONFLICT (group_id, user_id) DO NOTHING",
        )
        .bind(group_id.0)
        .bind(user_id.0)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Those of `user_ids` that name no account.
pub async fn unknown_users(conn: &mut Conn, user_ids: &[Id]) -> sqlx::Result<Vec<Id>> {
    let mut unknown = Vec::new();
    for id in user_ids {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut *conn)
            .await?;
        if found.is_none() {
            unknown.push(*id);
        }
    }
    Ok(unknown)
}
