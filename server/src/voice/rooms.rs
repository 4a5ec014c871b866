//! Every node's view of every voice room, kept current from voice changes on the bus.

use std::collections::HashMap;

use cromulent_protocol::voice::{VoiceParticipant, VoiceRoom};
use cromulent_protocol::Id;
use serde::{Deserialize, Serialize};

use super::route::RoomRoute;
use crate::bus::{Audience, VoiceChange};

/// Who may stay in a voice room after its channel changed (a member left a private
/// channel, the channel became private, or it was deleted). The publisher decides it
/// from the database right after the commit; every node applies the same message to its
/// own view, so the room shrinks alike everywhere without each node re-publishing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoomAccess {
    /// The channel is private and these are its members: everyone else leaves, and the
    /// room's later changes go to the members (and admins) only.
    Members { user_ids: Vec<Id> },
    /// The channel is gone: everyone leaves.
    Closed,
}

#[derive(Debug, Clone)]
struct Member {
    participant: VoiceParticipant,
    node: u16,
    /// Who was told about the join; told again about every change and the leave.
    audience: Audience,
}

/// What applying a change did, so the hub knows which events to send.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    Joined,
    Updated,
    Left,
    /// Nothing changed (e.g. leaving a room one is not in).
    Unchanged,
}

#[derive(Debug, Default)]
pub struct VoiceRooms {
    rooms: HashMap<Id, Vec<Member>>,
    /// Rooms not in a plain mesh; a room's route goes when its last participant leaves.
    routes: HashMap<Id, RoomRoute>,
}

impl VoiceRooms {
    pub fn apply(&mut self, change: &VoiceChange) -> Applied {
        let session = change.participant.session_id;
        if change.left {
            let Some(members) = self.rooms.get_mut(&change.channel_id) else { return Applied::Unchanged };
            let before = members.len();
            members.retain(|m| m.participant.session_id != session);
            let left = members.len() != before;
            if members.is_empty() {
                self.rooms.remove(&change.channel_id);
                self.routes.remove(&change.channel_id);
            }
            return if left { Applied::Left } else { Applied::Unchanged };
        }
        let members = self.rooms.entry(change.channel_id).or_default();
        match members.iter_mut().find(|m| m.participant.session_id == session) {
            Some(member) if member.participant == change.participant => Applied::Unchanged,
            Some(member) => {
                member.participant = change.participant.clone();
                Applied::Updated
            }
            None => {
                members.push(Member {
                    participant: change.participant.clone(),
                    node: change.node,
                    audience: change.audience.clone().unwrap_or(Audience::Everyone),
                });
                Applied::Joined
            }
        }
    }

    pub fn route(&self, channel_id: Id) -> RoomRoute {
        self.routes.get(&channel_id).copied().unwrap_or(RoomRoute::MESH)
    }

    /// Sets a room's route; returns the one it replaces.
    pub fn set_route(&mut self, channel_id: Id, route: RoomRoute) -> RoomRoute {
        let old = self.route(channel_id);
        if route == RoomRoute::MESH {
            self.routes.remove(&channel_id);
        } else {
            self.routes.insert(channel_id, route);
        }
        old
    }

    pub fn size(&self, channel_id: Id) -> usize {
        self.rooms.get(&channel_id).map_or(0, Vec::len)
    }

    /// The room a session is in, and its state there.
    pub fn find_session(&self, session_id: Id) -> Option<(Id, &VoiceParticipant)> {
        self.rooms.iter().find_map(|(channel, members)| {
            members
                .iter()
                .find(|m| m.participant.session_id == session_id)
                .map(|m| (*channel, &m.participant))
        })
    }

    /// Who sees changes of this session's voice state: the audience of its join.
    pub fn audience_of(&self, session_id: Id) -> Option<Audience> {
        self.rooms
            .values()
            .flatten()
            .find(|m| m.participant.session_id == session_id)
            .map(|m| m.audience.clone())
    }

    /// Every session the user has in any room.
    pub fn sessions_of_user(&self, user_id: Id) -> Vec<(Id, VoiceParticipant)> {
        self.rooms
            .iter()
            .flat_map(|(channel, members)| {
                members
                    .iter()
                    .filter(|m| m.participant.user_id == user_id)
                    .map(|m| (*channel, m.participant.clone()))
            })
            .collect()
    }

    pub fn session_ids(&self, channel_id: Id) -> Vec<Id> {
        self.rooms
            .get(&channel_id)
            .map_or_else(Vec::new, |m| m.iter().map(|m| m.participant.session_id).collect())
    }

    pub fn room(&self, channel_id: Id) -> VoiceRoom {
        VoiceRoom {
            channel_id,
            participants: self
                .rooms
                .get(&channel_id)
                .map_or_else(Vec::new, |m| m.iter().map(|m| m.participant.clone()).collect()),
        }
    }

    pub fn rooms(&self) -> Vec<VoiceRoom> {
        let mut ids: Vec<Id> = self.rooms.keys().copied().collect();
        ids.sort();
        ids.into_iter().map(|id| self.room(id)).collect()
    }

