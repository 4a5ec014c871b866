//! `/api/admin/users/{id}/timeout`, `/api/admin/users/{id}/ban`, `/api/admin/moderation`:
//! admins and moderators time users out, ban and unban them.
//!
//! Nobody moderates themselves or an admin (an admin is demoted first), and moderators
//! act on members only. Each action and its audit entry commit in one transaction; what
//! it does to live connections (leaving voice, ending gateway sessions) follows.

use axum::extract::State;
use axum::http::StatusCode;
use cromulent_protocol::moderation::{
    AuditAction, Ban, BanRequest, BanResult, ModerationState, Timeout, TimeoutRequest,
    MODERATION_REASON_MAX_CHARS,
};
use cromulent_protocol::user::Role;
use cromulent_protocol::{ApiError, ErrorCode, Id};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit_log::entry;
use super::error::{HttpError, HttpResult};
use super::extract::{Json, Path};
use crate::announce::{self, Change};
use crate::auth::{Caller, ModeratorCaller};
use crate::bus::BusMessage;
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store::moderation::NewBan;
use crate::store::users::UserRow;
use crate::store::{self, Conn};
use crate::validate;

const HOUR_MS: i64 = 60 * 60 * 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(timeout_user, lift_timeout))
        .routes(routes!(ban_user, unban_user))
        .routes(routes!(get_moderation))
}

/// The target of an action, if the actor may act on them ([module docs](self)).
async fn target(conn: &mut Conn, actor: &Caller, id: Id) -> HttpResult<UserRow> {
    let user = store::users::find_by_id(&mut *conn, id)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(|| HttpError::not_found("user"))?;
    if user.id == actor.id() {
        return Err(HttpError::forbidden("you cannot moderate yourself"));
    }
    match (actor.user.role, user.role) {
        (_, Role::Admin) => Err(HttpError::forbidden("admins cannot be moderated; demote them first")),
        (Role::Moderator, Role::Moderator) => Err(HttpError::forbidden("moderators may act on members only")),
        _ => Ok(user),
    }
}

fn reason(raw: Option<&str>) -> HttpResult<Option<String>> {
    Ok(validate::optional_text(raw, "reason", MODERATION_REASON_MAX_CHARS)?)
}

/// Time a user out: until it ends they may not post, edit, type or be in a voice room
/// (they leave theirs now). A new timeout replaces the one in force.
#[utoipa::path(post, path = "/api/admin/users/{id}/timeout", tag = "moderation",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "user id")), request_body = TimeoutRequest,
    responses((status = 200, body = Timeout), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError)))]
async fn timeout_user(
    State(state): State<AppState>,
    ModeratorCaller(caller): ModeratorCaller,
    Path(id): Path<Id>,
    Json(req): Json<TimeoutRequest>,
) -> HttpResult<Json<Timeout>> {
    let max = state.config.limits.moderation_timeout_max_secs;
    if !(1..=i64::from(max)).contains(&req.duration_secs) {
        return Err(HttpError::invalid(
            "duration_secs",
            format!("duration_secs must be between 1 and {max}"),
        ));
    }
    let reason = reason(req.reason.as_deref())?;
    let now = now_ms();
    let timeout = Timeout {
        user_id: id,
        ends_at: now + req.duration_secs * 1000,
        reason,
        created_by: Some(caller.id()),
        created_at: now,
    };
    let mut tx = state.db.begin_write().await?;
    target(&mut tx, &caller, id).await?;
    store::moderation::set_timeout(&mut *tx, &timeout).await?;
    let record = store::audit_log::NewEntry {
        target_user_id: Some(id),
        reason: timeout.reason.as_deref(),
        details: json!({ "duration_secs": req.duration_secs, "ends_at": timeout.ends_at }),
        ..entry(&state, &caller, AuditAction::UserTimedOut)
    };
    store::audit_log::record(&mut *tx, record).await?;
    tx.commit().await?;
    leave_voice(&state, id).await;
    tracing::info!(by = %caller.id(), user_id = %id, secs = req.duration_secs, "user timed out");
    Ok(Json(timeout))
}

/// Every voice room the user is in, on any node, loses them.
async fn leave_voice(state: &AppState, user_id: Id) {
    for leave in state.gateway.hub.voice_leaves_of_user(user_id) {
        state.bus.publish(leave).await;
    }
}

/// End a user's timeout early.
#[utoipa::path(delete, path = "/api/admin/users/{id}/timeout", tag = "moderation",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "user id")),
    responses((status = 204, description = "lifted"), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError, description = "no such user, or not timed out")))]
async fn lift_timeout(
    State(state): State<AppState>,
    ModeratorCaller(caller): ModeratorCaller,
    Path(id): Path<Id>,
) -> HttpResult<StatusCode> {
    let mut tx = state.db.begin_write().await?;
    target(&mut tx, &caller, id).await?;
    if !store::moderation::lift_timeout(&mut tx, id, now_ms()).await? {
        return Err(HttpError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "this user is not timed out"));
    }
    let record = store::audit_log::NewEntry {
        target_user_id: Some(id),
        ..entry(&state, &caller, AuditAction::TimeoutLifted)
    };
    store::audit_log::record(&mut *tx, record).await?;
    tx.commit().await?;
    tracing::info!(by = %caller.id(), user_id = %id, "timeout lifted");
    Ok(StatusCode::NO_CONTENT)
}

