//! The hub's voice rooms: applying room changes from the bus and telling the room and
//! the sidebar audiences about them.

use cromulent_protocol::event::Event;
use cromulent_protocol::Id;

use super::{targets, Hub, HubState};
use crate::bus::{Audience, BusMessage, Envelope, VoiceChange};
use crate::voice::rooms::{Applied, RoomAccess};
use crate::voice::route::RoomRoute;
use cromulent_protocol::voice::RoomMode;

/// Why a participant leaves, which decides who hears of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaving {
    /// Its own choice, a move to another device, or a dead connection: told like any
    /// other change.
    Itself,
    /// It lost the right to be there: its own session is told too, even when the
    /// room's audience no longer includes it.
    Revoked,
}

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

    pub(super) fn apply_voice(&self, state: &mut HubState, change: &VoiceChange) -> Vec<BusMessage> {
        self.apply_change(state, change, Leaving::Itself)
    }

    /// A room's new route: members are told to move, and this node's SFU lets go of a
    /// peer the room no longer uses (after a grace, so clients move without a gap).
    pub(super) fn apply_route(&self, state: &mut HubState, channel_id: Id, route: RoomRoute) {
        let old = state.voice.set_route(channel_id, route);
        if old == route {
            return;
        }
        if let Some(place) = old.sfu.filter(|p| p.node == self.node && old.sfu != route.sfu) {
            self.voice.sfu.retire(channel_id, place.sfu_session_id);
        }
        let members = state.voice.session_ids(channel_id);
        let event =
            Event::VoiceModeChanged { channel_id, mode: route.mode, sfu_session_id: route.sfu_session_id() };
        self.deliver(
            state,
            &Envelope { audience: Audience::Sessions { session_ids: members }, event, skip_user: None },
        );
    }

    /// Takes out of the room everyone `access` no longer admits. Every node applies the
    /// same message to its own view, so nobody re-publishes: each node removes the same
    /// participants and tells its own sessions (the room's peers get `peer_left`, the
    /// removed session and the room's audience `voice_state_update` with `left`).
    pub(super) fn apply_voice_access(
        &self,
        state: &mut HubState,
        channel_id: Id,
        access: &RoomAccess,
    ) -> Vec<BusMessage> {
        let mut follow = Vec::new();
        for participant in state.voice.refused_by(channel_id, access) {
            let change = VoiceChange { node: self.node, channel_id, participant, left: true, audience: None };
            follow.extend(self.apply_change(state, &change, Leaving::Revoked));
        }
        if let RoomAccess::Members { user_ids } = access {
            let audience = Audience::Channel { channel_id, private_members: Some(user_ids.clone()) };
            state.voice.narrow_audience(channel_id, &audience);
        }
        follow
    }

    /// A node died or left: its participants leave their rooms (every node removes them
    /// from its own view alike, so nobody publishes the leaves), and each room its SFU
    /// served moves to the lowest-numbered live node among its remaining participants'
    /// nodes. That node alone decides, so exactly one new route is published; it may be
    /// a mesh when the room has become small.
    pub(super) fn voice_node_gone(&self, state: &mut HubState, node: u16) -> Vec<BusMessage> {
        let mut follow = Vec::new();
        for (channel_id, participant) in state.voice.on_node(node) {
            let change = VoiceChange { node, channel_id, participant, left: true, audience: None };
            follow.extend(self.apply_change(state, &change, Leaving::Itself));
        }
        for (channel_id, route) in state.voice.served_by(node) {
            let heir = state
                .voice
                .member_nodes(channel_id)
                .into_iter()
                .find(|n| *n == self.node || state.nodes.is_alive(*n));
            if heir != Some(self.node) {
                continue;
            }
            let size = state.voice.size(channel_id);
            let mode = self.voice.policy.mode_for(route.pinned, route.mode, size);
            let moved = RoomRoute { sfu: None, ..route }.moved(
                mode,
                route.pinned,
                || self.voice.ids.next(),
                self.node,
            );
            tracing::info!(%channel_id, from = node, "voice room moves to this node's SFU");
            follow.push(BusMessage::VoiceRoute { channel_id, route: moved });
        }
        follow
    }

    /// After a participant left: the SFU serving the room (if this node's) cuts its
    /// connection at once, and decides, being the room's one node, whether the room is
    /// small enough to go back to a mesh.
    fn after_leave(
        &self,
        state: &HubState,
        channel_id: Id,
        session_id: Id,
        route: RoomRoute,
    ) -> Vec<BusMessage> {
        let Some(place) = route.sfu.filter(|p| p.node == self.node) else { return Vec::new() };
        self.voice.sfu.remove(session_id);
        let size = state.voice.size(channel_id);
        if size == 0 {
            self.voice.sfu.retire(channel_id, place.sfu_session_id);
            return Vec::new();
        }
        if self.voice.policy.mode_for(route.pinned, route.mode, size) == RoomMode::Mesh {
            return vec![BusMessage::VoiceRoute { channel_id, route: RoomRoute::MESH }];
        }
        Vec::new()
    }

    fn apply_change(&self, state: &mut HubState, change: &VoiceChange, leaving: Leaving) -> Vec<BusMessage> {
        let session = change.participant.session_id;
        let before_speaking = state.voice.find_session(session).map(|(_, p)| p.speaking);
        // Later changes and the leave reach exactly those who saw the join, so a
        // private room stays private.
        let mut audience = state
            .voice
            .audience_of(session)
            .or_else(|| change.audience.clone())
            .unwrap_or(Audience::Everyone);
        if leaving == Leaving::Revoked {
            let mut session_ids = targets(state, &audience);
            if !session_ids.contains(&session) {
                session_ids.push(session);
            }
            audience = Audience::Sessions { session_ids };
        }
        let route = state.voice.route(change.channel_id);
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
        let mut follow = Vec::new();
        match applied {
            Applied::Unchanged => return follow,
            Applied::Joined => {
                send(
                    state,
                    Audience::Sessions { session_ids: room_peers },
                    Event::PeerJoined { channel_id, participant: participant.clone() },
                );
            }
            Applied::Left => {
                follow = self.after_leave(state, channel_id, participant.session_id, route);
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
        follow
    }
}
