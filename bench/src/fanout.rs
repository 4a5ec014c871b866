//! Fan-out: `recipients` gateway connections, `messages` messages posted over REST into
//! `general` (which every account joins), each body stamped with the sender's clock.
//! Measures deliveries per second of server CPU time and send→receive latency, then
//! drives the bare broadcast server of [`crate::baseline`] the same way in the same run.

use std::time::{Duration, Instant};

use clap::Args;
use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::EventFrame;
use cromulent_protocol::message::{Message, SendMessageRequest};
use cromulent_protocol::Id;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::account::{anonymous, new_account, Account};
use crate::baseline::BaselineProcess;
use crate::crowd::{self, Crowd, Ready};
use crate::report::{print_reproduce, print_table, thousands};
use crate::server::{DbKind, Launch, Server, ServerArgs};
use crate::stats::{ms, Samples};
use crate::ws::{self, Clock, Ws, STAMP};

#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    #[arg(long, default_value_t = 1_000)]
    pub recipients: usize,
    /// Messages sent; keep it under the server's per-connection outbound queue (256) so
    /// a burst cannot make every recipient a slow consumer.
    #[arg(long, default_value_t = 100)]
    pub messages: usize,
    /// Accounts the recipient connections are spread over.
    #[arg(long, default_value_t = 10)]
    pub accounts: usize,
    /// Pause between sends (0: the next send starts when the previous one is answered).
    #[arg(long, default_value_t = 20)]
    pub interval_ms: u64,
    #[arg(long, default_value_t = 50)]
    pub spread: u8,
    /// Give up waiting for deliveries after this long.
    #[arg(long, default_value_t = 120)]
    pub timeout_secs: u64,
    #[arg(long, value_enum, default_value = "sqlite")]
    pub db: DbKind,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// What one target (ours or the baseline) came to.
struct Outcome {
    label: &'static str,
    open: usize,
    delivered: usize,
    expected: usize,
    wall: Duration,
    cpu: Duration,
    send_rate: f64,
    samples: Samples,
}

impl Outcome {
    fn per_cpu_second(&self) -> f64 {
        self.delivered as f64 / self.cpu.max(Duration::from_millis(10)).as_secs_f64()
    }

    fn row(&mut self) -> Vec<String> {
        let s = self.samples.summary();
        vec![
            self.label.into(),
            thousands(self.open as f64),
            format!("{} / {}", thousands(self.delivered as f64), thousands(self.expected as f64)),
            format!("{:.1}", self.send_rate),
            thousands(self.delivered as f64 / self.wall.as_secs_f64()),
            format!("{:.2}", self.cpu.as_secs_f64()),
            thousands(self.per_cpu_second()),
            s.map_or("-".into(), |s| ms(s.p50)),
            s.map_or("-".into(), |s| ms(s.p99)),
        ]
    }
}

/// How messages enter a target.
enum Publisher {
    Rest { account: Account, channel: Id },
    Socket(SplitSink<Ws, WsMessage>),
}

impl Publisher {
    async fn publish(&mut self, i: usize, clock: Clock) -> anyhow::Result<()> {
        let body = format!("fanout {i} {STAMP}{}", clock.now_micros());
        match self {
            Publisher::Rest { account, channel } => {
                let request = SendMessageRequest::new(body, Some(format!("fanout-{i}")));
                account.client.send_message_with(*channel, &request).await?;
                Ok(())
            }
            Publisher::Socket(ws) => {
                // The frame our gateway would send, so both carry the same bytes.
                let message = Message {
                    // Ids of a real server's length, so frames have the same size.
                    id: Id(119_223_121_155_719_168 + i as i64),
                    channel_id: Id(119_223_115_820_564_480),
                    author_id: Id(119_223_116_378_406_912),
                    body,
                    nonce: Some(format!("fanout-{i}")),
                    mentions: vec![],
                    created_at: 1_795_650_607_142,
                    edited_at: None,
                    reply_to: None,
                    reactions: vec![],
                    attachments: vec![],
                };
                let frame = EventFrame { seq: i as u64 + 1, event: Event::MessageCreate { message } };
                ws.send(WsMessage::Text(serde_json::to_string(&frame)?.into())).await?;
                Ok(())
            }
        }
    }
}

