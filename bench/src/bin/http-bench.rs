//! `http-bench`: REST throughput and latency of a release cromulent-server it starts.

use clap::{Parser, Subcommand};
use cromulent_bench::{history, logins, messages, search, uploads};

#[derive(Parser)]
#[command(about = "REST benchmarks: messages, history pages, logins, attachment uploads, search")]
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
    /// Attachment upload throughput and server memory while clients upload at once.
    Uploads(uploads::UploadsArgs),
    /// Search latency over many messages, against a `LIKE` scan.
    Search(search::SearchArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().scenario {
        Scenario::Messages(args) => messages::run(args).await,
        Scenario::History(args) => history::run(args).await,
        Scenario::Logins(args) => logins::run(args).await,
        Scenario::Uploads(args) => uploads::run(args).await,
        Scenario::Search(args) => search::run(args).await,
    }
}
