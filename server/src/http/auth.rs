//! `/api/auth/*` and `/auto_login`: registration, login, token refresh, browser sessions.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse};
use cromulent_protocol::auth::*;
use cromulent_protocol::limits::DEVICE_NAME_MAX_CHARS;
use cromulent_protocol::user::Role;
use cromulent_protocol::{ApiError, ErrorCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::account::ip_key;
use super::error::{HttpError, HttpResult};
use super::extract::{ClientIp, Json};
use super::invites::{self, Admission};
use super::mail_links;
use crate::announce::{self, Change};
use crate::auth::login::{self, Device};
use crate::auth::refresh;
use crate::auth::{
    access_token::Claims, ms, secret, Caller, ACCESS_TOKEN_TTL, CONFIRM_TOKEN_TTL, SESSION_TTL,
};
use crate::bus::BusMessage;
use crate::ids::now_ms;
use crate::mail::templates;
use crate::state::AppState;
use crate::store::mail_tokens::Purpose;
use crate::store::sessions::{SecretKind, SecretRow, SessionKind, SessionRow};
use crate::store::users::NewUser;
use crate::store::{Conn, Unique};
use crate::{store, validate};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(confirm_account))
        .routes(routes!(login))
        .routes(routes!(refresh_token))
        .routes(routes!(verify_token))
        .routes(routes!(logout))
        .routes(routes!(open_browser_session, close_browser_session))
        .routes(routes!(auto_login))
}

/// Create an account. The first account on a server becomes its admin.
///
/// Where the server mails confirmation links, an address that already has an account
/// gets the same answer as a new one (and its owner a mail), so registration cannot be
/// used to learn who has an account. Without mail there is nobody to tell, and the
/// answer is `409 email_taken`.
///
/// After the first account, the registration mode decides: `closed` answers
/// `403 registration_closed`, `invite_only` needs `invite_code`, and a code sent (in
/// either of the other modes) spends one use of its invite in the same transaction that
/// creates the account, or answers `403 invite_invalid` and creates nothing.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = RegisterResponse), (status = 403, body = ApiError), (status = 409, body = ApiError),
        (status = 422, body = ApiError), (status = 429, body = ApiError)))]
async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<RegisterRequest>,
) -> HttpResult<(StatusCode, Json<RegisterResponse>)> {
    let flags = state.feature_flags().await?;
    let email = validate::email(&req.email)?;
    let username = validate::username(&req.username)?;
    validate::password(&req.password, "password")?;
    if store::moderation::is_email_banned(state.db.pool(), &email).await? {
        return Err(HttpError::banned());
    }
    // A first look before the hash, so a closed server or a dead invite costs no
    // hashing; the transaction below decides for real.
    let first = store::users::count(state.db.pool()).await? == 0;
    let code = req.invite_code.as_deref();
    if let Admission::Spend(digest) = invites::admission(flags.registration, first, code)? {
        if !store::invites::is_live(state.db.pool(), &digest, now_ms()).await? {
            return Err(invites::invite_invalid("this invite is unknown, revoked, expired or used up"));
        }
    }
    // Before the hash: a caller must not be able to keep the hashing threads busy.
    state.throttles.registration_per_ip.reserve(ip_key(&ip)).map_err(HttpError::rate_limited)?;
    let hash = state.passwords.hash(req.password).await?;
    let now = now_ms();
    let id = state.ids.next();
    let quiet = flags.email_confirmation;
    let hidden = RegisterResponse { user: None, confirmation_required: true };

    let mut tx = state.db.begin_write().await?;
    // Registrations queue here, so "no users yet" is true for exactly one of them.
    store::users::lock_registrations(&mut tx).await?;
    let first = store::users::count(&mut *tx).await? == 0;
    // Spent before the address check, so the answer does not depend on whether the
    // address is taken; every early return below rolls the use back.
    if let Admission::Spend(digest) = invites::admission(flags.registration, first, code)? {
        if !store::invites::take_use(&mut tx, &digest, now).await? {
            return Err(invites::invite_invalid("this invite is unknown, revoked, expired or used up"));
        }
    }
    if let Some(owner) = store::users::find_by_email(&mut *tx, &email).await? {
        if !quiet {
            return Err(HttpError::from(Unique::Email));
        }
        drop(tx);
        if state.throttles.mail_per_address.reserve(&email).is_ok() {
            let (login_link, reset_link) =
                (format!("{}/login", state.public_url), format!("{}/forgot", state.public_url));
            state.mailer.deliver(templates::already_registered(
                &email,
                &owner.username,
                &login_link,
                &reset_link,
            ));
        }
        return Ok((StatusCode::CREATED, Json(hidden)));
    }
    let new_user = NewUser {
        id,
        email: &email,
        username: &username,
        password_hash: &hash,
        role: if first { Role::Admin } else { Role::Member },
        email_confirmed_at: None,
        created_at: now,
    };
    create_account(&mut tx, &new_user).await?;
    let token = mail_links::issue(&mut tx, id, Purpose::Confirm, &email, CONFIRM_TOKEN_TTL, now).await?;
    let user = store::users::find_by_id(&mut *tx, id).await?.ok_or_else(HttpError::internal)?;
    tx.commit().await?;

    state.mailer.deliver(templates::confirm_account(&email, &username, &state.link("confirm", &token)));
    announce::publish(&state, Change::UserUpdated(user.to_public())).await;
    tracing::info!(user_id = %id, admin = first, "account registered");
    if quiet {
        return Ok((StatusCode::CREATED, Json(hidden)));
    }
    let response = RegisterResponse { user: Some(user.to_own()), confirmation_required: false };
    Ok((StatusCode::CREATED, Json(response)))
}