/// Ban a user: every login and gateway connection of theirs ends now, their address
/// may neither log in nor register, and with `delete_messages_hours` their messages of
/// that many last hours are deleted.
#[utoipa::path(post, path = "/api/admin/users/{id}/ban", tag = "moderation",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "user id")), request_body = BanRequest,
    responses((status = 200, body = BanResult), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError),
        (status = 409, body = ApiError, description = "`conflict`: already banned"), (status = 422, body = ApiError)))]
async fn ban_user(
    State(state): State<AppState>,
    ModeratorCaller(caller): ModeratorCaller,
    Path(id): Path<Id>,
    Json(req): Json<BanRequest>,
) -> HttpResult<Json<BanResult>> {
    let max = state.config.limits.ban_delete_messages_max_hours;
    let hours = req.delete_messages_hours;
    if !(0..=i64::from(max)).contains(&hours) {
        return Err(HttpError::invalid(
            "delete_messages_hours",
            format!("delete_messages_hours must be between 0 and {max}"),
        ));
    }
    let reason = reason(req.reason.as_deref())?;
    let now = now_ms();
    let mut tx = state.db.begin_write().await?;
    let user = target(&mut tx, &caller, id).await?;
    // Logins opening now queue behind this (see `login::open_session`).
    store::users::lock(&mut *tx, id).await?;
    if store::moderation::find_ban(&mut *tx, id).await?.is_some() {
        return Err(HttpError::conflict(ErrorCode::Conflict, "this user is banned already"));
    }
    let ban = NewBan {
        email: &user.email,
        user_id: id,
        reason: reason.as_deref(),
        created_by: caller.id(),
        created_at: now,
    };
    store::moderation::insert_ban(&mut *tx, &ban).await?;
    let ended = store::sessions::revoke_all_for_user(&mut *tx, id, None, now).await?;
    let deleted = if hours > 0 {
        store::messages::delete_by_author_since(&mut tx, id, now - hours * HOUR_MS).await?
    } else {
        Vec::new()
    };
    let deleted_messages = i64::try_from(deleted.len()).expect("a message count fits");
    let record = store::audit_log::NewEntry {
        target_user_id: Some(id),
        reason: reason.as_deref(),
        details: json!({ "delete_messages_hours": hours, "deleted_messages": deleted_messages }),
        ..entry(&state, &caller, AuditAction::UserBanned)
    };
    store::audit_log::record(&mut *tx, record).await?;
    tx.commit().await?;

    // Ending the gateway sessions also takes them out of voice.
    state.bus.publish(BusMessage::EndUserLogins { user_id: id, keep_login: None }).await;
    for (message_id, scope) in deleted {
        announce::publish(&state, Change::MessageDeleted { message_id, scope }).await;
    }
    tracing::info!(by = %caller.id(), user_id = %id, ended, deleted_messages, "user banned");
    let ban = Ban { user_id: Some(id), reason, created_by: Some(caller.id()), created_at: now };
    Ok(Json(BanResult { ban, deleted_messages }))
}

/// Lift a user's ban: they may log in again (their old logins stay ended).
#[utoipa::path(delete, path = "/api/admin/users/{id}/ban", tag = "moderation",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "user id")),
    responses((status = 204, description = "lifted"), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError, description = "no such user, or not banned")))]
async fn unban_user(
    State(state): State<AppState>,
    ModeratorCaller(caller): ModeratorCaller,
    Path(id): Path<Id>,
) -> HttpResult<StatusCode> {
    let mut tx = state.db.begin_write().await?;
    target(&mut tx, &caller, id).await?;
    if !store::moderation::delete_ban(&mut *tx, id).await? {
        return Err(HttpError::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, "this user is not banned"));
    }
    let record = store::audit_log::NewEntry {
        target_user_id: Some(id),
        ..entry(&state, &caller, AuditAction::UserUnbanned)
    };
    store::audit_log::record(&mut *tx, record).await?;
    tx.commit().await?;
    tracing::info!(by = %caller.id(), user_id = %id, "user unbanned");
    Ok(StatusCode::NO_CONTENT)
}

/// Bans and the timeouts in force.
#[utoipa::path(get, path = "/api/admin/moderation", tag = "moderation", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = ModerationState), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn get_moderation(
    State(state): State<AppState>,
    _moderator: ModeratorCaller,
) -> HttpResult<Json<ModerationState>> {
    let mut conn = state.db.pool().acquire().await?;
    let bans = store::moderation::list_bans(&mut *conn).await?;
    let timeouts = store::moderation::list_timeouts(&mut *conn, now_ms()).await?;
    Ok(Json(ModerationState { bans, timeouts }))
}
