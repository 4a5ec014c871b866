//! `/api/users`: the caller's own account and profile, everyone's public profile, and
//! roles (admins). Password and email changes live in [`super::account`].

use axum::extract::State;
use axum::http::StatusCode;
use cromulent_protocol::limits::DISPLAY_NAME_MAX_CHARS;
use cromulent_protocol::moderation::AuditAction;
use cromulent_protocol::user::{OwnUser, Role, SetRoleRequest, UpdateProfileRequest, User};
use cromulent_protocol::{ApiError, ErrorCode, Id};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit_log;
use super::error::{HttpError, HttpResult};
use super::extract::{Json, Path};
use crate::announce::{self, Change};
use crate::auth::{AdminCaller, Caller};
use crate::state::AppState;
use crate::store::users::ProfileChange;
use crate::{store, validate};

/// Voice-activity thresholds a microphone can meaningfully reach, in dBFS.
const VAD_THRESHOLD_RANGE_DB: std::ops::RangeInclusive<f64> = -100.0..=0.0;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_own_user, update_own_user))
        .routes(routes!(list_users))
        .routes(routes!(get_user))
        .routes(routes!(set_user_role))
}

/// The caller's own account, with email and voice settings.
#[utoipa::path(get, path = "/api/users/me", tag = "users", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = OwnUser), (status = 401, body = ApiError)))]
async fn get_own_user(caller: Caller) -> Json<OwnUser> {
    Json(caller.user.to_own())
}

/// Change the caller's profile and voice settings: fields present are set, `null`
/// clears `display_name` or `avatar_url`.
#[utoipa::path(patch, path = "/api/users/me", tag = "users", security(("bearer" = []), ("cookie" = [])),
    request_body = UpdateProfileRequest,
    responses((status = 200, body = OwnUser), (status = 400, body = ApiError), (status = 422, body = ApiError)))]
async fn update_own_user(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<UpdateProfileRequest>,
) -> HttpResult<Json<OwnUser>> {
    let display_name = req
        .display_name
        .map(|name| validate::optional_text(name.as_deref(), "display_name", DISPLAY_NAME_MAX_CHARS))
        .transpose()?;
    let avatar_url = req.avatar_url.map(|url| validate::avatar_url(url.as_deref())).transpose()?;
    if let Some(db) = req.vad_threshold_db {
        if !VAD_THRESHOLD_RANGE_DB.contains(&db) {
            return Err(HttpError::invalid("vad_threshold_db", "use a level from -100 to 0 dB"));
        }
    }
    let change = ProfileChange {
        display_name: display_name.as_ref().map(Option::as_deref),
        avatar_url: avatar_url.as_ref().map(Option::as_deref),
        voice_mode: req.voice_mode,
        vad_threshold_db: req.vad_threshold_db,
    };
    let mut tx = state.db.begin_write().await?;
    store::users::update_profile(&mut tx, caller.id(), &change).await?;
    let user = store::users::find_by_id(&mut *tx, caller.id()).await?.ok_or_else(HttpError::internal)?;
    tx.commit().await?;
    if change.display_name.is_some() || change.avatar_url.is_some() {
        announce::publish(&state, Change::UserUpdated(user.to_public())).await;
    }
    Ok(Json(user.to_own()))
}

/// Every user's public profile (for member lists and mention autocomplete); never
/// emails.
#[utoipa::path(get, path = "/api/users", tag = "users", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<User>), (status = 401, body = ApiError)))]
async fn list_users(State(state): State<AppState>, _caller: Caller) -> HttpResult<Json<Vec<User>>> {
    let users = store::users::list(state.db.pool()).await?;
    Ok(Json(users.iter().map(|u| u.to_public()).collect()))
}

/// One user's public profile.
#[utoipa::path(get, path = "/api/users/{id}", tag = "users", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = User), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
async fn get_user(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<Id>,
) -> HttpResult<Json<User>> {
    let user =
        store::users::find_by_id(state.db.pool(), id).await?.ok_or_else(|| HttpError::not_found("user"))?;
    Ok(Json(user.to_public()))
}

/// Make a user an admin, a moderator or a member (admins). The last admin cannot be demoted: the
/// server would have nobody left to run it.
#[utoipa::path(patch, path = "/api/users/{id}/role", tag = "users", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "user id")), request_body = SetRoleRequest,
    responses((status = 200, body = User), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError),
        (status = 409, body = ApiError, description = "`conflict`: this would demote the last admin")))]
async fn set_user_role(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    Path(id): Path<Id>,
    Json(req): Json<SetRoleRequest>,
) -> HttpResult<Json<User>> {
    let mut tx = state.db.begin_write().await?;
    // A deleted account's tombstone takes no role: it must never count as an admin.
    let mut user = store::users::find_by_id(&mut *tx, id)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(|| HttpError::not_found("user"))?;
    if user.role == Role::Admin
        && req.role != Role::Admin
        && store::users::count_admins_locked(&mut tx).await? <= 1
    {
        return Err(HttpError::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            "this is the last admin; make someone else an admin first",
        ));
    }
    store::users::set_role(&mut *tx, id, req.role).await?;
    let record = store::audit_log::NewEntry {
        target_user_id: Some(id),
        details: json!({ "from": user.role, "to": req.role }),
        ..audit_log::entry(&state, &caller, AuditAction::RoleChanged)
    };
    store::audit_log::record(&mut *tx, record).await?;
    tx.commit().await?;
    user.role = req.role;
    announce::publish(&state, Change::RoleChanged(user.to_public())).await;
    tracing::info!(user_id = %id, role = ?req.role, by = %caller.id(), "role set");
    Ok(Json(user.to_public()))
}
