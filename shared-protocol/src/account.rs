//! The end of an account and what it holds: deleting one's own account (or an admin
//! deleting another's) and exporting one's own data.

use serde::{Deserialize, Serialize};

use crate::auth::SessionInfo;
use crate::channel::{ChannelNotificationSettings, ReadState};
use crate::user::OwnUser;
use crate::{Id, Timestamp};

/// `DELETE /api/users/me`: the current password proves it is the owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct DeleteAccountRequest {
    pub password: String,
    /// Delete every message the account wrote too; `false` (the default) keeps them,
    /// attributed to "Deleted user".
    #[serde(default)]
    pub delete_messages: bool,
}

/// `DELETE /api/admin/users/{id}` (admins).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct AdminDeleteUserRequest {
    #[serde(default)]
    pub delete_messages: bool,
}

/// The answer to a deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AccountDeleted {
    pub user_id: Id,
    pub deleted_messages: i64,
}

/// A channel the user is a member of, in an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportedMembership {
    pub channel_id: Id,
    pub name: String,
    pub joined_at: Timestamp,
}

/// A group the user is in, in an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportedGroup {
    pub group_id: Id,
    pub name: String,
}

/// A message the user wrote, in an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportedMessage {
    pub id: Id,
    pub channel_id: Id,
    pub body: String,
    pub created_at: Timestamp,
    pub edited_at: Option<Timestamp>,
}

/// `GET /api/users/me/export`: everything the server holds about the caller, as one
/// JSON document. Sessions carry no secrets; messages come oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AccountExport {
    pub exported_at: Timestamp,
    pub profile: OwnUser,
    pub sessions: Vec<SessionInfo>,
    pub channels: Vec<ExportedMembership>,
    pub read_states: Vec<ReadState>,
    pub notification_settings: Vec<ChannelNotificationSettings>,
    pub groups: Vec<ExportedGroup>,
    pub relay_only: bool,
    pub messages: Vec<ExportedMessage>,
}
