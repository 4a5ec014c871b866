//! One gateway connection: hello, identify or resume, then a reader (this task) and a
//! writer (its own task, fed by a bounded queue). When either side ends, both do, and
//! the session waits in the hub to be resumed.
//!
//! Until it identifies or resumes, a socket holds a place in the node's and its
//! address's caps while costing no user anything, so it gets `identify_timeout` for all
//! of its handshake, sending included, and is then closed with 4013.

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use cromulent_protocol::gateway::{close_code, ClientFrame, ControlFrame, PROTOCOL_VERSION};
use cromulent_protocol::Id;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};

use super::hub::{Link, Outbound, Owner};
use super::limits::SessionSlot;
use super::ops::OpContext;
use super::rate_limit::Budget;
use super::snapshot;
use crate::auth::caller::{authenticate, Caller};
use crate::state::AppState;

type Sink = SplitSink<WebSocket, Message>;
type Stream = SplitStream<WebSocket>;

/// Why the first phase ended without a session.
struct Refused(u16, &'static str);

/// An authenticated connection, ready for its writer and reader.
struct Started {
    session_id: Id,
    caller: Caller,
    first: Vec<String>,
    rx: mpsc::Receiver<Outbound>,
    close_rx: watch::Receiver<Option<u16>>,
    link: Link,
    /// The session's place in its user's cap, given back when this socket ends.
    slot: SessionSlot,
}

pub async fn serve(socket: WebSocket, state: AppState, cookie: Option<String>, link_id: u64) {
    let (mut sink, mut stream) = socket.split();
    let mut closing = state.gateway.closing();
    let handshake = handshake(&state, &mut sink, &mut stream, cookie.as_deref(), link_id);
    let outcome = tokio::select! {
        outcome = handshake => outcome,
        Ok(_) = closing.wait_for(|closing| *closing) => Err(Refused(close_code::GOING_AWAY, SHUTTING_DOWN).into()),
    };
    let started = match outcome {
        Ok(started) => started,
        Err(Phase::Refused(Refused(code, reason))) => {
            let grace = close_grace(&state);
            let _ = tokio::time::timeout(grace, sink.send(close(code, reason))).await;
            return;
        }
        Err(Phase::Gone) => return,
    };
    let hub = state.gateway.hub.clone();
    let Started { session_id, caller, first, rx, close_rx, link, slot } = started;
    let mut writer = tokio::spawn(write(sink, first, rx, close_rx.clone()));
    let mut ctx = OpContext::new(state.clone(), session_id, caller, link.clone());
    read(&state, &mut stream, &mut ctx, close_rx, closing).await;
    hub.detach(session_id, link.id);
    drop(ctx);
    drop(link);
    if tokio::time::timeout(close_grace(&state), &mut writer).await.is_err() {
        writer.abort();
    }
    drop(slot);
}

/// How long an ending socket gets to take its close frame. A peer that stopped reading
/// (or vanished without a FIN) would otherwise hold the socket and its places in the
/// caps until TCP gives up, minutes later. The identify timeout is the time we already
/// allow a peer to answer at all.
fn close_grace(state: &AppState) -> std::time::Duration {
    state.gateway.config.identify_timeout
}

/// The reason sent with 1001 when the server stops; clients reconnect on any code but
/// an unsupported protocol version, this text is for people reading logs.
const SHUTTING_DOWN: &str = "server shutting down; reconnect";

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

fn control_json(frame: &ControlFrame) -> String {
    serde_json::to_string(frame).expect("control frames always serialize")
}

fn event_json(seq: u64, payload: &str) -> String {
    // The event is serialized once for every recipient; the per-session seq is spliced
    // in front of its fields.
    format!("{{\"seq\":{seq},{}", &payload[1..])
}

/// How the handshake ended without a session: refused with a close code, or the peer
/// went away.
enum Phase {
    Refused(Refused),
    Gone,
}

impl From<Refused> for Phase {
    fn from(r: Refused) -> Self {
        Phase::Refused(r)
    }
}

async fn handshake(
    state: &AppState,
    sink: &mut Sink,
    stream: &mut Stream,
    cookie: Option<&str>,
    link_id: u64,
) -> Result<Started, Phase> {
    let gateway = &state.gateway;
    let session_id = state.ids.next();
    let hello = ControlFrame::Hello {
        heartbeat_interval_ms: u64::try_from(gateway.config.heartbeat_interval.as_millis())
            .unwrap_or(u64::MAX),
        session_id,
        protocol_version: PROTOCOL_VERSION,
    };
    let deadline = tokio::time::Instant::now() + gateway.config.identify_timeout;
    send_by(deadline, sink, control_json(&hello)).await?;
    loop {
        let text = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => return Err(Refused(close_code::IDENTIFY_TIMEOUT, "identify in time").into()),
            Ok(None) | Ok(Some(Err(_))) => return Err(Phase::Gone),
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(Message::Close(_)))) => return Err(Phase::Gone),
            Ok(Some(Ok(Message::Binary(_)))) => {
                return Err(Refused(close_code::DECODE_ERROR, "text frames only").into())
            }
            Ok(Some(Ok(_))) => continue,
        };
        let frame = gateway.config.decode(text.as_str()).map_err(|code| match code {
            close_code::FRAME_TOO_LARGE => Refused(code, "frame too large"),
            _ => Refused(close_code::DECODE_ERROR, "not a known op"),
        })?;
        let (tx, rx) = mpsc::channel(gateway.config.outbound_queue);
        let (close_tx, close_rx) = watch::channel(None);
        let link = Link { id: link_id, tx, close: close_tx };
        match frame {
            ClientFrame::Heartbeat => {
                send_by(deadline, sink, control_json(&ControlFrame::HeartbeatAck)).await?;
            }
            ClientFrame::Identify { token, protocol_version } => {
                if protocol_version != PROTOCOL_VERSION {
                    return Err(
                        Refused(close_code::UNSUPPORTED_VERSION, "unsupported protocol version").into()
                    );
                }
                let caller = authenticate(state, token.as_deref(), cookie)
                    .await
                    .map_err(|_| Refused(close_code::AUTHENTICATION_FAILED, "authentication failed"))?;
                // Claimed before the session exists, so a refusal leaves nothing behind.
                let slot = claim_session(state, &caller, session_id)?;
                let owner =
                    Owner { user_id: caller.id(), login_id: caller.session_id, is_admin: caller.is_admin() };
                gateway.hub.register(session_id, owner);
                let ready = snapshot::ready(state, &caller, session_id).await.map_err(|e| {
                    tracing::error!(error = %e, "ready snapshot failed");
                    Refused(close_code::GOING_AWAY, "try again")
                })?;
                let (missed, follow) = gateway
                    .hub
                    .attach(session_id, caller.id(), 0, link.clone())
                    .expect("a session registered a moment ago is there, with nothing dropped yet");
                publish_all(state, follow).await;
                let mut first = vec![control_json(&ready)];
                first.extend(missed.iter().map(|(seq, p)| event_json(*seq, p)));
                return Ok(Started { session_id, caller, first, rx, close_rx, link, slot });
            }
            ClientFrame::Resume { token, session_id: resumed, last_seq } => {
                let caller = authenticate(state, token.as_deref(), cookie)
                    .await
                    .map_err(|_| Refused(close_code::AUTHENTICATION_FAILED, "authentication failed"))?;
                // A session still held by a socket not yet seen dead is not counted again.
                let slot = claim_session(state, &caller, resumed)?;
                match gateway.hub.attach(resumed, caller.id(), last_seq, link.clone()) {
                    Ok((missed, follow)) => {
                        publish_all(state, follow).await;
                        let mut first: Vec<String> =
                            missed.iter().map(|(seq, p)| event_json(*seq, p)).collect();
                        let last = missed.last().map_or(last_seq, |(seq, _)| *seq);
                        first.push(control_json(&ControlFrame::Resumed { last_seq: last }));
                        return Ok(Started { session_id: resumed, caller, first, rx, close_rx, link, slot });
                    }
                    Err(_) => {
                        // The client identifies afresh on this connection and refetches;
                        // the place claimed for the lost session is given back first.
                        drop(slot);
                        send_by(deadline, sink, control_json(&ControlFrame::InvalidSession)).await?;
                    }
                }
            }
            _ => return Err(Refused(close_code::NOT_AUTHENTICATED, "identify first").into()),
        }
    }
}

