//! The one HTTP error type: a status and a `{code, message}` body, and the edge where
//! every context's own error (rights, validation, logins, the database) gets its status.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cromulent_protocol::{ApiError, ErrorCode};

use crate::access::{self, Denied};
use crate::auth::login::LoginError;
use crate::auth::password::HashError;
use crate::auth::refresh::RefreshError;
use crate::auth::Rejection;
use crate::store::{Failure, Unique};
use crate::validate::Invalid;
use crate::web;

#[derive(Debug)]
pub struct HttpError {
    pub status: StatusCode,
    pub body: ApiError,
}

pub type HttpResult<T> = Result<T, HttpError>;

impl HttpError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self { status, body: ApiError::new(code, message) }
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest, message)
    }

    /// A field that breaks a rule; `field` names it for the client's form.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed, message);
        e.body.field = Some(field.to_owned());
        e
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    /// `what` is the kind of thing, e.g. "channel".
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, format!("no such {what}"))
    }

    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn rate_limited(wait: Duration) -> Self {
        let secs = wait.as_secs().max(1);
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            format!("too many attempts; try again in {secs} s"),
        );
        e.body.retry_after_secs = Some(secs);
        e
    }

    /// A banned account or address, at login or registration.
    pub fn banned() -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Banned, "this account is banned from this server")
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal, "internal error")
    }
}

impl From<sqlx::Error> for HttpError {
    fn from(err: sqlx::Error) -> Self {
        Failure::from(err).into()
    }
}

impl From<Failure> for HttpError {
    fn from(failure: Failure) -> Self {
        let status = match failure {
            Failure::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Failure::Taken(_) | Failure::Duplicate => StatusCode::CONFLICT,
            Failure::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, failure.code(), failure.to_string())
    }
}

impl From<Unique> for HttpError {
    fn from(taken: Unique) -> Self {
        Failure::Taken(taken).into()
    }
}

impl From<HashError> for HttpError {
    fn from(err: HashError) -> Self {
        tracing::error!(error = %err, "password hashing failed");
        Self::internal()
    }
}

impl From<Invalid> for HttpError {
    fn from(invalid: Invalid) -> Self {
        Self::invalid(&invalid.field, invalid.message)
    }
}

impl From<Denied> for HttpError {
    fn from(denied: Denied) -> Self {
        let status = match denied {
            Denied::Hidden => StatusCode::NOT_FOUND,
            Denied::NoText | Denied::NotVoice => StatusCode::UNPROCESSABLE_ENTITY,
            Denied::NotMember
            | Denied::AdminsOnly
            | Denied::MassMention
            | Denied::MembersOnlyRoom
            | Denied::NotPinner
            | Denied::TimedOut { .. }
            | Denied::Blocked => StatusCode::FORBIDDEN,
        };
        let mut e = Self::new(status, denied.code(), denied.to_string());
        e.body.field = denied.field().map(str::to_owned);
        e.body.retry_after_secs = denied.retry_after_secs();
        e
    }
}

impl From<access::Error> for HttpError {
    fn from(err: access::Error) -> Self {
        match err {
            access::Error::Denied(denied) => denied.into(),
            access::Error::Store(e) => e.into(),
        }
    }
}

impl From<Rejection> for HttpError {
    fn from(rejection: Rejection) -> Self {
        let message = rejection.to_string();
        match rejection {
            Rejection::SignInFirst
            | Rejection::InvalidToken
            | Rejection::LoginEnded
            | Rejection::AccountGone => Self::unauthorized(message),
            Rejection::TokenExpired => Self::new(StatusCode::UNAUTHORIZED, ErrorCode::TokenExpired, message),
            Rejection::RateLimited(wait) => Self::rate_limited(wait),
            Rejection::CrossSite => Self::new(StatusCode::FORBIDDEN, ErrorCode::CsrfRejected, message),
            Rejection::AdminsOnly | Rejection::ModeratorsOnly => Self::forbidden(message),
            Rejection::Store(e) => e.into(),
        }
    }
}

/// The extractors of [`crate::auth`] reject with their own error; this is its answer.
impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        HttpError::from(self).into_response()
    }
}

impl From<LoginError> for HttpError {
    fn from(err: LoginError) -> Self {
        let message = err.to_string();
        match err {
            LoginError::InvalidCredentials => {
                Self::new(StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials, message)
            }
            LoginError::WrongCurrentPassword => {
                let mut e = Self::new(StatusCode::FORBIDDEN, ErrorCode::InvalidCredentials, message);
                e.body.field = Some("current_password".into());
                e
            }
            LoginError::EmailNotConfirmed => {
                Self::new(StatusCode::FORBIDDEN, ErrorCode::EmailNotConfirmed, message)
            }
            LoginError::Banned => Self::banned(),
            LoginError::RateLimited(wait) => Self::rate_limited(wait),
            LoginError::Hash(e) => e.into(),
            LoginError::Store(e) => e.into(),
        }
    }
}

impl From<RefreshError> for HttpError {
    fn from(err: RefreshError) -> Self {
        let message = err.to_string();
        match err {
            RefreshError::Unknown | RefreshError::LoginEnded => Self::unauthorized(message),
            RefreshError::Reused => Self::new(StatusCode::UNAUTHORIZED, ErrorCode::TokenReused, message),
            RefreshError::Store(e) => e.into(),
        }
    }
}

impl From<web::Miss> for HttpError {
    fn from(miss: web::Miss) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, miss.to_string())
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let retry_after = self.body.retry_after_secs;
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
