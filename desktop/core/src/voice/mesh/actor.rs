//! The signaling actor: applies the gateway's voice frames, the engine's commands and the
//! connections' events in the order they arrived, one at a time, so a peer's offer,
//! answer and candidates never race each other.

use std::collections::HashMap;
use std::sync::Arc;

use cromulent_protocol::gateway::Event;
use cromulent_protocol::gateway::{ClientFrame, ControlFrame, ServerFrame};
use cromulent_protocol::Id;
use tokio::sync::{mpsc, oneshot};
use webrtc::peer_connection::RTCPeerConnectionState;

use super::peer::{Handler, PeerEvent};
use super::table::PeerTable;
use super::{MeshError, MeshInput, RemoteAudio, Signal};
use crate::voice::connection::{self, ConnectionConfig, IceSetup};
use crate::voice::inbox::Inbox;
use crate::voice::link::{PeerShared, PeerTx};
use crate::voice::negotiation::Negotiated;
use crate::voice::signal::CandidateJson;

/// The stream id of our track on mesh connections (the remote side reads who we are from
/// the connection, not from this).
const STREAM_ID: &str = "cromulent";

struct Peer {
    link: Negotiated,
    /// We made the first offer, so we drive ICE restarts.
    offerer: bool,
}

pub(super) struct Actor {
    config: ConnectionConfig,
    signal: Signal,
    remote_audio: Arc<dyn RemoteAudio>,
    /// Handed to every connection's callbacks.
    peer_events: Inbox<PeerEvent>,
    registry: Arc<PeerTable>,
    self_session: Option<Id>,
    ice: IceSetup,
    peers: HashMap<Id, Peer>,
    /// The room moved to the SFU: the peers we have play on until the engine closes them,
    /// but no new one is made and no offer answered.
    draining: bool,
}

/// What the actor reads: gateway frames and commands, connection events and the one
/// leave signal.
pub(super) struct ActorInputs {
    pub(super) signaling: mpsc::Receiver<MeshInput>,
    pub(super) peer_events: mpsc::Receiver<PeerEvent>,
    /// Fires on [`super::Mesh::leave`], and when the handle is dropped.
    pub(super) leave: oneshot::Receiver<()>,
}

impl Actor {
    pub(super) fn new(
        config: ConnectionConfig,
        signal: Signal,
        remote_audio: Arc<dyn RemoteAudio>,
        peer_events: Inbox<PeerEvent>,
        registry: Arc<PeerTable>,
    ) -> Self {
        Self {
            config,
            signal,
            remote_audio,
            peer_events,
            registry,
            self_session: None,
            ice: IceSetup::default(),
            peers: HashMap::new(),
            draining: false,
        }
    }

    /// Runs until leave, then closes every connection. Leaving wins over anything still
    /// queued: after it, no frame may open a connection again.
    pub(super) async fn run(mut self, inputs: ActorInputs) {
        let ActorInputs { mut signaling, mut peer_events, mut leave } = inputs;
        loop {
            tokio::select! {
                biased;
                _ = &mut leave => break,
                input = signaling.recv() => match input {
                    Some(input) => self.on_input(input).await,
                    None => break,
                },
                Some(event) = peer_events.recv() => self.on_peer_event(event).await,
            }
        }
        self.drop_all().await;
    }

    async fn on_input(&mut self, input: MeshInput) {
        let result = match input {
            MeshInput::Frame(frame) => self.on_frame(*frame).await,
            MeshInput::Connect(peers) => {
                self.draining = false;
                self.connect(peers).await
            }
            MeshInput::Close(session_id) => {
                self.drop_peer(session_id).await;
                Ok(())
            }
            MeshInput::Drain => {
                self.draining = true;
                Ok(())
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "voice signaling step failed");
        }
    }

