//! WebSocket clients for the gateway (and the baseline server): sockets bound to one of
//! many loopback source addresses, small buffers, hello → identify → ready.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cromulent_protocol::gateway::{ClientFrame, ControlFrame, PROTOCOL_VERSION};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub type Ws = WebSocketStream<TcpStream>;

/// Marker in benchmark message bodies, followed by the sender's clock in microseconds.
pub const STAMP: &str = "bench-t=";

/// Source addresses 127.0.0.2 … 127.0.0.(1 + spread): one address per `i % spread`, so
/// no single (source address, destination) pair runs out of ephemeral ports.
pub fn source_addr(i: usize, spread: u8) -> Ipv4Addr {
    let spread = usize::from(spread.clamp(1, 250));
    Ipv4Addr::new(127, 0, 0, 2 + (i % spread) as u8)
}

/// A monotonic clock shared by senders and receivers of one process.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn start() -> Self {
        Self(Instant::now())
    }

    pub fn now_micros(self) -> u64 {
        u64::try_from(self.0.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

/// The sender timestamp in a frame that carries a benchmark message, if any.
pub fn stamp_of(text: &str) -> Option<u64> {
    let at = text.find(STAMP)? + STAMP.len();
    let digits = text[at..].bytes().take_while(u8::is_ascii_digit).count();
    text[at..at + digits].parse().ok()
}

fn client_config() -> WebSocketConfig {
    // Small buffers: the load generator holds as many sockets as the server.
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(64 * 1024)
}

/// Opens a WebSocket to `ws://addr{path}` from `source`.
pub async fn open(addr: SocketAddr, source: Ipv4Addr, path: &str) -> anyhow::Result<Ws> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0))).with_context(|| format!("binding {source}"))?;
    let stream = socket.connect(addr).await.with_context(|| format!("connecting from {source}"))?;
    stream.set_nodelay(true)?;
    let url = format!("ws://{addr}{path}");
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(client_config()))
        .await
        .context("WebSocket handshake")?;
    Ok(ws)
}

#[derive(Deserialize)]
struct Tagged<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
}

/// The `type` of a server frame.
pub fn frame_type(text: &str) -> Option<&str> {
    serde_json::from_str::<Tagged<'_>>(text).ok().map(|t| t.kind)
}

/// Reads hello, identifies with `token` and waits for ready; answers the heartbeat
/// interval the server asked for.
pub async fn identify(ws: &mut Ws, token: &str) -> anyhow::Result<Duration> {
    let hello = next_text(ws).await?;
    let ControlFrame::Hello { heartbeat_interval_ms, .. } =
        serde_json::from_str(&hello).with_context(|| format!("expected hello, got {hello}"))?
    else {
        bail!("expected hello, got {hello}");
    };
    let identify =
        ClientFrame::Identify { token: Some(token.to_owned()), protocol_version: PROTOCOL_VERSION };
    ws.send(Message::Text(serde_json::to_string(&identify)?.into())).await?;
    loop {
        let text = next_text(ws).await?;
        if frame_type(&text) == Some("ready") {
            return Ok(Duration::from_millis(heartbeat_interval_ms));
        }
    }
}

pub fn heartbeat() -> Message {
    Message::Text(serde_json::to_string(&ClientFrame::Heartbeat).expect("a unit variant serializes").into())
}

async fn next_text(ws: &mut Ws) -> anyhow::Result<String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
            Some(Ok(Message::Close(frame))) => bail!("closed by the server: {frame:?}"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
            None => bail!("connection ended"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_found_inside_event_json() {
        let frame = r#"{"seq":3,"type":"message_create","message":{"body":"fanout 7 bench-t=123456 end"}}"#;
        assert_eq!(stamp_of(frame), Some(123_456));
        assert_eq!(stamp_of(r#"{"type":"presence_update"}"#), None, "other events carry no stamp");
        assert_eq!(frame_type(frame), Some("message_create"));
    }

    #[test]
    fn sources_cycle_through_loopback_addresses_from_127_0_0_2() {
        assert_eq!(source_addr(0, 50), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(source_addr(49, 50), Ipv4Addr::new(127, 0, 0, 51));
        assert_eq!(source_addr(50, 50), Ipv4Addr::new(127, 0, 0, 2), "wraps after `spread` addresses");
    }
}
