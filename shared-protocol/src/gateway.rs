//! The real-time gateway at `/api/gateway`: JSON text frames over one WebSocket.
//!
//! Flow: server `hello` → client `identify` (or `resume`) → server `ready` (or replayed
//! events then `resumed`) → events, each with a per-session `seq` starting at 1 and
//! without gaps, while the client sends `heartbeat` every `heartbeat_interval_ms`.
//! Control frames ([`ControlFrame`]) carry no `seq`; event frames ([`EventFrame`]) do.

use serde::{Deserialize, Serialize};

use crate::channel::ChannelListEntry;
use crate::error::ErrorCode;
use crate::feature_flag::FeatureFlags;
use crate::limits::ServerLimits;
use crate::user::{OwnUser, User};
use crate::voice::{IceServer, IceTransportPolicy, RoomMode, VoiceRoom};
use crate::Id;

pub use crate::event::Event;

crate::constant::named_constants! {
    CONSTANTS;
    /// Bumped on incompatible changes; a client sending another version is closed with
    /// [`close_code::UNSUPPORTED_VERSION`].
    pub const PROTOCOL_VERSION: u32 = 1;
    /// Largest text frame the server reads, in bytes, but for `sdp_offer` and
    /// `sdp_answer`, whose limit is the server's `GATEWAY_MAX_SDP_BYTES` setting.
    pub const MAX_INBOUND_FRAME_BYTES: usize = 16 * 1024;
}

/// WebSocket close codes the server uses (4000–4999 are application codes).
pub mod close_code {
    crate::constant::named_constants! {
        ALL;
        /// Normal closure.
        pub const NORMAL: u16 = 1000;
        /// The server is shutting down; reconnect and resume.
        pub const GOING_AWAY: u16 = 1001;
        /// A frame over [`super::MAX_INBOUND_FRAME_BYTES`].
        pub const FRAME_TOO_LARGE: u16 = 1009;
        /// A frame that is not valid JSON of a known op. Do not resend it.
        pub const DECODE_ERROR: u16 = 4001;
        /// An op other than identify/resume/heartbeat before identifying.
        pub const NOT_AUTHENTICATED: u16 = 4003;
        /// Identify/resume with a bad, expired or revoked token. Refresh and reconnect.
        pub const AUTHENTICATION_FAILED: u16 = 4004;
        /// A second identify on the same connection.
        pub const ALREADY_AUTHENTICATED: u16 = 4005;
        /// No heartbeat within the timeout. Reconnect and resume.
        pub const HEARTBEAT_TIMEOUT: u16 = 4006;
        /// Too many commands; reconnect after a pause.
        pub const RATE_LIMITED: u16 = 4008;
        /// The login behind this connection ended (logout, password change, revocation).
        pub const SESSION_REVOKED: u16 = 4009;
        /// The client's protocol version is not supported. Update the client.
        pub const UNSUPPORTED_VERSION: u16 = 4010;
        /// The client read too slowly and its outbound queue filled. Reconnect and resume.
        pub const SLOW_CONSUMER: u16 = 4011;
        /// The server has reached its connection cap. Retry later.
        pub const SERVER_FULL: u16 = 4012;
        /// Identify/resume did not arrive in time after hello (`GATEWAY_IDENTIFY_TIMEOUT_MS`).
        /// Reconnect.
        pub const IDENTIFY_TIMEOUT: u16 = 4013;
        /// Identify/resume refused: the user already has as many sessions open as the server
        /// allows (`GATEWAY_MAX_CONNECTIONS_PER_USER`). Retry after a pause, once one closes.
        pub const TOO_MANY_SESSIONS: u16 = 4014;
        /// The account was deleted (by its owner or an admin). Do not reconnect: sign out.
        pub const ACCOUNT_DELETED: u16 = 4015;
    }
}

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Authenticate with an access token; browsers may omit it and rely on their cookie.
    Identify {
        #[serde(default)]
        token: Option<String>,
        #[serde(default = "current_version")]
        protocol_version: u32,
    },
    /// Continue a dropped session: replays every event after `last_seq`.
    Resume {
        #[serde(default)]
        token: Option<String>,
        session_id: Id,
        last_seq: u64,
    },
    Heartbeat,
    /// The user is typing in a channel; shown to others for a few seconds.
    TypingStart {
        channel_id: Id,
    },
    /// The user is away (idle) or back (online). Offline is decided by the server.
    SetPresence {
        status: PresenceStatus,
    },
    VoiceJoin {
        channel_id: Id,
    },
    VoiceLeave,
    /// WebRTC offer for the peer session `to`, in the same voice room.
    SdpOffer {
        to: Id,
        sdp: String,
    },
    SdpAnswer {
        to: Id,
        sdp: String,
    },
    /// A trickled ICE candidate (the browser's `RTCIceCandidateInit`, as JSON).
    IceCandidate {
        to: Id,
        candidate: serde_json::Value,
    },
    /// Push-to-talk pressed or released.
    PttState {
        active: bool,
    },
    SetMute {
        muted: bool,
    },
    /// Deafening also mutes; undeafening leaves mute as it is.
    SetDeafen {
        deafened: bool,
    },
    /// Turn down the call ringing in a direct message: the participants hear
    /// `call_declined` (the caller, and the decliner's other sessions, which stop ringing).
    CallDecline {
        channel_id: Id,
    },
}

