//! Messages persisted per second and `POST /api/channels/{id}/messages` latency, with
//! `writers` accounts each posting `per_writer` messages back to back into `general`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use cromulent_protocol::message::SendMessageRequest;

use crate::account::{anonymous, new_account};
use crate::report::{print_reproduce, print_table, thousands};
use crate::server::{DbKind, Launch, Server, ServerArgs};
use crate::stats::{ms, Samples};

#[derive(Debug, Clone, Args)]
pub struct MessagesArgs {
    #[arg(long, value_enum, default_value = "sqlite")]
    pub db: DbKind,
    /// Concurrent writers, each its own account, each posting one message at a time.
    #[arg(long, default_value_t = 8)]
    pub writers: usize,
    #[arg(long, default_value_t = 200)]
    pub per_writer: usize,
    #[command(flatten)]
    pub server: ServerArgs,
}

pub async fn run(args: MessagesArgs) -> anyhow::Result<()> {
    let server = Server::start(&args.server, &Launch { db: args.db, env: vec![] }).await?;
    let anonymous = anonymous(&server.base_url())?;
    let mut accounts = Vec::with_capacity(args.writers);
    for w in 0..args.writers {
        accounts.push(new_account(&anonymous, &format!("writer{w}")).await?);
    }
    let channel = accounts.first().context("at least one writer")?.general().await?;
    // One message per writer first, so connection pools and caches are warm.
    for (w, account) in accounts.iter().enumerate() {
        account
            .client
            .send_message_with(channel, &message(format!("warm-up {w}"), format!("warm-{w}")))
            .await?;
    }

    let cpu_before = server.cpu_time()?;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (w, account) in accounts.into_iter().enumerate() {
        let per_writer = args.per_writer;
        tasks.spawn(async move {
            let mut samples = Samples::with_capacity(per_writer);
            let mut ids = Vec::with_capacity(per_writer);
            for i in 0..per_writer {
                let t0 = Instant::now();
                let request = message(format!("message {i} from writer {w}"), format!("{w}-{i}"));
                let sent = account.client.send_message_with(channel, &request).await?;
                samples.record(t0.elapsed());
                ids.push(sent.id);
            }
            anyhow::Ok((samples, ids))
        });
    }
    let mut samples = Samples::new();
    let mut ids = HashSet::new();
    while let Some(done) = tasks.join_next().await {
        let (s, mine) = done??;
        samples.merge(s);
        ids.extend(mine);
    }
    let wall = started.elapsed();
    // Every post must have stored its own message: a nonce answered with an older
    // message would make the rate look better than it is.
    anyhow::ensure!(ids.len() == samples.len(), "{} posts stored only {} messages", samples.len(), ids.len());
    let cpu = server.cpu_time()?.saturating_sub(cpu_before);
    let total = samples.len();
    let s = samples.summary().expect("every writer posted");
    print_table(
        &[
            "database",
            "writers × messages",
            "messages/s",
            "p50 ms",
            "p99 ms",
            "server CPU s",
            "messages per CPU-s",
        ],
        &[vec![
            args.db.label().into(),
            format!("{} × {}", args.writers, args.per_writer),
            thousands(total as f64 / wall.as_secs_f64()),
            ms(s.p50),
            ms(s.p99),
            format!("{:.2}", cpu.as_secs_f64()),
            thousands(total as f64 / cpu.max(Duration::from_millis(10)).as_secs_f64()),
        ]],
    );
    print_reproduce("http-bench");
    Ok(())
}

/// One post with the nonce given, so every post of a run is a distinct message.
fn message(body: String, nonce: String) -> SendMessageRequest {
    SendMessageRequest::new(body, Some(nonce))
}
