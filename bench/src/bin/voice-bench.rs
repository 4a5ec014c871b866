//! `voice-bench`: the voice SFU's throughput and added delay, and a client's cost in a
//! mesh versus through the SFU, against a release cromulent-server it starts.

use clap::{Parser, Subcommand};
use cromulent_bench::voice::{latency, load, threshold};

#[derive(Parser)]
#[command(about = "Voice benchmarks: SFU forwarding per core, SFU delay, mesh versus SFU per client")]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Forwarded streams per CPU-second, memory and delay, by room size and talkers.
    SfuLoad(load::LoadArgs),
    /// Send→receive delay through the SFU against a direct peer-to-peer path.
    SfuLatency(latency::LatencyArgs),
    /// Upload and CPU per native client, mesh versus SFU, by room size.
    MeshVsSfu(threshold::ThresholdArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        match cli.scenario {
            Scenario::SfuLoad(args) => load::run(args).await,
            Scenario::SfuLatency(args) => latency::run(args).await,
            Scenario::MeshVsSfu(args) => threshold::run(args).await,
        }
    })
}
