//! `POST /api/admin/users`: admins create accounts for people from the web client.
//!
//! The same checks and the same store function as registration and the command line,
//! without what registration needs against strangers: the caller is a signed-in admin,
//! so a taken address may be named (409) and there is no invite or per-IP budget.

use axum::extract::State;
use axum::http::StatusCode;
use cromulent_protocol::moderation::AuditAction;
use cromulent_protocol::user::{CreateUserRequest, OwnUser};
use cromulent_protocol::ApiError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::create_account;
use super::error::{HttpError, HttpResult};
use super::extract::Json;
use super::mail_links;
use crate::announce::{self, Change};
use crate::auth::{secret, AdminCaller, RESET_TOKEN_TTL};
use crate::ids::now_ms;
use crate::mail::templates;
use crate::state::AppState;
use crate::store::mail_tokens::Purpose;
use crate::store::users::NewUser;
use crate::store::Unique;
use crate::{store, validate};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_user))
}

/// Create an account (admins). With a password, the admin vouches for the address (as
/// with `cromulent-server user create`) and it counts as confirmed. Without one, the
/// account gets an unguessable password nobody knows and its owner a password-reset
/// link; the address counts as confirmed once that link is followed, since only then
/// has its owner shown they read it.
#[utoipa::path(post, path = "/api/admin/users", tag = "users", security(("bearer" = []), ("cookie" = [])),
    request_body = CreateUserRequest,
    responses((status = 201, body = OwnUser), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
async fn create_user(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Json(req): Json<CreateUserRequest>,
) -> HttpResult<(StatusCode, Json<OwnUser>)> {
    let email = validate::email(&req.email)?;
    let username = validate::username(&req.username)?;
    let chosen = req.password;
    if let Some(password) = &chosen {
        validate::password(password, "password")?;
    }
    let vouched = chosen.is_some();
    // A random password of 256 bits stands in until the mailed link replaces it.
    let hash = state.passwords.hash(chosen.unwrap_or_else(secret::generate)).await?;
    let now = now_ms();
    let id = state.ids.next();

    let mut tx = state.db.begin_write().await?;
    // Queued with registrations, so the checks below and the insert see the same users.
    store::users::lock_registrations(&mut tx).await?;
    if store::users::find_by_email(&mut *tx, &email).await?.is_some() {
        return Err(HttpError::from(Unique::Email));
    }
    let new_user = NewUser {
        id,
        email: &email,
        username: &username,
        password_hash: &hash,
        role: req.role,
        email_confirmed_at: vouched.then_some(now),
        created_at: now,
    };
    create_account(&mut tx, &new_user).await?;
    let reset = if vouched {
        None
    } else {
        Some(mail_links::issue(&mut tx, id, Purpose::ResetPassword, &email, RESET_TOKEN_TTL, now).await?)
    };
    let user = store::users::find_by_id(&mut *tx, id).await?.ok_or_else(HttpError::internal)?;
    let record = store::audit_log::NewEntry {
        target_user_id: Some(id),
        details: serde_json::json!({ "username": &username, "role": req.role, "mailed_link": !vouched }),
        ..super::audit_log::entry(&state, &admin, AuditAction::UserCreated)
    };
    store::audit_log::record(&mut *tx, record).await?;
    tx.commit().await?;

    if let Some(reset) = reset {
        state.mailer.deliver(templates::reset_password(&email, &username, &state.link("reset", &reset)));
    }
    announce::publish(&state, Change::UserUpdated(user.to_public())).await;
    tracing::info!(by = %admin.id(), user_id = %id, mailed_link = !vouched, "account created by an admin");
    Ok((StatusCode::CREATED, Json(user.to_own())))
}