fn current_version() -> u32 {
    PROTOCOL_VERSION
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum PresenceStatus {
    Online,
    Idle,
    Offline,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Presence {
    pub user_id: Id,
    pub status: PresenceStatus,
}

/// The state a client starts from, sent once after `identify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReadySnapshot {
    pub user: OwnUser,
    pub users: Vec<User>,
    pub channels: Vec<ChannelListEntry>,
    pub presences: Vec<Presence>,
    pub voice_rooms: Vec<VoiceRoom>,
    pub feature_flags: FeatureFlags,
    /// This server's configured limits; absent from servers older than the field.
    #[serde(default)]
    pub limits: ServerLimits,
}

/// Frames without a sequence number: session control and op results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlFrame {
    Hello {
        heartbeat_interval_ms: u64,
        session_id: Id,
        protocol_version: u32,
    },
    Ready {
        session_id: Id,
        #[serde(flatten)]
        snapshot: Box<ReadySnapshot>,
    },
    /// Every missed event has been replayed; live events follow.
    Resumed {
        last_seq: u64,
    },
    /// The session cannot be resumed: identify afresh and refetch state over REST.
    InvalidSession,
    HeartbeatAck,
    /// Answer to a successful `voice_join`: who is already in the room and how to reach them.
    VoiceJoined {
        room: VoiceRoom,
        ice_servers: Vec<IceServer>,
        /// `relay` when this user or an admin chose relay-only voice.
        #[serde(default)]
        ice_transport_policy: IceTransportPolicy,
        /// This connection's peer id in the room (its gateway session id).
        self_session_id: Id,
        /// How the room's audio travels now; `voice_mode_changed` tells of later moves.
        #[serde(default)]
        mode: RoomMode,
        /// In `sfu` mode, the peer id to negotiate with: the client sends `sdp_offer`
        /// (and trickles `ice_candidate`) to it, and answers the offers it sends when
        /// the room's set of tracks changes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sfu_session_id: Option<Id>,
    },
    /// An op was refused; the connection stays open.
    Error {
        /// The op that failed, e.g. `voice_join`.
        op: String,
        code: ErrorCode,
        message: String,
    },
}

/// An event with its per-session sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EventFrame {
    pub seq: u64,
    #[serde(flatten)]
    pub event: Event,
}

/// Anything the server sends: event frames have a `seq`, control frames do not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(untagged)]
pub enum ServerFrame {
    Event(EventFrame),
    Control(ControlFrame),
}

/// A server frame as a client decodes it: one this build understands, or an event that
/// only a newer server knows.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "decoded once per frame and matched at once; boxing the common case would only add an allocation"
)]
pub enum Inbound {
    Frame(ServerFrame),
    /// An event frame whose `type` is not an [`Event`] of this build. Its `seq` still
    /// counts (the client has seen it and need not have it replayed); its content is
    /// skipped, so an older client keeps working beside a newer server.
    UnknownEvent {
        seq: u64,
        event_type: String,
    },
}

