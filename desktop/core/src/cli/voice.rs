//! `cromulent voice …` (placeholder until the voice engine lands; its owner replaces
//! this file).

use super::Context;

/// `cromulent voice` arguments.
#[derive(Debug, clap::Args)]
pub struct VoiceArgs {
    /// Anything; the real arguments come with the voice engine.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

/// Runs `cromulent voice`.
pub async fn run(_ctx: &Context, _args: VoiceArgs) -> anyhow::Result<()> {
    anyhow::bail!("voice not built yet")
}
