//! The signaling actor: applies the gateway's voice frames and the connections' events
//! in the order they arrived, one at a time, so a peer's offer, answer and candidates
//! never race each other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cromulent_protocol::gateway::Event;
use cromulent_protocol::gateway::{ClientFrame, ControlFrame, ServerFrame};
use cromulent_protocol::voice::{IceServer, IceTransportPolicy};
use cromulent_protocol::Id;
use rtc::interceptor::Registry;
use rtc::peer_connection::configuration::RTCOfferOptions;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodecParameters, RtpCodecKind};
use tokio::sync::{mpsc, oneshot};
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder,
    RTCConfigurationBuilder, RTCIceCandidateInit, RTCIceServer, RTCIceTransportPolicy,
    RTCPeerConnectionState, RTCSessionDescription, SettingEngineBuilder,
};

use super::inbox::Inbox;
use super::peer::{self, Handler, PeerEvent, PeerShared, PeerTx};
use super::signal::CandidateJson;
use super::table::PeerTable;
use super::{MeshConfig, MeshError, RemoteAudio, Signal};

struct Peer {
    pc: Arc<dyn PeerConnection>,
    tx: Arc<PeerTx>,
    queued: Vec<RTCIceCandidateInit>,
    remote_set: bool,
    /// We made the first offer, so we drive ICE restarts.
    offerer: bool,
}

pub(super) struct Actor {
    config: MeshConfig,
    signal: Signal,
    remote_audio: Arc<dyn RemoteAudio>,
    /// Handed to every connection's callbacks.
    peer_events: Inbox<PeerEvent>,
    registry: Arc<PeerTable>,
    self_session: Option<Id>,
    ice_servers: Vec<RTCIceServer>,
    policy: RTCIceTransportPolicy,
    peers: HashMap<Id, Peer>,
}

/// What the actor reads: gateway frames, connection events and the one leave signal.
pub(super) struct ActorInputs {
    pub(super) signaling: mpsc::Receiver<Box<ServerFrame>>,
    pub(super) peer_events: mpsc::Receiver<PeerEvent>,
    /// Fires on [`super::Mesh::leave`], and when the handle is dropped.
    pub(super) leave: oneshot::Receiver<()>,
}

