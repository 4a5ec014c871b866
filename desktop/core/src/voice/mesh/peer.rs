//! One WebRTC peer connection to one remote participant: our audio track out, theirs in.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cromulent_protocol::Id;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionEventHandler, RTCIceCandidateInit, RTCIceConnectionState,
    RTCPeerConnectionIceEvent, RTCPeerConnectionState,
};

use super::inbox::Inbox;
use crate::voice::rtp::{OutgoingFrame, Packetizer};
use crate::voice::transport::{InboundStream, RemoteAudio};

/// The codec every peer speaks: Opus at 48 kHz, stereo-signalled (RFC 7587), with the
/// parameters browsers put in their offers.
pub fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: rtc::peer_connection::configuration::media_engine::MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// What the UI and tests can read about a peer while the mesh runs.
#[derive(Debug)]
pub struct PeerShared {
    pub session_id: Id,
    pub user_id: Id,
    /// `RTCPeerConnectionState` in the browser's words: `new`, `connecting`, `connected`, …
    pub state: Mutex<String>,
    pub packets_received: AtomicU64,
    pub packets_sent: AtomicU64,
    pub last_packet: Mutex<Option<Instant>>,
}

/// The sending half, shared with the task that fans our frames out to every peer.
pub struct PeerTx {
    track: Arc<TrackLocalStaticRTP>,
    packetizer: Mutex<Packetizer>,
    /// The negotiated Opus payload type; 0 until negotiation finished (0 is PCMU, never Opus).
    payload_type: AtomicU8,
    connected: AtomicBool,
    shared: Arc<PeerShared>,
}

impl PeerTx {
    pub fn new(shared: Arc<PeerShared>) -> Self {
        let ssrc: u32 = rand::random();
        let track = MediaStreamTrack::new(
            "cromulent".to_owned(),
            format!("cromulent-audio-{ssrc}"),
            "microphone".to_owned(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
                active: true,
                codec: opus_codec(),
                ..Default::default()
            }],
        );
        Self {
            track: Arc::new(TrackLocalStaticRTP::new(track)),
            packetizer: Mutex::new(Packetizer::new(ssrc)),
            payload_type: AtomicU8::new(0),
            connected: AtomicBool::new(false),
            shared,
        }
    }

    pub fn track(&self) -> Arc<dyn TrackLocal> {
        self.track.clone()
    }

    pub fn set_payload_type(&self, pt: u8) {
        self.payload_type.store(pt, Ordering::Release);
    }

    /// Sends one frame if the connection is up; frames before that are simply not sent,
    /// as a browser's track would not be either.
    pub async fn send(&self, frame: &OutgoingFrame) {
        let pt = self.payload_type.load(Ordering::Acquire);
        if pt == 0 || !self.connected.load(Ordering::Acquire) {
            return;
        }
        let packet = match self.packetizer.lock() {
            Ok(mut p) => p.packet(frame, pt),
            Err(_) => return,
        };
        if let Err(e) = self.track.write_rtp(packet).await {
            tracing::debug!(peer = %self.shared.session_id, error = %e, "RTP not sent");
        } else {
            self.shared.packets_sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Reads the negotiated Opus payload type from the connection's senders.
pub async fn negotiated_opus_pt(pc: &dyn PeerConnection) -> Option<u8> {
    for sender in pc.get_senders().await {
        let Ok(params) = sender.get_parameters().await else { continue };
        if let Some(codec) = params
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case("audio/opus"))
        {
            return Some(codec.payload_type);
        }
    }
    None
}

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
        if let Ok(mut s) = self.shared.state.lock() {
            *s = state.to_string();
        }
        self.tx.connected.store(state == RTCPeerConnectionState::Connected, Ordering::Release);
        self.events.send(PeerEvent::State { session_id: self.shared.session_id, state });
    }

    /// webrtc-rs can leave the connection state at `connected` while ICE has failed
    /// underneath (no consent, nothing gets through); the UI and the restart logic must
    /// see the failure, so ICE's own verdict overrides it until ICE recovers.
    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        let shown = match state {
            RTCIceConnectionState::Disconnected | RTCIceConnectionState::Failed => state.to_string(),
            RTCIceConnectionState::Connected | RTCIceConnectionState::Completed
                if self.tx.connected.load(Ordering::Acquire) =>
            {
                "connected".to_owned()
            }
            _ => return,
        };
        if let Ok(mut s) = self.shared.state.lock() {
            *s = shown;
        }
        if state == RTCIceConnectionState::Failed {
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

/// Remote RTP → the playback side, until the track ends with its connection.
async fn read_track(
    track: Arc<dyn TrackRemote>,
    mut inbound: Box<dyn InboundStream>,
    shared: Arc<PeerShared>,
) {
    while let Some(event) = track.poll().await {
        match event {
            TrackRemoteEvent::OnRtpPacket(packet) => {
                if packet.payload.is_empty() {
                    continue;
                }
                shared.packets_received.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut last) = shared.last_packet.lock() {
                    *last = Some(Instant::now());
                }
                inbound.push(packet.header.sequence_number, packet.header.timestamp, &packet.payload);
            }
            TrackRemoteEvent::OnEnded => break,
            _ => {}
        }
    }
}
