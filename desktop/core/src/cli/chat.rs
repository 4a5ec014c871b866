//! `cromulent channels` and `cromulent send`.

use anyhow::Context as _;
use cromulent_protocol::channel::{ChannelKind, ChannelListEntry};
use cromulent_protocol::Id;

use super::Context;

#[derive(Debug, clap::Args)]
pub struct ChannelsArgs {
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// The channel's name (with or without `#`) or id.
    pub channel: String,
    /// The message (Markdown).
    pub text: String,
}

pub async fn channels(ctx: &Context, args: ChannelsArgs) -> anyhow::Result<()> {
    let mut channels = ctx.client().await?.channels().await.context("listing channels")?;
    channels.sort_by(|a, b| a.channel.name.cmp(&b.channel.name));
    if args.json {
        for entry in &channels {
            println!("{}", serde_json::to_string(entry).expect("channels serialize"));
        }
        return Ok(());
    }
    let width = channels.iter().map(|c| c.channel.name.len() + 1).max().unwrap_or(4).max(4);
    println!("{:<width$}  {:<5}  UNREAD", "NAME", "KIND");
    for entry in &channels {
        let kind = match entry.channel.kind {
            ChannelKind::Text => "text",
            ChannelKind::Voice => "voice",
        };
        let mentions =
            if entry.mention_count > 0 { format!(" ({} @)", entry.mention_count) } else { String::new() };
        println!(
            "{:<width$}  {kind:<5}  {}{mentions}",
            format!("#{}", entry.channel.name),
            entry.unread_count
        );
    }
    Ok(())
}

pub async fn send(ctx: &Context, args: SendArgs) -> anyhow::Result<()> {
    let client = ctx.client().await?;
    let channels = client.channels().await.context("listing channels")?;
    let channel = find_channel(&channels, &args.channel)?;
    let message = client.send_message(channel.channel.id, &args.text).await.context("sending")?;
    println!("{}", message.id);
    Ok(())
}

/// A channel by id, or by name with an optional leading `#`.
pub(super) fn find_channel<'a>(
    channels: &'a [ChannelListEntry],
    wanted: &str,
) -> anyhow::Result<&'a ChannelListEntry> {
    let name = wanted.strip_prefix('#').unwrap_or(wanted);
    let by_id = wanted.parse::<Id>().ok();
    channels
        .iter()
        .find(|c| Some(c.channel.id) == by_id)
        .or_else(|| channels.iter().find(|c| c.channel.name == name))
        .with_context(|| format!("no channel {wanted:?} that you can see"))
}
