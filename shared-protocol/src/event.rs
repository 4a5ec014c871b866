//! Events the gateway pushes to clients; each arrives wrapped with its `seq`.
//!
//! [`Event`] is exhaustive on purpose: every client in the workspace matches it without a
//! catch-all, so a new event is a compile error wherever it is not handled yet. Events
//! from a newer server that this build does not know are caught where frames are
//! decoded ([`crate::gateway::Inbound`]), never by a wildcard arm.

use serde::de::value::MapDeserializer;
use serde::{de, Deserialize, Serialize};

use crate::channel::{Channel, ChannelNotificationSettings, ReadState};
use crate::feature_flag::FeatureFlags;
use crate::gateway::PresenceStatus;
use crate::group::Group;
use crate::message::Message;
use crate::notification::Notification;
use crate::user::User;
use crate::voice::{RoomMode, VoiceParticipant};
use crate::{Id, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
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
    /// `user_id` reacted to a message with `emoji` (a first reaction with it: repeating
    /// one sends nothing).
    ReactionAdd {
        channel_id: Id,
        message_id: Id,
        user_id: Id,
        emoji: String,
    },
    ReactionRemove {
        channel_id: Id,
        message_id: Id,
        user_id: Id,
        emoji: String,
    },
    /// A message of the channel was pinned (`pinned`) or unpinned, by `user_id`;
    /// deleting a pinned message unpins it (`user_id` is then who deleted it).
    PinsUpdate {
        channel_id: Id,
        message_id: Id,
        pinned: bool,
        user_id: Id,
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
    /// The user changed what they hear of a channel (from another of their devices).
    NotificationSettingsUpdate {
        settings: ChannelNotificationSettings,
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
    /// Someone started a call in a direct message the receiver takes part in: its voice
    /// room was empty and `from_user_id` joined it. Ring until `expires_at`
    /// (`DM_CALL_RING_SECS` on), until the room is empty again (the caller hung up), or
    /// until the receiver joins or declines (`call_declined`, on any of their sessions).
    CallRing {
        channel_id: Id,
        from_user_id: Id,
        expires_at: Timestamp,
    },
    /// `user_id` declined the call in a direct message (`call_decline`); sent to all its
    /// participants.
    CallDeclined {
        channel_id: Id,
        user_id: Id,
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
    /// The caller's voice room moved to another way of carrying audio. Moving to `sfu`:
    /// connect to `sfu_session_id` and keep the mesh peers until the server's tracks
    /// carry audio. Moving to `mesh`: connect to every peer (the lower session id
    /// offers) and keep the server's connection until the peers carry audio.
    VoiceModeChanged {
        channel_id: Id,
        mode: RoomMode,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sfu_session_id: Option<Id>,
    },
    /// Signaling relayed from the peer `from` (a gateway session id) in the same room,
    /// or sent by the room's SFU (`from` is its `sfu_session_id`, `from_user_id` 0).
    /// Each track the SFU sends belongs to the participant whose session id is the
    /// track's stream id (its `msid`).
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

impl Event {
    /// Every `type` tag this build knows, as serde spells them (`message_create`, ...).
    ///
    /// Read from serde itself rather than listed by hand: deserializing an unknown tag
    /// makes the derived code report every variant it expected, and
    /// [`de::Error::unknown_variant`] hands that list to the error type chosen here.
    pub fn types() -> &'static [&'static str] {
        let probe = MapDeserializer::<_, ExpectedVariants>::new(std::iter::once(("type", "")));
        match Event::deserialize(probe) {
            Err(ExpectedVariants(Some(types))) => types,
            _ => unreachable!("an empty tag is never a variant, and serde names the variants it expected"),
        }
    }
}

/// A deserialization error that keeps only the variant names serde expected.
#[derive(Debug)]
struct ExpectedVariants(Option<&'static [&'static str]>);

impl de::Error for ExpectedVariants {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        ExpectedVariants(None)
    }

    fn unknown_variant(_: &str, expected: &'static [&'static str]) -> Self {
        ExpectedVariants(Some(expected))
    }
}

impl std::fmt::Display for ExpectedVariants {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "expected one of {:?}", self.0.unwrap_or_default())
    }
}

impl std::error::Error for ExpectedVariants {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_is_named_as_on_the_wire() {
        let types = Event::types();
        let sample = Event::ChannelDelete { channel_id: Id(1) };
        let tag = serde_json::to_value(&sample).expect("serializes")["type"].clone();
        assert!(types.contains(&tag.as_str().expect("a string tag")), "the names are serde's tags");
        assert_eq!(types.first(), Some(&"message_create"), "listed in declaration order");
        assert_eq!(types.last(), Some(&"ptt_state"), "through the last variant");
    }
}
