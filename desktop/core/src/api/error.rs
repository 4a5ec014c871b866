//! What a REST call can fail with, typed so callers match on codes, never on text.

use cromulent_protocol::ErrorCode;

/// A failed REST call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The server answered with its `{code, message}` body. Retryable only for
    /// `rate_limited`, `unavailable` and `internal`; see [`ApiError::code`].
    #[error("{} ({status}, {:?})", body.message, body.code)]
    Server {
        /// The HTTP status, e.g. 401.
        status: u16,
        body: cromulent_protocol::ApiError,
    },
    /// The server could not be reached or the connection broke. Retryable.
    #[error("could not reach {url}: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with something that is not what the protocol says (a proxy's
    /// error page, another program on that port). Not retryable.
    #[error("unexpected answer from {url} (HTTP {status}): {detail}")]
    Unexpected { url: String, status: u16, detail: String },
    /// The server address cannot be used (not http/https, no host). Not retryable.
    #[error("invalid server address {url:?}: {reason}")]
    InvalidServer { url: String, reason: String },
    /// The call needs a login and this client has none. Log in first.
    #[error("not logged in")]
    NotLoggedIn,
}

impl ApiError {
    /// The server's stable error code, when the server answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ApiError::Server { body, .. } => Some(body.code),
            _ => None,
        }
    }

    /// The HTTP status, when the server answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Server { status, .. } | ApiError::Unexpected { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True when the server refused the access token itself, so a fresh one may pass.
    pub(super) fn is_token_refused(&self) -> bool {
        self.status() == Some(401)
            && matches!(self.code(), Some(ErrorCode::TokenExpired | ErrorCode::Unauthorized))
    }

    /// True when the login itself is gone (revoked, expired, replayed refresh token):
    /// the user must log in again, retrying will not help.
    pub fn is_login_lost(&self) -> bool {
        matches!(self, ApiError::NotLoggedIn)
            || matches!(
                self.code(),
                Some(ErrorCode::Unauthorized | ErrorCode::TokenReused | ErrorCode::InvalidToken)
            )
    }
}
