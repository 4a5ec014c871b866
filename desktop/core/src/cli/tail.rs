//! `cromulent tail`: live events, one line each, until Ctrl-C.

use cromulent_protocol::gateway::Event;

use super::Context;
use crate::gateway::{CloseReason, ConnectionState};
use crate::session::{Change, Session, SessionState};

#[derive(Debug, clap::Args)]
pub struct TailArgs {
    /// One JSON object per line: events as the gateway sends them, plus
    /// `{"type":"connection","state":…}` lines.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &Context, args: TailArgs) -> anyhow::Result<()> {
    let gateway = ctx.gateway().await?;
    let session = Session::start(&gateway, ctx.client().await?);
    let mut changes = session.changes();
    // Scripts wait for this line before acting, so nothing they cause is missed.
    if args.json {
        println!("{}", serde_json::json!({"type": "connection", "state": "connected"}));
    } else {
        eprintln!("connected; Ctrl-C to stop");
    }
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                gateway.close().await;
                return Ok(());
            }
            change = changes.recv() => match change {
                Ok(Change::Event(event)) => println!("{}", session.read(|s| line(s, &event, args.json))),
                Ok(Change::Connection(state)) => {
                    print_state(&state, args.json);
                    if let ConnectionState::Closed(reason) = state {
                        return match reason {
                            CloseReason::Requested => Ok(()),
                            other => Err(anyhow::anyhow!("the gateway stopped: {other:?}")),
                        };
                    }
                }
                Ok(Change::Reset) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    eprintln!("cromulent: {missed} events skipped (output too slow)");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
            }
        }
    }
}

fn print_state(state: &ConnectionState, json: bool) {
    let (name, detail) = match state {
        ConnectionState::Connected { .. } => ("connected", String::new()),
        ConnectionState::Resumed { replayed, .. } => {
            ("resumed", format!("{replayed} missed events replayed"))
        }
        ConnectionState::Reconnecting { delay, reason, .. } => {
            ("reconnecting", format!("in {} ms: {reason}", delay.as_millis()))
        }
        ConnectionState::InvalidSession => ("invalid_session", "events were lost; state refetched".into()),
        ConnectionState::Closed(reason) => ("closed", format!("{reason:?}")),
    };
    if json {
        println!("{}", serde_json::json!({"type": "connection", "state": name, "detail": detail}));
    } else {
        eprintln!("-- {name} {detail}");
    }
}

/// One line for an event: readable, or the event's JSON.
fn line(state: &SessionState, event: &Event, json: bool) -> String {
    if json {
        return serde_json::to_string(event).expect("events serialize");
    }
    let channel =
        |id| state.channels.get(&id).map_or_else(|| id.to_string(), |c| format!("#{}", c.channel.name));
    match event {
        Event::MessageCreate { message } => {
            format!(
                "{} <{}> {}",
                channel(message.channel_id),
                state.user_name(message.author_id),
                message.body
            )
        }
        Event::MessageUpdate { message } => format!(
            "{} <{}> (edited) {}",
            channel(message.channel_id),
            state.user_name(message.author_id),
            message.body
        ),
        Event::MessageDelete { channel_id, message_id } => {
            format!("{} message {message_id} deleted", channel(*channel_id))
        }
        Event::ReactionAdd { channel_id, message_id, user_id, emoji } => {
            format!("{} {} reacted {emoji} to {message_id}", channel(*channel_id), state.user_name(*user_id))
        }
        Event::ReactionRemove { channel_id, message_id, user_id, emoji } => {
            format!(
                "{} {} took back {emoji} from {message_id}",
                channel(*channel_id),
                state.user_name(*user_id)
            )
        }
        Event::PresenceUpdate { user_id, status } => format!("{} is {status:?}", state.user_name(*user_id)),
        Event::TypingStart { channel_id, user_id, .. } => {
            format!("{} {} is typing", channel(*channel_id), state.user_name(*user_id))
        }
        other => serde_json::to_string(other).expect("events serialize"),
    }
}
