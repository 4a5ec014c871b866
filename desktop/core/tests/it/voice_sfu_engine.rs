//! The voice engine in SFU mode against a stand-in for the server's SFU: a webrtc-rs peer
//! connection in this test, signaled through the engine's own `handle` and signal
//! function exactly as the gateway would relay it (`from`/`to` the SFU's peer id), over
//! real UDP on loopback.
//!
//! The stand-in makes its offer (two participants' tracks, stream ids "41" and "42")
//! while the engine's first offer is still unanswered, so the two cross: the engine, the
//! polite side, must roll its offer back, answer, and offer again. Then:
//! - each track plays as the participant its stream id names, with the user the room
//!   said, and both tones reach the engine's output;
//! - the engine's microphone goes out as one sendonly section carrying the RFC 6464
//!   audio level, and only while push-to-talk is held;
//! - when the stand-in goes away and the connection fails, the engine offers again with
//!   an ICE restart.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cromulent_client::voice::audio::codec::{EncoderSettings, VoiceEncoder};
use cromulent_client::voice::audio::{analysis, AudioConfig, InputChoice, OutputChoice, FRAME_SAMPLES};
use cromulent_client::voice::connection::{
    self, opus_codec, ConnectionConfig, IceSetup, IceTimeouts, AUDIO_LEVEL_URI,
};
use cromulent_client::voice::signal::CandidateJson;
use cromulent_client::voice::{EngineConfig, PttMode, VoiceEngine};
use cromulent_protocol::gateway::{ClientFrame, ControlFrame, Event, EventFrame, ServerFrame};
use cromulent_protocol::voice::{IceTransportPolicy, RoomMode, VoiceParticipant, VoiceRoom};
use cromulent_protocol::Id;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp::header::Header;
use rtc::rtp::packet::Packet;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use tokio::sync::mpsc;
use tokio::time::{sleep, timeout, Instant};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionEventHandler, RTCIceCandidateInit, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSessionDescription,
};

const ROOM: Id = Id(20);
const ME: Id = Id(7);
const SFU: Id = Id(9000);
/// The two other participants: (session, user, the tone they send).
const OTHERS: [(Id, Id, f64); 2] = [(Id(41), Id(410), 500.0), (Id(42), Id(420), 800.0)];
const WAIT: Duration = Duration::from_secs(20);
const RATE: u32 = 48_000;

fn event(event: Event) -> ServerFrame {
    ServerFrame::Event(EventFrame { seq: 1, event })
}

fn participant(session_id: Id, user_id: Id) -> VoiceParticipant {
    VoiceParticipant { session_id, user_id, muted: false, deafened: false, speaking: false, joined_at: 0 }
}

/// The stand-in's callbacks: its candidates out, its connection state, and the
/// engine's packets as they arrive.
struct Stand {
    candidates: mpsc::UnboundedSender<RTCIceCandidateInit>,
    connected: Arc<AtomicBool>,
    received: Arc<Mutex<Vec<Packet>>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Stand {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(candidate) = event.candidate.to_json() {
            let _ = self.candidates.send(candidate);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.connected.store(state == RTCPeerConnectionState::Connected, Ordering::Relaxed);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let received = self.received.clone();
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                match event {
                    TrackRemoteEvent::OnRtpPacket(packet) => received.lock().expect("received").push(packet),
                    TrackRemoteEvent::OnEnded => break,
                    _ => {}
                }
            }
        });
    }
}

/// A sendonly track of `session`'s audio, as the SFU forwards it.
fn forwarded_track(session: Id) -> (Arc<TrackLocalStaticRTP>, u32) {
    let ssrc = 1000 + session.0 as u32;
    let track = MediaStreamTrack::new(
        session.to_string(),
        format!("audio-{session}"),
        "forwarded".to_owned(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
            active: true,
            codec: opus_codec(),
            ..Default::default()
        }],
    );
    (Arc::new(TrackLocalStaticRTP::new(track)), ssrc)
}

