//! Where a room should leave the mesh: 3 to 8 native clients (the desktop app's voice
//! engine, `cromulent-client`, in this process) talk at once in a room the server keeps
//! in mesh mode, then in one it sends through the SFU. For each size and mode, what a
//! client uploads and how much CPU it uses (this process's CPU time ÷ clients), and what
//! the server spends.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use cromulent_client::gateway::{Gateway, GatewayConfig, GatewayEvent};
use cromulent_client::voice::audio::{analysis, AudioConfig, InputChoice, OutputChoice};
use cromulent_client::voice::mesh::MeshConfig;
use cromulent_client::voice::{EngineConfig, PttMode, VoiceEngine};
use cromulent_protocol::Id;
use cromulent_testkit::TempDir;

use crate::account::Account;
use crate::report::{print_reproduce, print_table};
use crate::server::{DbKind, Launch, Server, ServerArgs};
use crate::voice::room::{self, load_average, own_cpu_time, SfuCounters};

#[derive(Debug, Clone, Args)]
pub struct ThresholdArgs {
    #[arg(long, default_value_t = 3)]
    pub from: usize,
    #[arg(long, default_value_t = 8)]
    pub to: usize,
    /// Seconds measured per room size and mode.
    #[arg(long, default_value_t = 15)]
    pub secs: u64,
    /// Seconds of talking before the measurement starts.
    #[arg(long, default_value_t = 3)]
    pub warmup_secs: u64,
    #[command(flatten)]
    pub server: ServerArgs,
}

const RATE: u32 = 48_000;
/// Bytes a voice packet carries besides its Opus payload: IPv4 20, UDP 8, RTP 12, the
/// one-byte header-extension block with the audio level 8, the SRTP tag 10.
const PACKET_OVERHEAD: f64 = 58.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Mesh,
    Sfu,
}

impl Mode {
    fn setting(self) -> &'static str {
        match self {
            Mode::Mesh => "mesh",
            Mode::Sfu => "sfu",
        }
    }
}

/// One room size in one mode.
struct Measured {
    mode: Mode,
    clients: usize,
    wall: f64,
    /// Packets every client sent, summed over clients.
    sent: u64,
    received: u64,
    client_cpu: f64,
    server_cpu: f64,
    counters: SfuCounters,
}

impl Measured {
    fn per_client_per_second(&self, n: u64) -> f64 {
        n as f64 / self.clients as f64 / self.wall
    }

    fn upload_kbps(&self, payload: f64) -> f64 {
        self.per_client_per_second(self.sent) * (payload + PACKET_OVERHEAD) * 8.0 / 1000.0
    }

    fn client_cpu_percent(&self) -> f64 {
        100.0 * self.client_cpu / self.wall / self.clients as f64
    }

    fn server_cpu_percent(&self) -> f64 {
        100.0 * self.server_cpu / self.wall
    }
}

pub async fn run(args: ThresholdArgs) -> anyhow::Result<()> {
    if args.from < 2 || args.to < args.from {
        bail!("--from must be at least 2 and --to at least --from");
    }
    let load_before = load_average();
    let dir = TempDir::new();
    let speech = dir.path().join("speech.wav");
    write_speech(&speech, args.warmup_secs + args.secs + 60)?;
    let mut measured = Vec::new();
    // The SFU first: its counters give the Opus payload size both modes send.
    for mode in [Mode::Sfu, Mode::Mesh] {
        let launch = Launch { db: DbKind::Sqlite, env: vec![("VOICE_MODE".into(), mode.setting().into())] };
        let server = Server::start(&args.server, &launch).await?;
        let accounts = room::accounts(&server, "talker", args.to).await?;
        let channel = room::voice_room(&accounts[0]).await?;
        for clients in args.from..=args.to {
            let m = measure(&args, &server, &accounts[..clients], channel, &speech, mode).await?;
            eprintln!("{} with {clients} clients: done", mode.setting());
            measured.push(m);
        }
    }
    let forwarded: SfuCounters =
        measured.iter().filter(|m| m.mode == Mode::Sfu).fold(SfuCounters::default(), |sum, m| SfuCounters {
            forwarded: sum.forwarded + m.counters.forwarded,
            bytes_forwarded: sum.bytes_forwarded + m.counters.bytes_forwarded,
            ..sum
        });
    let payload = forwarded.bytes_forwarded as f64 / (forwarded.forwarded as f64).max(1.0);
    print_table(
        &[
            "clients",
            "mode",
            "upload packets/s per client",
            "upload kbit/s per client",
            "download packets/s per client",
            "client CPU (% of a core, per client)",
            "server CPU (% of a core)",
        ],
        &measured.iter().map(|m| rows(m, payload)).collect::<Vec<_>>(),
    );
    println!(
        "\nOpus payload {payload:.1} bytes per packet on average (the SFU's bytes ÷ packets forwarded);"
    );
    println!("upload kbit/s counts {PACKET_OVERHEAD} bytes of IPv4, UDP, RTP, audio-level extension and SRTP tag on top.");
    println!("Load average (1 min) before: {load_before}, after: {}", load_average());
    print_reproduce("voice-bench");
    Ok(())
}

