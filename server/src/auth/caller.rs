//! The extractor that says who is calling: a bearer access token or a session cookie.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::Method;
use cromulent_protocol::Id;

use super::access_token::AccessTokenError;
use super::secret;
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store::sessions::{SecretKind, SecretRow, SessionRow};
use crate::store::{self, users::UserRow};

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Bearer,
    Cookie,
}

/// A signed-in user, for a handler that needs one.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: UserRow,
    /// The login (device or browser session) the request was made with.
    pub session_id: Id,
    pub credential: Credential,
}

impl Caller {
    pub fn id(&self) -> Id {
        self.user.id
    }

    pub fn is_admin(&self) -> bool {
        self.user.is_admin()
    }

    /// Admins and moderators.
    pub fn may_moderate(&self) -> bool {
        self.user.may_moderate()
    }
}

/// A signed-in admin; anyone else gets `403 forbidden`.
#[derive(Debug, Clone)]
pub struct AdminCaller(pub Caller);

/// A signed-in admin or moderator; anyone else gets `403 forbidden`.
#[derive(Debug, Clone)]
pub struct ModeratorCaller(pub Caller);

/// Why a request is not let through as a [`Caller`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// No credentials at all.
    #[error("sign in first")]
    SignInFirst,
    /// Refresh the access token and retry.
    #[error("access token expired")]
    TokenExpired,
    #[error("invalid access token")]
    InvalidToken,
    /// The login was revoked or expired. Sign in again.
    #[error("this login has ended; sign in again")]
    LoginEnded,
    #[error("this account no longer exists")]
    AccountGone,
    /// Too many writes by this user; retryable after the wait.
    #[error("too many attempts; try again in {} s", .0.as_secs().max(1))]
    RateLimited(std::time::Duration),
    /// A cookie-authenticated write from another site.
    #[error("cross-site request refused")]
    CrossSite,
    #[error("admins only")]
    AdminsOnly,
    #[error("admins and moderators only")]
    ModeratorsOnly,
    #[error("loading the caller")]
    Store(#[from] sqlx::Error),
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// Checks a bearer access token (preferred) or a session cookie and loads the user.
/// The login behind either must still be active, so revocation takes effect at once.
pub async fn authenticate(
    state: &AppState,
    bearer: Option<&str>,
    cookie: Option<&str>,
) -> Result<Caller, Rejection> {
    let now = now_ms();
    let (session, credential) = if let Some(token) = bearer {
        let claims = state.access_tokens.check(token, now).map_err(|e| match e {
            AccessTokenError::Expired => Rejection::TokenExpired,
            AccessTokenError::Invalid => Rejection::InvalidToken,
        })?;
        let session = store::sessions::find(state.db.pool(), claims.session_id).await?;
        (session.filter(|s| s.user_id == claims.user_id), Credential::Bearer)
    } else if let Some(cookie) = cookie {
        let found = store::sessions::find_by_secret(state.db.pool(), &secret::digest(cookie)).await?;
        (found.and_then(|(session, secret)| cookie_session(session, secret)), Credential::Cookie)
    } else {
        return Err(Rejection::SignInFirst);
    };
    let session = session.filter(|s| s.is_active(now)).ok_or(Rejection::LoginEnded)?;
    let user =
        store::users::find_by_id(state.db.pool(), session.user_id).await?.ok_or(Rejection::AccountGone)?;
    Ok(Caller { user, session_id: session.id, credential })
}

/// Only a cookie secret opens a session through the cookie: a refresh token (spent or
/// not) sent as a cookie is refused, so a stolen old token cannot bypass rotation and
/// its reuse detection.
fn cookie_session(session: SessionRow, secret: SecretRow) -> Option<SessionRow> {
    (secret.kind == SecretKind::Cookie && secret.spent_at.is_none()).then_some(session)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let cookie = state.cookies.read(&parts.headers);
        let caller = authenticate(state, bearer(parts), cookie.as_deref()).await?;
        if !is_safe(&parts.method) {
            state
                .throttles
                .writes_per_user
                .reserve(&caller.id().to_string())
                .map_err(Rejection::RateLimited)?;
        }
        // The cookie rides along on cross-site requests too; only the bearer token is
        // proof that our own client made the request.
        if caller.credential == Credential::Cookie
            && !is_safe(&parts.method)
            && !state.cookies.is_same_origin(&parts.headers)
        {
            return Err(Rejection::CrossSite);
        }
        Ok(caller)
    }
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if !caller.is_admin() {
            return Err(Rejection::AdminsOnly);
        }
        Ok(AdminCaller(caller))
    }
}

impl FromRequestParts<AppState> for ModeratorCaller {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if !caller.may_moderate() {
            return Err(Rejection::ModeratorsOnly);
        }
        Ok(ModeratorCaller(caller))
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}
