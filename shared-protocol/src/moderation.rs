//! Moderation and the audit log: timeouts, bans, and the record of what admins and
//! moderators changed.

use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

crate::constant::named_constants! {
    CONSTANTS;
    /// A moderation reason, counted in characters.
    pub const MODERATION_REASON_MAX_CHARS: usize = 512;
    pub const AUDIT_LOG_PAGE_DEFAULT: u32 = 50;
    pub const AUDIT_LOG_PAGE_MAX: u32 = 100;
}

/// `POST /api/admin/users/{id}/timeout` (admins and moderators): the user may not post,
/// edit, type or be in a voice room until the time is up. A second timeout replaces the
/// first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct TimeoutRequest {
    /// 1 up to the server's `MODERATION_TIMEOUT_MAX_SECS`.
    #[serde(deserialize_with = "crate::number::deserialize_whole")]
    pub duration_secs: i64,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /api/admin/users/{id}/ban` (admins and moderators).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct BanRequest {
    #[serde(default)]
    pub reason: Option<String>,
    /// Also delete the user's messages of the last this many hours: 0 (the default)
    /// up to the server's `BAN_DELETE_MESSAGES_MAX_HOURS`.
    #[serde(default, deserialize_with = "crate::number::deserialize_whole")]
    pub delete_messages_hours: i64,
}

/// A timeout in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Timeout {
    pub user_id: Id,
    pub ends_at: Timestamp,
    pub reason: Option<String>,
    /// Who set it; `null` once that account is gone.
    pub created_by: Option<Id>,
    pub created_at: Timestamp,
}

/// A ban: the account's logins ended, and its address may neither log in nor register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Ban {
    /// `null` once the banned account is deleted (its address stays banned).
    pub user_id: Option<Id>,
    pub reason: Option<String>,
    pub created_by: Option<Id>,
    pub created_at: Timestamp,
}

/// The answer to a ban: the ban, and how many messages it deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BanResult {
    pub ban: Ban,
    pub deleted_messages: i64,
}

/// `GET /api/admin/moderation` (admins and moderators): bans and timeouts in force.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ModerationState {
    pub bans: Vec<Ban>,
    pub timeouts: Vec<Timeout>,
}

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditAction {
    UserTimedOut,
    TimeoutLifted,
    UserBanned,
    UserUnbanned,
    RoleChanged,
    UserCreated,
    ChannelCreated,
    ChannelUpdated,
    ChannelDeleted,
    FeatureFlagsUpdated,
    VoiceSettingsUpdated,
    /// An account was deleted, by its owner (`details.by_owner`) or an admin.
    UserDeleted,
    InviteCreated,
    InviteRevoked,
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    /// An admin added someone to a private channel.
    ChannelMemberAdded,
    /// An admin removed someone from a private channel.
    ChannelMemberRemoved,
}

/// One entry of the audit log. `details` holds what changed, shaped per action (the
/// request's fields, or the channel as it became).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AuditEntry {
    pub id: Id,
    /// Who did it.
    pub actor_id: Id,
    pub action: AuditAction,
    pub target_user_id: Option<Id>,
    pub target_channel_id: Option<Id>,
    pub reason: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: serde_json::Value,
    pub created_at: Timestamp,
}

/// `GET /api/admin/audit_log`: newest first, paged back with `before`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct AuditLogQuery {
    /// Entries older than this id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>))]
    pub before: Option<Id>,
    /// 1 to `AUDIT_LOG_PAGE_MAX` (100); default `AUDIT_LOG_PAGE_DEFAULT` (50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}