/// Creates the account and its default memberships in the caller's transaction (after
/// `lock_registrations`), or answers `409 username_taken`. Registration and an admin
/// creating an account share it; the address is each caller's own check, since
/// registration may answer a taken one without saying so.
pub(super) async fn create_account(tx: &mut Conn, new_user: &NewUser<'_>) -> HttpResult<()> {
    if store::users::username_unavailable(tx, new_user.username).await? {
        return Err(HttpError::from(Unique::Username));
    }
    store::users::create_with_defaults(tx, new_user).await?;
    Ok(())
}

/// Confirm an email address with the token from the mailed `/confirm/<token>` link.
#[utoipa::path(post, path = "/api/auth/confirm", tag = "auth", request_body = TokenRequest,
    responses((status = 200, body = Accepted), (status = 400, body = ApiError)))]
async fn confirm_account(
    State(state): State<AppState>,
    Json(req): Json<TokenRequest>,
) -> HttpResult<Json<Accepted>> {
    let now = now_ms();
    let mut tx = state.db.begin_write().await?;
    let redeemed = mail_links::redeem(&mut tx, &req.token, Purpose::Confirm, now).await?;
    store::users::confirm_email(&mut *tx, redeemed.user_id, now).await?;
    tx.commit().await?;
    Ok(Json(Accepted { ok: true }))
}

/// Log a device in: returns a 30-day refresh token to trade at `/api/auth/refresh`.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ApiError), (status = 429, body = ApiError)))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<LoginRequest>,
) -> HttpResult<Json<LoginResponse>> {
    let device_name =
        validate::optional_text(req.device_name.as_deref(), "device_name", DEVICE_NAME_MAX_CHARS)?;
    let device_type =
        validate::optional_text(req.device_type.as_deref(), "device_type", DEVICE_NAME_MAX_CHARS)?;
    let user = login::authenticate(&state, &req.email, &req.password, ip.as_deref()).await?;
    let device = Device { name: device_name.as_deref(), kind: device_type.as_deref(), ip: ip.as_deref() };
    let (_, refresh_token) = login::open_session(&state, user.id, SessionKind::Refresh, device).await?;
    Ok(Json(LoginResponse { refresh_token, user: user.to_own() }))
}

/// Trade a refresh token for an access token and a new refresh token. The old one is
/// spent; presenting it again revokes the whole login (it was stolen or replayed), but
/// for one retry from the same address within REFRESH_RETRY_GRACE_SECS whose
/// replacement was never used (the answer to the first try was lost).
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = RefreshResponse), (status = 401, body = ApiError)))]
async fn refresh_token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(req): Json<RefreshRequest>,
) -> HttpResult<Json<RefreshResponse>> {
    let grace = std::time::Duration::from_secs(state.config.refresh_retry_grace_secs);
    let (session, next) = refresh::rotate(&state, &req.refresh_token, ip.as_deref(), grace).await?;
    let now = now_ms();
    let claims =
        Claims { user_id: session.user_id, session_id: session.id, expires_at: now + ms(ACCESS_TOKEN_TTL) };
    Ok(Json(RefreshResponse {
        access_token: state.access_tokens.mint(claims),
        refresh_token: next,
        expires_in: ACCESS_TOKEN_TTL.as_secs(),
    }))
}

