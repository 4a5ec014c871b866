//! Checking a password with throttling, and opening a login (session) for a user.

use std::time::Duration;

use cromulent_protocol::Id;

use super::password::HashError;
use super::{ms, secret, SESSION_TTL};
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store::sessions::{NewSession, SecretKind, SessionKind};
use crate::store::{self, users::UserRow};

/// Why a password check refused, or could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// Unknown address or wrong password; the two look the same. Not retryable.
    #[error("wrong email or password")]
    InvalidCredentials,
    /// A signed-in user's current password, checked before a sensitive change, is wrong.
    #[error("the current password is wrong")]
    WrongCurrentPassword,
    /// The address must be confirmed first (when the server asks for confirmation).
    #[error("confirm your email address first: follow the link we mailed you")]
    EmailNotConfirmed,
    /// The account is banned. Not retryable.
    #[error("this account is banned from this server")]
    Banned,
    /// Too many attempts for the account or the address; retryable after the wait.
    #[error("too many attempts; try again in {} s", .0.as_secs().max(1))]
    RateLimited(Duration),
    #[error("checking the password")]
    Hash(#[from] HashError),
    #[error("loading the account")]
    Store(#[from] sqlx::Error),
}

/// Email and password to a user, or `invalid_credentials`, `rate_limited`,
/// `email_not_confirmed`, `banned` (only told to who knows the password). Every attempt counts against the account and the address
/// before the password is hashed; a success gives its attempts back.
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: &str,
    ip: Option<&str>,
) -> Result<UserRow, LoginError> {
    let account_key = email.trim().to_lowercase();
    // A deleted account's tombstone has no usable address, but it is never a login either.
    let user =
        store::users::find_by_email(state.db.pool(), &account_key).await?.filter(|u| u.deleted_at.is_none());
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let ok = verify_throttled(state, &account_key, ip, password.to_owned(), hash).await?;
    let Some(user) = user.filter(|_| ok) else { return Err(LoginError::InvalidCredentials) };
    if store::moderation::is_email_banned(state.db.pool(), &account_key).await? {
        return Err(LoginError::Banned);
    }
    if user.email_confirmed_at.is_none() && state.feature_flags().await?.email_confirmation {
        return Err(LoginError::EmailNotConfirmed);
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
) -> Result<(), LoginError> {
    let account_key = user.email.to_lowercase();
    if verify_throttled(state, &account_key, ip, password, Some(user.password_hash.clone())).await? {
        return Ok(());
    }
    Err(LoginError::WrongCurrentPassword)
}

/// One password check, reserved against the per-account and per-address throttles
/// before the (slow) hash runs, so concurrent guesses cannot all slip under the limit.
async fn verify_throttled(
    state: &AppState,
    account_key: &str,
    ip: Option<&str>,
    password: String,
    hash: Option<String>,
) -> Result<bool, LoginError> {
    let ip_key = ip.unwrap_or("unknown");
    let throttles = &state.throttles;
    throttles.login_per_account.reserve(account_key).map_err(LoginError::RateLimited)?;
    if let Err(wait) = throttles.login_per_ip.reserve(ip_key) {
        throttles.login_per_account.release(account_key);
        return Err(LoginError::RateLimited(wait));
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
/// token or cookie value); only the secret's digest is stored. A ban committed since
/// the password check refuses it: the user's row is locked first, as a ban locks it, so
/// the two cannot interleave.
pub async fn open_session(
    state: &AppState,
    user_id: Id,
    kind: SessionKind,
    device: Device<'_>,
) -> Result<(Id, String), LoginError> {
    let now = now_ms();
    let session_id = state.ids.next();
    let secret = secret::generate();
    let mut tx = state.db.begin_write().await?;
    store::users::lock(&mut *tx, user_id).await?;
    if store::moderation::find_ban(&mut *tx, user_id).await?.is_some() {
        return Err(LoginError::Banned);
    }
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
