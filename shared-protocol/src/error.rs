//! The one error body every failing request answers with: `{code, message}`.

use serde::{Deserialize, Serialize};

/// Stable, machine-readable reason for a failure. Clients match on this, never on the
/// human-readable `message`. New variants may be added; unknown ones should be treated
/// like `internal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The body is not valid JSON, or has the wrong shape or types. Not retryable.
    MalformedRequest,
    /// The JSON is well formed but a field breaks a rule (length, format). Not retryable.
    ValidationFailed,
    /// The body is larger than the endpoint accepts. Not retryable.
    PayloadTooLarge,
    /// The request needs `Content-Type: application/json`. Not retryable.
    UnsupportedMediaType,
    /// No credentials, or credentials that are not valid. Log in again.
    Unauthorized,
    /// The access token has expired: refresh it and retry.
    TokenExpired,
    /// A refresh token was used twice; the whole login has been revoked. Log in again.
    TokenReused,
    /// Email or password is wrong.
    InvalidCredentials,
    /// The account must confirm its email address first.
    EmailNotConfirmed,
    /// A confirmation or reset token is unknown, used or expired.
    InvalidToken,
    /// Authenticated, but not allowed to do this.
    Forbidden,
    /// A cookie-authenticated request that failed the cross-site check.
    CsrfRejected,
    /// The thing named does not exist, or the caller may not know it exists.
    NotFound,
    /// The email address is already registered.
    EmailTaken,
    /// The username is already taken.
    UsernameTaken,
    /// Another channel has this name.
    ChannelNameTaken,
    /// Another group, or a user, has this name (both answer to `@name`).
    GroupNameTaken,
    /// A name that must be unique is already used.
    Conflict,
    /// Registration is switched off on this server.
    RegistrationClosed,
    /// The operation is switched off by a feature flag.
    FeatureDisabled,
    /// Too many attempts: wait `retry_after_secs` (also in `Retry-After`) and retry.
    RateLimited,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// The server could not reach its database; retryable.
    Unavailable,
    /// A bug or an unexpected failure on the server; details are in its log. Retryable.
    Internal,
    /// The invite code is unknown, revoked, expired or used up, or registration needs
    /// one and none was given. Not retryable with the same code.
    InviteInvalid,
    /// The voice room already holds as many participants as the server allows
    /// (`VOICE_ROOM_MAX`). Retryable once someone leaves.
    RoomFull,
    /// The account is banned: it may not log in, and its address may not register.
    /// Not retryable.
    Banned,
    /// The caller is timed out by a moderator and may not post, edit, type or talk until
    /// the time is up (`retry_after_secs` says how long). Retryable then.
    TimedOut,
    /// One of the people involved blocked the other: no direct message between them,
    /// and neither writes into one they share. Not retryable until the block is lifted.
    Blocked,
}

/// The error body: `{"code": "...", "message": "..."}`, with optional detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ApiError {
    pub code: ErrorCode,
    /// Human-readable; wording may change between versions.
    pub message: String,
    /// The request field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds to wait before retrying, for `rate_limited`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), field: None, retry_after_secs: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_strings_clients_can_match() {
        let body = ApiError::new(ErrorCode::TokenReused, "reused");
        let json = serde_json::to_value(&body).expect("serializes");
        assert_eq!(json["code"], "token_reused", "the code is the stable contract");
        assert!(json.get("field").is_none(), "absent detail is omitted, not null");
    }
}
