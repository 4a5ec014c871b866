//! A gateway client for tests: connect, identify, and wait for frames with deadlines.
//! It checks on every event that `seq` grows by exactly one.

use std::time::Duration;

use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::{ClientFrame, ControlFrame, ReadySnapshot, ServerFrame};
use cromulent_protocol::Id;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::harness::{TestServer, TestUser};

pub const WAIT: Duration = Duration::from_secs(5);

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Gw {
    pub ws: Ws,
    /// Heartbeats are sent this often while the test waits.
    pub beat: Duration,
    last_beat: tokio::time::Instant,
    pub session_id: Id,
    pub last_seq: u64,
    pub ready: Option<ReadySnapshot>,
    /// Events seen while waiting for something else, oldest first.
    pub seen: Vec<Event>,
}

/// Opens a WebSocket to the server's gateway with an optional Origin header.
pub async fn open(
    srv: &TestServer,
    origin: Option<&str>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let url = format!("{}/api/gateway", srv.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().expect("valid url");
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse().expect("header"));
    }
    tokio_tungstenite::connect_async(request).await.map(|(ws, _)| ws)
}

pub async fn next_frame(ws: &mut Ws, within: Duration) -> Option<ServerFrame> {
    loop {
        match tokio::time::timeout(within, ws.next()).await {
            Err(_) | Ok(None) | Ok(Some(Err(_))) => return None,
            Ok(Some(Ok(Message::Text(text)))) => {
                return Some(
                    serde_json::from_str(text.as_str()).unwrap_or_else(|e| panic!("bad frame {text}: {e}")),
                )
            }
            Ok(Some(Ok(Message::Close(_)))) => return None,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// Reads until the server closes; returns its close code.
pub async fn close_code(ws: &mut Ws, within: Duration) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) | Ok(None) | Ok(Some(Err(_))) => return None,
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
        }
    }
}

pub async fn send(ws: &mut Ws, frame: &ClientFrame) {
    ws.send(Message::Text(serde_json::to_string(frame).expect("serializes").into())).await.expect("send");
}

impl TestServer {
    /// Connects and identifies as `user`; returns once `ready` has arrived.
    pub async fn connect(&self, user: &TestUser) -> Gw {
        let mut ws = open(self, None).await.expect("gateway accepts the connection");
        let Some(ServerFrame::Control(ControlFrame::Hello { .. })) = next_frame(&mut ws, WAIT).await else {
            panic!("the server speaks first, with hello");
        };
        send(&mut ws, &ClientFrame::Identify { token: Some(user.access_token.clone()), protocol_version: 1 })
            .await;
        match next_frame(&mut ws, WAIT).await {
            Some(ServerFrame::Control(ControlFrame::Ready { session_id, snapshot })) => {
                let beat = Duration::from_millis(self.state.config.gateway_heartbeat_ms / 2);
                let last_beat = tokio::time::Instant::now();
                Gw { ws, beat, last_beat, session_id, last_seq: 0, ready: Some(*snapshot), seen: Vec::new() }
            }
            other => panic!("expected ready, got {other:?}"),
        }
    }
}

impl Gw {
    pub async fn send(&mut self, frame: ClientFrame) {
        send(&mut self.ws, &frame).await;
    }

    /// The next frame; events must arrive with the next sequence number.
    pub async fn next(&mut self, within: Duration) -> Option<ServerFrame> {
        let deadline = tokio::time::Instant::now() + within;
        let frame = loop {
            let beat_due = self.last_beat + self.beat;
            let wake = deadline.min(beat_due);
            let left = wake.saturating_duration_since(tokio::time::Instant::now());
            match next_frame(&mut self.ws, left).await {
                Some(frame) => break frame,
                None => {
                    let now = tokio::time::Instant::now();
                    // Before the wake-up time means the connection ended, not a timeout.
                    if now >= deadline || now < wake {
                        return None;
                    }
                    self.last_beat = now;
                    let beat = serde_json::to_string(&ClientFrame::Heartbeat).expect("serializes");
                    let _ = self.ws.send(Message::Text(beat.into())).await;
                }
            }
        };
        if let ServerFrame::Event(event) = &frame {
            assert_eq!(event.seq, self.last_seq + 1, "event seq must have no gaps: {event:?}");
            self.last_seq = event.seq;
        }
        Some(frame)
    }

    /// Waits for an event matching `pred`, keeping the others in `seen`.
    pub async fn wait_for_event(&mut self, pred: impl Fn(&Event) -> bool, within: Duration) -> Event {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(ServerFrame::Event(frame)) if pred(&frame.event) => return frame.event,
                Some(ServerFrame::Event(frame)) => self.seen.push(frame.event),
                Some(ServerFrame::Control(_)) => {}
                None => panic!("no matching event within {within:?}; saw {:?}", self.seen),
            }
        }
    }

    /// Waits for a control frame matching `pred`.
    pub async fn wait_for_control(
        &mut self,
        pred: impl Fn(&ControlFrame) -> bool,
        within: Duration,
    ) -> ControlFrame {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(ServerFrame::Control(frame)) if pred(&frame) => return frame,
                Some(ServerFrame::Event(frame)) => self.seen.push(frame.event),
                Some(ServerFrame::Control(_)) => {}
                None => panic!("no matching control frame within {within:?}"),
            }
        }
    }

    /// Asserts that no event matching `pred` arrives within `within`.
    pub async fn expect_no_event(&mut self, pred: impl Fn(&Event) -> bool, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.next(left).await {
                Some(ServerFrame::Event(frame)) => {
                    assert!(!pred(&frame.event), "this event must not arrive: {:?}", frame.event);
                    self.seen.push(frame.event);
                }
                Some(ServerFrame::Control(_)) => {}
                None => return,
            }
        }
    }

    /// Reads whatever arrives for `within`, keeping events in `seen`.
    pub async fn settle(&mut self, within: Duration) {
        self.expect_no_event(|_| false, within).await;
    }

    /// The typed error answering an op.
    pub async fn expect_error(&mut self, op: &str) -> cromulent_protocol::ErrorCode {
        match self.wait_for_control(|f| matches!(f, ControlFrame::Error { .. }), WAIT).await {
            ControlFrame::Error { op: got, code, .. } => {
                assert_eq!(got, op, "the error names the op that failed");
                code
            }
            _ => unreachable!("filtered above"),
        }
    }

    pub async fn close_code(&mut self) -> Option<u16> {
        close_code(&mut self.ws, WAIT).await
    }

    /// Drops the TCP connection without a close frame, as a crash or network loss would.
    pub fn kill(self) {
        drop(self.ws);
    }
}
