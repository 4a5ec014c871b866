//! Checking a password with throttling, and opening a login (session) for a user.

use axum::http::StatusCode;
use cromulent_protocol::{ErrorCode, Id};

use super::{ms, secret, SESSION_TTL};
use crate::http::error::{HttpError, HttpResult};
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store::sessions::{NewSession, SessionKind};
use crate::store::{self, users::UserRow};

/// Email and password to a user, or `invalid_credentials`, `rate_limited`,
/// `email_not_confirmed`. Failures count against the account and the address.
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: &str,
    ip: Option<&str>,
) -> HttpResult<UserRow> {
    let account_key = email.trim().to_lowercase();
    let ip_key = ip.unwrap_or("unknown");
    let throttles = &state.throttles;
    if let Err(wait) =
        throttles.login_per_account.check(&account_key).and(throttles.login_per_ip.check(ip_key))
    {
        return Err(HttpError::rate_limited(wait));
    }
    let user = store::users::find_by_email(state.db.pool(), &account_key).await?;
    let ok =
        state.passwords.verify(password.to_owned(), user.as_ref().map(|u| u.password_hash.clone())).await?;
    let Some(user) = user.filter(|_| ok) else {
        throttles.login_per_account.record(&account_key);
        throttles.login_per_ip.record(ip_key);
        return Err(HttpError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidCredentials,
            "wrong email or password",
        ));
    };
    throttles.login_per_account.clear(&account_key);
    if user.email_confirmed_at.is_none() && state.feature_flags().await?.email_confirmation {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::EmailNotConfirmed,
            "confirm your email address first: follow the link we mailed you",
        ));
    }
    Ok(user)
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
    store::sessions::add_secret(&mut *tx, &secret::digest(&secret), session_id, now).await?;
    tx.commit().await?;
    Ok((session_id, secret))
}
