//! Voice rooms as the gateway describes them, and how to reach the media relay.

use serde::{Deserialize, Serialize};

use crate::{Id, Timestamp};

/// One connection in a voice room. Peers address each other by `session_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VoiceParticipant {
    pub session_id: Id,
    pub user_id: Id,
    pub muted: bool,
    pub deafened: bool,
    /// Push-to-talk held (or voice activity) right now.
    pub speaking: bool,
    pub joined_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VoiceRoom {
    pub channel_id: Id,
    pub participants: Vec<VoiceParticipant>,
}

/// An entry for `RTCPeerConnection`'s `iceServers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}
