//! Text and voice channels, their memberships and read state.

use serde::{Deserialize, Serialize};

use crate::voice::RoomMode;
use crate::{Id, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Text,
    Voice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum WritePermission {
    Everyone,
    AdminOnly,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Channel {
    pub id: Id,
    pub name: String,
    pub kind: ChannelKind,
    pub topic: Option<String>,
    /// Every new user joins default channels.
    pub is_default: bool,
    /// Only members (and admins) see a private channel.
    pub is_private: bool,
    pub write_permission: WritePermission,
    /// A voice room that always uses this mode (`mesh` or `sfu`), whatever the server's
    /// `VOICE_MODE` says; `null` follows the server.
    #[serde(default)]
    pub voice_mode: Option<RoomMode>,
    pub created_at: Timestamp,
}

/// A channel as the caller sees it in `GET /api/channels`, with their own state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChannelListEntry {
    #[serde(flatten)]
    pub channel: Channel,
    pub is_member: bool,
    pub last_message_id: Option<Id>,
    pub last_read_message_id: Option<Id>,
    /// Messages by others after the read marker.
    pub unread_count: i64,
    /// Of those, the ones that mention the caller (directly, by group, @here, @everyone).
    pub mention_count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct CreateChannelRequest {
    pub name: String,
    pub kind: ChannelKind,
    #[serde(default)]
    pub topic: Option<String>,
    #[serde(default)]
    pub is_default: bool,
    #[serde(default)]
    pub is_private: bool,
    #[serde(default = "everyone")]
    pub write_permission: WritePermission,
    #[serde(default)]
    pub voice_mode: Option<RoomMode>,
}

fn everyone() -> WritePermission {
    WritePermission::Everyone
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct UpdateChannelRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, with = "crate::patch")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    #[cfg_attr(feature = "ts", ts(optional, type = "string | null"))]
    pub topic: Option<Option<String>>,
    #[serde(default)]
    pub is_default: Option<bool>,
    #[serde(default)]
    pub is_private: Option<bool>,
    #[serde(default)]
    pub write_permission: Option<WritePermission>,
    /// Pin the voice room's mode; `null` lets it follow the server again.
    #[serde(default, with = "crate::patch")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<RoomMode>))]
    #[cfg_attr(feature = "ts", ts(as = "Option<RoomMode>", optional = nullable))]
    pub voice_mode: Option<Option<RoomMode>>,
}

/// `PUT/DELETE /api/channels/{id}/members/{user_id}` need no body; this lists members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChannelMember {
    pub user_id: Id,
    pub joined_at: Timestamp,
}

/// `POST /api/channels/{id}/ack`: everything up to and including this message is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct AckRequest {
    pub message_id: Id,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReadState {
    pub channel_id: Id,
    pub last_read_message_id: Option<Id>,
}
