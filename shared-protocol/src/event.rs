//! Events the gateway pushes to clients; each arrives wrapped with its `seq`.

use serde::{Deserialize, Serialize};

use crate::channel::{Channel, ReadState};
use crate::feature_flag::FeatureFlags;
use crate::gateway::PresenceStatus;
use crate::group::Group;
use crate::message::Message;
use crate::notification::Notification;
use crate::user::User;
use crate::voice::VoiceParticipant;
use crate::{Id, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    MessageCreate {
        message: Message,
    },
    MessageUpdate {
        message: Message,
    },
    MessageDelete {
        channel_id: Id,
        message_id: Id,
    },
    ChannelCreate {
        channel: Channel,
    },
    ChannelUpdate {
        channel: Channel,
    },
    /// Also sent when the recipient lost access to the channel.
    ChannelDelete {
        channel_id: Id,
    },
    MemberJoin {
        channel_id: Id,
        user_id: Id,
    },
    MemberLeave {
        channel_id: Id,
        user_id: Id,
    },
    /// The user's read marker moved (from another of their devices).
    ReadStateUpdate {
        read_state: ReadState,
    },
    NotificationCreate {
        notification: Notification,
    },
    /// Notifications were marked read on another device: one, or all when `None`.
    NotificationsRead {
        notification_id: Option<Id>,
    },
    PresenceUpdate {
        user_id: Id,
        status: PresenceStatus,
    },
    /// Someone is typing; show it until `expires_at` unless renewed.
    TypingStart {
        channel_id: Id,
        user_id: Id,
        expires_at: Timestamp,
    },
    /// A user's public profile changed (name, avatar, role), or a user registered.
    UserUpdate {
        user: User,
    },
    GroupUpdate {
        group: Group,
    },
    GroupDelete {
        group_id: Id,
    },
    FeatureFlagsUpdate {
        feature_flags: FeatureFlags,
    },
    /// A participant joined, changed (mute, deafen, push-to-talk) or left (`left`).
    VoiceStateUpdate {
        channel_id: Id,
        participant: VoiceParticipant,
        #[serde(default)]
        left: bool,
    },
    /// A new peer joined the caller's voice room: existing peers send it offers.
    PeerJoined {
        channel_id: Id,
        participant: VoiceParticipant,
    },
    PeerLeft {
        channel_id: Id,
        session_id: Id,
        user_id: Id,
    },
    /// Signaling relayed from the peer `from` (a gateway session id) in the same room.
    SdpOffer {
        from: Id,
        from_user_id: Id,
        sdp: String,
    },
    SdpAnswer {
        from: Id,
        from_user_id: Id,
        sdp: String,
    },
    IceCandidate {
        from: Id,
        from_user_id: Id,
        candidate: serde_json::Value,
    },
    PttState {
        session_id: Id,
        user_id: Id,
        active: bool,
    },
}