/// `fanout`: ours then the baseline; `baseline_only`: the baseline alone.
pub async fn run(args: FanoutArgs, baseline_only: bool) -> anyhow::Result<()> {
    let clock = Clock::start();
    let mut outcomes = Vec::new();
    if !baseline_only {
        outcomes.push(ours(&args, clock).await?);
    }
    outcomes.push(baseline(&args, clock).await?);
    let mut rows: Vec<Vec<String>> = outcomes.iter_mut().map(Outcome::row).collect();
    if let [ours, base] = &mut outcomes[..] {
        let (o, b) = (ours.samples.summary(), base.samples.summary());
        rows.push(vec![
            "**ratio ours / baseline**".into(),
            String::new(),
            String::new(),
            String::new(),
            format!(
                "{:.2}",
                (ours.delivered as f64 / ours.wall.as_secs_f64())
                    / (base.delivered as f64 / base.wall.as_secs_f64())
            ),
            String::new(),
            format!("{:.2}", ours.per_cpu_second() / base.per_cpu_second()),
            o.zip(b).map_or("-".into(), |(o, b)| format!("{:.2}", o.p50.as_secs_f64() / b.p50.as_secs_f64())),
            o.zip(b).map_or("-".into(), |(o, b)| format!("{:.2}", o.p99.as_secs_f64() / b.p99.as_secs_f64())),
        ]);
    }
    print_table(
        &[
            "target",
            "recipients",
            "delivered / expected",
            "sends/s",
            "deliveries/s (wall)",
            "server CPU s",
            "deliveries per CPU-s",
            "p50 ms",
            "p99 ms",
        ],
        &rows,
    );
    print_reproduce("gateway-bench");
    Ok(())
}

async fn ours(args: &FanoutArgs, clock: Clock) -> anyhow::Result<Outcome> {
    let launch = Launch {
        db: args.db,
        env: vec![
            ("GATEWAY_MAX_CONNECTIONS".into(), (args.recipients + 100).to_string()),
            // Recipients share a few accounts, each with many sessions.
            ("GATEWAY_MAX_CONNECTIONS_PER_USER".into(), (args.recipients + 100).to_string()),
        ],
    };
    let server = Server::start(&args.server, &launch).await?;
    let anonymous = anonymous(&server.base_url())?;
    let sender = new_account(&anonymous, "fanout-sender").await?;
    let channel = sender.general().await?;
    let mut tokens = Vec::new();
    for a in 0..args.accounts.max(1) {
        tokens.push(new_account(&anonymous, &format!("recipient{a}")).await?.access_token().await?);
    }
    let crowd = Crowd {
        addr: server.addr,
        path: "/api/gateway".into(),
        tokens,
        count: args.recipients,
        spread: args.spread,
        handshakes: 64,
    };
    let publisher = Publisher::Rest { account: sender, channel };
    drive(args, clock, crowd, publisher, "cromulent", &|| server.cpu_time()).await
}

async fn baseline(args: &FanoutArgs, clock: Clock) -> anyhow::Result<Outcome> {
    let process = BaselineProcess::start(&args.server.server_env)?;
    let crowd = Crowd {
        addr: process.addr,
        path: "/".into(),
        tokens: vec![],
        count: args.recipients,
        spread: args.spread,
        handshakes: 64,
    };
    let socket = ws::open(process.addr, ws::source_addr(usize::MAX, 1), "/").await?;
    // The publisher's own copies come back too; nobody needs them.
    let (sink, mut echo) = socket.split();
    tokio::spawn(async move { while echo.next().await.is_some() {} });
    let publisher = Publisher::Socket(sink);
    drive(args, clock, crowd, publisher, "bare tokio-tungstenite broadcast", &|| process.cpu_time()).await
}

