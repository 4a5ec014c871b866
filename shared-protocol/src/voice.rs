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

/// How a room's audio travels. In `mesh` every participant sends its stream to every
/// other over one peer connection each; in `sfu` each participant holds one peer
/// connection with the server, sends its stream once and receives everyone else's on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RoomMode {
    #[default]
    Mesh,
    Sfu,
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

/// For `RTCPeerConnection`'s `iceTransportPolicy`. `relay` keeps every candidate on the
/// TURN relay, so peers never learn each other's addresses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum IceTransportPolicy {
    #[default]
    All,
    Relay,
}

/// `GET /api/voice/ice-servers`: what `voice_joined` carries, for clients that set up
/// a connection before joining.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IceServersResponse {
    pub ice_servers: Vec<IceServer>,
    pub ice_transport_policy: IceTransportPolicy,
    /// When the TURN credentials stop working; fetch new ones before then.
    pub expires_at: Timestamp,
}

/// A user's own voice choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VoicePreferences {
    /// Only relayed connections for me: peers see the server's address, never mine.
    pub relay_only: bool,
    /// An admin forces relay-only for everyone, whatever `relay_only` says.
    pub forced_by_admin: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct UpdateVoicePreferencesRequest {
    #[serde(default)]
    pub relay_only: Option<bool>,
}

/// Server-wide voice settings (admins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct VoiceSettings {
    /// Every client gets `ice_transport_policy: relay`.
    pub force_relay: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[cfg_attr(feature = "ts", ts(optional_fields))]
pub struct UpdateVoiceSettingsRequest {
    #[serde(default)]
    pub force_relay: Option<bool>,
}

/// One step of the relay self-test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SelfTestStep {
    pub ok: bool,
    /// What was seen, e.g. the mapped or relayed address, or why it failed.
    pub detail: String,
    pub elapsed_ms: u64,
}

/// `POST /api/admin/voice/self-test`: the server allocates through its own TURN relay
/// with fresh credentials and reports each step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SelfTestReport {
    /// All of the steps below that ran succeeded.
    pub ok: bool,
    /// The TURN address that was tested (`host:port`).
    pub server: String,
    pub stun_binding: SelfTestStep,
    pub allocation: SelfTestStep,
    pub relay_round_trip: SelfTestStep,
    /// An allocation over the TCP listener (passes as skipped when TURN_TCP is off).
    pub tcp_allocation: SelfTestStep,
    /// A relay to a denied address (loopback) is refused, unless the settings allow it.
    pub peer_filter: SelfTestStep,
}