    async fn on_frame(&mut self, frame: ServerFrame) -> Result<(), MeshError> {
        match frame {
            ServerFrame::Control(ControlFrame::VoiceJoined {
                self_session_id,
                ice_servers,
                ice_transport_policy,
                ..
            }) => {
                self.self_session = Some(self_session_id);
                self.ice = IceSetup::new(&ice_servers, ice_transport_policy);
                Ok(())
            }
            ServerFrame::Event(e) => match e.event {
                Event::PeerJoined { participant, .. } => {
                    let me = self.self_session;
                    if me.is_none() || me == Some(participant.session_id) || self.draining {
                        return Ok(());
                    }
                    self.offer_to(participant.session_id, participant.user_id).await
                }
                Event::SdpOffer { from, from_user_id, sdp } => self.answer(from, from_user_id, sdp).await,
                Event::SdpAnswer { from, sdp, .. } => self.apply_answer(from, sdp).await,
                Event::IceCandidate { from, from_user_id, candidate } => {
                    self.remote_candidate(from, from_user_id, &candidate).await
                }
                Event::PeerLeft { session_id, .. } => {
                    self.drop_peer(session_id).await;
                    Ok(())
                }
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// The room came back to a mesh: the lower session id of each pair offers (Ids compare
    /// as integers), the higher waits for that offer.
    async fn connect(&mut self, peers: Vec<(Id, Id)>) -> Result<(), MeshError> {
        let Some(me) = self.self_session else { return Ok(()) };
        for (session_id, user_id) in peers {
            if offers_to(me, session_id) && !self.peers.contains_key(&session_id) {
                self.offer_to(session_id, user_id).await?;
            }
        }
        Ok(())
    }

    async fn on_peer_event(&mut self, event: PeerEvent) {
        match event {
            PeerEvent::LocalCandidate { session_id, candidate } => {
                let Some(peer) = self.peers.get(&session_id) else { return };
                let candidate = peer.link.local_candidate(candidate).await;
                (self.signal)(ClientFrame::IceCandidate { to: session_id, candidate });
            }
            PeerEvent::State { session_id, state } => {
                // A draining peer is about to be closed; restarting it would only delay that.
                let restart = state == RTCPeerConnectionState::Failed
                    && !self.draining
                    && self.peers.get(&session_id).is_some_and(|p| p.offerer);
                if restart {
                    tracing::info!(peer = %session_id, "connection failed; restarting ICE");
                    if let Err(e) = self.send_offer(session_id, true).await {
                        tracing::warn!(error = %e, "ICE restart failed");
                    }
                }
            }
        }
    }

    async fn ensure_peer(&mut self, session_id: Id, user_id: Id, offerer: bool) -> Result<(), MeshError> {
        if self.peers.contains_key(&session_id) {
            return Ok(());
        }
        let shared = Arc::new(PeerShared::new(session_id, user_id));
        let tx = Arc::new(PeerTx::new(shared.clone(), STREAM_ID.to_owned()));
        let handler = Handler {
            shared: shared.clone(),
            tx: tx.clone(),
            events: self.peer_events.clone(),
            remote_audio: self.remote_audio.clone(),
        };
        let pc = connection::build(&self.config, &self.ice, Arc::new(handler))
            .await
            .map_err(|source| MeshError::Rtc { peer: session_id, source })?;
        self.registry.insert(tx.clone(), shared);
        self.peers.insert(session_id, Peer { link: Negotiated::new(pc, tx), offerer });
        Ok(())
    }

    async fn offer_to(&mut self, session_id: Id, user_id: Id) -> Result<(), MeshError> {
        self.ensure_peer(session_id, user_id, true).await?;
        if let Some(peer) = self.peers.get(&session_id) {
            peer.link
                .pc
                .add_track(peer.link.tx.track())
                .await
                .map_err(|source| MeshError::Rtc { peer: session_id, source })?;
        }
        self.send_offer(session_id, false).await
    }

    async fn send_offer(&mut self, session_id: Id, ice_restart: bool) -> Result<(), MeshError> {
        let Some(peer) = self.peers.get_mut(&session_id) else { return Ok(()) };
        let sdp = peer
            .link
            .offer(ice_restart)
            .await
            .map_err(|source| MeshError::Rtc { peer: session_id, source })?;
        (self.signal)(ClientFrame::SdpOffer { to: session_id, sdp });
        Ok(())
    }

    async fn answer(&mut self, from: Id, user_id: Id, sdp: String) -> Result<(), MeshError> {
        if self.draining && !self.peers.contains_key(&from) {
            return Ok(());
        }
        self.ensure_peer(from, user_id, false).await?;
        let Some(peer) = self.peers.get_mut(&from) else { return Ok(()) };
        let rtc_err = |source| MeshError::Rtc { peer: from, source };
        let first = !peer.link.remote_set();
        peer.link.apply_offer(sdp).await.map_err(rtc_err)?;
        // After the remote offer, so our track rides the transceiver the offer created.
        if first {
            peer.link.pc.add_track(peer.link.tx.track()).await.map_err(rtc_err)?;
        }
        let sdp = peer.link.answer().await.map_err(rtc_err)?;
        (self.signal)(ClientFrame::SdpAnswer { to: from, sdp });
        Ok(())
    }

    async fn apply_answer(&mut self, from: Id, sdp: String) -> Result<(), MeshError> {
        let Some(peer) = self.peers.get_mut(&from) else { return Ok(()) };
        peer.link.apply_answer(sdp).await.map_err(|source| MeshError::Rtc { peer: from, source })
    }

    async fn remote_candidate(
        &mut self,
        from: Id,
        user_id: Id,
        value: &serde_json::Value,
    ) -> Result<(), MeshError> {
        let Some(candidate) = CandidateJson::from_value(value) else { return Ok(()) };
        if self.draining && !self.peers.contains_key(&from) {
            return Ok(());
        }
        self.ensure_peer(from, user_id, false).await?;
        if let Some(peer) = self.peers.get_mut(&from) {
            peer.link.remote_candidate(candidate).await;
        }
        Ok(())
    }

    async fn drop_peer(&mut self, session_id: Id) {
        self.registry.remove(session_id);
        if let Some(peer) = self.peers.remove(&session_id) {
            peer.link.close().await;
        }
    }

    async fn drop_all(&mut self) {
        let ids: Vec<Id> = self.peers.keys().copied().collect();
        for id in ids {
            self.drop_peer(id).await;
        }
        self.self_session = None;
    }
}

/// Whether we make the offer to `other` when a room moves back to a mesh: the lower
/// session id does, comparing the ids as integers (their JSON form is a decimal string,
/// and "10" < "9" as text).
pub(super) fn offers_to(me: Id, other: Id) -> bool {
    me.0 < other.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lower_session_id_offers_compared_as_integers() {
        assert!(offers_to(Id(9), Id(10)), "9 < 10 as integers, although \"10\" < \"9\" as text");
        assert!(!offers_to(Id(10), Id(9)), "the higher id waits for the offer");
        assert!(!offers_to(Id(7), Id(7)), "nobody offers to itself");
    }
}
