//! Benchmark (not a test): one-way voice latency native → native on loopback.
//!
//! A real server runs in this process; two voice engines (two users) join `voice-main`.
//! Ann's input is a WAV with a click every 400 ms, Bob's output a WAV. Both files run in
//! real time from the moment their engine joined, so a click at input time `t` that is
//! heard at output time `u` took `u + (bob_joined - ann_joined) - t`. Prints one JSON
//! object: every latency, median, p95 and the budget parts the engine reports.
//!
//!   cargo run -p cromulent-e2e --example voice_latency [-- SECONDS [mesh|sfu|both]]
//!
//! The room is a mesh (the default), or goes through the server's SFU (`sfu`: the server
//! runs with VOICE_MODE=sfu); `both` measures the mesh and then the SFU, each on a server
//! of its own, in one run and prints `{"mesh": …, "sfu": …, "sfu_minus_mesh_median_ms"}`.
//!
//! `e2e/browser/voice_latency.mjs` runs this and the same measurement in Chromium.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cromulent_client::api::{Client, TokenSource};
use cromulent_client::gateway::{Gateway, GatewayConfig, GatewayEvent};
use cromulent_client::tokens::Secret;
use cromulent_client::voice::audio::{analysis, AudioConfig, InputChoice, OutputChoice, FRAME_SAMPLES};
use cromulent_client::voice::mesh::MeshConfig;
use cromulent_client::voice::{EngineConfig, PttMode, VoiceEngine};
use cromulent_e2e::{Database, TempDir, TestServer};
use cromulent_server::config::VoiceModeSetting;
use serde_json::{json, Value};

const RATE: u32 = 48_000;
const PERIOD_MS: u64 = 400;
/// A click: 4 ms of a 2 kHz tone, loud, with nothing around it.
const CLICK_MS: u64 = 4;
/// Output louder than this (dBFS, 1 ms windows) after quiet marks a click's arrival.
const ONSET_DBFS: f32 = -30.0;

async fn participant(
    server: &TestServer,
    name: &str,
    config: EngineConfig,
) -> (VoiceEngine, Gateway, Instant) {
    let user = server.user(name).await;
    let client = Client::new(&server.base).expect("client");
    let tokens = TokenSource::new(&client, Secret::new(server.refresh_token(&user).await), None);
    let client = client.with_tokens(tokens.clone());
    let channel = client
        .channels()
        .await
        .expect("channels")
        .into_iter()
        .find(|c| c.channel.name == "voice-main")
        .expect("voice-main")
        .channel
        .id;
    let gateway = Gateway::connect(GatewayConfig::new(client.server(), tokens)).await.expect("gateway");
    let mut events = gateway.subscribe();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sender = gateway.clone();
    tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            let _ = sender.send(frame).await;
        }
    });
    let engine = VoiceEngine::new(
        config,
        Arc::new(move |frame| {
            let _ = tx.send(frame);
        }),
    );
    let feed = engine.clone();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let GatewayEvent::Frame(frame) = event {
                feed.handle(&frame);
            }
        }
    });
    let joined = Instant::now();
    engine.join(channel).await.expect("join");
    (engine, gateway, joined)
}

fn click_train(path: &Path, seconds: u64) {
    let mut samples = vec![0.0f32; (seconds * u64::from(RATE)) as usize];
    let click = analysis::sine(2000.0, RATE, CLICK_MS as f64 / 1000.0, 0.8);
    let period = (PERIOD_MS * u64::from(RATE) / 1000) as usize;
    for start in (0..samples.len().saturating_sub(click.len())).step_by(period) {
        samples[start..start + click.len()].copy_from_slice(&click);
    }
    analysis::write_wav(path, RATE, &samples).expect("write clicks");
}