    /// The participants `access` no longer admits to the room, in joining order.
    pub fn refused_by(&self, channel_id: Id, access: &RoomAccess) -> Vec<VoiceParticipant> {
        let members = self.rooms.get(&channel_id).map_or(&[][..], Vec::as_slice);
        members
            .iter()
            .filter(|m| match access {
                RoomAccess::Closed => true,
                RoomAccess::Members { user_ids } => !user_ids.contains(&m.participant.user_id),
            })
            .map(|m| m.participant.clone())
            .collect()
    }

    /// From now on, changes of everyone in the room go to `audience` (the channel became
    /// private: those who saw the joins while it was public must not see what follows).
    pub fn narrow_audience(&mut self, channel_id: Id, audience: &Audience) {
        for member in self.rooms.get_mut(&channel_id).into_iter().flatten() {
            member.audience = audience.clone();
        }
    }

    /// Rooms whose SFU peer lives on `node`, with their routes.
    pub fn served_by(&self, node: u16) -> Vec<(Id, RoomRoute)> {
        let mut served: Vec<(Id, RoomRoute)> = self
            .routes
            .iter()
            .filter(|(_, r)| r.sfu.is_some_and(|p| p.node == node))
            .map(|(c, r)| (*c, *r))
            .collect();
        served.sort_by_key(|(channel, _)| *channel);
        served
    }

    /// The nodes the room's participants are connected to.
    pub fn member_nodes(&self, channel_id: Id) -> Vec<u16> {
        let mut nodes: Vec<u16> = self.rooms.get(&channel_id).into_iter().flatten().map(|m| m.node).collect();
        nodes.sort_unstable();
        nodes.dedup();
        nodes
    }

    /// Participants hosted on `node` (to clean up after it).
    pub fn on_node(&self, node: u16) -> Vec<(Id, VoiceParticipant)> {
        self.rooms
            .iter()
            .flat_map(|(channel, members)| {
                members.iter().filter(|m| m.node == node).map(|m| (*channel, m.participant.clone()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(channel: i64, session: i64, user: i64, left: bool) -> VoiceChange {
        VoiceChange {
            node: 1,
            channel_id: Id(channel),
            participant: VoiceParticipant {
                session_id: Id(session),
                user_id: Id(user),
                muted: false,
                deafened: false,
                speaking: false,
                joined_at: 0,
            },
            left,
            audience: None,
        }
    }

    #[test]
    fn joins_updates_and_leaves_are_told_apart() {
        let mut rooms = VoiceRooms::default();
        assert_eq!(rooms.apply(&change(1, 10, 100, false)), Applied::Joined);
        assert_eq!(rooms.apply(&change(1, 10, 100, false)), Applied::Unchanged, "a repeat changes nothing");
        let mut muted = change(1, 10, 100, false);
        muted.participant.muted = true;
        assert_eq!(rooms.apply(&muted), Applied::Updated);
        assert!(rooms.find_session(Id(10)).is_some_and(|(c, p)| c == Id(1) && p.muted));
        assert_eq!(rooms.apply(&change(1, 10, 100, true)), Applied::Left);
        assert!(rooms.rooms().is_empty(), "an empty room disappears");
        assert_eq!(rooms.apply(&change(1, 10, 100, true)), Applied::Unchanged);
    }

    #[test]
    fn sessions_are_found_by_room_and_by_user() {
        let mut rooms = VoiceRooms::default();
        rooms.apply(&change(1, 10, 100, false));
        rooms.apply(&change(1, 11, 101, false));
        rooms.apply(&change(2, 12, 100, false));
        assert_eq!(rooms.session_ids(Id(1)), vec![Id(10), Id(11)]);
        assert_eq!(rooms.sessions_of_user(Id(100)).len(), 2);
        assert_eq!(rooms.on_node(1).len(), 3);
        assert_eq!(rooms.room(Id(3)).participants.len(), 0);
    }

    #[test]
    fn access_refuses_non_members_or_everyone_when_closed() {
        let mut rooms = VoiceRooms::default();
        rooms.apply(&change(1, 10, 100, false));
        rooms.apply(&change(1, 11, 101, false));
        rooms.apply(&change(2, 12, 102, false));
        let members = RoomAccess::Members { user_ids: vec![Id(101), Id(102)] };
        let refused: Vec<Id> = rooms.refused_by(Id(1), &members).iter().map(|p| p.session_id).collect();
        assert_eq!(refused, vec![Id(10)], "only user 100 is not a member of room 1");
        assert_eq!(rooms.refused_by(Id(1), &RoomAccess::Closed).len(), 2, "a closed room keeps nobody");
        assert!(
            rooms.refused_by(Id(3), &RoomAccess::Closed).is_empty(),
            "an empty room has nobody to refuse"
        );

        let private = Audience::Channel { channel_id: Id(1), private_members: Some(vec![Id(101)]) };
        rooms.narrow_audience(Id(1), &private);
        assert_eq!(rooms.audience_of(Id(11)), Some(private), "the room's later changes go to members only");
        assert_eq!(rooms.audience_of(Id(12)), Some(Audience::Everyone), "other rooms keep their audience");
    }
}
