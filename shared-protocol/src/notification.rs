//! The notification inbox.

use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    Mention,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