impl Inbound {
    /// Decodes one text frame. Anything that is neither a frame of this build nor an
    /// event frame of an unknown type (a known event with wrong fields, a control frame
    /// of an unknown type, not JSON) is an error: skipping it could hide a real
    /// disagreement about the protocol.
    pub fn from_json(text: &str) -> Result<Inbound, serde_json::Error> {
        /// The two fields every event frame has, whatever its type.
        #[derive(Deserialize)]
        struct Sequenced {
            seq: u64,
            #[serde(rename = "type")]
            event_type: String,
        }
        let error = match serde_json::from_str::<ServerFrame>(text) {
            Ok(frame) => return Ok(Inbound::Frame(frame)),
            Err(error) => error,
        };
        match serde_json::from_str::<Sequenced>(text) {
            Ok(Sequenced { seq, event_type }) if !Event::types().contains(&event_type.as_str()) => {
                Ok(Inbound::UnknownEvent { seq, event_type })
            }
            _ => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    #[test]
    fn client_frames_are_tagged_snake_case() {
        let f: ClientFrame = serde_json::from_str(r#"{"type":"identify","token":"t"}"#).expect("parses");
        assert_eq!(f, ClientFrame::Identify { token: Some("t".into()), protocol_version: PROTOCOL_VERSION });
        let f: ClientFrame =
            serde_json::from_str(r#"{"type":"sdp_offer","to":"5","sdp":"v=0"}"#).expect("parses");
        assert_eq!(f, ClientFrame::SdpOffer { to: Id(5), sdp: "v=0".into() });
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"launch_missiles"}"#).is_err());
    }

    #[test]
    fn event_frames_carry_a_top_level_seq_and_control_frames_do_not() {
        let message = Message {
            id: Id(1),
            channel_id: Id(2),
            author_id: Id(3),
            body: "hi".into(),
            nonce: None,
            mentions: vec![],
            created_at: 0,
            edited_at: None,
            reply_to: None,
            reactions: vec![],
            attachments: vec![],
        };
        let frame = ServerFrame::Event(EventFrame { seq: 7, event: Event::MessageCreate { message } });
        let json = serde_json::to_value(&frame).expect("serializes");
        assert_eq!(json["seq"], 7, "seq sits at the top level");
        assert_eq!(json["type"], "message_create");
        let back: ServerFrame = serde_json::from_value(json).expect("parses back");
        assert_eq!(back, frame);

        let hello: ServerFrame = serde_json::from_str(
            r#"{"type":"hello","heartbeat_interval_ms":30000,"session_id":"9","protocol_version":1}"#,
        )
        .expect("parses");
        assert!(matches!(hello, ServerFrame::Control(ControlFrame::Hello { .. })), "no seq: a control frame");
    }

    #[test]
    fn an_unknown_event_from_a_newer_server_is_named_not_an_error() {
        let decoded = Inbound::from_json(r#"{"seq":4,"type":"poll_create","poll":{"id":"1"}}"#);
        assert_eq!(
            decoded.expect("an unknown event decodes"),
            Inbound::UnknownEvent { seq: 4, event_type: "poll_create".into() },
            "its seq is kept so the client can count it as seen"
        );
        let known = Inbound::from_json(r#"{"seq":5,"type":"channel_delete","channel_id":"3"}"#);
        assert!(
            matches!(known, Ok(Inbound::Frame(ServerFrame::Event(EventFrame { seq: 5, .. })))),
            "known events decode as before"
        );
    }

    #[test]
    fn broken_known_frames_and_unknown_control_frames_stay_errors() {
        assert!(
            Inbound::from_json(r#"{"seq":5,"type":"channel_delete"}"#).is_err(),
            "a known event without its fields is a real disagreement, not a newer event"
        );
        assert!(
            Inbound::from_json(r#"{"type":"brand_new_control"}"#).is_err(),
            "control frames steer the session; an unknown one is not skipped silently"
        );
        assert!(Inbound::from_json("not json").is_err());
    }
}
