//! Native ↔ native voice through a real server on loopback: two voice engines (two users)
//! join `voice-main`, negotiate WebRTC over the gateway and send Opus over real UDP.
//!
//! - A 440 Hz tone sent by one is found in the other's output WAV, the output is silent
//!   while push-to-talk is released, and `ptt_state` reaches the listener's gateway.
//! - With relay-only voice forced by the admin, both ends offer only TURN candidates and
//!   the tone still arrives through the built-in relay.
//! - Through a relay that drops 10 % of RTP packets (written here, between the peers'
//!   sockets), the tone still arrives, concealed, without a long silent gap.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cromulent_client::voice::audio::{analysis, AudioConfig, InputChoice, OutputChoice};
use cromulent_client::voice::mesh::MeshConfig;
use cromulent_client::voice::{EngineConfig, PttMode};
use cromulent_e2e::{Database, TempDir, TestServer};
use cromulent_protocol::gateway::{ControlFrame, Event, ServerFrame};
use cromulent_protocol::Id;
use rand::{Rng, SeedableRng};
use tokio::net::UdpSocket;
use tokio::time::sleep;

use crate::voice_participant::{connected, Participant, Rewrite};

const RATE: u32 = 48_000;
/// Quieter than this (dBFS) counts as silence in the output.
const SILENCE_DBFS: f32 = -45.0;

fn config(input: InputChoice, output: OutputChoice, mode: PttMode) -> EngineConfig {
    EngineConfig {
        audio: AudioConfig { input, output, noise_suppression: false, ..AudioConfig::default() },
        mesh: MeshConfig::loopback(),
        mode,
    }
}

fn tone_file(dir: &Path, hz: f64, seconds: f64) -> std::path::PathBuf {
    let path = dir.join(format!("tone-{hz}.wav"));
    analysis::write_wav(&path, RATE, &analysis::sine(hz, RATE, seconds, 0.5)).expect("write tone");
    path
}

/// Ann speaks a 440 Hz tone (gated by `ann_ptt`), Bob keeps quiet and records what he
/// hears into `heard.wav` in `dir`; both in the seeded voice room and connected. Each
/// side's gateway frames pass through its `rewrite`, when given.
async fn ann_speaks_to_bob(
    server: &TestServer,
    dir: &TempDir,
    ann_ptt: PttMode,
    rewrite: (Option<Rewrite>, Option<Rewrite>),
) -> (Participant, Participant, PathBuf) {
    let tone = tone_file(dir.path(), 440.0, 30.0);
    let heard = dir.path().join("heard.wav");
    let ann = Participant::join(
        server,
        "ann",
        config(InputChoice::Wav(tone), OutputChoice::Null, ann_ptt),
        rewrite.0,
    )
    .await;
    let bob = Participant::join(
        server,
        "bob",
        config(InputChoice::Silence, OutputChoice::Wav(heard.clone()), PttMode::Never),
        rewrite.1,
    )
    .await;
    connected(&ann, &bob).await;
    (ann, bob, heard)
}

