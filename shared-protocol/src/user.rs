//! Users as others see them, and as they see themselves.

use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the server: settings, channels, roles, and everything moderators may do.
    Admin,
    /// Times users out and bans them, but changes no server settings.
    Moderator,
    Member,
}

impl Role {
    /// Whether this role may time out, ban and unban (admins and moderators).
    pub fn may_moderate(self) -> bool {
        matches!(self, Role::Admin | Role::Moderator)
    }
}

/// How the microphone opens: held key, or voice activity above a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum VoiceMode {
    Ptt,
    Vad,
}

/// What every signed-in user may see of another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct User {
    pub id: Id,
    pub username: String,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    pub role: Role,
    pub created_at: Timestamp,
    /// Set once the account was deleted: the name reads "Deleted user" and nobody can
    /// sign in as it; its messages, if its owner kept them, stay attributed to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub deleted_at: Option<Timestamp>,
}

/// The signed-in user's own account, with private settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OwnUser {
    #[serde(flatten)]
    pub user: User,
    pub email: String,
    pub email_confirmed: bool,
    pub voice_mode: VoiceMode,
    /// Voice-activity threshold in dBFS (e.g. -40.0).
    pub vad_threshold_db: f64,
}

/// `PATCH /api/users/me`: each field present is changed; `null` clears an optional one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct UpdateProfileRequest {
    #[serde(default, with = "crate::patch")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    #[cfg_attr(feature = "ts", ts(optional, type = "string | null"))]
    pub display_name: Option<Option<String>>,
    #[serde(default, with = "crate::patch")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    #[cfg_attr(feature = "ts", ts(optional, type = "string | null"))]
    pub avatar_url: Option<Option<String>>,
    #[serde(default)]
    pub voice_mode: Option<VoiceMode>,
    #[serde(default)]
    pub vad_threshold_db: Option<f64>,
}

/// `PATCH /api/users/{id}/role` (admin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct SetRoleRequest {
    pub role: Role,
}

/// `POST /api/admin/users` (admin): an account made for someone. Without a password the
/// new user is mailed a link to choose one, so the admin never knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct CreateUserRequest {
    pub email: String,
    pub username: String,
    #[serde(default)]
    pub password: Option<String>,
    pub role: Role,
}
