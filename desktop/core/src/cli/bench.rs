//! `cromulent bench gateway`: many gateway sessions from one process, as a load
//! generator and a fan-out latency probe.
//!
//! Opens `--sessions` connections for the logged-in user, then sends `--messages`
//! messages over REST and times, for every session, how long each took to arrive as a
//! `message_create` event. Prints connect and delivery percentiles.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use cromulent_protocol::gateway::{Event, ServerFrame};
use cromulent_protocol::Id;
use futures_util::stream::{self, StreamExt};
use tokio::sync::mpsc;

use super::chat::find_channel;
use super::Context;
use crate::gateway::{ConnectionState, Gateway, GatewayConfig, GatewayEvent};

/// Handshakes in flight at once, so the server sees a ramp rather than a wall.
const CONNECT_CONCURRENCY: usize = 16;
/// How long to wait for the last deliveries before reporting what arrived.
const DRAIN: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Debug, clap::Subcommand)]
pub enum BenchWhat {
    /// Many gateway sessions; message fan-out latency.
    Gateway(GatewayBench),
}

#[derive(Debug, clap::Args)]
pub struct GatewayBench {
    /// Gateway sessions to open.
    #[arg(long, default_value_t = 100)]
    pub sessions: usize,
    /// Messages to send once every session is ready.
    #[arg(long, default_value_t = 20)]
    pub messages: usize,
    /// Pause between messages, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub interval_ms: u64,
    /// The channel to send to (name or id).
    #[arg(long, default_value = "general")]
    pub channel: String,
}

pub async fn run(ctx: &Context, args: BenchArgs) -> anyhow::Result<()> {
    match args.what {
        BenchWhat::Gateway(args) => gateway(ctx, args).await,
    }
}

async fn gateway(ctx: &Context, args: GatewayBench) -> anyhow::Result<()> {
    let client = ctx.client().await?;
    let channel =
        find_channel(&client.channels().await.context("listing channels")?, &args.channel)?.channel.id;
    let config = GatewayConfig::new(client.server(), client.tokens().context("logged in")?.clone());

    let started = Instant::now();
    let opened: Vec<_> = stream::iter(0..args.sessions)
        .map(|_| {
            let config = config.clone();
            async move {
                let begun = Instant::now();
                Gateway::connect(config).await.map(|g| (g, begun.elapsed()))
            }
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    let ramp = started.elapsed();
    let mut gateways = Vec::new();
    let mut connect_times = Vec::new();
    let mut failures = 0;
    for result in opened {
        match result {
            Ok((gateway, took)) => {
                gateways.push(gateway);
                connect_times.push(took);
            }
            Err(error) => {
                failures += 1;
                tracing::warn!(%error, "session failed to connect");
            }
        }
    }
    println!(
        "sessions: {} connected, {failures} failed, in {} ms; handshake {}",
        gateways.len(),
        ramp.as_millis(),
        summary(&mut connect_times)
    );

    let (arrivals, mut arrived) = mpsc::unbounded_channel::<Arrival>();
    for gateway in &gateways {
        tokio::spawn(watch(gateway.subscribe(), arrivals.clone()));
    }
    drop(arrivals);

    let mut sent_at: HashMap<Id, Instant> = HashMap::new();
    let expected = gateways.len() * args.messages;
    let mut latencies = Vec::with_capacity(expected);
    let mut reconnects = 0;
    for n in 0..args.messages {
        let at = Instant::now();
        let message = client.send_message(channel, &format!("bench {n}")).await.context("sending")?;
        sent_at.insert(message.id, at);
        tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
    }
    let deadline = tokio::time::Instant::now() + DRAIN;
    while latencies.len() < expected {
        let arrival = match tokio::time::timeout_at(deadline, arrived.recv()).await {
            Ok(Some(arrival)) => arrival,
            Ok(None) | Err(_) => break,
        };
        // Arrivals wait in the channel while messages are sent, so every id is known
        // here; unknown ids are other people's messages.
        match arrival {
            Arrival::Message(id, at) => {
                if let Some(sent) = sent_at.get(&id) {
                    latencies.push(at.saturating_duration_since(*sent));
                }
            }
            Arrival::Reconnect => reconnects += 1,
        }
    }
    println!(
        "deliveries: {}/{expected}; latency {}; reconnects {reconnects}",
        latencies.len(),
        summary(&mut latencies)
    );
    for gateway in &gateways {
        gateway.close().await;
    }
    anyhow::ensure!(failures == 0 && latencies.len() == expected, "not every session got every message");
    Ok(())
}

enum Arrival {
    Message(Id, Instant),
    Reconnect,
}

async fn watch(
    mut events: tokio::sync::broadcast::Receiver<GatewayEvent>,
    out: mpsc::UnboundedSender<Arrival>,
) {
    while let Ok(event) = events.recv().await {
        let arrival = match event {
            GatewayEvent::Frame(ServerFrame::Event(frame)) => match frame.event {
                Event::MessageCreate { message } => Arrival::Message(message.id, Instant::now()),
                _ => continue,
            },
            GatewayEvent::State(ConnectionState::Reconnecting { .. }) => Arrival::Reconnect,
            GatewayEvent::State(ConnectionState::Closed(_)) => return,
            _ => continue,
        };
        if out.send(arrival).is_err() {
            return;
        }
    }
}

/// `p50 … p95 … max …` in milliseconds.
fn summary(samples: &mut [Duration]) -> String {
    if samples.is_empty() {
        return "n/a".into();
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0;
    format!("p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms", at(0.5), at(0.95), at(1.0))
}