fn rows(m: &Measured, payload: f64) -> Vec<String> {
    vec![
        m.clients.to_string(),
        m.mode.setting().into(),
        format!("{:.0}", m.per_client_per_second(m.sent)),
        format!("{:.0}", m.upload_kbps(payload)),
        format!("{:.0}", m.per_client_per_second(m.received)),
        format!("{:.1}", m.client_cpu_percent()),
        format!("{:.1}", m.server_cpu_percent()),
    ]
}

/// A second of the test kit's voiced sound (it repeats every 0.5 s), repeated.
fn write_speech(path: &Path, seconds: u64) -> anyhow::Result<()> {
    let second = analysis::voice_like(RATE as usize, RATE, 0.5);
    let samples: Vec<f32> = second.iter().copied().cycle().take(second.len() * seconds as usize).collect();
    analysis::write_wav(path, RATE, &samples).context("writing the speech file")
}

/// A native client in the room: its engine and its gateway connection.
struct Client {
    engine: VoiceEngine,
    gateway: Gateway,
}

async fn client(account: &Account, channel: Id, speech: &Path) -> anyhow::Result<Client> {
    let tokens = account.client.tokens().context("an account's client holds its tokens")?.clone();
    let gateway = Gateway::connect(GatewayConfig::new(account.client.server(), tokens)).await?;
    let mut events = gateway.subscribe();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sender = gateway.clone();
    tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            let _ = sender.send(frame).await;
        }
    });
    let config = EngineConfig {
        audio: AudioConfig {
            input: InputChoice::Wav(speech.to_owned()),
            output: OutputChoice::Null,
            ..AudioConfig::default()
        },
        mesh: MeshConfig::loopback(),
        mode: PttMode::Always,
    };
    let engine = VoiceEngine::new(config, Arc::new(move |frame| drop(tx.send(frame))));
    let feed = engine.clone();
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let GatewayEvent::Frame(frame) = event {
                feed.handle(&frame);
            }
        }
    });
    engine.join(channel).await?;
    Ok(Client { engine, gateway })
}

/// Packets every client has sent and received so far. Through the SFU each client has
/// one connection, whose count every remote participant's row repeats.
fn packets(clients: &[Client], mode: Mode) -> (u64, u64) {
    clients.iter().fold((0, 0), |(sent, received), c| {
        let peers = c.engine.snapshot().peers;
        let out = match mode {
            Mode::Mesh => peers.iter().map(|p| p.packets_sent).sum(),
            Mode::Sfu => peers.iter().map(|p| p.packets_sent).max().unwrap_or(0),
        };
        (sent + out, received + peers.iter().map(|p| p.packets_received).sum::<u64>())
    })
}

async fn measure(
    args: &ThresholdArgs,
    server: &Server,
    accounts: &[Account],
    channel: Id,
    speech: &Path,
    mode: Mode,
) -> anyhow::Result<Measured> {
    let mut clients = Vec::with_capacity(accounts.len());
    for account in accounts {
        clients.push(client(account, channel, speech).await?);
    }
    let n = clients.len();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !clients.iter().all(|c| {
        let peers = c.engine.snapshot().peers;
        peers.len() == n - 1 && peers.iter().all(|p| p.packets_received > 0)
    }) {
        if Instant::now() >= deadline {
            bail!("{} with {n} clients: not everyone hears everyone after 30 s", mode.setting());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(args.warmup_secs)).await;

    let (sent0, received0) = packets(&clients, mode);
    let (client0, server0, counters0) =
        (own_cpu_time()?, server.cpu_time()?, SfuCounters::scrape(server).await?);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.secs)).await;
    let (sent1, received1) = packets(&clients, mode);
    let (client1, server1, counters1) =
        (own_cpu_time()?, server.cpu_time()?, SfuCounters::scrape(server).await?);
    let wall = started.elapsed().as_secs_f64();

    for c in &clients {
        c.engine.leave()?;
        c.gateway.close().await;
    }
    // Connections and audio threads wind down before the next size starts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(Measured {
        mode,
        clients: n,
        wall,
        sent: sent1 - sent0,
        received: received1 - received0,
        client_cpu: (client1 - client0).as_secs_f64(),
        server_cpu: (server1 - server0).as_secs_f64(),
        counters: counters1.since(counters0),
    })
}