/// Whether a refresh token is still good, without spending it.
#[utoipa::path(post, path = "/api/auth/verify", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = VerifyResponse)))]
async fn verify_token(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> HttpResult<Json<VerifyResponse>> {
    let found =
        store::sessions::find_by_secret(state.db.pool(), &secret::digest(req.refresh_token.trim())).await?;
    let session = found.filter(|(s, t)| is_usable_refresh_token(s, t));
    let user = match session {
        Some((s, _)) => store::users::find_by_id(state.db.pool(), s.user_id).await?,
        None => None,
    };
    Ok(Json(VerifyResponse { valid: user.is_some(), user: user.map(|u| u.to_own()) }))
}

/// End the login a refresh token belongs to. Unknown tokens are not an error.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = Accepted)))]
async fn logout(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> HttpResult<Json<Accepted>> {
    let found =
        store::sessions::find_by_secret(state.db.pool(), &secret::digest(req.refresh_token.trim())).await?;
    if let Some((session, _)) = found {
        store::sessions::revoke(state.db.pool(), session.id, now_ms()).await?;
        state.bus.publish(BusMessage::EndLogin { login_id: session.id }).await;
    }
    Ok(Json(Accepted { ok: true }))
}

/// Refuses login forms posted from other sites (login CSRF).
fn require_same_origin(state: &AppState, headers: &HeaderMap) -> HttpResult<()> {
    if state.cookies.is_same_origin(headers) {
        Ok(())
    } else {
        Err(HttpError::new(StatusCode::FORBIDDEN, ErrorCode::CsrfRejected, "cross-site request refused"))
    }
}

fn session_cookie(
    state: &AppState,
    secret: &str,
) -> AppendHeaders<[(axum::http::HeaderName, axum::http::HeaderValue); 1]> {
    AppendHeaders([(SET_COOKIE, state.cookies.set(secret, SESSION_TTL.as_secs()))])
}

/// Browser login: sets an HttpOnly session cookie.
#[utoipa::path(post, path = "/api/auth/session", tag = "auth", request_body = SessionLoginRequest,
    responses((status = 200, body = SessionLoginResponse), (status = 401, body = ApiError)))]
async fn open_browser_session(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(req): Json<SessionLoginRequest>,
) -> HttpResult<impl IntoResponse> {
    require_same_origin(&state, &headers)?;
    let user = login::authenticate(&state, &req.email, &req.password, ip.as_deref()).await?;
    let agent = headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(browser_name);
    let device = Device { name: agent, kind: Some("browser"), ip: ip.as_deref() };
    let (_, secret) = login::open_session(&state, user.id, SessionKind::Browser, device).await?;
    Ok((session_cookie(&state, &secret), Json(SessionLoginResponse { user: user.to_own() })))
}

/// Browser logout: ends this session and clears the cookie.
#[utoipa::path(delete, path = "/api/auth/session", tag = "auth", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Accepted)))]
async fn close_browser_session(
    State(state): State<AppState>,
    caller: Caller,
) -> HttpResult<impl IntoResponse> {
    store::sessions::revoke(state.db.pool(), caller.session_id, now_ms()).await?;
    state.bus.publish(BusMessage::EndLogin { login_id: caller.session_id }).await;
    Ok((AppendHeaders([(SET_COOKIE, state.cookies.clear())]), Json(Accepted { ok: true })))
}

/// Let a device's login also be a browser session (the desktop app opening the web
/// client): the cookie set here belongs to the same login, so logging out either one,
/// or revoking the device, ends both. The refresh token stays valid; cross-site
/// requests are refused.
#[utoipa::path(post, path = "/auto_login", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = SessionLoginResponse), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn auto_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<RefreshRequest>,
) -> HttpResult<impl IntoResponse> {
    require_same_origin(&state, &headers)?;
    let found =
        store::sessions::find_by_secret(state.db.pool(), &secret::digest(req.refresh_token.trim())).await?;
    let (session, _) = found
        .filter(|(s, t)| is_usable_refresh_token(s, t))
        .ok_or_else(|| HttpError::unauthorized("invalid refresh token"))?;
    let user = store::users::find_by_id(state.db.pool(), session.user_id)
        .await?
        .ok_or_else(|| HttpError::unauthorized("this account no longer exists"))?;
    let now = now_ms();
    let cookie = secret::generate();
    store::sessions::add_secret(
        state.db.pool(),
        &secret::digest(&cookie),
        SecretKind::Cookie,
        session.id,
        now,
    )
    .await?;
    // The cookie lives no longer than the login it belongs to.
    let max_age = u64::try_from((session.expires_at - now) / 1000).unwrap_or(0);
    let set = AppendHeaders([(SET_COOKIE, state.cookies.set(&cookie, max_age))]);
    Ok((set, Json(SessionLoginResponse { user: user.to_own() })))
}

fn is_usable_refresh_token(session: &SessionRow, token: &SecretRow) -> bool {
    session.kind == SessionKind::Refresh
        && token.kind == SecretKind::Refresh
        && token.spent_at.is_none()
        && session.is_active(now_ms())
}

/// A short, recognisable name for the sessions list, from a User-Agent.
fn browser_name(agent: &str) -> &'static str {
    let browsers = [("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari")];
    browsers.iter().find(|(needle, _)| agent.contains(needle)).map_or("Browser", |(_, name)| name)
}
