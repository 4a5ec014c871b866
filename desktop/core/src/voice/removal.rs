//! The server ending our place in a voice room without our asking: the one rule that
//! reads it from the gateway's events, and the reason a UI or the CLI shows.
//!
//! The server takes a session out of its room at once when the right to be there ends
//! (removed from a private voice channel, the channel made private or deleted): the
//! session gets `voice_state_update` for itself with `left: true`, and `channel_delete`
//! when the channel is gone or hidden from it. Its signaling is refused from then on,
//! so a client that stayed in its call would keep a microphone open to nobody.

use cromulent_protocol::gateway::Event;
use cromulent_protocol::Id;

/// Why a call ended although the user did not leave. Not retryable as is: joining again
/// needs the right back (or, for [`Removal::Removed`], may simply work when the user
/// had joined from another device).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Removal {
    /// The server took this session out of the room: access to the channel ended, or
    /// the same user joined voice from another device (the server sends the same event
    /// for both, so the message names both).
    #[error("removed from the voice room: you no longer have access (or joined voice elsewhere)")]
    Removed { channel_id: Id },
    /// The channel was deleted, or this user can no longer see it.
    #[error("removed from the voice room: the channel was deleted or you no longer have access")]
    ChannelGone { channel_id: Id },
}

impl Removal {
    /// The voice channel the call was in.
    pub fn channel_id(&self) -> Id {
        match self {
            Removal::Removed { channel_id } | Removal::ChannelGone { channel_id } => *channel_id,
        }
    }
}

/// The call an event is judged against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InCall {
    pub channel_id: Id,
    /// Our peer id in the room, known once `voice_joined` arrived.
    pub self_session_id: Option<Id>,
}

/// Whether `event` ends `call`. A leave we asked for never matches: leaving forgets the
/// call (and our session id) before the server's echo of it arrives, and the server
/// answers a later join only after that echo, as events arrive in order.
pub fn removal(call: InCall, event: &Event) -> Option<Removal> {
    match event {
        Event::VoiceStateUpdate { channel_id, participant, left: true }
            if *channel_id == call.channel_id && call.self_session_id == Some(participant.session_id) =>
        {
            Some(Removal::Removed { channel_id: *channel_id })
        }
        Event::ChannelDelete { channel_id } if *channel_id == call.channel_id => {
            Some(Removal::ChannelGone { channel_id: *channel_id })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use cromulent_protocol::voice::VoiceParticipant;

    use super::*;

    const ROOM: Id = Id(20);
    const ME: Id = Id(7);

    fn call() -> InCall {
        InCall { channel_id: ROOM, self_session_id: Some(ME) }
    }

    fn update(channel_id: Id, session_id: Id, left: bool) -> Event {
        let participant = VoiceParticipant {
            session_id,
            user_id: Id(2),
            muted: false,
            deafened: false,
            speaking: false,
            joined_at: 0,
        };
        Event::VoiceStateUpdate { channel_id, participant, left }
    }

    #[test]
    fn our_own_session_leaving_our_room_ends_the_call() {
        assert_eq!(
            removal(call(), &update(ROOM, ME, true)),
            Some(Removal::Removed { channel_id: ROOM }),
            "the server took this session out of the room it is in"
        );
    }

    #[test]
    fn others_leaving_our_changes_and_other_rooms_do_not() {
        assert_eq!(removal(call(), &update(ROOM, Id(8), true)), None, "a peer left; we stay");
        assert_eq!(removal(call(), &update(ROOM, ME, false)), None, "our own mute or join is no removal");
        assert_eq!(
            removal(call(), &update(Id(21), ME, true)),
            None,
            "a left for another room is an older call of ours, not this one"
        );
        let joining = InCall { self_session_id: None, ..call() };
        assert_eq!(
            removal(joining, &update(ROOM, ME, true)),
            None,
            "before voice_joined, a left is the echo of an earlier leave, which comes first"
        );
    }

    #[test]
    fn our_channel_deleted_ends_the_call_and_another_does_not() {
        assert_eq!(
            removal(call(), &Event::ChannelDelete { channel_id: ROOM }),
            Some(Removal::ChannelGone { channel_id: ROOM }),
            "the room went with its channel"
        );
        let joining = InCall { self_session_id: None, ..call() };
        assert_eq!(
            removal(joining, &Event::ChannelDelete { channel_id: ROOM }),
            Some(Removal::ChannelGone { channel_id: ROOM }),
            "a call still joining ends too: its room is gone"
        );
        assert_eq!(removal(call(), &Event::ChannelDelete { channel_id: Id(21) }), None);
    }
}
