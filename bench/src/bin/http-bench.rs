//! `http-bench`: REST throughput and latency of a release cromulent-server it starts.

use clap::{Parser, Subcommand};
use cromulent_bench::{history, logins, messages};

#[derive(Parser)]
#[command(about = "REST benchmarks: messages, history pages, logins")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Messages persisted per second and POST latency.
    Messages(messages::MessagesArgs),
    /// History page latency in a channel with many messages.
    History(history::HistoryArgs),
    /// Logins per second and per core.
    Logins(logins::LoginsArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().scenario {
        Scenario::Messages(args) => messages::run(args).await,
        Scenario::History(args) => history::run(args).await,
        Scenario::Logins(args) => logins::run(args).await,
    }
}
