//! Invite links: a code that lets a limited number of people register, until it expires
//! or is revoked.

use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

/// `POST /api/invites`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CreateInviteRequest {
    /// How many accounts the code may create: 1 up to the server's `INVITE_MAX_USES`.
    #[serde(deserialize_with = "crate::number::deserialize_whole")]
    pub max_uses: i64,
    /// Seconds until the code stops working: 60 up to the server's
    /// `INVITE_MAX_LIFETIME_SECS`.
    #[serde(deserialize_with = "crate::number::deserialize_whole")]
    pub expires_in_secs: i64,
}

/// The answer to `POST /api/invites`. The code is shown this once: the server keeps only
/// its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CreatedInvite {
    pub code: String,
    /// `${PUBLIC_URL}/invite/<code>`: opens registration with the code filled in.
    pub url: String,
    pub invite: Invite,
}

/// An invite as listed: everything but the code itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Invite {
    /// Names the invite for `DELETE /api/invites/{id}`.
    pub id: Id,
    /// The code's first characters, to tell invites apart; not enough to use one.
    pub code_prefix: String,
    pub created_by: Id,
    pub created_by_username: String,
    pub max_uses: i64,
    pub uses: i64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// `GET /api/registration`, for signed-out clients: whether the Register screen should
/// ask for an invite, or say registration is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RegistrationInfo {
    pub mode: crate::feature_flag::RegistrationMode,
}
