//! `/api/groups`: named, coloured sets of users that `@name` mentions reach. Everyone
//! reads them; admins write them.
//!
//! A mention resolves a name to a user first and to a group only when no user has it,
//! so a group may not take a username (nor `here`/`everyone`): it could never be
//! mentioned. Write handlers end holding the changed group (or its id) for the gateway.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use cromulent_protocol::auth::Accepted;
use cromulent_protocol::group::{CreateGroupRequest, Group, UpdateGroupRequest};
use cromulent_protocol::limits::GROUP_NAME_MAX_CHARS;
use cromulent_protocol::moderation::AuditAction;
use cromulent_protocol::{ApiError, ErrorCode, Id};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit_log::entry;
use super::error::{HttpError, HttpResult};
use super::extract::{Json, Path};
use crate::announce::{self, Change};
use crate::auth::{AdminCaller, Caller};
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store::groups::NewGroup;
use crate::store::Unique;
use crate::store::{self, Conn};
use crate::validate::is_name_char;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups, create_group))
        .routes(routes!(update_group, delete_group))
}

/// Trimmed; the characters of a username, so `@name` reaches it.
fn group_name(raw: &str) -> HttpResult<String> {
    let name = raw.trim();
    if !(1..=GROUP_NAME_MAX_CHARS).contains(&name.chars().count()) {
        return Err(HttpError::invalid(
            "name",
            format!("a group name has 1 to {GROUP_NAME_MAX_CHARS} characters"),
        ));
    }
    // A trailing '.' would be read as the end of the sentence, not of the name.
    if !name.chars().all(is_name_char) || name.ends_with('.') {
        return Err(HttpError::invalid("name", "use letters, digits, '_', '-' and '.' only"));
    }
    if matches!(store::groups::name_key(name).as_str(), "here" | "everyone") {
        return Err(HttpError::invalid("name", "that name is reserved for mentions"));
    }
    Ok(name.to_owned())
}

/// `#rrggbb`, stored lower-case.
fn colour(raw: &str) -> HttpResult<String> {
    let colour = raw.trim().to_ascii_lowercase();
    let hex = colour.strip_prefix('#').unwrap_or_default();
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(HttpError::invalid("colour", "use a colour like #1e90ff"));
    }
    Ok(colour)
}

/// Refuses a name another group or any user already has (case-insensitive).
async fn ensure_name_free(conn: &mut Conn, name: &str, except: Option<Id>) -> HttpResult<()> {
    if store::groups::name_taken(&mut *conn, name, except).await? {
        return Err(HttpError::from(Unique::GroupName));
    }
    if store::users::username_taken(&mut *conn, name).await? {
        return Err(HttpError::conflict(
            ErrorCode::GroupNameTaken,
            "a user has that name, so @name would never reach the group",
        ));
    }
    Ok(())
}

/// Records an admin's change to a group in the audit log, in the change's transaction.
async fn audit(
    conn: &mut Conn,
    state: &AppState,
    admin: &Caller,
    action: AuditAction,
    details: serde_json::Value,
) -> HttpResult<()> {
    let record = store::audit_log::NewEntry { details, ..entry(state, admin, action) };
    store::audit_log::record(&mut *conn, record).await?;
    Ok(())
}

/// The member ids without repeats, in order; `422` if any names no user.
async fn members(conn: &mut Conn, ids: &[Id]) -> HttpResult<Vec<Id>> {
    let ids: Vec<Id> = ids.iter().copied().collect::<BTreeSet<_>>().into_iter().collect();
    let unknown = store::groups::unknown_users(conn, &ids).await?;
    if let Some(first) = unknown.first() {
        return Err(HttpError::invalid("member_ids", format!("no user has id {first}")));
    }
    Ok(ids)
}

/// Every group with its members, by name.
#[utoipa::path(get, path = "/api/groups", tag = "groups", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<Group>), (status = 401, body = ApiError)))]
async fn list_groups(State(state): State<AppState>, _caller: Caller) -> HttpResult<Json<Vec<Group>>> {
    let mut conn = state.db.pool().acquire().await?;
    Ok(Json(store::groups::list(&mut conn).await?))
}

/// Create a group (admins).
#[utoipa::path(post, path = "/api/groups", tag = "groups", security(("bearer" = []), ("cookie" = [])),
    request_body = CreateGroupRequest,
    responses((status = 201, body = Group), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 409, body = ApiError, description = "a group or user has the name"),
        (status = 422, body = ApiError, description = "bad name or colour, or an unknown member id")))]
