//! The SFU connection's callbacks: states and our candidates to the actor, and each
//! received track to the participant its stream id names.

use std::sync::Arc;

use cromulent_protocol::Id;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnectionEventHandler, RTCIceCandidateInit, RTCIceConnectionState, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState,
};

use super::tracks::{session_of_stream, TrackTable};
use crate::voice::inbox::Inbox;
use crate::voice::link::{read_track, PeerShared, PeerTx};
use crate::voice::roster::Roster;
use crate::voice::transport::RemoteAudio;

/// What the connection tells the actor.
#[derive(Debug)]
pub enum LinkEvent {
    LocalCandidate(RTCIceCandidateInit),
    State(RTCPeerConnectionState),
}

pub struct Handler {
    /// The SFU connection's own state and our packets to it.
    pub link: Arc<PeerShared>,
    pub tx: Arc<PeerTx>,
    /// Never waits: the driver running these callbacks is what the actor awaits.
    pub events: Inbox<LinkEvent>,
    pub remote_audio: Arc<dyn RemoteAudio>,
    pub roster: Arc<Roster>,
    pub tracks: Arc<TrackTable>,
    pub self_session_id: Id,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        match event.candidate.to_json() {
            Ok(candidate) => self.events.send(LinkEvent::LocalCandidate(candidate)),
            Err(e) => tracing::debug!(error = %e, "unserializable local candidate"),
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.link.connection_changed(&self.tx, state);
        self.events.send(LinkEvent::State(state));
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        if self.link.ice_changed(&self.tx, state) {
            self.events.send(LinkEvent::State(RTCPeerConnectionState::Failed));
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let stream_id = track.stream_id().await;
        let session = match session_of_stream(&stream_id) {
            Some(session) if session != self.self_session_id => session,
            _ => {
                tracing::warn!(%stream_id, "the SFU sent a track that names no other participant; not played");
                return;
            }
        };
        // The server announces a participant before it forwards them; a track it names
        // first still plays, at the default volume until `peer_joined` names the user.
        let user = self.roster.user_of(session).unwrap_or(Id(0));
        let counters = self.tracks.counters(session, user);
        let inbound = self.remote_audio.open(session, user);
        tokio::spawn(read_track(track, inbound, counters));
    }
}