/// Connects the recipients, sends the messages, waits for every delivery (or the
/// timeout) and reads the target's CPU time around the sending and delivering.
async fn drive(
    args: &FanoutArgs,
    clock: Clock,
    crowd: Crowd,
    mut publisher: Publisher,
    label: &'static str,
    cpu_time: &dyn Fn() -> anyhow::Result<Duration>,
) -> anyhow::Result<Outcome> {
    let expect = args.messages;
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Samples>();
    let (stop_tx, stop) = watch::channel(false);
    let mut gathered =
        crowd::gather(&crowd, move |r| recipient(r, expect, clock, done_tx.clone(), stop.clone())).await;
    if let Some(e) = &gathered.first_error {
        eprintln!("{label}: stopped opening after {} connections: {e:#}", gathered.opened);
    }
    let open = gathered.opened;
    // Let presence and other start-up events settle before the clock starts.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let cpu_before = cpu_time()?;
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout_secs);
    let mut pace = tokio::time::interval(Duration::from_millis(args.interval_ms.max(1)));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut samples = Samples::with_capacity(open * expect);
    let mut finished = 0;
    let mut sends = Samples::with_capacity(expect);
    for i in 0..expect {
        if args.interval_ms > 0 {
            pace.tick().await;
        }
        let t0 = Instant::now();
        publisher.publish(i, clock).await?;
        sends.record(t0.elapsed());
        while let Ok(s) = done_rx.try_recv() {
            samples.merge(s);
            finished += 1;
        }
    }
    let send_rate = expect as f64 / started.elapsed().as_secs_f64();
    while finished < open {
        match tokio::time::timeout_at(deadline, done_rx.recv()).await {
            Ok(Some(s)) => {
                samples.merge(s);
                finished += 1;
            }
            Ok(None) => break,
            Err(_) => {
                eprintln!("{label}: timed out with {finished} of {open} recipients complete");
                break;
            }
        }
    }
    let wall = started.elapsed();
    let cpu = cpu_time()?.saturating_sub(cpu_before);
    let _ = stop_tx.send(true);
    while gathered.tasks.join_next().await.is_some() {}
    while let Ok(s) = done_rx.try_recv() {
        samples.merge(s);
    }
    let delivered = samples.len();
    if let Some(s) = sends.summary() {
        // Part of every send→receive latency: for ours a REST round trip with a commit.
        eprintln!("{label}: send call p50 {} ms, p99 {} ms", ms(s.p50), ms(s.p99));
    }
    Ok(Outcome { label, open, delivered, expected: open * expect, wall, cpu, send_rate, samples })
}

/// One recipient: heartbeats like [`crowd::idle`], and records the latency of every
/// stamped message; reports its samples once it has them all, or when it ends early.
async fn recipient(
    mut ready: Ready,
    expect: usize,
    clock: Clock,
    done: mpsc::UnboundedSender<Samples>,
    stop: watch::Receiver<bool>,
) {
    let mut samples = Samples::with_capacity(expect);
    let mut reported = false;
    // BENCH_TRACE_FRAMES=1 prints what the first recipient receives, to debug a run.
    let trace = std::env::var_os("BENCH_TRACE_FRAMES").is_some();
    let index = ready.index;
    let first_beat = ready.heartbeat.unwrap_or(Duration::from_secs(3600));
    let end = crowd::serve(&mut ready, first_beat, stop, |text| {
        if trace && index == 0 {
            eprintln!("recipient 0 got {text}");
        }
        if let Some(stamp) = ws::stamp_of(text) {
            samples.record_micros(clock.now_micros().saturating_sub(stamp));
            if samples.len() == expect && !reported {
                let _ = done.send(std::mem::take(&mut samples));
                reported = true;
            }
        }
    })
    .await;
    if let crowd::End::Closed(frame) = end {
        eprintln!("recipient {index} closed by the server: {frame:?}");
    }
    if !reported {
        let _ = done.send(samples);
    }
}