async fn create_group(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Json(req): Json<CreateGroupRequest>,
) -> HttpResult<(StatusCode, Json<Group>)> {
    let name = group_name(&req.name)?;
    let colour = colour(&req.colour)?;
    let id = state.ids.next();
    let mut tx = state.db.begin_write().await?;
    let member_ids = members(&mut tx, &req.member_ids).await?;
    ensure_name_free(&mut tx, &name, None).await?;
    store::groups::insert(&mut *tx, &NewGroup { id, name: &name, colour: &colour, created_at: now_ms() })
        .await?;
    store::groups::set_members(&mut tx, id, &member_ids).await?;
    let group = Group { id, name, colour, member_ids };
    let details =
        json!({ "group_id": id, "name": &group.name, "colour": &group.colour, "added": &group.member_ids });
    audit(&mut tx, &state, &admin, AuditAction::GroupCreated, details).await?;
    tx.commit().await?;
    announce::publish(&state, Change::GroupUpdated(group.clone())).await;
    Ok((StatusCode::CREATED, Json(group)))
}

/// Change a group (admins): fields present are set; `member_ids` replaces the members.
#[utoipa::path(patch, path = "/api/groups/{id}", tag = "groups", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "group id")), request_body = UpdateGroupRequest,
    responses((status = 200, body = Group), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
async fn update_group(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<Id>,
    Json(req): Json<UpdateGroupRequest>,
) -> HttpResult<Json<Group>> {
    let name = req.name.as_deref().map(group_name).transpose()?;
    let colour = req.colour.as_deref().map(colour).transpose()?;
    let mut tx = state.db.begin_write().await?;
    let mut group = store::groups::find(&mut tx, id).await?.ok_or_else(|| HttpError::not_found("group"))?;
    let before = group.clone();
    if let Some(ids) = &req.member_ids {
        group.member_ids = members(&mut tx, ids).await?;
        store::groups::set_members(&mut tx, id, &group.member_ids).await?;
    }
    if let Some(name) = name {
        ensure_name_free(&mut tx, &name, Some(id)).await?;
        group.name = name;
    }
    group.colour = colour.unwrap_or(group.colour);
    store::groups::update(&mut *tx, id, &group.name, &group.colour).await?;
    let outside = |of: &Group, ids: &[Id]| -> Vec<Id> {
        ids.iter().filter(|i| !of.member_ids.contains(i)).copied().collect()
    };
    let details = json!({
        "group_id": id,
        "name": &group.name,
        "renamed_from": (before.name != group.name).then_some(&before.name),
        "colour": &group.colour,
        "added": outside(&before, &group.member_ids),
        "removed": outside(&group, &before.member_ids),
    });
    audit(&mut tx, &state, &admin, AuditAction::GroupUpdated, details).await?;
    tx.commit().await?;
    announce::publish(&state, Change::GroupUpdated(group.clone())).await;
    Ok(Json(group))
}

/// Delete a group (admins). Past mentions of it stay as they were written.
#[utoipa::path(delete, path = "/api/groups/{id}", tag = "groups", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "group id")),
    responses((status = 200, body = Accepted), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError)))]
async fn delete_group(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<Id>,
) -> HttpResult<Json<Accepted>> {
    let mut tx = state.db.begin_write().await?;
    let group = store::groups::find(&mut tx, id).await?.ok_or_else(|| HttpError::not_found("group"))?;
    store::groups::delete(&mut *tx, id).await?;
    let details = json!({ "group_id": id, "name": &group.name, "removed": &group.member_ids });
    audit(&mut tx, &state, &admin, AuditAction::GroupDeleted, details).await?;
    tx.commit().await?;
    announce::publish(&state, Change::GroupDeleted(id)).await;
    Ok(Json(Accepted { ok: true }))
}

#[cfg(test)]
mod tests {
    use super::{colour, group_name};

    #[test]
    fn group_names_are_mentionable() {
        assert_eq!(group_name(" Dev.Ops_2 ").expect("valid"), "Dev.Ops_2", "case is kept, space trimmed");
        for bad in ["", "has space", "a@b", "trailing.", "Everyone", "here", &"x".repeat(33)] {
            assert!(group_name(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn colours_are_six_hex_digits() {
        assert_eq!(colour("#1E90FF").expect("valid"), "#1e90ff", "stored lower-case");
        for bad in ["", "1e90ff", "#fff", "#12345g", "#1234567", "red"] {
            assert!(colour(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