/// Sends `seconds` of a tone on `track` as Opus in RTP, paced in real time.
async fn send_tone(track: Arc<TrackLocalStaticRTP>, ssrc: u32, hz: f64, seconds: f64) {
    let settings = EncoderSettings { bitrate: 32_000, expected_loss_percent: 0 };
    let mut encoder = VoiceEncoder::new(settings).expect("an Opus encoder");
    let tone = analysis::sine(hz, RATE, seconds, 0.3);
    let mut every = tokio::time::interval(Duration::from_millis(20));
    for (i, samples) in tone.chunks_exact(FRAME_SAMPLES).enumerate() {
        every.tick().await;
        let frame: &[f32; FRAME_SAMPLES] = samples.try_into().expect("a whole frame");
        let payload = bytes::Bytes::copy_from_slice(encoder.encode(frame).expect("encode"));
        let header = Header {
            version: 2,
            payload_type: 111,
            sequence_number: i as u16,
            timestamp: (i * FRAME_SAMPLES) as u32,
            ssrc,
            marker: i == 0,
            ..Default::default()
        };
        // A write before the track is bound or after it closed is lost, as on a network.
        let _ = track.write_rtp(Packet { header, payload }).await;
    }
}

/// The audio-level extension's id in an SDP, if it is there.
fn audio_level_id(sdp: &str) -> Option<u8> {
    sdp.lines()
        .find(|l| l.ends_with(AUDIO_LEVEL_URI))?
        .strip_prefix("a=extmap:")?
        .split([' ', '/'])
        .next()?
        .parse()
        .ok()
}

async fn next_from_engine(frames: &mut mpsc::UnboundedReceiver<ClientFrame>, what: &str) -> ClientFrame {
    loop {
        let frame =
            timeout(WAIT, frames.recv()).await.unwrap_or_else(|_| panic!("no {what} from the engine"));
        let frame = frame.expect("the engine's signal lives");
        match frame {
            ClientFrame::SdpOffer { .. } | ClientFrame::SdpAnswer { .. } => return frame,
            // Candidates and the room ops are handled by the relay task below.
            _ => continue,
        }
    }
}

/// The engine joined in SFU mode and connected to the stand-in, their first offers having
/// crossed; the stand-in sends two participants' tracks.
struct Crossed {
    engine: VoiceEngine,
    sfu: Arc<dyn PeerConnection>,
    /// The engine's offers and answers from now on.
    from_engine: mpsc::UnboundedReceiver<ClientFrame>,
    tracks: Vec<(Arc<TrackLocalStaticRTP>, u32, f64)>,
    /// The engine's packets as the stand-in received them.
    received: Arc<Mutex<Vec<Packet>>>,
    /// The negotiated id of the audio-level extension.
    level_id: u8,
    /// The engine's offer that made the connection.
    offer: String,
    heard: PathBuf,
    dir: PathBuf,
}

