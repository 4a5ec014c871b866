//! The notification inbox.

use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    Mention,
    /// A message in a direct message the user takes part in (every one, by default).
    DirectMessage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Notification {
    pub id: Id,
    pub kind: NotificationKind,
    pub channel_id: Id,
    pub message_id: Id,
    pub actor_id: Id,
    /// The first characters of the message, for the inbox and OS notifications.
    pub excerpt: String,
    pub created_at: Timestamp,
    pub read_at: Option<Timestamp>,
}

crate::constant::named_constants! {
    CONSTANTS;
    /// Notifications per inbox page unless `limit` says otherwise.
    pub const NOTIFICATION_PAGE_DEFAULT: u32 = 50;
    pub const NOTIFICATION_PAGE_MAX: u32 = 100;
}

/// `GET /api/notifications`: the caller's inbox, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct ListNotificationsQuery {
    /// Only notifications not yet marked read.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(as = "Option<bool>"))]
    pub unread_only: bool,
    /// Notifications older than this id (paging back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>))]
    pub before: Option<Id>,
    /// 1 to `NOTIFICATION_PAGE_MAX`; default `NOTIFICATION_PAGE_DEFAULT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// `POST /api/notifications/read_all`: how many notifications it marked read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MarkedRead {
    pub marked: u64,
}
