//! `cromulent-server`: parse settings, then serve or run an admin command.

use clap::Parser;
use cromulent_server::config::{Cli, Command};
use tracing_subscriber::EnvFilter;

/// mimalloc returns freed memory to the thread that can reuse it; with glibc's per-thread
/// arenas every idle gateway connection cost ~4 KiB more (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => cromulent_server::run(cli.config).await,
        Command::Migrate => {
            cromulent_server::open_database(&cli.config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::User(command) => cromulent_server::admin_cli::run(cli.config, command).await,
        Command::Release(command) => cromulent_server::releases::run_command(&cli.config, command),
        Command::Healthcheck => Ok(cromulent_server::healthcheck::probe(&cli.config).await?),
    }
}
