//! Account recovery and changes: forgot/reset password, change password, change email.

use axum::extract::State;
use axum::http::StatusCode;
use cromulent_protocol::auth::*;
use cromulent_protocol::ApiError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{HttpError, HttpResult};
use super::extract::{ClientIp, Json};
use super::mail_links;
use crate::auth::{login, Caller, CONFIRM_TOKEN_TTL, RESET_TOKEN_TTL};
use crate::bus::BusMessage;
use crate::ids::now_ms;
use crate::mail::templates;
use crate::state::AppState;
use crate::store::mail_tokens::Purpose;
use crate::store::Unique;
use crate::validate::Invalid;
use crate::{store, validate};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(forgot_password))
        .routes(routes!(resend_confirmation))
        .routes(routes!(reset_password))
        .routes(routes!(change_password))
        .routes(routes!(change_email))
        .routes(routes!(confirm_email_change))
}

/// Mail a reset link. The answer is the same whether or not the account exists.
#[utoipa::path(post, path = "/api/auth/forgot_password", tag = "account", request_body = ForgotPasswordRequest,
    responses((status = 202, body = Accepted), (status = 429, body = ApiError)))]
async fn forgot_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<ForgotPasswordRequest>,
) -> HttpResult<(StatusCode, Json<Accepted>)> {
    state.throttles.password_reset_per_ip.reserve(ip_key(&ip)).map_err(HttpError::rate_limited)?;
    let accepted = (StatusCode::ACCEPTED, Json(Accepted { ok: true }));
    let Ok(email) = validate::email(&req.email) else { return Ok(accepted) };
    // Silently capped per address, so nobody can flood an inbox through us and the
    // answer still says nothing about the account.
    if state.throttles.mail_per_address.reserve(&email).is_err() {
        return Ok(accepted);
    }
    let mut tx = state.db.begin_write().await?;
    let user = store::users::find_by_email(&mut *tx, &email).await?;
    let mut token = String::new();
    if let Some(user) = &user {
        token =
            mail_links::issue(&mut tx, user.id, Purpose::ResetPassword, &email, RESET_TOKEN_TTL, now_ms())
                .await?;
    }
    tx.commit().await?;
    if let Some(user) = user {
        state.mailer.deliver(templates::reset_password(&email, &user.username, &state.link("reset", &token)));
    }
    Ok(accepted)
}

/// Mail the account-confirmation link again, replacing any earlier one. The answer is
/// the same whether or not the address has an unconfirmed account.
#[utoipa::path(post, path = "/api/auth/resend_confirmation", tag = "account", request_body = ResendConfirmationRequest,
    responses((status = 202, body = Accepted), (status = 429, body = ApiError)))]
async fn resend_confirmation(
    State(state): State<AppState>,
    Json(req): Json<ResendConfirmationRequest>,
) -> HttpResult<(StatusCode, Json<Accepted>)> {
    let accepted = (StatusCode::ACCEPTED, Json(Accepted { ok: true }));
    let Ok(email) = validate::email(&req.email) else { return Ok(accepted) };
    if state.throttles.mail_per_address.reserve(&email).is_err() {
        return Ok(accepted);
    }
    let mut tx = state.db.begin_write().await?;
    let user =
        store::users::find_by_email(&mut *tx, &email).await?.filter(|u| u.email_confirmed_at.is_none());
    let mut token = String::new();
    if let Some(user) = &user {
        token = mail_links::issue(&mut tx, user.id, Purpose::Confirm, &email, CONFIRM_TOKEN_TTL, now_ms())
            .await?;
    }
    tx.commit().await?;
    if let Some(user) = user {
        state.mailer.deliver(templates::confirm_account(
            &email,
            &user.username,
            &state.link("confirm", &token),
        ));
    }
    Ok(accepted)
}

/// Set a new password with the mailed token. Every login of the account ends.
#[utoipa::path(post, path = "/api/auth/reset_password", tag = "account", request_body = ResetPasswordRequest,
    responses((status = 200, body = Accepted), (status = 400, body = ApiError), (status = 422, body = ApiError),
        (status = 429, body = ApiError)))]