/// Sample positions where 1 ms windows turn loud after at least 100 ms of quiet.
fn onsets(samples: &[f32]) -> Vec<f64> {
    let window = (RATE / 1000) as usize;
    let mut quiet_run = 100;
    let mut found = Vec::new();
    for (i, chunk) in samples.chunks(window).enumerate() {
        if analysis::rms_dbfs(chunk) >= ONSET_DBFS {
            if quiet_run >= 100 {
                found.push(i as f64);
            }
            quiet_run = 0;
        } else {
            quiet_run += 1;
        }
    }
    found
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let seconds: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(12);
    let report = match std::env::args().nth(2).as_deref().unwrap_or("mesh") {
        "mesh" => measure(seconds, VoiceModeSetting::Mesh).await,
        "sfu" => measure(seconds, VoiceModeSetting::Sfu).await,
        "both" => {
            let mesh = measure(seconds, VoiceModeSetting::Mesh).await;
            let sfu = measure(seconds, VoiceModeSetting::Sfu).await;
            let added = sfu["median_ms"].as_f64().zip(mesh["median_ms"].as_f64()).map(|(s, m)| s - m);
            json!({ "mesh": mesh, "sfu": sfu, "sfu_minus_mesh_median_ms": added })
        }
        other => panic!("{other}: the room's mode is mesh, sfu or both"),
    };
    println!("{report}");
}

/// One measurement on a server of its own, whose rooms are all in `mode`.
async fn measure(seconds: u64, mode: VoiceModeSetting) -> Value {
    let server = TestServer::start_with(Database::Sqlite, |c| c.voice.voice_mode = mode).await;
    let dir = TempDir::new();
    let clicks = dir.path().join("clicks.wav");
    let heard = dir.path().join("heard.wav");
    click_train(&clicks, seconds + 10);

    let audio =
        |input, output| AudioConfig { input, output, noise_suppression: false, ..AudioConfig::default() };
    let (ann, _ann_gateway, _) = participant(
        &server,
        "ann",
        EngineConfig {
            audio: audio(InputChoice::Wav(clicks), OutputChoice::Null),
            mesh: MeshConfig::loopback(),
            mode: PttMode::Always,
        },
    )
    .await;
    let (bob, _bob_gateway, bob_joined) = participant(
        &server,
        "bob",
        EngineConfig {
            audio: audio(InputChoice::Silence, OutputChoice::Wav(heard.clone())),
            mesh: MeshConfig::loopback(),
            mode: PttMode::Never,
        },
    )
    .await;

    let mut buffer_ms = Vec::new();
    let until = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(peer) = bob.snapshot().peers.first().filter(|p| p.packets_received > 0) {
            buffer_ms.push(f64::from(peer.buffer_target_ms));
        }
    }
    bob.leave().expect("bob leaves");
    ann.leave().expect("ann leaves");

    let capture_epoch = ann.capture_epoch().expect("ann captured");
    let (_, samples) = analysis::read_wav(&heard).expect("output");
    // Bob's output file starts when his engine joins (creating a file is immediate);
    // Ann's input file starts once it is read, which the engine measures.
    let offset_ms = bob_joined.duration_since(capture_epoch).as_secs_f64() * 1000.0
        - capture_epoch.saturating_duration_since(bob_joined).as_secs_f64() * 1000.0;
    let mut latencies: Vec<f64> = onsets(&samples)
        .into_iter()
        .map(|heard_ms| heard_ms + offset_ms)
        .map(|at| at - (at / PERIOD_MS as f64).floor() * PERIOD_MS as f64)
        .collect();
    // The first click usually arrives while ICE is still connecting; latencies beyond a
    // period cannot be told from the next click and are folded above, so drop nothing else.
    latencies.sort_by(f64::total_cmp);
    assert!(latencies.len() >= 5, "too few clicks arrived: {latencies:?}");

    let lookahead_ms = {
        let mut processor =
            cromulent_client::voice::audio::CaptureProcessor::new(&AudioConfig::default()).expect("encoder");
        f64::from(processor.codec_lookahead().expect("look-ahead")) * 1000.0 / f64::from(RATE)
    };
    buffer_ms.sort_by(f64::total_cmp);
    let median_buffer = if buffer_ms.is_empty() { 0.0 } else { percentile(&buffer_ms, 50.0) };
    let frame_ms = FRAME_SAMPLES as f64 * 1000.0 / f64::from(RATE);
    json!({
        "mode": format!("{mode:?}").to_lowercase(),
        "clicks": latencies.len(),
        "median_ms": percentile(&latencies, 50.0),
        "p95_ms": percentile(&latencies, 95.0),
        "latencies_ms": latencies,
        "budget_ms": {
            "frame": frame_ms,
            "codec_lookahead": lookahead_ms,
            "jitter_buffer_target": median_buffer,
            // The playback thread mixes a 10 ms tick, then waits until it is due: one
            // tick ahead of its play time, for a WAV file as for a device.
            "playout_block": frame_ms / 2.0,
            "device_buffer": 0.0,
        },
    })
}