/// Sends one handshake frame, giving up at the identify deadline.
async fn send_by(deadline: tokio::time::Instant, sink: &mut Sink, text: String) -> Result<(), Phase> {
    match tokio::time::timeout_at(deadline, sink.send(Message::Text(text.into()))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Phase::Gone),
        Err(_) => Err(Refused(close_code::IDENTIFY_TIMEOUT, "identify in time").into()),
    }
}

fn claim_session(state: &AppState, caller: &Caller, session_id: Id) -> Result<SessionSlot, Refused> {
    state
        .gateway
        .limits
        .claim_session(caller.id(), session_id)
        .map_err(|_| Refused(close_code::TOO_MANY_SESSIONS, "too many sessions for this user"))
}

async fn publish_all(state: &AppState, messages: Vec<crate::bus::BusMessage>) {
    for message in messages {
        state.bus.publish(message).await;
    }
}

async fn write(
    mut sink: Sink,
    first: Vec<String>,
    mut rx: mpsc::Receiver<Outbound>,
    mut close_rx: watch::Receiver<Option<u16>>,
) {
    for text in first {
        if sink.send(Message::Text(text.into())).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            biased;
            changed = close_rx.changed() => {
                let code = if changed.is_ok() { (*close_rx.borrow()).unwrap_or(close_code::NORMAL) } else { close_code::NORMAL };
                let _ = sink.send(close(code, close_reason(code))).await;
                return;
            }
            next = rx.recv() => {
                let text = match next {
                    Some(Outbound::Event(seq, payload)) => event_json(seq, &payload),
                    Some(Outbound::Control(text)) => text,
                    None => return,
                };
                if sink.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn close_reason(code: u16) -> &'static str {
    match code {
        close_code::SLOW_CONSUMER => "slow consumer; resume",
        close_code::SESSION_REVOKED => "session revoked",
        close_code::ACCOUNT_DELETED => "account deleted",
        close_code::RATE_LIMITED => "rate limited",
        close_code::HEARTBEAT_TIMEOUT => "heartbeat timeout",
        close_code::DECODE_ERROR => "not a known op",
        close_code::FRAME_TOO_LARGE => "frame too large",
        close_code::ALREADY_AUTHENTICATED => "already identified",
        close_code::GOING_AWAY => SHUTTING_DOWN,
        _ => "",
    }
}

async fn read(
    state: &AppState,
    stream: &mut Stream,
    ctx: &mut OpContext,
    mut close_rx: watch::Receiver<Option<u16>>,
    mut closing: watch::Receiver<bool>,
) {
    let config = state.gateway.config;
    let mut commands = Budget::new(config.command_limit, config.rate_window);
    loop {
        let next = tokio::select! {
            _ = close_rx.changed() => return,
            // Between ops only: an op under way (a message being stored) finishes first.
            Ok(_) = closing.wait_for(|closing| *closing) => return ctx.shut(close_code::GOING_AWAY),
            next = tokio::time::timeout(config.heartbeat_timeout(), stream.next()) => next,
        };
        let text = match next {
            Err(_) => return ctx.shut(close_code::HEARTBEAT_TIMEOUT),
            Ok(None) | Ok(Some(Ok(Message::Close(_)))) => return,
            Ok(Some(Err(e))) => {
                if is_oversized(&e) {
                    ctx.shut(close_code::FRAME_TOO_LARGE);
                }
                return;
            }
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(Message::Binary(_)))) => return ctx.shut(close_code::DECODE_ERROR),
            Ok(Some(Ok(_))) => continue,
        };
        if !commands.spend() {
            return ctx.shut(close_code::RATE_LIMITED);
        }
        let frame = match config.decode(text.as_str()) {
            Ok(frame) => frame,
            Err(code) => return ctx.shut(code),
        };
        if let Err(code) = ctx.handle(frame).await {
            return ctx.shut(code);
        }
    }
}

fn is_oversized(error: &axum::Error) -> bool {
    use tokio_tungstenite::tungstenite::error::{CapacityError, Error};
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(Error::Capacity(CapacityError::MessageTooLong { .. })) = e.downcast_ref::<Error>() {
            return true;
        }
        source = e.source();
    }
    false
}
