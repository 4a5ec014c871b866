//! A bare gateway socket as the str0m peers' signaling: identified, heartbeating while
//! the peer waits for frames, and reading server frames this build understands.

use std::time::Duration;

use cromulent_protocol::gateway::{ClientFrame, ServerFrame};
use cromulent_testkit::sfu_peer::Signaling;
use futures_util::{SinkExt, StreamExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::ws::{self, Ws};

pub struct GatewayLink {
    ws: Ws,
    beat: Duration,
    last_beat: Instant,
}

impl GatewayLink {
    /// Opens the gateway at `addr` from 127.0.0.1 and identifies with `token`.
    pub async fn open(addr: std::net::SocketAddr, token: &str) -> anyhow::Result<Self> {
        let mut ws = ws::open(addr, std::net::Ipv4Addr::LOCALHOST, "/api/gateway").await?;
        let interval = ws::identify(&mut ws, token).await?;
        // Half the interval, as the native client does, so a late timer is not a miss.
        Ok(Self { ws, beat: interval / 2, last_beat: Instant::now() })
    }
}

impl Signaling for GatewayLink {
    async fn send(&mut self, frame: ClientFrame) {
        let text = serde_json::to_string(&frame).expect("client frames serialize");
        // A send that fails means the connection is gone; `next` then says so.
        let _ = self.ws.send(Message::Text(text.into())).await;
    }

    async fn next(&mut self, within: Duration) -> Option<ServerFrame> {
        let deadline = Instant::now() + within;
        loop {
            if self.last_beat.elapsed() >= self.beat {
                self.last_beat = Instant::now();
                let _ = self.ws.send(ws::heartbeat()).await;
            }
            let wake = deadline.min(self.last_beat + self.beat);
            match tokio::time::timeout_at(wake, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    // Frames of a newer build (unknown events) are nobody's business here.
                    if let Ok(frame) = serde_json::from_str(text.as_str()) {
                        return Some(frame);
                    }
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    // Said once: the stream ends here. A room whose SDP outgrew the
                    // server's frame limit shows up as 1009.
                    eprintln!("a gateway connection was closed by the server: {frame:?}");
                    return None;
                }
                Ok(Some(Err(_))) | Ok(None) => return None,
                Ok(Some(Ok(_))) => {}
                Err(_) if Instant::now() >= deadline => return None,
                Err(_) => {}
            }
        }
    }
}
