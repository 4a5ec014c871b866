//! The task that owns the gateway socket: handshake, heartbeat, resume and backoff.

use std::collections::VecDeque;
use std::time::Duration;

use cromulent_protocol::gateway::{
    close_code, ClientFrame, ControlFrame, ReadySnapshot, ServerFrame, PROTOCOL_VERSION,
};
use cromulent_protocol::Id;
use rand::Rng;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

use super::socket::{gateway_url, Incoming, Socket};
use super::{CloseReason, Command, ConnectionState, GatewayConfig, GatewayError, GatewayEvent};
use crate::tokens::Secret;

/// A server that rate-limited us, or is at a connection cap, gets at least this long
/// before the next attempt.
const BUSY_PAUSE: Duration = Duration::from_secs(5);

/// Refused handshakes in a row (each with a fresh token) before giving up.
const MAX_AUTH_REFUSALS: u32 = 3;

pub(super) struct Connection {
    config: GatewayConfig,
    url: url::Url,
    events: broadcast::Sender<GatewayEvent>,
    socket: Option<Socket>,
    session_id: Id,
    last_seq: u64,
    heartbeat: Duration,
    /// Frames not yet written; they survive a resume but not a lost session.
    outbox: VecDeque<ClientFrame>,
    /// The access token of the last handshake, to forget it when the server refuses it.
    access: Option<Secret>,
    /// Handshakes refused in a row despite a freshly refreshed token.
    auth_refusals: u32,
}

/// Why the connected phase ended.
enum Ended {
    Dropped { reason: String, min_delay: Duration },
    Stop(CloseReason, Option<oneshot::Sender<()>>),
}

impl Connection {
    /// Connects and identifies; the connection is ready to [`Connection::run`].
    pub(super) async fn open(
        config: GatewayConfig,
        events: broadcast::Sender<GatewayEvent>,
    ) -> Result<(Connection, Id, ReadySnapshot), GatewayError> {
        let url = gateway_url(&config.server);
        let mut conn = Connection {
            config,
            url,
            events,
            socket: None,
            session_id: Id(0),
            last_seq: 0,
            heartbeat: Duration::from_secs(30),
            outbox: VecDeque::new(),
            access: None,
            auth_refusals: 0,
        };
        let ready = match conn.establish(false).await {
            // An access token the server refuses (e.g. restored from an old run) gets
            // one fresh refresh before the caller hears about it.
            Err(GatewayError::Closed { code: close_code::AUTHENTICATION_FAILED, .. }) => {
                conn.forget_access().await;
                conn.establish(false).await?
            }
            other => other?,
        };
        let ready = ready.ok_or_else(|| GatewayError::Protocol("identify ended without ready".into()))?;
        let session_id = conn.session_id;
        Ok((conn, session_id, ready))
    }

