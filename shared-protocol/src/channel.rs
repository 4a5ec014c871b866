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
    /// A direct message: a private conversation of 2 to 10 people, created by
    /// `POST /api/dms`, that only they see (admins included). It carries text and can
    /// hold a voice call.
    Dm,
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
    /// What the caller is told about this channel (their own setting; `mentions` unless
    /// they chose otherwise).
    #[serde(default)]
    pub notification_level: NotificationLevel,
    /// The caller muted the channel until then: while it lasts they get no notifications
    /// from it and clients show no badges for it. `null` when not muted (or the mute ran out).
    #[serde(default)]
    pub muted_until: Option<Timestamp>,
}

/// How much one user hears of one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum NotificationLevel {
    /// A desktop notification for every message by others, plus mentions in the inbox.
    All,
    /// Mentions only (inbox and desktop); unread counts still show. The default.
    #[default]
    Mentions,
    /// No inbox entries, no desktop notifications and no badges; the channel still
    /// shows that it has something new.
    Nothing,
}

/// One user's notification setting for one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ChannelNotificationSettings {
    pub channel_id: Id,
    pub level: NotificationLevel,
    /// Muted until then (nothing at all, whatever `level` says); `null`: not muted.
    pub muted_until: Option<Timestamp>,
}

/// `PUT /api/channels/{id}/notification_settings`: replaces the caller's setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct UpdateNotificationSettingsRequest {
    pub level: NotificationLevel,
    /// Mute for this many seconds from now (1 to `CHANNEL_MUTE_MAX_SECS`); absent or
    /// `null`: not muted.
    #[serde(default, deserialize_with = "crate::number::deserialize_optional_whole")]
    pub mute_for_secs: Option<i64>,
}

/// `GET /api/channels/{id}/members`: one page of members, by user id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct ListMembersQuery {
    /// Members whose user id is greater than this (the last id of the previous page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>))]
    pub after: Option<Id>,
    /// 1 to `MEMBER_PAGE_MAX` (1000); default `MEMBER_PAGE_DEFAULT` (1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
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
