//! Who is in the room with us, as `voice_joined`, `peer_joined` and `peer_left` tell it:
//! what the SFU connection needs to name a track's user, what a move back to a mesh needs
//! to know whom to connect to, and what the UI lists while the SFU carries everyone.

use std::collections::BTreeMap;
use std::sync::Mutex;

use cromulent_protocol::voice::VoiceParticipant;
use cromulent_protocol::Id;

use super::engine::lock;

#[derive(Debug, Default)]
pub struct Roster {
    inner: Mutex<Members>,
}

#[derive(Debug, Default)]
struct Members {
    me: Option<Id>,
    /// Session → user, ordered by session id.
    others: BTreeMap<Id, Id>,
}

impl Roster {
    /// The room as `voice_joined` describes it; replaces whatever was known.
    pub fn joined(&self, me: Id, participants: &[VoiceParticipant]) {
        let mut members = lock(&self.inner);
        members.me = Some(me);
        members.others =
            participants.iter().filter(|p| p.session_id != me).map(|p| (p.session_id, p.user_id)).collect();
    }

    pub fn add(&self, session_id: Id, user_id: Id) {
        let mut members = lock(&self.inner);
        if members.me != Some(session_id) {
            members.others.insert(session_id, user_id);
        }
    }

    pub fn remove(&self, session_id: Id) {
        lock(&self.inner).others.remove(&session_id);
    }

    pub fn user_of(&self, session_id: Id) -> Option<Id> {
        lock(&self.inner).others.get(&session_id).copied()
    }

    /// Everyone else in the room as `(session, user)`, by session id.
    pub fn others(&self) -> Vec<(Id, Id)> {
        lock(&self.inner).others.iter().map(|(s, u)| (*s, *u)).collect()
    }

    pub fn me(&self) -> Option<Id> {
        lock(&self.inner).me
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn participant(session: i64, user: i64) -> VoiceParticipant {
        VoiceParticipant {
            session_id: Id(session),
            user_id: Id(user),
            muted: false,
            deafened: false,
            speaking: false,
            joined_at: Default::default(),
        }
    }

    #[test]
    fn the_roster_follows_joins_and_leaves_without_ourselves() {
        let roster = Roster::default();
        roster.joined(Id(5), &[participant(5, 50), participant(12, 120), participant(3, 30)]);
        assert_eq!(roster.others(), vec![(Id(3), Id(30)), (Id(12), Id(120))], "we are not our own peer");
        roster.add(Id(9), Id(90));
        roster.add(Id(5), Id(50));
        roster.remove(Id(3));
        assert_eq!(
            roster.others(),
            vec![(Id(9), Id(90)), (Id(12), Id(120))],
            "ordered by session id as integers"
        );
        assert_eq!(roster.user_of(Id(12)), Some(Id(120)));
        assert_eq!(roster.user_of(Id(3)), None, "who left is forgotten");
        assert_eq!(roster.me(), Some(Id(5)));
    }
}
