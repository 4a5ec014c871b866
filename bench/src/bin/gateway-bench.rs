//! `gateway-bench`: gateway memory and fan-out of a release cromulent-server it starts,
//! and the bare broadcast server it compares fan-out with.

use clap::{Parser, Subcommand};
use cromulent_bench::{baseline, fanout, idle};

#[derive(Parser)]
#[command(about = "Gateway benchmarks: idle connections, fan-out, and the bare broadcast baseline")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Server RSS per identified, heartbeating, idle connection.
    Idle(idle::IdleArgs),
    /// Deliveries per CPU-second and latency, ours and the baseline in one run.
    Fanout(fanout::FanoutArgs),
    /// The same fan-out through the bare tokio-tungstenite broadcast server alone.
    BaselineFanout(fanout::FanoutArgs),
    /// Runs the bare broadcast server (started by the two commands above).
    #[command(hide = true)]
    BaselineServer {
        #[arg(long)]
        port: u16,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        match cli.scenario {
            Scenario::Idle(args) => idle::run(args).await,
            Scenario::Fanout(args) => fanout::run(args, false).await,
            Scenario::BaselineFanout(args) => fanout::run(args, true).await,
            Scenario::BaselineServer { port } => baseline::serve(port).await,
        }
    })
}