async fn reset_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<ResetPasswordRequest>,
) -> HttpResult<Json<Accepted>> {
    validate::password(&req.password, "password")?;
    state.throttles.password_reset_per_ip.reserve(ip_key(&ip)).map_err(HttpError::rate_limited)?;
    // Hashing is the expensive part: only a link that works earns it.
    mail_links::check_redeemable(state.db.pool(), &req.token, Purpose::ResetPassword, now_ms()).await?;
    let hash = state.passwords.hash(req.password).await?;
    let now = now_ms();
    let mut tx = state.db.begin_write().await?;
    let redeemed = mail_links::redeem(&mut tx, &req.token, Purpose::ResetPassword, now).await?;
    store::users::set_password_hash(&mut *tx, redeemed.user_id, &hash).await?;
    // Following the mailed link proves the address too.
    store::users::confirm_email(&mut *tx, redeemed.user_id, now).await?;
    store::sessions::revoke_all_for_user(&mut *tx, redeemed.user_id, None, now).await?;
    tx.commit().await?;
    state.bus.publish(BusMessage::EndUserLogins { user_id: redeemed.user_id, keep_login: None }).await;
    Ok(Json(Accepted { ok: true }))
}

/// The throttle key of a client address (requests handed to the router directly have
/// none and share one key).
pub(super) fn ip_key(ip: &Option<String>) -> &str {
    ip.as_deref().unwrap_or("unknown")
}

/// Change the password; every other login of the account ends.
#[utoipa::path(post, path = "/api/users/me/password", tag = "account", request_body = ChangePasswordRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Accepted), (status = 403, body = ApiError), (status = 422, body = ApiError)))]
async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    Json(req): Json<ChangePasswordRequest>,
) -> HttpResult<Json<Accepted>> {
    validate::password(&req.new_password, "new_password")?;
    login::check_current_password(&state, &caller.user, req.current_password, ip.as_deref()).await?;
    let hash = state.passwords.hash(req.new_password).await?;
    let now = now_ms();
    let mut tx = state.db.begin_write().await?;
    store::users::set_password_hash(&mut *tx, caller.id(), &hash).await?;
    let ended =
        store::sessions::revoke_all_for_user(&mut *tx, caller.id(), Some(caller.session_id), now).await?;
    tx.commit().await?;
    state
        .bus
        .publish(BusMessage::EndUserLogins { user_id: caller.id(), keep_login: Some(caller.session_id) })
        .await;
    tracing::info!(user_id = %caller.id(), ended, "password changed; other logins ended");
    Ok(Json(Accepted { ok: true }))
}

/// Ask to move the account to a new address; it changes once the link mailed there is
/// followed. The answer is the same when the address is taken (its owner is told
/// instead), so nobody learns through us who has an account.
#[utoipa::path(post, path = "/api/users/me/email", tag = "account", request_body = ChangeEmailRequest,
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 202, body = Accepted), (status = 403, body = ApiError), (status = 429, body = ApiError)))]
async fn change_email(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    Json(req): Json<ChangeEmailRequest>,
) -> HttpResult<(StatusCode, Json<Accepted>)> {
    let new_email =
        validate::email(&req.new_email).map_err(|e| Invalid { field: "new_email".into(), ..e })?;
    login::check_current_password(&state, &caller.user, req.current_password, ip.as_deref()).await?;
    let accepted = (StatusCode::ACCEPTED, Json(Accepted { ok: true }));
    state
        .throttles
        .email_change_per_user
        .reserve(&caller.id().to_string())
        .map_err(HttpError::rate_limited)?;
    if state.throttles.mail_per_address.reserve(&new_email).is_err() {
        return Ok(accepted);
    }
    if let Some(owner) = store::users::find_by_email(state.db.pool(), &new_email).await? {
        if owner.id != caller.id() {
            state.mailer.deliver(templates::address_in_use(&new_email, &owner.username));
        }
        return Ok(accepted);
    }
    let mut tx = state.db.begin_write().await?;
    let token = mail_links::issue(
        &mut tx,
        caller.id(),
        Purpose::ChangeEmail,
        &new_email,
        CONFIRM_TOKEN_TTL,
        now_ms(),
    )
    .await?;
    tx.commit().await?;
    let link = state.link("confirm-email", &token);
    state.mailer.deliver(templates::change_email(&new_email, &caller.user.username, &link));
    Ok(accepted)
}

/// Finish a change of address with the token mailed to the new one.
#[utoipa::path(post, path = "/api/auth/confirm_email", tag = "account", request_body = TokenRequest,
    responses((status = 200, body = Accepted), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
async fn confirm_email_change(
    State(state): State<AppState>,
    Json(req): Json<TokenRequest>,
) -> HttpResult<Json<Accepted>> {
    let now = now_ms();
    let mut tx = state.db.begin_write().await?;
    let redeemed = mail_links::redeem(&mut tx, &req.token, Purpose::ChangeEmail, now).await?;
    if store::users::find_by_email(&mut *tx, &redeemed.sent_to).await?.is_some() {
        return Err(HttpError::from(Unique::Email));
    }
    store::users::set_email(&mut *tx, redeemed.user_id, &redeemed.sent_to, now).await?;
    tx.commit().await?;
    Ok(Json(Accepted { ok: true }))
}
