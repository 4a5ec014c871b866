//! The SFU's tracks by participant: each received track belongs to the participant whose
//! gateway session id is the track's stream id (its `msid`), and per-user volume,
//! speaking rings and per-peer stats key on that session id exactly as in a mesh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cromulent_protocol::Id;

use crate::voice::engine::lock;
use crate::voice::link::{PeerShared, PeerStatus};

/// The participant a track's stream id names: the decimal form of their session id.
/// Anything else (a label, a negative or empty id) names nobody.
pub fn session_of_stream(stream_id: &str) -> Option<Id> {
    let digits = stream_id.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i64>().ok().filter(|id| *id > 0).map(Id)
}

/// Counters of each participant's track, shared with the tasks reading them.
#[derive(Debug, Default)]
pub struct TrackTable {
    tracks: Mutex<HashMap<Id, Arc<PeerShared>>>,
}

impl TrackTable {
    /// Where a track of `session` counts its packets; a participant's counters outlive a
    /// renegotiated track of theirs.
    pub fn counters(&self, session: Id, user: Id) -> Arc<PeerShared> {
        lock(&self.tracks).entry(session).or_insert_with(|| Arc::new(PeerShared::new(session, user))).clone()
    }

    pub fn forget(&self, session: Id) {
        lock(&self.tracks).remove(&session);
    }

    /// `session` as the UI sees it: the SFU connection's state and our packets to it,
    /// their packets to us.
    pub fn status(&self, session: Id, user: Id, link: &PeerShared) -> PeerStatus {
        let track = lock(&self.tracks).get(&session).map(|t| t.status());
        let link = link.status();
        PeerStatus {
            session_id: session,
            user_id: user,
            state: link.state,
            packets_received: track.as_ref().map_or(0, |t| t.packets_received),
            packets_sent: link.packets_sent,
            last_packet: track.and_then(|t| t.last_packet),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn a_tracks_stream_id_names_the_participant_by_session_id() {
        assert_eq!(session_of_stream("41"), Some(Id(41)));
        assert_eq!(
            session_of_stream("9007199254740993"),
            Some(Id(9_007_199_254_740_993)),
            "beyond JS's safe integers"
        );
        assert_eq!(
            session_of_stream(" 41 "),
            Some(Id(41)),
            "stray spaces from an SDP line are not part of it"
        );
        for nobody in ["", "-", " cromulent", "-41", "0", "41a", "4 1", "99999999999999999999"] {
            assert_eq!(session_of_stream(nobody), None, "{nobody:?} names no participant");
        }
    }

    #[test]
    fn each_participant_is_shown_with_their_own_packets_and_the_links_state() {
        let table = TrackTable::default();
        let link = PeerShared::new(Id(1), Id(0));
        *link.state.lock().expect("state") = "connected".to_owned();
        link.packets_sent.store(50, Ordering::Relaxed);
        table.counters(Id(41), Id(4)).packets_received.store(7, Ordering::Relaxed);
        table.counters(Id(41), Id(4)).packets_received.fetch_add(1, Ordering::Relaxed);
        let x = table.status(Id(41), Id(4), &link);
        assert_eq!((x.packets_received, x.packets_sent), (8, 50), "a renegotiated track keeps counting");
        assert_eq!(x.state, "connected");
        let y = table.status(Id(42), Id(5), &link);
        assert_eq!(y.packets_received, 0, "someone with no track yet has received nothing");
        assert_eq!((y.session_id, y.user_id), (Id(42), Id(5)));
        table.forget(Id(41));
        assert_eq!(table.status(Id(41), Id(4), &link).packets_received, 0, "who left starts over");
    }
}
