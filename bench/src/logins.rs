//! Logins per second, and per second of server CPU (one core busy for one second), with
//! `concurrency` clients logging one account in `count` times. Argon2id verification
//! (m=19456 KiB, t=2, p=1) dominates; the server runs at most as many hashes as cores.

use std::time::{Duration, Instant};

use clap::Args;

use crate::account::{anonymous, login, register_account};
use crate::report::{print_reproduce, print_table, thousands};
use crate::server::{cores, DbKind, Launch, Server, ServerArgs};
use crate::stats::{ms, Samples};

#[derive(Debug, Clone, Args)]
pub struct LoginsArgs {
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    #[arg(long, default_value_t = 200)]
    pub count: usize,
    #[arg(long, value_enum, default_value = "sqlite")]
    pub db: DbKind,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub async fn run(args: LoginsArgs) -> anyhow::Result<()> {
    let server = Server::start(&args.server, &Launch { db: args.db, env: vec![] }).await?;
    let anonymous = anonymous(&server.base_url())?;
    // Successful logins are not throttled, so one account serves every login.
    let email = register_account(&anonymous, "login-bench").await?;
    login(&anonymous, &email).await?;

    let cpu_before = server.cpu_time()?;
    let started = Instant::now();
    let concurrency = args.concurrency.max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..concurrency {
        let anonymous = anonymous.clone();
        let email = email.clone();
        let mine = args.count / concurrency + usize::from(c < args.count % concurrency);
        tasks.spawn(async move {
            let mut samples = Samples::with_capacity(mine);
            for _ in 0..mine {
                let t0 = Instant::now();
                login(&anonymous, &email).await?;
                samples.record(t0.elapsed());
            }
            anyhow::Ok(samples)
        });
    }
    let mut samples = Samples::new();
    while let Some(done) = tasks.join_next().await {
        samples.merge(done??);
    }
    let wall = started.elapsed();
    let cpu = server.cpu_time()?.saturating_sub(cpu_before).max(Duration::from_millis(10));
    let total = samples.len() as f64;
    let s = samples.summary().expect("at least one login");
    print_table(
        &[
            "concurrency",
            "logins",
            "logins/s",
            "logins/s per core (÷ cores)",
            "logins per server CPU-s",
            "p50 ms",
            "p99 ms",
        ],
        &[vec![
            concurrency.to_string(),
            thousands(total),
            format!("{:.1}", total / wall.as_secs_f64()),
            format!("{:.1} (÷ {})", total / wall.as_secs_f64() / cores() as f64, cores()),
            format!("{:.1}", total / cpu.as_secs_f64()),
            ms(s.p50),
            ms(s.p99),
        ]],
    );
    print_reproduce("http-bench");
    Ok(())
}
