//! One mesh peer connection's callbacks: what webrtc-rs reports about the connection to
//! one remote participant, handed to the mesh's actor, and their track to playback.

use std::sync::Arc;

use cromulent_protocol::Id;
use webrtc::media_stream::track_remote::TrackRemote;
use webrtc::peer_connection::{
    PeerConnectionEventHandler, RTCIceCandidateInit, RTCIceConnectionState, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState,
};

use crate::voice::inbox::Inbox;
use crate::voice::link::{read_track, PeerShared, PeerTx};
use crate::voice::transport::RemoteAudio;

/// Things a peer connection tells the mesh, which owns the signaling.
#[derive(Debug)]
pub enum PeerEvent {
    LocalCandidate { session_id: Id, candidate: RTCIceCandidateInit },
    State { session_id: Id, state: RTCPeerConnectionState },
}

/// The per-connection callbacks webrtc-rs runs on its driver: they only hand work off.
pub struct Handler {
    pub shared: Arc<PeerShared>,
    pub tx: Arc<PeerTx>,
    /// Never waits: the driver running these callbacks is what the actor awaits.
    pub events: Inbox<PeerEvent>,
    pub remote_audio: Arc<dyn RemoteAudio>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        match event.candidate.to_json() {
            Ok(candidate) => {
                self.events.send(PeerEvent::LocalCandidate { session_id: self.shared.session_id, candidate });
            }
            Err(e) => tracing::debug!(error = %e, "unserializable local candidate"),
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.shared.connection_changed(&self.tx, state);
        self.events.send(PeerEvent::State { session_id: self.shared.session_id, state });
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        if self.shared.ice_changed(&self.tx, state) {
            self.events.send(PeerEvent::State {
                session_id: self.shared.session_id,
                state: RTCPeerConnectionState::Failed,
            });
        }
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let inbound = self.remote_audio.open(self.shared.session_id, self.shared.user_id);
        tokio::spawn(read_track(track, inbound, self.shared.clone()));
    }
}
