//! `cromulent channels`, `cromulent send` (with files) and `cromulent history`.

use std::collections::HashMap;

use anyhow::Context as _;
use cromulent_protocol::calendar::UtcDateTime;
use cromulent_protocol::channel::{ChannelKind, ChannelListEntry};
use cromulent_protocol::limits::MESSAGE_PAGE_MAX;
use cromulent_protocol::message::{ListMessagesQuery, Message, SendMessageRequest};
use cromulent_protocol::{Id, Timestamp};

use super::Context;
use crate::api::FileUpload;

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
    /// Answer this message (an id from `cromulent history`) of the same channel.
    #[arg(long)]
    pub reply_to: Option<Id>,
    /// With --reply-to: do not notify the author of the message answered.
    #[arg(long, requires = "reply_to")]
    pub no_notify: bool,
    /// Attach this file (repeat for several); the text may then be empty ("").
    #[arg(long = "file", value_name = "PATH")]
    pub files: Vec<std::path::PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The channel's name (with or without `#`) or id.
    pub channel: String,
    /// How many of the newest messages to print, oldest first.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=i64::from(MESSAGE_PAGE_MAX)))]
    pub limit: u32,
    /// One JSON message per line instead of text.
    #[arg(long)]
    pub json: bool,
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
            ChannelKind::Dm => "dm",
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
    let mut req = SendMessageRequest::new(args.text, None);
    for path in &args.files {
        let file = FileUpload::open(path).await.with_context(|| format!("reading {}", path.display()))?;
        let uploaded = client
            .upload_attachment(channel.channel.id, &file)
            .await
            .with_context(|| format!("uploading {}", path.display()))?;
        req.attachment_ids.push(uploaded.id);
    }
    req.reply_to = args.reply_to;
    req.notify_reply_author = args.reply_to.map(|_| !args.no_notify);
    let message = client.send(channel.channel.id, req).await.context("sending")?;
    println!("{}", message.id);
    Ok(())
}

pub async fn history(ctx: &Context, args: HistoryArgs) -> anyhow::Result<()> {
    let client = ctx.client().await?;
    let channels = client.channels().await.context("listing channels")?;
    let channel = find_channel(&channels, &args.channel)?;
    let query = ListMessagesQuery { limit: Some(args.limit), ..Default::default() };
    let mut page = client.messages(channel.channel.id, &query).await.context("reading history")?;
    page.reverse();
    if args.json {
        for message in &page {
            println!("{}", serde_json::to_string(message).expect("messages serialize"));
        }
        return Ok(());
    }
    let users = client.users().await.context("listing users")?;
    let names: HashMap<Id, String> = users.into_iter().map(|u| (u.id, u.username)).collect();
    for message in &page {
        print!("{}", render(message, &names));
    }
    Ok(())
}

/// A message as `cromulent history` prints it: a header (time, author, id), what it
/// answers, its body indented, and its reactions.
fn render(message: &Message, names: &HashMap<Id, String>) -> String {
    let name = |id: Id| names.get(&id).cloned().unwrap_or_else(|| id.to_string());
    let edited = if message.edited_at.is_some() { " (edited)" } else { "" };
    let mut out = format!(
        "[{}] <{}> id {}{edited}\n",
        utc_time(message.created_at),
        name(message.author_id),
        message.id
    );
    if let Some(reference) = &message.reply_to {
        if reference.deleted {
            out.push_str(&format!("    ↳ reply to a deleted message ({})\n", reference.id));
        } else {
            let author = if reference.author_name.is_empty() {
                name(reference.author_id)
            } else {
                reference.author_name.clone()
            };
            out.push_str(&format!("    ↳ reply to <{author}>: {}\n", reference.excerpt));
        }
    }
    for line in message.body.lines() {
        out.push_str(&format!("    {line}\n"));
    }
    if !message.reactions.is_empty() {
        let chips: Vec<String> = message
            .reactions
            .iter()
            .map(|r| format!("{} {}{}", r.emoji, r.count, if r.me { " (you)" } else { "" }))
            .collect();
        out.push_str(&format!("    reactions: {}\n", chips.join(", ")));
    }
    for file in &message.attachments {
        out.push_str(&format!("    file: {} ({} bytes) {}\n", file.filename, file.size, file.url));
    }
    out
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub(super) fn utc_time(ms: Timestamp) -> String {
    UtcDateTime::from_timestamp(ms).readable()
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

#[cfg(test)]
mod tests {
    use cromulent_protocol::message::{MessageReference, Reaction};

    use super::*;

    #[test]
    fn a_rendered_message_shows_its_reply_and_reactions() {
        let names = HashMap::from([(Id(1), "ann".to_owned())]);
        let message = Message {
            id: Id(9),
            channel_id: Id(5),
            author_id: Id(1),
            body: "yes\nindeed".into(),
            nonce: None,
            mentions: vec![],
            created_at: 0,
            edited_at: None,
            reply_to: Some(MessageReference {
                id: Id(8),
                author_id: Id(2),
                author_name: "Bob".into(),
                excerpt: "lunch?".into(),
                deleted: false,
            }),
            reactions: vec![Reaction { emoji: "👍".into(), count: 2, me: true }],
            attachments: vec![],
        };
        assert_eq!(
            render(&message, &names),
            "[1970-01-01 00:00:00] <ann> id 9\n    ↳ reply to <Bob>: lunch?\n    yes\n    indeed\n    reactions: 👍 2 (you)\n"
        );
    }
}
