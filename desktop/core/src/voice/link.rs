//! What one peer connection carries for us, the mesh's and the SFU's alike: our audio out
//! ([`PeerTx`]), remote tracks in ([`read_track`]), and the counters and state the UI
//! reads ([`PeerShared`]).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cromulent_protocol::Id;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use rtc::rtp::extension::HeaderExtension;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{RTCIceConnectionState, RTCPeerConnectionState};

use super::connection::opus_codec;
use super::rtp::{OutgoingFrame, Packetizer};
use super::transport::InboundStream;

/// What the UI and tests can read about a remote participant (or, for the SFU's own
/// connection, about that connection) while the call runs.
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

impl PeerShared {
    pub fn new(session_id: Id, user_id: Id) -> Self {
        Self {
            session_id,
            user_id,
            state: Mutex::new("new".to_owned()),
            packets_received: 0.into(),
            packets_sent: 0.into(),
            last_packet: Mutex::new(None),
        }
    }

    fn show(&self, state: String) {
        if let Ok(mut shown) = self.state.lock() {
            *shown = state;
        }
    }

    /// The connection's own state changed.
    pub(crate) fn connection_changed(&self, tx: &PeerTx, state: RTCPeerConnectionState) {
        self.show(state.to_string());
        tx.connected.store(state == RTCPeerConnectionState::Connected, Ordering::Release);
    }

    /// ICE's state changed; returns whether ICE failed.
    ///
    /// webrtc-rs can leave the connection state at `connected` while ICE has failed
    /// underneath (no consent, nothing gets through); the UI and the restart logic must
    /// see the failure, so ICE's own verdict overrides it until ICE recovers.
    pub(crate) fn ice_changed(&self, tx: &PeerTx, state: RTCIceConnectionState) -> bool {
        match state {
            RTCIceConnectionState::Disconnected | RTCIceConnectionState::Failed => {
                self.show(state.to_string())
            }
            RTCIceConnectionState::Connected | RTCIceConnectionState::Completed
                if tx.connected.load(Ordering::Acquire) =>
            {
                self.show("connected".to_owned());
            }
            _ => {}
        }
        state == RTCIceConnectionState::Failed
    }

    /// The state as the UI shows it.
    pub fn state(&self) -> String {
        self.state.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn status(&self) -> PeerStatus {
        PeerStatus {
            session_id: self.session_id,
            user_id: self.user_id,
            state: self.state(),
            packets_received: self.packets_received.load(Ordering::Relaxed),
            packets_sent: self.packets_sent.load(Ordering::Relaxed),
            last_packet: self.last_packet.lock().ok().and_then(|l| *l),
        }
    }
}

/// A remote participant as the UI sees it, whichever connection carries them.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerStatus {
    pub session_id: Id,
    pub user_id: Id,
    pub state: String,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub last_packet: Option<Instant>,
}

/// Our sending half on one connection: the track, its RTP numbering and what
/// negotiation settled.
pub struct PeerTx {
    track: Arc<TrackLocalStaticRTP>,
    packetizer: Mutex<Packetizer>,
    /// The negotiated Opus payload type; 0 until negotiation finished (0 is PCMU, never Opus).
    payload_type: AtomicU8,
    connected: AtomicBool,
    shared: Arc<PeerShared>,
}

impl PeerTx {
    /// A sender whose track belongs to the media stream `stream_id` (the `msid` the
    /// remote side sees).
    pub fn new(shared: Arc<PeerShared>, stream_id: String) -> Self {
        let ssrc: u32 = rand::random();
        let track = MediaStreamTrack::new(
            stream_id,
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
    /// as a browser's track would not be either. The frame's level rides along in the
    /// audio-level extension when the remote side accepted it.
    pub async fn send(&self, frame: &OutgoingFrame) {
        let pt = self.payload_type.load(Ordering::Acquire);
        if pt == 0 || !self.connected.load(Ordering::Acquire) {
            return;
        }
        let packet = match self.packetizer.lock() {
            Ok(mut p) => p.packet(frame, pt),
            Err(_) => return,
        };
        // Only frames with the gate open are sent at all, so each one carries voice.
        let level =
            HeaderExtension::AudioLevel(AudioLevelExtension { level: frame.audio_level, voice: true });
        if let Err(e) = self.track.write_rtp_with_extensions(packet, &[level]).await {
            tracing::debug!(peer = %self.shared.session_id, error = %e, "RTP not sent");
        } else {
            self.shared.packets_sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Remote RTP → the playback side, until the track ends with its connection (or the SFU
/// stops its media section). Counts into `shared`.
pub async fn read_track(
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