/// 10 ms windows louder than [`SILENCE_DBFS`], as (first, last) sample indices.
fn loud_span(samples: &[f32]) -> Option<(usize, usize)> {
    let window = (RATE / 100) as usize;
    let loud: Vec<bool> = samples.chunks(window).map(|c| analysis::rms_dbfs(c) >= SILENCE_DBFS).collect();
    let first = loud.iter().position(|&l| l)?;
    let last = loud.iter().rposition(|&l| l)?;
    Some((first * window, ((last + 1) * window).min(samples.len())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tone_crosses_while_push_to_talk_is_held_and_silence_otherwise() {
    let _one_at_a_time = cromulent_e2e::one_real_time_test().await;
    let server = TestServer::start(Database::Sqlite).await;
    let dir = TempDir::new();
    let (ann, bob, heard) = ann_speaks_to_bob(&server, &dir, PttMode::Key, (None, None)).await;
    assert_eq!(ann.voice_channel, bob.voice_channel);

    // Released: nothing goes out while connected.
    sleep(Duration::from_millis(800)).await;
    ann.engine.ptt_down();
    sleep(Duration::from_millis(2500)).await;
    assert!(ann.engine.snapshot().transmitting, "holding push-to-talk transmits");
    ann.engine.ptt_up();
    sleep(Duration::from_millis(1500)).await;
    let received = bob.engine.snapshot().peers[0].packets_received;
    bob.engine.leave().expect("bob leaves, output finalized");
    ann.engine.leave().expect("ann leaves");

    assert!(received > 50, "bob received the talk spurt ({received} packets)");
    let (rate, samples) = analysis::read_wav(&heard).expect("bob's output");
    assert_eq!(rate, RATE);
    let (start, end) = loud_span(&samples).expect("bob heard something");
    let spurt = &samples[start..end];
    let found = analysis::dominant_frequency(spurt, RATE, 100.0, 4000.0);
    assert!((found - 440.0).abs() < 5.0, "bob hears 440 Hz, found {found:.1} Hz");
    assert!(analysis::tone_purity(spurt, RATE, 440.0) > 0.5, "the tone dominates what bob hears");
    // Push-to-talk released before and after the spurt: silence on both sides of it.
    assert!(start >= RATE as usize / 2, "silent before push-to-talk (spurt starts at sample {start})");
    assert!(
        samples.len() - end >= RATE as usize,
        "silent after release ({} samples left)",
        samples.len() - end
    );
    assert!(
        spurt.len() < 4 * RATE as usize,
        "only the held stretch is heard ({} s)",
        spurt.len() as f64 / f64::from(RATE)
    );

    let states = bob.ptt_states_of(ann.session_id());
    assert!(
        states.windows(2).any(|w| w == [true, false]),
        "bob's gateway saw ann start and stop transmitting: {states:?}"
    );
}

/// A peer's address, once the relay knows it.
type Peer = Arc<Mutex<Option<SocketAddr>>>;

/// A UDP relay between the two peers that drops a fixed share of RTP packets (never
/// STUN or DTLS, so ICE and keys still work). `toward_a` faces ann, `toward_b` bob.
struct LossyRelay {
    toward_b: SocketAddr,
    dropped: Arc<Mutex<(u64, u64)>>,
    a_addr: Peer,
}

impl LossyRelay {
    async fn start(loss: f64) -> Self {
        let toward_b = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind"));
        let toward_a = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind"));
        let dropped = Arc::new(Mutex::new((0u64, 0u64)));
        let a_addr: Peer = Arc::new(Mutex::new(None));
        let b_addr: Peer = Arc::new(Mutex::new(None));
        let relay = LossyRelay {
            toward_b: toward_b.local_addr().expect("addr"),
            dropped: dropped.clone(),
            a_addr: a_addr.clone(),
        };

        // bob → ann: bob's address is learned from what he sends.
        tokio::spawn(forward(
            toward_b.clone(),
            toward_a.clone(),
            Some(b_addr.clone()),
            a_addr,
            dropped.clone(),
            loss,
            5,
        ));
        // ann → bob
        tokio::spawn(forward(toward_a, toward_b, None, b_addr, dropped, loss, 7));
        relay
    }
}

/// RTP (not RTCP) by RFC 7983's first-byte ranges and RFC 5761's payload types.
fn is_rtp(packet: &[u8]) -> bool {
    packet.len() > 12 && (128..=191).contains(&packet[0]) && !(192..=223).contains(&packet[1])
}

/// Carries datagrams arriving on `from` out of `to` toward `target` once it is known,
/// dropping a share `loss` of the RTP ones (seeded, so a run repeats) and counting them
/// in `stats` (dropped, seen); notes the sender's address in `learn` when given.
async fn forward(
    from: Arc<UdpSocket>,
    to: Arc<UdpSocket>,
    learn: Option<Peer>,
    target: Peer,
    stats: Arc<Mutex<(u64, u64)>>,
    loss: f64,
    seed: u64,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut buf = vec![0u8; 2048];
    while let Ok((n, src)) = from.recv_from(&mut buf).await {
        if let Some(learn) = &learn {
            *learn.lock().expect("addr") = Some(src);
        }
        let Some(dst) = *target.lock().expect("addr") else { continue };
        if is_rtp(&buf[..n]) {
            let mut s = stats.lock().expect("stats");
            s.1 += 1;
            if rng.gen_bool(loss) {
                s.0 += 1;
                continue;
            }
        }
        let _ = to.send_to(&buf[..n], dst).await;
    }
}

/// `candidate:… <ip> <port> typ …` with the address replaced.
fn readdress(candidate: &str, to: SocketAddr) -> (String, Option<SocketAddr>) {
    let mut parts: Vec<String> = candidate.split(' ').map(str::to_owned).collect();
    let original = match (parts.get(4), parts.get(5)) {
        (Some(ip), Some(port)) => format!("{ip}:{port}").parse().ok(),
        _ => None,
    };
    if parts.len() > 5 {
        parts[4] = to.ip().to_string();
        parts[5] = to.port().to_string();
    }
    (parts.join(" "), original)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_percent_packet_loss_is_concealed_without_a_stall() {
    let _one_at_a_time = cromulent_e2e::one_real_time_test().await;
    let server = TestServer::start(Database::Sqlite).await;
    let dir = TempDir::new();
    let relay = LossyRelay::start(0.10).await;

    // Only host candidates on loopback, and every path through the relay: bob learns
    // ann's candidates re-addressed to the relay; ann learns none of bob's and meets him
    // as the peer-reflexive address the relay sends from.
    let no_ice_servers = |frame: ServerFrame| match frame {
        ServerFrame::Control(ControlFrame::VoiceJoined {
            room,
            self_session_id,
            ice_transport_policy,
            mode,
            sfu_session_id,
            ..
        }) => Some(ServerFrame::Control(ControlFrame::VoiceJoined {
            room,
            ice_servers: Vec::new(),
            ice_transport_policy,
            self_session_id,
            mode,
            sfu_session_id,
        })),
        other => Some(other),
    };
    let for_ann: Rewrite = Arc::new(move |frame| match no_ice_servers(frame)? {
        ServerFrame::Event(e) if matches!(e.event, Event::IceCandidate { .. }) => None,
        other => Some(other),
    });
    let (toward_b, a_addr) = (relay.toward_b, relay.a_addr.clone());
    let for_bob: Rewrite = Arc::new(move |frame| match no_ice_servers(frame)? {
        ServerFrame::Event(mut e) => {
            if let Event::IceCandidate { candidate, .. } = &mut e.event {
                let text = candidate.get("candidate").and_then(|c| c.as_str()).unwrap_or_default().to_owned();
                let (rewritten, original) = readdress(&text, toward_b);
                if let Some(original) = original {
                    *a_addr.lock().expect("addr") = Some(original);
                }
                candidate["candidate"] = serde_json::Value::String(rewritten);
            }
            Some(ServerFrame::Event(e))
        }
        other => Some(other),
    });

    let (ann, bob, heard) =
        ann_speaks_to_bob(&server, &dir, PttMode::Always, (Some(for_ann), Some(for_bob))).await;
    sleep(Duration::from_secs(4)).await;
    let concealed = bob.engine.snapshot().peers[0].concealed;
    bob.engine.leave().expect("bob leaves, output finalized");
    ann.engine.leave().expect("ann leaves");

    let (dropped, rtp) = *relay.dropped.lock().expect("stats");
    assert!(rtp > 150, "the audio went through the relay ({rtp} RTP packets)");
    assert!(dropped * 100 >= rtp * 5, "about 10 % were dropped ({dropped} of {rtp})");
    assert!(concealed > 0, "bob's jitter buffer concealed the losses");

    let (_, samples) = analysis::read_wav(&heard).expect("bob's output");
    let (start, end) = loud_span(&samples).expect("bob heard the tone");
    let heard = &samples[start..end];
    assert!(heard.len() > 2 * RATE as usize, "seconds of tone arrived ({} samples)", heard.len());
    let found = analysis::dominant_frequency(heard, RATE, 100.0, 4000.0);
    assert!((found - 440.0).abs() < 5.0, "the tone survives the loss, found {found:.1} Hz");
    let gap = analysis::longest_gap(heard, RATE, SILENCE_DBFS);
    assert!(gap <= Duration::from_millis(100), "no stall: the longest silent gap is {gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relay_only_voice_gathers_only_relay_candidates_and_still_carries_the_tone() {
    let _one_at_a_time = cromulent_e2e::one_real_time_test().await;
    let server =
        TestServer::start_with(Database::Sqlite, |config| config.turn.turn_allow_loopback_peers = true).await;
    // The first user is the admin: force relay-only voice for everyone.
    let admin = server.user("root").await;
    let http = reqwest::Client::new();
    let refreshed: serde_json::Value = http
        .post(format!("{}/api/auth/refresh", server.base))
        .json(&serde_json::json!({"refresh_token": server.refresh_token(&admin).await}))
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("refresh body");
    let access = refreshed["access_token"].as_str().expect("access token");
    let resp = http
        .patch(format!("{}/api/admin/voice/settings", server.base))
        .bearer_auth(access)
        .json(&serde_json::json!({"force_relay": true}))
        .send()
        .await
        .expect("settings");
    assert!(resp.status().is_success(), "force relay: {}", resp.status());

    let dir = TempDir::new();
    let (ann, bob, heard) = ann_speaks_to_bob(&server, &dir, PttMode::Always, (None, None)).await;
    sleep(Duration::from_secs(2)).await;
    bob.engine.leave().expect("bob leaves, output finalized");
    ann.engine.leave().expect("ann leaves");

    let candidates_from = |p: &Participant, from_session: Id| -> Vec<String> {
        p.seen
            .lock()
            .expect("log")
            .iter()
            .filter_map(|f| match f {
                ServerFrame::Event(e) => match &e.event {
                    Event::IceCandidate { from, candidate, .. } if *from == from_session => {
                        candidate.get("candidate").and_then(|c| c.as_str()).map(str::to_owned)
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect()
    };
    let relayed = |list: &[String]| !list.is_empty() && list.iter().all(|c| c.contains(" typ relay"));
    let (from_ann, from_bob) =
        (candidates_from(&bob, ann.session_id()), candidates_from(&ann, bob.session_id()));
    assert!(relayed(&from_ann), "ann only offers relay candidates: {from_ann:?}");
    assert!(relayed(&from_bob), "bob only offers relay candidates: {from_bob:?}");

    let (_, samples) = analysis::read_wav(&heard).expect("bob's output");
    let (start, end) = loud_span(&samples).expect("bob heard the tone through the relay");
    let found = analysis::dominant_frequency(&samples[start..end], RATE, 100.0, 4000.0);
    assert!((found - 440.0).abs() < 5.0, "440 Hz through the relay, found {found:.1} Hz");
}
