//! Checking a password with throttling, and opening a login (session) for a user.

use axum::http::StatusCode;
use cromulent_protocol::{ErrorCode, Id};

use super::{ms, secret, SESSION_TTL};
use crate::http::error::{HttpError, HttpResult};
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store::sessions::{NewSession, SecretKind, SessionKind};
use crate::store::{self, users::UserRow};

/// Email and password to a user, or `invalid_credentials`, `rate_limited`,
/// `email_not_confirmed`. Every attempt counts against the account and the address
/// before the password is hashed; a success gives its attempts back.
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: &str,
    ip: Option<&str>,
) -> HttpResult<UserRow> {
    let account_key = email.trim().to_lowercase();
    let user = store::users::find_by_email(state.db.pool(), &account_key).await?;
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let ok = verify_throttled(state, &account_key, ip, password.to_owned(), hash).await?;
    let Some(user) = user.filter(|_| ok) else {
        return Err(HttpError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidCredentials,
            "wrong email or password",
        ));
    };
    if user.email_confirmed_at.is_none() && state.feature_flags().await?.email_confirmation {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::EmailNotConfirmed,
            "confirm your email address first: follow the link we mailed you",
        ));
    }
    Ok(user)
}

/// Checks a signed-in user's current password (before a password or address change)
/// under the same throttles as logins, so a stolen session cannot guess it either.
pub async fn check_current_password(
    state: &AppState,
    user: &UserRow,
    password: String,
    ip: Option<&str>,
) -> HttpResult<()> {
    let account_key = user.email.to_lowercase();
    if verify_throttled(state, &account_key, ip, password, Some(user.password_hash.clone())).await? {
        return Ok(());
    }
    let mut e =
        HttpError::new(StatusCode::FORBIDDEN, ErrorCode::InvalidCredentials, "the current password is wrong");
    e.body.field = Some("current_password".into());
    Err(e)
}

/// One password check, reserved against the per-account and per-address throttles
/// before the (slow) hash runs, so concurrent guesses cannot all slip under the limit.
async fn verify_throttled(
    state: &AppState,
    account_key: &str,
    ip: Option<&str>,
    password: String,
    hash: Option<String>,
) -> HttpResult<bool> {
    let ip_key = ip.unwrap_or("unknown");
    let throttles = &state.throttles;
    throttles.login_per_account.reserve(account_key).map_err(HttpError::rate_limited)?;
    if let Err(wait) = throttles.login_per_ip.reserve(ip_key) {
        throttles.login_per_account.release(account_key);
        return Err(HttpError::rate_limited(wait));
    }
    let ok = state.passwords.verify(password, hash).await?;
    if ok {
        throttles.login_per_account.clear(account_key);
        throttles.login_per_ip.release(ip_key);
    }
    Ok(ok)
}

/// Where a new login comes from.
#[derive(Debug, Default, Clone, Copy)]
pub struct Device<'a> {
    pub name: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub ip: Option<&'a str>,
}

/// Opens a login and returns its id and the secret to hand to the client (refresh
/// token or cookie value); only the secret's digest is stored.
pub async fn open_session(
    state: &AppState,
    user_id: Id,
    kind: SessionKind,
    device: Device<'_>,
) -> HttpResult<(Id, String)> {
    let now = now_ms();
    let session_id = state.ids.next();
    let secret = secret::generate();
    let mut tx = state.db.begin_write().await?;
    store::sessions::insert(
        &mut *tx,
        &NewSession {
            id: session_id,
            user_id,
            kind,
            device_name: device.name,
            device_type: device.kind,
            ip_address: device.ip,
            now,
            expires_at: now + ms(SESSION_TTL),
        },
    )
    .await?;
    let secret_kind = match kind {
        SessionKind::Refresh => SecretKind::Refresh,
        SessionKind::Browser => SecretKind::Cookie,
    };
    store::sessions::add_secret(&mut *tx, &secret::digest(&secret), secret_kind, session_id, now).await?;
    tx.commit().await?;
    Ok((session_id, secret))
}
