//! The hub's voice rooms: applying room changes from the bus and telling the room and
//! the sidebar audiences about them.

use cromulent_protocol::event::Event;
use cromulent_protocol::Id;

use super::{Hub, HubState};
use crate::bus::{Audience, BusMessage, Envelope, VoiceChange};
use crate::voice::rooms::Applied;

impl Hub {
    /// A bus message that takes a session out of its voice room, if it is in one.
    pub(super) fn leave_voice(&self, state: &HubState, session_id: Id) -> Vec<BusMessage> {
        let Some((channel_id, participant)) = state.voice.find_session(session_id) else { return Vec::new() };
        vec![BusMessage::Voice(VoiceChange {
            node: self.node,
            channel_id,
            participant: participant.clone(),
            left: true,
            audience: None,
        })]
    }

    pub(super) fn apply_voice(&self, state: &mut HubState, change: &VoiceChange) {
        let session = change.participant.session_id;
        let before_speaking = state.voice.find_session(session).map(|(_, p)| p.speaking);
        // Later changes and the leave reach exactly those who saw the join, so a
        // private room stays private.
        let audience = state
            .voice
            .audience_of(session)
            .or_else(|| change.audience.clone())
            .unwrap_or(Audience::Everyone);
        let applied = state.voice.apply(change);
        let channel_id = change.channel_id;
        let participant = change.participant.clone();
        let room_peers: Vec<Id> = state
            .voice
            .session_ids(channel_id)
            .into_iter()
            .filter(|id| *id != participant.session_id)
            .collect();
        let send = |state: &mut HubState, audience: Audience, event: Event| {
            self.deliver(state, &Envelope { audience, event, skip_user: None });
        };
        match applied {
            Applied::Unchanged => return,
            Applied::Joined => {
                send(
                    state,
                    Audience::Sessions { session_ids: room_peers },
                    Event::PeerJoined { channel_id, participant: participant.clone() },
                );
            }
            Applied::Left => {
                send(
                    state,
                    Audience::Sessions { session_ids: room_peers },
                    Event::PeerLeft {
                        channel_id,
                        session_id: participant.session_id,
                        user_id: participant.user_id,
                    },
                );
            }
            Applied::Updated => {
                if before_speaking != Some(participant.speaking) {
                    send(
                        state,
                        Audience::Sessions { session_ids: room_peers },
                        Event::PttState {
                            session_id: participant.session_id,
                            user_id: participant.user_id,
                            active: participant.speaking,
                        },
                    );
                }
            }
        }
        send(
            state,
            audience,
            Event::VoiceStateUpdate { channel_id, participant, left: applied == Applied::Left },
        );
    }
}
