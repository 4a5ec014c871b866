//! The `cromulent` command: a headless client for people, scripts, bots and load tests.
//!
//! `main` parses the arguments, runs one subcommand and turns its error into a
//! one-line message and a non-zero exit code. Every subcommand gets a [`Context`]: the
//! server address, a logged-in REST client whose refresh token comes from the keyring
//! (and whose rotated tokens go back there), and a way to open a gateway.

mod account;
mod bench;
mod chat;
mod config;
mod context;
pub mod ptt;
mod search;
mod tail;
pub mod voice;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use context::{Context, KeyringChoice};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(name = "cromulent", version, about = "A Cromulent chat client for the terminal and for scripts")]
pub struct Cli {
    /// The server, e.g. https://chat.example.org (default: the one last logged in to).
    #[arg(long, global = true, env = "CROMULENT_SERVER")]
    pub server: Option<String>,
    /// Where the remembered server and account are kept (never the token).
    #[arg(long, global = true, env = "CROMULENT_CONFIG_DIR", hide = true)]
    pub config_dir: Option<PathBuf>,
    /// Which keyring holds the login token.
    #[arg(long, global = true, env = "CROMULENT_KEYRING", value_enum, default_value_t = KeyringChoice::Auto)]
    pub keyring: KeyringChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in and keep the login in the OS keyring.
    Login(account::LoginArgs),
    /// End the login on the server and forget it here.
    Logout,
    /// List the channels you can see, with unread counts.
    Channels(chat::ChannelsArgs),
    /// Send a message to a channel (by name or id).
    Send(chat::SendArgs),
    /// Print a channel's newest messages, oldest first.
    History(chat::HistoryArgs),
    /// Find messages by their words, best first, in the channels you can read.
    Search(search::SearchArgs),
    /// Print live events, one line each, until Ctrl-C.
    Tail(tail::TailArgs),
    /// Voice rooms.
    Voice(voice::VoiceArgs),
    /// Push-to-talk keys.
    Ptt(ptt::PttArgs),
    /// Load generation and measurements.
    Bench(bench::BenchArgs),
}

/// Runs the command line; the exit code says whether it worked.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // clap prints help, version and usage errors itself, with its own exit codes.
        Err(error) => error.exit(),
    };
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cromulent: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cromulent: {}", one_line(&error));
            exit_code(&error)
        }
    }
}

/// Failures a script may want to tell apart get their own status; the rest are 1.
fn exit_code(error: &anyhow::Error) -> ExitCode {
    if error.downcast_ref::<crate::voice::Removal>().is_some() {
        ExitCode::from(voice::EXIT_REMOVED)
    } else {
        ExitCode::FAILURE
    }
}

/// Parses `args` (the first being the program name) and runs the command, in-process.
pub async fn run_with<I, T>(args: I) -> anyhow::Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run(Cli::try_parse_from(args)?).await
}

/// Runs parsed arguments.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = Context::new(cli.server.as_deref(), cli.config_dir, cli.keyring)?;
    match cli.command {
        Command::Login(args) => account::login(&ctx, args).await,
        Command::Logout => account::logout(&ctx).await,
        Command::Channels(args) => chat::channels(&ctx, args).await,
        Command::Send(args) => chat::send(&ctx, args).await,
        Command::History(args) => chat::history(&ctx, args).await,
        Command::Search(args) => search::search(&ctx, args).await,
        Command::Tail(args) => tail::run(&ctx, args).await,
        Command::Voice(args) => voice::run(&ctx, args).await,
        Command::Ptt(args) => ptt::run(&ctx, args).await,
        Command::Bench(args) => bench::run(&ctx, args).await,
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default: warnings), so stdout stays clean
/// for scripts.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// The error and its causes on one line.
fn one_line(error: &anyhow::Error) -> String {
    format!("{error:#}").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use cromulent_protocol::Id;

    use super::*;
    use crate::voice::Removal;

    #[test]
    fn a_call_the_server_ended_has_its_own_exit_status() {
        let plain = anyhow::Error::from(Removal::Removed { channel_id: Id(20) });
        assert_eq!(
            exit_code(&plain),
            ExitCode::from(voice::EXIT_REMOVED),
            "scripts can tell a removal apart"
        );
        assert_eq!(
            one_line(&plain),
            "removed from the voice room: you no longer have access (or joined voice elsewhere)",
            "the line the CLI prints says why"
        );
        let wrapped = anyhow::Error::from(Removal::ChannelGone { channel_id: Id(20) }).context("voice join");
        assert_eq!(
            exit_code(&wrapped),
            ExitCode::from(voice::EXIT_REMOVED),
            "context added on the way up does not hide the removal"
        );
        assert_eq!(
            exit_code(&anyhow::anyhow!("the gateway closed")),
            ExitCode::FAILURE,
            "other failures stay 1"
        );
    }
}