    /// Serves the connection until the gateway stops, reconnecting as needed.
    pub(super) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut attempt: u32 = 0;
        loop {
            let (mut reason, mut min_delay) = match self.serve(&mut commands).await {
                Ended::Stop(reason, ack) => return self.finish(reason, ack),
                Ended::Dropped { reason, min_delay } => (reason, min_delay),
            };
            tracing::info!(%reason, "gateway connection dropped");
            loop {
                attempt = attempt.saturating_add(1);
                let delay = self.backoff(attempt).max(min_delay);
                self.publish(GatewayEvent::State(ConnectionState::Reconnecting {
                    attempt,
                    delay,
                    reason: reason.clone(),
                }));
                if let Some((reason, ack)) = self.pause(delay, &mut commands).await {
                    return self.finish(reason, ack);
                }
                match self.establish(true).await {
                    Ok(_) => {
                        attempt = 0;
                        self.auth_refusals = 0;
                        break;
                    }
                    Err(error) => match self.classify(error).await {
                        Ended::Stop(reason, ack) => return self.finish(reason, ack),
                        Ended::Dropped { reason: why, min_delay: min } => {
                            tracing::debug!(reason = %why, attempt, "gateway reconnect failed");
                            reason = why;
                            min_delay = min;
                        }
                    },
                }
            }
        }
    }

    /// The connected phase: commands in, frames out, heartbeats.
    async fn serve(&mut self, commands: &mut mpsc::Receiver<Command>) -> Ended {
        let Some(mut socket) = self.socket.take() else {
            return Ended::Dropped { reason: "no socket".into(), min_delay: Duration::ZERO };
        };
        let mut beat = tokio::time::interval_at(Instant::now() + self.heartbeat, self.heartbeat);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut awaiting_ack = false;
        if let Err(reason) = self.flush(&mut socket).await {
            return Ended::Dropped { reason, min_delay: Duration::ZERO };
        }
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    None => {
                        socket.close(close_code::NORMAL).await;
                        return Ended::Stop(CloseReason::Requested, None);
                    }
                    Some(Command::Close(ack)) => {
                        socket.close(close_code::NORMAL).await;
                        return Ended::Stop(CloseReason::Requested, Some(ack));
                    }
                    // Dropping the socket without a close frame is what a network
                    // failure looks like to the server: the session stays resumable.
                    Some(Command::Reconnect) => {
                        return Ended::Dropped { reason: "reconnect requested".into(), min_delay: Duration::ZERO };
                    }
                    Some(Command::Send(frame)) => {
                        if is_reserved(&frame) {
                            continue;
                        }
                        self.outbox.push_back(frame);
                        if let Err(reason) = self.flush(&mut socket).await {
                            return Ended::Dropped { reason, min_delay: Duration::ZERO };
                        }
                    }
                },
                incoming = socket.recv() => match incoming {
                    Incoming::Frame(frame) => {
                        if matches!(frame, ServerFrame::Control(ControlFrame::HeartbeatAck)) {
                            awaiting_ack = false;
                        }
                        self.dispatch(frame);
                    }
                    Incoming::UnknownEvent { seq } => self.skip_unknown(seq),
                    Incoming::Closed { code, reason } => {
                        let error = match code {
                            Some(code) => GatewayError::Closed { code, reason },
                            None => GatewayError::Connect { url: self.url.to_string(), detail: reason },
                        };
                        return self.classify(error).await;
                    }
                },
                _ = beat.tick() => {
                    if awaiting_ack {
                        return Ended::Dropped {
                            reason: "heartbeat not acknowledged".into(),
                            min_delay: Duration::ZERO,
                        };
                    }
                    if let Err(reason) = socket.send(&ClientFrame::Heartbeat).await {
                        return Ended::Dropped { reason, min_delay: Duration::ZERO };
                    }
                    awaiting_ack = true;
                }
            }
        }
    }

    /// Opens a socket and identifies (or resumes, when `resume` and there is a session).
    /// Returns the snapshot when the server sent `ready`, `None` after `resumed`.
    async fn establish(&mut self, resume: bool) -> Result<Option<ReadySnapshot>, GatewayError> {
        let deadline = self.config.handshake_timeout;
        let (socket, ready) = tokio::time::timeout(deadline, self.handshake(resume))
            .await
            .map_err(|_| GatewayError::Timeout("hello, ready or resumed"))??;
        self.socket = Some(socket);
        Ok(ready)
    }

    async fn handshake(&mut self, resume: bool) -> Result<(Socket, Option<ReadySnapshot>), GatewayError> {
        let mut socket = Socket::open(&self.url).await?;
        let hello = match socket.recv().await {
            Incoming::Frame(ServerFrame::Control(ControlFrame::Hello { heartbeat_interval_ms, .. })) => {
                heartbeat_interval_ms
            }
            Incoming::Frame(other) => {
                return Err(GatewayError::Protocol(format!("expected hello, got {other:?}")))
            }
            Incoming::UnknownEvent { seq } => {
                return Err(GatewayError::Protocol(format!("expected hello, got event {seq}")))
            }
            Incoming::Closed { code, reason } => return Err(closed(code, reason, &self.url)),
        };
        self.heartbeat = Duration::from_millis(hello.max(100));
        let token = self.config.tokens.access_token().await.map_err(GatewayError::Auth)?;
        self.access = Some(token.clone());
        let resuming = resume && self.session_id != Id(0);
        let first = if resuming {
            ClientFrame::Resume {
                token: Some(token.expose().clone()),
                session_id: self.session_id,
                last_seq: self.last_seq,
            }
        } else {
            identify(&token)
        };
        socket
            .send(&first)
            .await
            .map_err(|detail| GatewayError::Connect { url: self.url.to_string(), detail })?;
        let mut replayed = 0;
        loop {
            match socket.recv().await {
                Incoming::Frame(ServerFrame::Control(ControlFrame::Resumed { .. })) => {
                    self.publish(GatewayEvent::State(ConnectionState::Resumed {
                        session_id: self.session_id,
                        replayed,
                    }));
                    return Ok((socket, None));
                }
                Incoming::Frame(ServerFrame::Control(ControlFrame::InvalidSession)) => {
                    self.publish(GatewayEvent::State(ConnectionState::InvalidSession));
                    self.drop_outbox();
                    self.last_seq = 0;
                    socket
                        .send(&identify(&token))
                        .await
                        .map_err(|detail| GatewayError::Connect { url: self.url.to_string(), detail })?;
                }
                Incoming::Frame(ServerFrame::Control(ControlFrame::Ready { session_id, snapshot })) => {
                    self.session_id = session_id;
                    self.last_seq = 0;
                    let ready = (*snapshot).clone();
                    self.publish(GatewayEvent::Frame(ServerFrame::Control(ControlFrame::Ready {
                        session_id,
                        snapshot,
                    })));
                    self.publish(GatewayEvent::State(ConnectionState::Connected { session_id }));
                    return Ok((socket, Some(ready)));
                }
                Incoming::Frame(frame) => {
                    if matches!(frame, ServerFrame::Event(_)) {
                        replayed += 1;
                    }
                    self.dispatch(frame);
                }
                Incoming::UnknownEvent { seq } => {
                    replayed += 1;
                    self.skip_unknown(seq);
                }
                Incoming::Closed { code, reason } => return Err(closed(code, reason, &self.url)),
            }
        }
    }

    /// Decides what a failure means: stop for good, or try again (after how long).
    async fn classify(&mut self, error: GatewayError) -> Ended {
        let retry = |reason: String, min_delay| Ended::Dropped { reason, min_delay };
        match error {
            // A deleted account ends its logins like a revocation: nothing to retry.
            GatewayError::Closed {
                code: close_code::SESSION_REVOKED | close_code::ACCOUNT_DELETED, ..
            } => Ended::Stop(CloseReason::Revoked, None),
            GatewayError::Closed { code: close_code::UNSUPPORTED_VERSION, .. } => {
                Ended::Stop(CloseReason::UnsupportedVersion, None)
            }
            GatewayError::Closed { code: close_code::AUTHENTICATION_FAILED, reason } => {
                // A token just refreshed yet refused again will not start working:
                // stop instead of spending refresh tokens forever.
                self.auth_refusals += 1;
                if self.auth_refusals >= MAX_AUTH_REFUSALS {
                    return Ended::Stop(CloseReason::AuthenticationFailed(reason), None);
                }
                self.forget_access().await;
                retry(format!("authentication failed ({reason}); refreshing the token"), Duration::ZERO)
            }
            GatewayError::Auth(error) if error.is_login_lost() => {
                Ended::Stop(CloseReason::AuthenticationFailed(error.to_string()), None)
            }
            other => {
                let pause = busy_pause(&other, self.config.max_backoff).unwrap_or(Duration::ZERO);
                retry(other.to_string(), pause)
            }
        }
    }

    /// Waits out a backoff delay while still taking commands. Returns why to stop, if
    /// the gateway was closed meanwhile.
    async fn pause(
        &mut self,
        delay: Duration,
        commands: &mut mpsc::Receiver<Command>,
    ) -> Option<(CloseReason, Option<oneshot::Sender<()>>)> {
        let until = Instant::now() + delay;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return None,
                command = commands.recv() => match command {
                    None => return Some((CloseReason::Requested, None)),
                    Some(Command::Close(ack)) => return Some((CloseReason::Requested, Some(ack))),
                    Some(Command::Reconnect) => return None,
                    Some(Command::Send(frame)) => {
                        if !is_reserved(&frame) {
                            self.outbox.push_back(frame);
                        }
                    }
                },
            }
        }
    }

    /// Writes queued frames in order; a frame leaves the queue only once written.
    async fn flush(&mut self, socket: &mut Socket) -> Result<(), String> {
        while let Some(frame) = self.outbox.front() {
            socket.send(frame).await?;
            self.outbox.pop_front();
        }
        Ok(())
    }

    /// Publishes a server frame; replayed events already seen are skipped.
    fn dispatch(&mut self, frame: ServerFrame) {
        if let ServerFrame::Event(event) = &frame {
            if !self.count(event.seq) {
                return;
            }
        }
        self.publish(GatewayEvent::Frame(frame));
    }

    /// An event from a newer server: counted as seen (a resume must not replay it), never
    /// published, since no subscriber could understand it.
    fn skip_unknown(&mut self, seq: u64) {
        self.count(seq);
    }

    /// Moves `last_seq` to an arriving event's `seq`; false for one already delivered.
    fn count(&mut self, seq: u64) -> bool {
        if seq <= self.last_seq {
            tracing::debug!(seq, "skipping an event already delivered");
            return false;
        }
        if seq != self.last_seq + 1 {
            tracing::warn!(expected = self.last_seq + 1, got = seq, "gap in gateway sequence");
        }
        self.last_seq = seq;
        true
    }

    fn publish(&self, event: GatewayEvent) {
        // No subscriber is not an error: the gateway keeps the session alive regardless.
        let _ = self.events.send(event);
    }

    fn drop_outbox(&mut self) {
        if !self.outbox.is_empty() {
            let frames: Vec<ClientFrame> = self.outbox.drain(..).collect();
            self.publish(GatewayEvent::Undelivered(frames));
        }
    }

    fn finish(mut self, reason: CloseReason, ack: Option<oneshot::Sender<()>>) {
        tracing::info!(?reason, "gateway stopped");
        self.drop_outbox();
        self.publish(GatewayEvent::State(ConnectionState::Closed(reason)));
        if let Some(ack) = ack {
            let _ = ack.send(());
        }
    }

    async fn forget_access(&mut self) {
        if let Some(stale) = self.access.take() {
            self.config.tokens.invalidate(&stale).await;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let jitter = rand::thread_rng().gen_range(0.0..=1.0);
        backoff(self.config.initial_backoff, self.config.max_backoff, attempt, jitter)
    }
}

