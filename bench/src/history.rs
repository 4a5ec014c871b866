//! p50/p99 of one history page (`before=<random id>&limit=50`) in a channel holding
//! `messages` messages. The messages are bulk-inserted with one SQL statement through
//! the `sqlite3` or `psql` shell (a recursive CTE / `generate_series`), which takes
//! seconds where a million REST posts would take most of an hour; the page query the
//! server runs is the same either way.

use std::time::Instant;

use anyhow::Context;
use clap::Args;
use cromulent_protocol::message::{ListMessagesQuery, SendMessageRequest};
use cromulent_protocol::Id;
use rand::Rng;

use crate::account::{anonymous, new_account, Account};
use crate::report::{print_reproduce, print_table, thousands};
use crate::server::{psql, sqlite3, DbKind, Launch, Server, ServerArgs};
use crate::stats::{ms, Samples};

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    #[arg(long, value_enum, default_value = "sqlite")]
    pub db: DbKind,
    /// Messages in the channel.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: i64,
    /// Pages fetched.
    #[arg(long, default_value_t = 2000)]
    pub queries: usize,
    /// Clients fetching at once.
    #[arg(long, default_value_t = 2)]
    pub concurrency: usize,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Ids and columns of the seeded rows.
struct Seed {
    channel: Id,
    author: Id,
    /// Seeded ids are `base + 1 ..= base + count`, all older than the newest real message.
    base: i64,
    count: i64,
    created_at: i64,
}

impl Seed {
    /// One statement: SQLite's recursive CTE and PostgreSQL's `generate_series` both
    /// produce the rows inside the database, with no round trips.
    fn sql(&self, db: DbKind) -> String {
        let Seed { channel, author, base, count, created_at } = self;
        let first = created_at - count;
        let select = format!(
            "SELECT {base} + x, {channel}, {author}, 'seeded history message number ' || x, NULL, {first} + x"
        );
        let insert = "INSERT INTO messages (id, channel_id, author_id, body, nonce, created_at)";
        match db {
            DbKind::Sqlite => format!(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {count}) \
                 {insert} {select} FROM c; ANALYZE;"
            ),
            DbKind::Postgres => {
                format!("{insert} {select} FROM generate_series(1, {count}) AS x; ANALYZE messages;")
            }
        }
    }
}

pub async fn run(args: HistoryArgs) -> anyhow::Result<()> {
    let server = Server::start(&args.server, &Launch { db: args.db, env: vec![] }).await?;
    let account = new_account(&anonymous(&server.base_url())?, "history-reader").await?;
    let channel = account.general().await?;
    // A real message gives an id and time to seed below, so seeded ids are older.
    let first = SendMessageRequest::new("newest", Some("newest".into()));
    let newest = account.client.send_message_with(channel, &first).await?;
    let seed = Seed {
        channel,
        author: account.user_id,
        base: newest.id.0 - args.messages - 1,
        count: args.messages,
        created_at: newest.created_at,
    };
    let t0 = Instant::now();
    match args.db {
        DbKind::Sqlite => sqlite3(&server.sqlite_path(), &seed.sql(args.db)).map(drop),
        DbKind::Postgres => {
            let url = server.database_url().context("a PostgreSQL server has a URL")?;
            let (admin, db) = url.rsplit_once('/').context("a database URL names its database")?;
            psql(admin, db, &seed.sql(args.db)).map(drop)
        }
    }
    .context("seeding messages")?;
    eprintln!("seeded {} messages in {:.1} s", args.messages, t0.elapsed().as_secs_f64());
    // Warm-up: the first pages read the index from disk.
    for _ in 0..20 {
        history_page(&account, channel, random_before(&seed, args.limit), args.limit).await?;
    }

    let started = Instant::now();
    let concurrency = args.concurrency.max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..concurrency {
        let account = account.clone();
        let seed = Seed { ..seed };
        let (limit, mine) =
            (args.limit, args.queries / concurrency + usize::from(c < args.queries % concurrency));
        tasks.spawn(async move {
            let mut samples = Samples::with_capacity(mine);
            for _ in 0..mine {
                let before = random_before(&seed, limit);
                let t0 = Instant::now();
                let got = history_page(&account, seed.channel, before, limit).await?;
                samples.record(t0.elapsed());
                anyhow::ensure!(got == limit as usize, "a page before {before} held {got} messages");
            }
            anyhow::Ok(samples)
        });
    }
    let mut samples = Samples::new();
    while let Some(done) = tasks.join_next().await {
        samples.merge(done??);
    }
    let wall = started.elapsed();
    let s = samples.summary().expect("at least one page");
    print_table(
        &["database", "messages in channel", "page", "pages", "pages/s", "p50 ms", "p99 ms"],
        &[vec![
            args.db.label().into(),
            thousands(args.messages as f64),
            format!("before=<random>&limit={}", args.limit),
            thousands(s.count as f64),
            thousands(s.count as f64 / wall.as_secs_f64()),
            ms(s.p50),
            ms(s.p99),
        ]],
    );
    print_reproduce("http-bench");
    Ok(())
}

/// One page of history older than `before`; answers how many messages it held.
async fn history_page(account: &Account, channel: Id, before: Id, limit: u32) -> anyhow::Result<usize> {
    let query = ListMessagesQuery { before: Some(before), limit: Some(limit), ..Default::default() };
    Ok(account.client.messages(channel, &query).await?.len())
}

/// A random seeded id with at least `limit` seeded messages before it.
fn random_before(seed: &Seed, limit: u32) -> Id {
    let low = seed.base + i64::from(limit) + 1;
    Id(rand::thread_rng().gen_range(low..=seed.base + seed.count))
}
