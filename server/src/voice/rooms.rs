//! Every node's view of every voice room, kept current from voice changes on the bus.

use std::collections::HashMap;

use cromulent_protocol::voice::{VoiceParticipant, VoiceRoom};
use cromulent_protocol::Id;

use crate::bus::{Audience, VoiceChange};

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
}