/// Exponential backoff with "equal jitter": the delay doubles per attempt up to `max`,
/// half of it fixed and half drawn (`jitter` in 0..=1), so clients that lost the same
/// server do not come back in lockstep.
fn backoff(initial: Duration, max: Duration, attempt: u32, jitter: f64) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
    let full = initial.saturating_mul(factor).min(max);
    let half = full / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

/// How long to leave a busy server alone, or `None` when the error is not about load.
/// The wait only sets a floor: the exponential backoff still grows past it on repeated
/// refusals, so a user over their session cap polls ever more slowly. A server's
/// `Retry-After` is honoured up to `max_backoff`.
fn busy_pause(error: &GatewayError, max_backoff: Duration) -> Option<Duration> {
    match error {
        GatewayError::Closed {
            code: close_code::RATE_LIMITED | close_code::SERVER_FULL | close_code::TOO_MANY_SESSIONS,
            ..
        } => Some(BUSY_PAUSE),
        GatewayError::Busy { retry_after, .. } => {
            Some(retry_after.unwrap_or(BUSY_PAUSE).clamp(BUSY_PAUSE, max_backoff.max(BUSY_PAUSE)))
        }
        _ => None,
    }
}

fn identify(token: &Secret) -> ClientFrame {
    ClientFrame::Identify { token: Some(token.expose().clone()), protocol_version: PROTOCOL_VERSION }
}

