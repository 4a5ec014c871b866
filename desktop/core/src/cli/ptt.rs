//! `cromulent ptt down|up`: presses or releases push-to-talk in the running desktop app,
//! through its local socket. Meant to be bound to a key's press and release in a Wayland
//! compositor, where the app itself cannot see keys typed into other windows.

use anyhow::Context as _;

use super::Context;
use crate::ptt::command::{self, Press};

/// `cromulent ptt` arguments.
#[derive(Debug, clap::Args)]
pub struct PttArgs {
    #[command(subcommand)]
    pub action: PttAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum PttAction {
    /// Start talking (bind to the key's press).
    Down,
    /// Stop talking (bind to the key's release).
    Up,
    /// Print the socket the running app listens on.
    Socket,
}

/// Runs `cromulent ptt`. Needs no login: the app that receives it is already logged in.
pub async fn run(_ctx: &Context, args: PttArgs) -> anyhow::Result<()> {
    let path = command::socket_path();
    let press = match args.action {
        PttAction::Down => Press::Down,
        PttAction::Up => Press::Up,
        PttAction::Socket => {
            println!("{}", path.display());
            return Ok(());
        }
    };
    command::send(&path, press).await.context("is the Cromulent app running?")
}
