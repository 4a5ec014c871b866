//! One WebSocket to the gateway, speaking JSON frames; knows nothing of sessions.

use cromulent_protocol::gateway::{ClientFrame, ServerFrame};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::GatewayError;

pub(super) struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What reading the socket gave.
pub(super) enum Incoming {
    Frame(ServerFrame),
    /// The socket ended: with the server's close code, or `None` when it just broke.
    Closed {
        code: Option<u16>,
        reason: String,
    },
}

/// `ws(s)://host:port/api/gateway` for the server at `http(s)://host:port`.
pub(super) fn gateway_url(server: &url::Url) -> url::Url {
    let mut url = server.clone();
    let scheme = if server.scheme() == "https" { "wss" } else { "ws" };
    url.set_scheme(scheme).expect("http(s) and ws(s) are interchangeable schemes");
    url.set_path("/api/gateway");
    url
}

impl Socket {
    pub(super) async fn open(url: &url::Url) -> Result<Socket, GatewayError> {
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .map_err(|e| GatewayError::Connect { url: url.to_string(), detail: e.to_string() })?;
        Ok(Socket { ws })
    }

    /// Writes one frame. Callers never log frames: identify and resume carry a token.
    pub(super) async fn send(&mut self, frame: &ClientFrame) -> Result<(), String> {
        let text = serde_json::to_string(frame).expect("client frames always serialize");
        self.ws.send(Message::text(text)).await.map_err(|e| e.to_string())
    }

    /// The next frame; pings are answered by tungstenite and skipped here. A frame that
    /// does not parse ends the connection: the server and client disagree on the
    /// protocol, and going on could misnumber events.
    pub(super) async fn recv(&mut self) -> Incoming {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerFrame>(&text) {
                    Ok(frame) => return Incoming::Frame(frame),
                    Err(error) => {
                        tracing::warn!(%error, "gateway frame does not parse");
                        return Incoming::Closed {
                            code: None,
                            reason: format!("unparseable frame: {error}"),
                        };
                    }
                },
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map_or((None, String::new()), |f| (Some(u16::from(f.code)), f.reason.to_string()));
                    return Incoming::Closed { code, reason };
                }
                Some(Ok(_)) => continue,
                Some(Err(error)) => return Incoming::Closed { code: None, reason: error.to_string() },
                None => return Incoming::Closed { code: None, reason: "connection ended".into() },
            }
        }
    }

    /// Sends a close frame and gives the server a moment to answer; errors do not matter
    /// here, the socket is being abandoned either way.
    pub(super) async fn close(mut self, code: u16) {
        let frame = CloseFrame { code: CloseCode::from(code), reason: "".into() };
        let _ = self.ws.close(Some(frame)).await;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }
}
