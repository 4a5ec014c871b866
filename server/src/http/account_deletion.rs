//! `DELETE /api/users/me` and `DELETE /api/admin/users/{id}`: an account ends.
//!
//! Both run one path ([`delete`]): in one transaction the personal data goes, the row
//! becomes a tombstone and the deletion is audited; then every gateway connection of
//! the account closes with `ACCOUNT_DELETED`, and clients hear of the tombstone, the
//! member lists it left and the messages deleted with it. The last admin cannot go:
//! the server would have nobody left to run it.

use axum::extract::State;
use axum::http::StatusCode;
use cromulent_protocol::account::{AccountDeleted, AdminDeleteUserRequest, DeleteAccountRequest};
use cromulent_protocol::moderation::AuditAction;
use cromulent_protocol::user::Role;
use cromulent_protocol::{ApiError, ErrorCode, Id};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit_log::entry;
use super::error::{HttpError, HttpResult};
use super::extract::{ClientIp, Json, Path};
use crate::announce::{self, Change};
use crate::auth::{login, AdminCaller, Caller};
use crate::bus::BusMessage;
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(delete_own_account)).routes(routes!(delete_user))
}

/// Delete the caller's own account, proven with its current password. Every login ends
/// at once; with `delete_messages` the account's messages are deleted, otherwise they
/// stay, shown as by "Deleted user". The address may register again afterwards.
#[utoipa::path(delete, path = "/api/users/me", tag = "account", security(("bearer" = []), ("cookie" = [])),
    request_body = DeleteAccountRequest,
    responses((status = 200, body = AccountDeleted), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError, description = "`invalid_credentials`: wrong password"),
        (status = 409, body = ApiError, description = "`conflict`: the last admin"),
        (status = 429, body = ApiError)))]
async fn delete_own_account(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    Json(req): Json<DeleteAccountRequest>,
) -> HttpResult<Json<AccountDeleted>> {
    login::check_current_password(&state, &caller.user, req.password, ip.as_deref()).await?;
    let deleted = delete(&state, &caller, caller.id(), req.delete_messages).await?;
    Ok(Json(deleted))
}

/// Delete another account (admins), as its owner could. Audited.
#[utoipa::path(delete, path = "/api/admin/users/{id}", tag = "users", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "user id")), request_body = AdminDeleteUserRequest,
    responses((status = 200, body = AccountDeleted), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError, description = "no such user, or deleted already"),
        (status = 409, body = ApiError, description = "`conflict`: the last admin")))]
async fn delete_user(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<Id>,
    Json(req): Json<AdminDeleteUserRequest>,
) -> HttpResult<Json<AccountDeleted>> {
    Ok(Json(delete(&state, &admin, id, req.delete_messages).await?))
}

/// Deletes `user_id`'s account on behalf of `actor` (the owner or an admin).
async fn delete(
    state: &AppState,
    actor: &Caller,
    user_id: Id,
    delete_messages: bool,
) -> HttpResult<AccountDeleted> {
    let now = now_ms();
    let mut tx = state.db.begin_write().await?;
    // Logins opening now queue behind this, as with a ban (`login::open_session`).
    store::users::lock(&mut *tx, user_id).await?;
    let user = store::users::find_by_id(&mut *tx, user_id)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(|| HttpError::not_found("user"))?;
    if user.role == Role::Admin && store::users::count_admins_locked(&mut tx).await? <= 1 {
        return Err(HttpError::new(
            StatusCode::CONFLICT,
            ErrorCode::Conflict,
            "this is the last admin; make someone else an admin first",
        ));
    }
    let removed = store::account_deletion::delete_account(&mut tx, user_id, delete_messages, now).await?;
    let deleted_messages = i64::try_from(removed.messages.len()).expect("a message count fits");
    let record = store::audit_log::NewEntry {
        target_user_id: Some(user_id),
        details: json!({
            "username": &user.username,
            "by_owner": actor.id() == user_id,
            "delete_messages": delete_messages,
            "deleted_messages": deleted_messages,
        }),
        ..entry(state, actor, AuditAction::UserDeleted)
    };
    store::audit_log::record(&mut *tx, record).await?;
    let tombstone = store::users::find_by_id(&mut *tx, user_id).await?.ok_or_else(HttpError::internal)?;
    let mut channels = Vec::with_capacity(removed.channel_ids.len());
    for channel_id in &removed.channel_ids {
        if let Some(channel) = store::channels::find(&mut *tx, *channel_id).await? {
            channels.push(channel.channel);
        }
    }
    let mut groups = Vec::with_capacity(removed.group_ids.len());
    for group_id in &removed.group_ids {
        if let Some(group) = store::groups::find(&mut tx, *group_id).await? {
            groups.push(group);
        }
    }
    tx.commit().await?;

    // Ending the gateway sessions also takes the account out of voice.
    state.bus.publish(BusMessage::EndAccount { user_id }).await;
    announce::publish(state, Change::UserUpdated(tombstone.to_public())).await;
    for channel in channels {
        announce::publish(state, Change::MemberLeft { channel, user_id }).await;
    }
    for group in groups {
        announce::publish(state, Change::GroupUpdated(group)).await;
    }
    for (message_id, scope) in removed.messages {
        announce::publish(state, Change::MessageDeleted { message_id, scope }).await;
    }
    tracing::info!(by = %actor.id(), %user_id, deleted_messages, "account deleted");
    Ok(AccountDeleted { user_id, deleted_messages })
}
