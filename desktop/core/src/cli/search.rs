//! `cromulent search`: messages matching some words, best first.

use std::collections::HashMap;

use anyhow::Context as _;
use cromulent_protocol::limits::SEARCH_RESULTS_MAX;
use cromulent_protocol::search::{SearchHas, SearchHit, SearchQuery};
use cromulent_protocol::Id;

use super::chat::{find_channel, utc_time};
use super::Context;

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// The words to find; every one must match (each also matches longer words it begins).
    #[arg(required = true)]
    pub query: Vec<String>,
    /// Only this channel (name, with or without `#`, or id).
    #[arg(long)]
    pub channel: Option<String>,
    /// Only messages by this user (username or id).
    #[arg(long)]
    pub from: Option<String>,
    /// Only messages with a link or with attachments.
    #[arg(long, value_enum)]
    pub has: Option<Has>,
    /// How many matches to print, best first.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=i64::from(SEARCH_RESULTS_MAX)))]
    pub limit: u32,
    /// One JSON hit per line instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Has {
    Link,
    Attachment,
}

pub async fn search(ctx: &Context, args: SearchArgs) -> anyhow::Result<()> {
    let client = ctx.client().await?;
    let channels = client.channels().await.context("listing channels")?;
    let channel_id = match &args.channel {
        Some(wanted) => Some(find_channel(&channels, wanted)?.channel.id),
        None => None,
    };
    let users = client.users().await.context("listing users")?;
    let author_id = match &args.from {
        Some(wanted) => {
            let name = wanted.strip_prefix('@').unwrap_or(wanted);
            let by_id = wanted.parse::<Id>().ok();
            let user = users
                .iter()
                .find(|u| Some(u.id) == by_id)
                .or_else(|| users.iter().find(|u| u.username.eq_ignore_ascii_case(name)))
                .with_context(|| format!("no user {wanted:?}"))?;
            Some(user.id)
        }
        None => None,
    };
    let query = SearchQuery {
        q: args.query.join(" "),
        channel_id,
        author_id,
        has: args.has.map(|has| match has {
            Has::Link => SearchHas::Link,
            Has::Attachment => SearchHas::Attachment,
        }),
        limit: Some(args.limit),
        ..Default::default()
    };
    let hits = client.search(&query).await.context("searching")?;
    if args.json {
        for hit in &hits {
            println!("{}", serde_json::to_string(hit).expect("hits serialize"));
        }
        return Ok(());
    }
    let names: HashMap<Id, String> = users.into_iter().map(|u| (u.id, u.username)).collect();
    let channel_names: HashMap<Id, String> =
        channels.into_iter().map(|c| (c.channel.id, c.channel.name)).collect();
    for hit in &hits {
        print!("{}", render(hit, &names, &channel_names));
    }
    if hits.is_empty() {
        eprintln!("nothing found");
    }
    Ok(())
}

/// A hit: where and by whom, the message id (for `history` or `send --reply-to`), and
/// the snippet with the matching words between `**`.
fn render(hit: &SearchHit, names: &HashMap<Id, String>, channels: &HashMap<Id, String>) -> String {
    let name = |id: Id| names.get(&id).cloned().unwrap_or_else(|| id.to_string());
    let channel = channels.get(&hit.channel_id).cloned().unwrap_or_else(|| hit.channel_id.to_string());
    let snippet: String = hit
        .snippet
        .iter()
        .map(|p| if p.matched { format!("**{}**", p.text) } else { p.text.clone() })
        .collect();
    format!(
        "[{}] #{channel} <{}> id {}\n    {snippet}\n",
        utc_time(hit.message.created_at),
        name(hit.message.author_id),
        hit.message.id
    )
}

#[cfg(test)]
mod tests {
    use cromulent_protocol::message::Message;
    use cromulent_protocol::search::SnippetPart;

    use super::*;

    #[test]
    fn a_hit_shows_where_it_is_and_marks_the_matching_words() {
        let message = Message {
            id: Id(9),
            channel_id: Id(5),
            author_id: Id(1),
            body: "deploy now".into(),
            nonce: None,
            mentions: vec![],
            created_at: 0,
            edited_at: None,
            reply_to: None,
            reactions: vec![],
            attachments: vec![],
        };
        let hit = SearchHit {
            message,
            channel_id: Id(5),
            snippet: vec![
                SnippetPart { text: "deploy".into(), matched: true },
                SnippetPart { text: " now".into(), matched: false },
            ],
            score: 1.0,
        };
        let names = HashMap::from([(Id(1), "ann".to_owned())]);
        let channels = HashMap::from([(Id(5), "general".to_owned())]);
        assert_eq!(
            render(&hit, &names, &channels),
            "[1970-01-01 00:00:00] #general <ann> id 9\n    **deploy** now\n"
        );
    }
}