fn closed(code: Option<u16>, reason: String, url: &url::Url) -> GatewayError {
    match code {
        Some(code) => GatewayError::Closed { code, reason },
        None => GatewayError::Connect { url: url.to_string(), detail: reason },
    }
}

/// Frames the connection sends on its own; a caller's copy would confuse the server.
fn is_reserved(frame: &ClientFrame) -> bool {
    matches!(frame, ClientFrame::Identify { .. } | ClientFrame::Resume { .. } | ClientFrame::Heartbeat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_half_of_it_random() {
        let (initial, max) = (Duration::from_millis(250), Duration::from_secs(30));
        assert_eq!(backoff(initial, max, 1, 0.0), Duration::from_millis(125), "half is the floor");
        assert_eq!(backoff(initial, max, 1, 1.0), Duration::from_millis(250), "the whole is the ceiling");
        assert_eq!(backoff(initial, max, 3, 1.0), Duration::from_millis(1000), "doubling per attempt");
        assert_eq!(backoff(initial, max, 40, 1.0), max, "never past the cap, however many attempts");
        assert_eq!(backoff(initial, max, 40, 0.0), max / 2, "and the jitter still spreads clients out");
    }

    #[test]
    fn a_busy_server_is_left_alone_for_a_while() {
        let max = Duration::from_secs(30);
        let closed = |code| GatewayError::Closed { code, reason: String::new() };
        for code in [close_code::RATE_LIMITED, close_code::SERVER_FULL, close_code::TOO_MANY_SESSIONS] {
            assert_eq!(busy_pause(&closed(code), max), Some(BUSY_PAUSE), "{code} waits, never a tight loop");
        }
        let busy = |secs: Option<u64>| GatewayError::Busy {
            status: 429,
            retry_after: secs.map(Duration::from_secs),
        };
        assert_eq!(busy_pause(&busy(Some(12)), max), Some(Duration::from_secs(12)), "Retry-After honoured");
        assert_eq!(busy_pause(&busy(Some(0)), max), Some(BUSY_PAUSE), "but never shorter than the floor");
        assert_eq!(busy_pause(&busy(Some(86_400)), max), Some(max), "nor longer than the backoff cap");
        assert_eq!(busy_pause(&busy(None), max), Some(BUSY_PAUSE), "no Retry-After: the floor");
        assert_eq!(
            busy_pause(&closed(close_code::IDENTIFY_TIMEOUT), max),
            None,
            "a slow handshake is not load: reconnect on the normal backoff"
        );
    }
}
