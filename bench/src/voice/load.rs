//! SFU throughput: one room of str0m peers on a server in sfu mode, grown to each size
//! in `participants`, with 1, 3 or all of them talking (50 frames/s of 80 bytes each)
//! at each size. For each phase, the packets the SFU forwarded (its `/metrics`) per
//! second of its CPU time, the frames the peers received and their send→receive delay;
//! between sizes, what the server's memory grew by per participant.

use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use cromulent_protocol::Id;
use cromulent_testkit::sfu_peer::{SfuPeer, FRAME};

use crate::report::{print_reproduce, print_table, thousands};
use crate::server::{DbKind, Launch, Server, ServerArgs};
use crate::stats::{ms, Samples};
use crate::voice::room::{self, load_average, own_cpu_time, udp_drops, Parked, SfuCounters};

#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Room sizes, each on a fresh server.
    #[arg(long, value_delimiter = ',', default_value = "10,25,50")]
    pub participants: Vec<usize>,
    /// How many talk at once, one phase each: a number or `all`.
    #[arg(long, value_delimiter = ',', default_value = "1,3,all")]
    pub talkers: Vec<Talkers>,
    /// Seconds measured per phase.
    #[arg(long, default_value_t = 15)]
    pub secs: u64,
    /// Seconds of talking before the measurement starts.
    #[arg(long, default_value_t = 3)]
    pub warmup_secs: u64,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Talkers {
    Count(usize),
    All,
}

impl FromStr for Talkers {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" => Ok(Talkers::All),
            n => n.parse().map(Talkers::Count).map_err(|_| format!("{n}: a number or `all`")),
        }
    }
}

impl Talkers {
    fn of(self, participants: usize) -> usize {
        match self {
            Talkers::Count(n) => n.min(participants),
            Talkers::All => participants,
        }
    }
}

/// Server CPU, the SFU's counters, what the peers received and the load generator's
/// CPU, at one instant.
struct Snapshot {
    at: Instant,
    server_cpu: Duration,
    counters: SfuCounters,
    sent: usize,
    delivered: usize,
    own_cpu: Duration,
    server_drops: u64,
    own_drops: u64,
}

impl Snapshot {
    async fn take(server: &Server, peers: &[SfuPeer]) -> anyhow::Result<Self> {
        Ok(Self {
            at: Instant::now(),
            server_cpu: server.cpu_time()?,
            counters: SfuCounters::scrape(server).await?,
            sent: peers.iter().map(SfuPeer::frames_sent).sum(),
            delivered: peers.iter().map(SfuPeer::total_frames).sum(),
            own_cpu: own_cpu_time()?,
            server_drops: udp_drops(server.pid())?,
            own_drops: udp_drops(std::process::id())?,
        })
    }
}

pub async fn run(args: LoadArgs) -> anyhow::Result<()> {
    let load_before = load_average();
    let mut sizes = args.participants.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let largest = *sizes.last().context("no room size")?;
    let launch = Launch {
        db: DbKind::Sqlite,
        env: vec![("VOICE_MODE".into(), "sfu".into()), ("VOICE_ROOM_MAX".into(), (largest + 1).to_string())],
    };
    let server = Server::start(&args.server, &launch).await?;
    // Every account signs in and every gateway connection is open before the first
    // join: what the server's memory grows by afterwards is the SFU's.
    let accounts = room::accounts(&server, "voice", largest).await?;
    let channel = room::voice_room(&accounts[0]).await?;
    let mut parked: Vec<Parked> =
        room::links(&server, &accounts).await?.into_iter().map(Parked::new).collect();
    // Argon2 (sign-ups, logins) ran on blocking threads, whose freed memory the
    // allocator gives back when they exit after 10 s idle.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let rss_before_joins = server.rss_kib()?;

    let mut peers = Vec::new();
    let mut rows = Vec::new();
    let mut memory = Vec::new();
    for &size in &sizes {
        let mut joining = Vec::new();
        for link in parked.drain(..size - peers.len()) {
            joining.push(link.resume().await?);
        }
        peers.extend(room::join(joining, channel).await?);
        eprintln!("{size} participants joined");
        for talkers in &args.talkers {
            let mut row = phase(&args, &server, &peers, talkers.of(size)).await?;
            memory.push((size, row.rss));
            rows.push(row.cells());
        }
    }
    print_table(
        &[
            "participants",
            "talking",
            "streams forwarded",
            "frames sent/s",
            "packets in/s",
            "forwarded/s",
            "delivered",
            "server CPU (% of a core)",
            "forwarded per CPU-s",
            "**streams per core**",
            "CPU per participant (% of a core)",
            "RSS MiB",
            "p50 ms",
            "p99 ms",
            "load generator CPU (% of a core)",
            "UDP drops server / load generator",
        ],
        &rows,
    );
    println!(
        "\nServer RSS with every participant's gateway connection open, before anyone joined: {:.1} MiB",
        rss_before_joins as f64 / 1024.0
    );
    for pair in memory.windows(2).filter(|w| w[0].0 != w[1].0) {
        let ((n0, rss0), (n1, rss1)) = (pair[0], pair[1]);
        println!(
            "SFU memory per participant from {n0} to {n1} (last phase of each): {:.0} KiB",
            (rss1 as f64 - rss0 as f64) / (n1 - n0) as f64
        );
    }
    println!("Load average (1 min) before: {load_before}, after: {}", load_average());
    print_reproduce("voice-bench");
    Ok(())
}