impl Actor {
    pub(super) fn new(
        config: MeshConfig,
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
            ice_servers: Vec::new(),
            policy: RTCIceTransportPolicy::All,
            peers: HashMap::new(),
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
                frame = signaling.recv() => match frame {
                    Some(frame) => self.on_frame(*frame).await,
                    None => break,
                },
                Some(event) = peer_events.recv() => self.on_peer_event(event).await,
            }
        }
        self.drop_all().await;
    }

    async fn on_frame(&mut self, frame: ServerFrame) {
        let result = match frame {
            ServerFrame::Control(ControlFrame::VoiceJoined {
                self_session_id,
                ice_servers,
                ice_transport_policy,
                ..
            }) => {
                self.self_session = Some(self_session_id);
                self.ice_servers = ice_servers.iter().map(to_rtc_ice_server).collect();
                // `relay` keeps our address from peers: only TURN candidates are gathered.
                self.policy = match ice_transport_policy {
                    IceTransportPolicy::All => RTCIceTransportPolicy::All,
                    IceTransportPolicy::Relay => RTCIceTransportPolicy::Relay,
                };
                Ok(())
            }
            ServerFrame::Event(e) => match e.event {
                Event::PeerJoined { participant, .. } => {
                    if Some(participant.session_id) == self.self_session || self.self_session.is_none() {
                        return;
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
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "voice signaling step failed");
        }
    }

    async fn on_peer_event(&mut self, event: PeerEvent) {
        match event {
            PeerEvent::LocalCandidate { session_id, candidate } => {
                let Some(peer) = self.peers.get(&session_id) else { return };
                let local = peer.pc.local_description().await.map(|d| d.sdp);
                let json = CandidateJson::from_local(candidate, local.as_deref());
                (self.signal)(ClientFrame::IceCandidate { to: session_id, candidate: json.to_value() });
            }
            PeerEvent::State { session_id, state } => {
                let restart = state == RTCPeerConnectionState::Failed
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
        let rtc_err = |source| MeshError::Rtc { peer: session_id, source };
        let shared = Arc::new(PeerShared {
            session_id,
            user_id,
            state: Mutex::new("new".to_owned()),
            packets_received: 0.into(),
            packets_sent: 0.into(),
            last_packet: Mutex::new(None),
        });
        let tx = Arc::new(PeerTx::new(shared.clone()));

        let mut media = MediaEngine::default();
        media
            .register_codec(
                RTCRtpCodecParameters { rtp_codec: peer::opus_codec(), payload_type: 111 },
                RtpCodecKind::Audio,
            )
            .map_err(rtc_err)?;
        let interceptors = register_default_interceptors(Registry::new(), &mut media).map_err(rtc_err)?;
        let mut settings =
            SettingEngineBuilder::new().with_include_loopback_candidate(self.config.include_loopback);
        if let Some(t) = self.config.ice_timeouts {
            settings = settings.with_ice_timeouts(Some(t.disconnected), Some(t.failed), Some(t.keepalive));
        }
        let settings = settings.build();
        let configuration = RTCConfigurationBuilder::new()
            .with_ice_servers(self.ice_servers.clone())
            .with_ice_transport_policy(self.policy)
            .build();
        let handler = Handler {
            shared: shared.clone(),
            tx: tx.clone(),
            events: self.peer_events.clone(),
            remote_audio: self.remote_audio.clone(),
        };
        let pc = PeerConnectionBuilder::new()
            .with_configuration(configuration)
            .with_media_engine(media)
            .with_setting_engine(settings)
            .with_interceptor_registry(interceptors)
            .with_handler(Arc::new(handler))
            .with_udp_addrs(self.config.udp_addrs.clone())
            .build()
            .await
            .map_err(rtc_err)?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        self.registry.insert(tx.clone(), shared);
        self.peers.insert(session_id, Peer { pc, tx, queued: Vec::new(), remote_set: false, offerer });
        Ok(())
    }

    async fn offer_to(&mut self, session_id: Id, user_id: Id) -> Result<(), MeshError> {
        self.ensure_peer(session_id, user_id, true).await?;
        if let Some(peer) = self.peers.get(&session_id) {
            peer.pc
                .add_track(peer.tx.track())
                .await
                .map_err(|source| MeshError::Rtc { peer: session_id, source })?;
        }
        self.send_offer(session_id, false).await
    }

    async fn send_offer(&mut self, session_id: Id, ice_restart: bool) -> Result<(), MeshError> {
        let Some(peer) = self.peers.get(&session_id) else { return Ok(()) };
        let rtc_err = |source| MeshError::Rtc { peer: session_id, source };
        if ice_restart {
            peer.pc.restart_ice().await.map_err(rtc_err)?;
        }
        let options = RTCOfferOptions { ice_restart };
        let offer = peer.pc.create_offer(Some(options)).await.map_err(rtc_err)?;
        peer.pc.set_local_description(offer.clone()).await.map_err(rtc_err)?;
        let sdp = peer.pc.local_description().await.map(|d| d.sdp).unwrap_or(offer.sdp);
        (self.signal)(ClientFrame::SdpOffer { to: session_id, sdp });
        Ok(())
    }

    async fn answer(&mut self, from: Id, user_id: Id, sdp: String) -> Result<(), MeshError> {
        self.ensure_peer(from, user_id, false).await?;
        let Some(peer) = self.peers.get_mut(&from) else { return Ok(()) };
        let rtc_err = |source| MeshError::Rtc { peer: from, source };
        let first = !peer.remote_set;
        let offer = RTCSessionDescription::offer(sdp).map_err(rtc_err)?;
        peer.pc.set_remote_description(offer).await.map_err(rtc_err)?;
        peer.remote_set = true;
        // After the remote offer, so our track rides the transceiver the offer created.
        if first {
            peer.pc.add_track(peer.tx.track()).await.map_err(rtc_err)?;
        }
        flush(from, peer).await;
        let answer = peer.pc.create_answer(None).await.map_err(rtc_err)?;
        peer.pc.set_local_description(answer.clone()).await.map_err(rtc_err)?;
        let sdp = peer.pc.local_description().await.map(|d| d.sdp).unwrap_or(answer.sdp);
        (self.signal)(ClientFrame::SdpAnswer { to: from, sdp });
        learn_payload_type(peer).await;
        Ok(())
    }

    async fn apply_answer(&mut self, from: Id, sdp: String) -> Result<(), MeshError> {
        let Some(peer) = self.peers.get_mut(&from) else { return Ok(()) };
        let rtc_err = |source| MeshError::Rtc { peer: from, source };
        let answer = RTCSessionDescription::answer(sdp).map_err(rtc_err)?;
        peer.pc.set_remote_description(answer).await.map_err(rtc_err)?;
        peer.remote_set = true;
        flush(from, peer).await;
        learn_payload_type(peer).await;
        Ok(())
    }

    async fn remote_candidate(
        &mut self,
        from: Id,
        user_id: Id,
        value: &serde_json::Value,
    ) -> Result<(), MeshError> {
        let Some(candidate) = CandidateJson::from_value(value) else { return Ok(()) };
        self.ensure_peer(from, user_id, false).await?;
        let Some(peer) = self.peers.get_mut(&from) else { return Ok(()) };
        if peer.remote_set {
            if let Err(e) = peer.pc.add_ice_candidate(candidate.into_init()).await {
                tracing::debug!(peer = %from, error = %e, "remote candidate not usable");
            }
        } else {
            peer.queued.push(candidate.into_init());
        }
        Ok(())
    }

    async fn drop_peer(&mut self, session_id: Id) {
        self.registry.remove(session_id);
        if let Some(peer) = self.peers.remove(&session_id) {
            if let Err(e) = peer.pc.close().await {
                tracing::debug!(peer = %session_id, error = %e, "close");
            }
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

/// Candidates that waited for the remote description.
async fn flush(session_id: Id, peer: &mut Peer) {
    for candidate in std::mem::take(&mut peer.queued) {
        if let Err(e) = peer.pc.add_ice_candidate(candidate).await {
            tracing::debug!(peer = %session_id, error = %e, "queued candidate not usable");
        }
    }
}

async fn learn_payload_type(peer: &Peer) {
    if let Some(pt) = peer::negotiated_opus_pt(peer.pc.as_ref()).await {
        peer.tx.set_payload_type(pt);
    }
}

fn to_rtc_ice_server(server: &IceServer) -> RTCIceServer {
    RTCIceServer {
        urls: server.urls.clone(),
        username: server.username.clone().unwrap_or_default(),
        credential: server.credential.clone().unwrap_or_default(),
    }
}
