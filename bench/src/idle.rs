//! Server memory per idle gateway connection: `connections` sockets, each identified
//! (one account's access token shared by all, with the server's sessions-per-user cap
//! raised to allow it) and heartbeating, then the server's VmRSS growth divided by the count;
//! then the same count of idle connections to the bare broadcast server, for the floor.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::sync::watch;

use crate::account::{anonymous, new_account};
use crate::baseline::BaselineProcess;
use crate::crowd::{self, Crowd};
use crate::report::{print_reproduce, print_table, thousands};
use crate::server::{DbKind, Launch, Server, ServerArgs};

#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Accounts the connections are spread over (each gets its own sessions).
    #[arg(long, default_value_t = 1)]
    pub accounts: usize,
    /// Loopback source addresses to spread the client sockets over.
    #[arg(long, default_value_t = 50)]
    pub spread: u8,
    /// The server's heartbeat interval (GATEWAY_HEARTBEAT_MS), short so that several
    /// heartbeats happen while the connections are held.
    #[arg(long, default_value_t = 5_000)]
    pub heartbeat_ms: u64,
    /// Seconds to hold every connection open after the last one is ready.
    #[arg(long, default_value_t = 15)]
    pub hold_secs: u64,
    #[arg(long, value_enum, default_value = "sqlite")]
    pub db: DbKind,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub async fn run(args: IdleArgs) -> anyhow::Result<()> {
    let launch = Launch {
        db: args.db,
        env: vec![
            ("GATEWAY_HEARTBEAT_MS".into(), args.heartbeat_ms.to_string()),
            ("GATEWAY_MAX_CONNECTIONS".into(), (args.connections + 100).to_string()),
            ("GATEWAY_MAX_CONNECTIONS_PER_USER".into(), (args.connections + 100).to_string()),
        ],
    };
    let server = Server::start(&args.server, &launch).await?;
    let anonymous = anonymous(&server.base_url())?;
    let mut tokens = Vec::new();
    for a in 0..args.accounts.max(1) {
        tokens.push(new_account(&anonymous, &format!("idle{a}")).await?.access_token().await?);
    }
    let mut crowd = Crowd {
        addr: server.addr,
        path: "/api/gateway".into(),
        tokens,
        count: 20,
        spread: args.spread,
        handshakes: 64,
    };
    let (stop_tx, stop) = watch::channel(false);
    let alive = Arc::new(AtomicUsize::new(0));
    // Warm-up: a few connections come and go so lazily built state is not counted.
    {
        let (warm_tx, warm_stop) = watch::channel(false);
        let warm_alive = Arc::new(AtomicUsize::new(0));
        let mut warm =
            crowd::gather(&crowd, move |r| crowd::idle(r, warm_alive.clone(), warm_stop.clone())).await;
        let _ = warm_tx.send(true);
        while warm.tasks.join_next().await.is_some() {}
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let rss_before = server.rss_kib()?;

    crowd.count = args.connections;
    let session_alive = alive.clone();
    let mut gathered =
        crowd::gather(&crowd, move |r| crowd::idle(r, session_alive.clone(), stop.clone())).await;
    if let Some(e) = gathered.first_error.take() {
        if gathered.opened == 0 {
            return Err(e.context("no gateway connection could be opened"));
        }
        eprintln!("stopped opening after {} connections: {e:#}", gathered.opened);
    }
    let mut rss_peak = 0;
    for _ in 0..args.hold_secs {
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss_peak = rss_peak.max(server.rss_kib()?);
    }
    let rss_after = server.rss_kib()?;
    let still = alive.load(Ordering::Relaxed);
    let _ = stop_tx.send(true);
    while gathered.tasks.join_next().await.is_some() {}

    drop(server);
    let ours =
        Memory { label: "cromulent", asked: args.connections, open: still, rss_before, rss_after, rss_peak };

    let base = baseline(&args).await?;
    print_table(
        &[
            "server",
            "connections open (asked)",
            "RSS before MiB",
            "after MiB",
            "KiB per connection",
            "peak KiB/conn",
        ],
        &[ours.row(), base.row()],
    );
    println!(
        "\nRatio ours / baseline, KiB per connection: {:.2} (held {} s)",
        ours.per_conn(ours.rss_after) / base.per_conn(base.rss_after),
        args.hold_secs
    );
    print_reproduce("gateway-bench");
    Ok(())
}

/// Memory of one server around opening the connections.
struct Memory {
    label: &'static str,
    asked: usize,
    open: usize,
    rss_before: u64,
    rss_after: u64,
    rss_peak: u64,
}

impl Memory {
    fn per_conn(&self, kib: u64) -> f64 {
        kib.saturating_sub(self.rss_before) as f64 / self.open.max(1) as f64
    }

    fn row(&self) -> Vec<String> {
        vec![
            self.label.into(),
            format!("{} ({})", thousands(self.open as f64), thousands(self.asked as f64)),
            format!("{:.1}", self.rss_before as f64 / 1024.0),
            format!("{:.1}", self.rss_after as f64 / 1024.0),
            format!("{:.2}", self.per_conn(self.rss_after)),
            format!("{:.2}", self.per_conn(self.rss_peak)),
        ]
    }
}

/// The same number of idle connections to the bare broadcast server, whose WebSocket
/// buffers are set like the gateway's: the floor tokio and tungstenite impose.
async fn baseline(args: &IdleArgs) -> anyhow::Result<Memory> {
    let process = BaselineProcess::start(&args.server.server_env)?;
    let crowd = Crowd {
        addr: process.addr,
        path: "/".into(),
        tokens: vec![],
        count: args.connections,
        spread: args.spread,
        handshakes: 64,
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = process.rss_kib()?;
    let (stop_tx, stop) = watch::channel(false);
    let alive = Arc::new(AtomicUsize::new(0));
    let session_alive = alive.clone();
    let mut gathered =
        crowd::gather(&crowd, move |r| crowd::idle(r, session_alive.clone(), stop.clone())).await;
    if let Some(e) = gathered.first_error.take() {
        eprintln!("baseline: stopped opening after {} connections: {e:#}", gathered.opened);
    }
    let mut rss_peak = 0;
    for _ in 0..args.hold_secs {
        tokio::time::sleep(Duration::from_secs(1)).await;
        rss_peak = rss_peak.max(process.rss_kib()?);
    }
    let rss_after = process.rss_kib()?;
    let open = alive.load(Ordering::Relaxed);
    let _ = stop_tx.send(true);
    while gathered.tasks.join_next().await.is_some() {}
    Ok(Memory {
        label: "bare tokio-tungstenite",
        asked: args.connections,
        open,
        rss_before,
        rss_after,
        rss_peak,
    })
}