/// The first `talking` peers talk; measured after every listener hears each of them.
async fn phase(args: &LoadArgs, server: &Server, peers: &[SfuPeer], talking: usize) -> anyhow::Result<Row> {
    let ids: Vec<Id> = peers[..talking].iter().map(|p| p.session_id).collect();
    for peer in &peers[..talking] {
        peer.speak(true);
    }
    room::until_all_hear(peers, &ids, Duration::from_secs(30)).await?;
    tokio::time::sleep(Duration::from_secs(args.warmup_secs)).await;
    for peer in peers {
        peer.clear_delays();
    }
    let before = Snapshot::take(server, peers).await?;
    tokio::time::sleep(Duration::from_secs(args.secs)).await;
    let after = Snapshot::take(server, peers).await?;
    let rss = server.rss_kib()?;
    let mut delays = Samples::new();
    for peer in peers {
        for us in peer.heard().delays_us {
            delays.record_micros(u64::from(us));
        }
    }
    for peer in &peers[..talking] {
        peer.speak(false);
    }
    eprintln!("{} participants, {talking} talking: done", peers.len());
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(Row { participants: peers.len(), talking, before, after, rss, delays })
}

struct Row {
    participants: usize,
    talking: usize,
    before: Snapshot,
    after: Snapshot,
    rss: u64,
    delays: Samples,
}

impl Row {
    fn cells(&mut self) -> Vec<String> {
        let wall = self.after.at.duration_since(self.before.at).as_secs_f64();
        let counters = self.after.counters.since(self.before.counters);
        let cpu = (self.after.server_cpu - self.before.server_cpu).as_secs_f64().max(0.01);
        let own_cpu = (self.after.own_cpu - self.before.own_cpu).as_secs_f64();
        let delivered = self.after.delivered - self.before.delivered;
        let per_cpu_s = counters.forwarded as f64 / cpu;
        let frames_per_second = 1.0 / FRAME.as_secs_f64();
        let summary = self.delays.summary();
        vec![
            thousands(self.participants as f64),
            thousands(self.talking as f64),
            thousands((self.talking * (self.participants - 1)) as f64),
            thousands((self.after.sent - self.before.sent) as f64 / wall),
            thousands(counters.received as f64 / wall),
            thousands(counters.forwarded as f64 / wall),
            format!("{:.1} %", 100.0 * delivered as f64 / (counters.forwarded as f64).max(1.0)),
            format!("{:.1}", 100.0 * cpu / wall),
            thousands(per_cpu_s),
            format!("**{}**", thousands(per_cpu_s / frames_per_second)),
            format!("{:.2}", 100.0 * cpu / wall / self.participants as f64),
            format!("{:.1}", self.rss as f64 / 1024.0),
            summary.map_or("-".into(), |s| ms(s.p50)),
            summary.map_or("-".into(), |s| ms(s.p99)),
            format!("{:.1}", 100.0 * own_cpu / wall),
            format!(
                "{} / {}",
                thousands((self.after.server_drops - self.before.server_drops) as f64),
                thousands((self.after.own_drops - self.before.own_drops) as f64)
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn talkers_are_a_count_capped_by_the_room_or_everyone() {
        assert_eq!("3".parse::<Talkers>().map(|t| t.of(10)), Ok(3));
        assert_eq!("3".parse::<Talkers>().map(|t| t.of(2)), Ok(2), "no more talk than are there");
        assert_eq!("all".parse::<Talkers>().map(|t| t.of(25)), Ok(25));
        assert!("most".parse::<Talkers>().is_err());
    }
}