/// Joins, lets the offers cross and connects (see [`Crossed`]); `name` keeps two tests'
/// files apart.
async fn crossed(name: &str, ice_timeouts: Option<IceTimeouts>) -> Crossed {
    let dir = std::env::temp_dir().join(format!("cromulent-sfu-engine-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let (mic, heard) = (dir.join("mic.wav"), dir.join("heard.wav"));
    analysis::write_wav(&mic, RATE, &analysis::sine(300.0, RATE, 30.0, 0.5)).expect("mic input");

    // The engine's frames: signaling for the stand-in, the rest (room ops) ignored.
    let (to_test, mut from_engine) = mpsc::unbounded_channel::<ClientFrame>();
    let (candidates_out, mut engine_candidates) = mpsc::unbounded_channel::<serde_json::Value>();
    let config = EngineConfig {
        audio: AudioConfig {
            input: InputChoice::Wav(mic),
            output: OutputChoice::Wav(heard.clone()),
            noise_suppression: false,
            ..AudioConfig::default()
        },
        mesh: ConnectionConfig { ice_timeouts, ..ConnectionConfig::loopback() },
        mode: PttMode::Key,
    };
    let engine = VoiceEngine::new(
        config,
        Arc::new(move |frame| match frame {
            ClientFrame::IceCandidate { to, candidate } if to == SFU => {
                let _ = candidates_out.send(candidate);
            }
            other => {
                let _ = to_test.send(other);
            }
        }),
    );
    engine.join(ROOM).await.expect("join");
    let mut room = vec![participant(ME, Id(70))];
    room.extend(OTHERS.iter().map(|(s, u, _)| participant(*s, *u)));
    engine.handle(&ServerFrame::Control(ControlFrame::VoiceJoined {
        room: VoiceRoom { channel_id: ROOM, participants: room },
        ice_servers: Vec::new(),
        ice_transport_policy: IceTransportPolicy::All,
        self_session_id: ME,
        mode: RoomMode::Sfu,
        sfu_session_id: Some(SFU),
    }));

    let ClientFrame::SdpOffer { to, sdp: first_offer } = next_from_engine(&mut from_engine, "offer").await
    else {
        panic!("the engine opens with an offer")
    };
    assert_eq!(to, SFU, "in SFU mode the engine offers to the SFU's peer id");
    assert!(first_offer.contains("a=sendonly"), "our microphone is one sendonly section: {first_offer}");
    assert_eq!(first_offer.matches("m=audio").count(), 1, "one media section: {first_offer}");
    assert!(audio_level_id(&first_offer).is_some(), "the audio level extension is offered: {first_offer}");

    // The stand-in: it leaves that offer unanswered and makes its own, with two tracks.
    let (candidates, mut stand_candidates) = mpsc::unbounded_channel();
    let connected = Arc::new(AtomicBool::new(false));
    let received = Arc::new(Mutex::new(Vec::new()));
    let stand = Stand { candidates, connected: connected.clone(), received: received.clone() };
    let sfu = connection::build(&ConnectionConfig::loopback(), &IceSetup::default(), Arc::new(stand))
        .await
        .expect("the stand-in's connection");
    let mut tracks = Vec::new();
    for (session, _, hz) in OTHERS {
        let (track, ssrc) = forwarded_track(session);
        let init = RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Sendonly,
            streams: vec![session.to_string()],
            send_encodings: Vec::new(),
        };
        sfu.add_transceiver_from_track(track.clone() as Arc<dyn TrackLocal>, Some(init))
            .await
            .expect("a track");
        tracks.push((track, ssrc, hz));
    }
    let offer = sfu.create_offer(None).await.expect("the stand-in's offer");
    sfu.set_local_description(offer.clone()).await.expect("local offer");
    let offer = sfu.local_description().await.expect("described").sdp;
    engine.handle(&event(Event::SdpOffer { from: SFU, from_user_id: Id(0), sdp: offer }));
    let ClientFrame::SdpAnswer { to, sdp: answer } = next_from_engine(&mut from_engine, "answer").await
    else {
        panic!("the engine answers the SFU's offer (rolling its own back), before anything else")
    };
    assert_eq!(to, SFU);
    sfu.set_remote_description(RTCSessionDescription::answer(answer).expect("an answer"))
        .await
        .expect("answer");

    // Candidates both ways from now on, as the gateway relays them.
    let relay_engine = engine.clone();
    let relay_sfu = sfu.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                Some(candidate) = engine_candidates.recv() => {
                    if let Some(c) = CandidateJson::from_value(&candidate) {
                        let _ = relay_sfu.add_ice_candidate(c.into_init()).await;
                    }
                }
                Some(candidate) = stand_candidates.recv() => {
                    let local = relay_sfu.local_description().await.map(|d| d.sdp);
                    let candidate = CandidateJson::from_local(candidate, local.as_deref()).to_value();
                    relay_engine.handle(&event(Event::IceCandidate { from: SFU, from_user_id: Id(0), candidate }));
                }
                else => break,
            }
        }
    });

    // Its own offer made again once the crossing is settled.
    let ClientFrame::SdpOffer { to, sdp: again } = next_from_engine(&mut from_engine, "second offer").await
    else {
        panic!("the engine offers its microphone again after answering")
    };
    assert_eq!(to, SFU);
    let level_id = audio_level_id(&again).expect("the audio level extension is offered again");
    let again_sdp = again.clone();
    sfu.set_remote_description(RTCSessionDescription::offer(again).expect("an offer")).await.expect("offer");
    let answer = sfu.create_answer(None).await.expect("the stand-in's answer");
    sfu.set_local_description(answer.clone()).await.expect("local answer");
    let answer = sfu.local_description().await.expect("described").sdp;
    engine.handle(&event(Event::SdpAnswer { from: SFU, from_user_id: Id(0), sdp: answer }));

    let deadline = Instant::now() + WAIT;
    while !connected.load(Ordering::Relaxed) {
        assert!(Instant::now() < deadline, "the connection to the stand-in never came up");
        sleep(Duration::from_millis(50)).await;
    }
    Crossed { engine, sfu, from_engine, tracks, received, level_id, offer: again_sdp, heard, dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crossing_offers_with_the_sfu_settle_and_each_track_plays_as_its_participant() {
    let _one_at_a_time = crate::REAL_TIME.lock().await;
    let Crossed { engine, sfu, tracks, received, level_id, heard, dir, .. } = crossed("crossing", None).await;
    let senders: Vec<_> =
        tracks.iter().map(|(t, ssrc, hz)| tokio::spawn(send_tone(t.clone(), *ssrc, *hz, 3.0))).collect();

    // Push-to-talk released: nothing of ours arrives.
    sleep(Duration::from_millis(1000)).await;
    assert_eq!(received.lock().expect("received").len(), 0, "nothing is sent while push-to-talk is released");
    engine.ptt_down();
    sleep(Duration::from_millis(1500)).await;
    engine.ptt_up();
    sleep(Duration::from_millis(300)).await;
    let after_release = received.lock().expect("received").len();
    sleep(Duration::from_millis(700)).await;
    let later = received.lock().expect("received").len();
    for sender in senders {
        sender.await.expect("tone sent");
    }
    let state = engine.snapshot();
    engine.leave().expect("leave, output finalized");
    sfu.close().await.expect("close the stand-in");

    assert!(
        after_release > 40,
        "about 1.5 s of our audio arrived while the key was held ({after_release} packets)"
    );
    assert_eq!(later, after_release, "and nothing once it was released");
    let packets = received.lock().expect("received");
    let levels: Vec<u8> = packets
        .iter()
        .filter_map(|p| p.header.get_extension(level_id))
        .filter_map(|ext| ext.first().copied())
        .collect();
    assert_eq!(levels.len(), packets.len(), "every packet carries its audio level");
    assert!(
        levels.iter().all(|b| b & 0x80 != 0 && (b & 0x7f) <= 15),
        "voice flagged and a loud level (a -9 dBFS tone is level 9): {levels:?}"
    );

    for (session, user, _) in OTHERS {
        let peer = state.peers.iter().find(|p| p.session_id == session).expect("each participant is listed");
        assert_eq!(peer.user_id, user, "the track of {session} is {user}'s, as the room said");
        assert_eq!(peer.connection, "connected");
        assert!(
            peer.packets_received > 50,
            "{session}'s track was played ({} packets)",
            peer.packets_received
        );
    }
    let (_, output) = analysis::read_wav(&heard).expect("the engine's output");
    let onset = analysis::onset(&output, RATE, -45.0).expect("both participants were heard");
    let start = (onset.as_secs_f64() * f64::from(RATE)) as usize;
    let heard_part = &output[start..(start + RATE as usize * 2).min(output.len())];
    for (session, _, hz) in OTHERS {
        let share = analysis::tone_purity(heard_part, RATE, hz);
        assert!(share > 0.25, "{session}'s {hz} Hz tone is in the mix (share {share:.2})");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A description's ICE username fragment.
fn ufrag(sdp: &str) -> Option<&str> {
    sdp.lines().find_map(|line| line.trim().strip_prefix("a=ice-ufrag:"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_connection_to_the_sfu_is_offered_again_with_an_ice_restart() {
    let _one_at_a_time = crate::REAL_TIME.lock().await;
    let quick = IceTimeouts {
        disconnected: Duration::from_millis(1000),
        failed: Duration::from_millis(2000),
        keepalive: Duration::from_millis(300),
    };
    let Crossed { engine, sfu, mut from_engine, offer, dir, .. } = crossed("restart", Some(quick)).await;
    // The SFU's end goes away; nothing answers our checks any more.
    sfu.close().await.expect("close the stand-in");
    let frame = next_from_engine(&mut from_engine, "ICE restart").await;
    let ClientFrame::SdpOffer { to, sdp } = frame else {
        panic!("a failed connection is renegotiated with an offer: {frame:?}")
    };
    assert_eq!(to, SFU, "the restart goes to the SFU");
    let (before, after) = (ufrag(&offer), ufrag(&sdp));
    assert!(
        after.is_some() && after != before,
        "an ICE restart brings new credentials: {before:?} → {after:?}"
    );
    assert_eq!(sdp.matches("m=audio").count(), 3, "our section and the two received ones, restarted: {sdp}");
    assert_eq!(sdp.matches("a=sendonly").count(), 1, "still one microphone going out: {sdp}");
    engine.leave().expect("leave");
    let _ = std::fs::remove_dir_all(&dir);
}
