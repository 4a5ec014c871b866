//! p50/p99 of `GET /api/search` over `messages` messages, and the same words found with a
//! plain `LIKE` scan in the same run as the baseline an index has to beat.
//!
//! The messages are bulk-inserted with one SQL statement (as for the history benchmark),
//! which also runs the index upkeep a send runs (SQLite's FTS5 triggers, PostgreSQL's
//! generated `tsvector` and its GIN index). Each body holds a "rare" word (`w0`…`w4999`,
//! about `messages / 5000` matches each) and a "common" one (`t0`…`t49`, about
//! `messages / 50` matches, all of which are ranked). The baseline runs the same number
//! of `LIKE '%word %'` queries, with the same visibility join, inside the database's own
//! shell, so it pays no HTTP and no JSON: the ratio flatters the baseline.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use cromulent_protocol::message::SendMessageRequest;
use cromulent_protocol::search::SearchQuery;
use cromulent_protocol::Id;
use rand::Rng;

use crate::account::{anonymous, new_account, Account};
use crate::report::{print_reproduce, print_table, thousands};
use crate::server::{psql, sqlite3, DbKind, Launch, Server, ServerArgs};
use crate::stats::{ms, Samples};

const RARE_WORDS: i64 = 5000;
const COMMON_WORDS: i64 = 50;

#[derive(Debug, Clone, Args)]
pub struct SearchArgs {
    #[arg(long, value_enum, default_value = "sqlite")]
    pub db: DbKind,
    /// Messages searched.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: i64,
    /// Searches per kind of word (rare, common).
    #[arg(long, default_value_t = 500)]
    pub queries: usize,
    /// `LIKE` queries per kind of word for the baseline (each scans every message).
    #[arg(long, default_value_t = 10)]
    pub baseline_queries: usize,
    /// Results per search.
    #[arg(long, default_value_t = 25)]
    pub limit: u32,
    #[command(flatten)]
    pub server: ServerArgs,
}

fn seed_sql(db: DbKind, channel: Id, author: Id, base: i64, count: i64, created_at: i64) -> String {
    let first = created_at - count;
    let select = format!(
        "SELECT {base} + x, {channel}, {author}, \
         'seeded message about w' || ((x * 7919) % {RARE_WORDS}) || ' and t' || (x % {COMMON_WORDS}) || ' for the search benchmark', \
         NULL, {first} + x"
    );
    let insert = "INSERT INTO messages (id, channel_id, author_id, body, nonce, created_at)";
    match db {
        DbKind::Sqlite => format!(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {count}) \
             {insert} {select} FROM c; ANALYZE;"
        ),
        DbKind::Postgres => format!(
            "{insert} {select} FROM generate_series(CAST(1 AS BIGINT), {count}) AS x; ANALYZE messages;"
        ),
    }
}

/// The baseline: `n` substring scans for `words`, with the visibility join search has.
fn like_sql(user: Id, words: &[String], limit: u32) -> String {
    words
        .iter()
        .map(|word| {
            format!(
                "SELECT COUNT(*) FROM (SELECT msg.id FROM messages msg JOIN channels c ON c.id = msg.channel_id \
                 LEFT JOIN channel_memberships m ON m.channel_id = c.id AND m.user_id = {user} \
                 WHERE msg.body LIKE '%{word} %' AND (c.is_private = 0 OR m.user_id IS NOT NULL) \
                 ORDER BY msg.id DESC LIMIT {limit}) AS found;"
            )
        })
        .collect()
}

fn random_word(common: bool) -> String {
    let mut rng = rand::thread_rng();
    if common {
        format!("t{}", rng.gen_range(0..COMMON_WORDS))
    } else {
        format!("w{}", rng.gen_range(0..RARE_WORDS))
    }
}

pub async fn run(args: SearchArgs) -> anyhow::Result<()> {
    let launch =
        Launch { db: args.db, env: vec![("SEARCHES_PER_USER_PER_MINUTE".into(), "100000000".into())] };
    let server = Server::start(&args.server, &launch).await?;
    let account = new_account(&anonymous(&server.base_url())?, "search-reader").await?;
    let channel = account.general().await?;
    let first = SendMessageRequest::new("newest", Some("newest".into()));
    let newest = account.client.send_message_with(channel, &first).await?;
    let sql = seed_sql(
        args.db,
        channel,
        account.user_id,
        newest.id.0 - args.messages - 1,
        args.messages,
        newest.created_at,
    );
    let t0 = Instant::now();
    let shell = |sql: &str| -> anyhow::Result<String> {
        match args.db {
            DbKind::Sqlite => sqlite3(&server.sqlite_path(), sql),
            DbKind::Postgres => {
                let url = server.database_url().context("a PostgreSQL server has a URL")?;
                let (admin, db) = url.rsplit_once('/').context("a database URL names its database")?;
                psql(admin, db, sql)
            }
        }
    };
    shell(&sql).context("seeding messages")?;
    eprintln!("seeded and indexed {} messages in {:.1} s", args.messages, t0.elapsed().as_secs_f64());

    let mut rows = Vec::new();
    for common in [false, true] {
        let kind = if common { "common word" } else { "rare word" };
        for _ in 0..20 {
            search(&account, &random_word(common), args.limit).await?;
        }
        let mut samples = Samples::with_capacity(args.queries);
        let started = Instant::now();
        for _ in 0..args.queries {
            let word = random_word(common);
            let t0 = Instant::now();
            let hits = search(&account, &word, args.limit).await?;
            samples.record(t0.elapsed());
            anyhow::ensure!(hits > 0, "nothing found for {word}");
        }
        let wall = started.elapsed();
        let s = samples.summary().expect("at least one search");

        let words: Vec<String> = (0..args.baseline_queries).map(|_| random_word(common)).collect();
        let t0 = Instant::now();
        shell(&like_sql(account.user_id, &words, args.limit)).context("baseline LIKE queries")?;
        let like = t0.elapsed() / u32::try_from(args.baseline_queries.max(1)).unwrap_or(u32::MAX);
        rows.push(vec![
            args.db.label().into(),
            thousands(args.messages as f64),
            kind.into(),
            thousands(s.count as f64),
            thousands(s.count as f64 / wall.as_secs_f64()),
            ms(s.p50),
            ms(s.p99),
            ms(like),
            format!("{:.0}×", like.as_secs_f64() / s.p50.max(Duration::from_micros(1)).as_secs_f64()),
        ]);
    }
    print_table(
        &[
            "database",
            "messages",
            "query",
            "searches",
            "searches/s",
            "p50 ms",
            "p99 ms",
            "LIKE mean ms",
            "LIKE / p50",
        ],
        &rows,
    );
    print_reproduce("http-bench");
    Ok(())
}

/// One search; answers how many hits came back.
async fn search(account: &Account, word: &str, limit: u32) -> anyhow::Result<usize> {
    let query = SearchQuery { q: word.to_owned(), limit: Some(limit), ..Default::default() };
    Ok(account.client.search(&query).await?.len())
}
