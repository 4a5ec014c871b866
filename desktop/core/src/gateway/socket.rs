//! One WebSocket to the gateway, speaking JSON frames; knows nothing of sessions.

use std::time::Duration;

use cromulent_protocol::gateway::{ClientFrame, Inbound, ServerFrame};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, http, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::GatewayError;

pub(super) struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What reading the socket gave.
// Frames are the common case and are matched on by shape all over the connection; a
// box would cost an allocation per frame to shrink the two rare variants' moves.
#[allow(clippy::large_enum_variant)]
pub(super) enum Incoming {
    Frame(ServerFrame),
    /// An event only a newer server knows (already logged): count its `seq`, skip it.
    UnknownEvent {
        seq: u64,
    },
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
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((ws, _)) => Ok(Socket { ws }),
            Err(tungstenite::Error::Http(response)) if is_busy(response.status()) => {
                Err(GatewayError::Busy {
                    status: response.status().as_u16(),
                    retry_after: retry_after(&response),
                })
            }
            Err(e) => Err(GatewayError::Connect { url: url.to_string(), detail: e.to_string() }),
        }
    }

    /// Writes one frame. Callers never log frames: identify and resume carry a token.
    pub(super) async fn send(&mut self, frame: &ClientFrame) -> Result<(), String> {
        let text = serde_json::to_string(frame).expect("client frames always serialize");
        self.ws.send(Message::text(text)).await.map_err(|e| e.to_string())
    }

    /// The next frame; pings are answered by tungstenite and skipped here. An event of a
    /// type this build does not know comes from a newer server and is logged and
    /// skipped. Any other frame that does not parse ends the connection: the server and
    /// client disagree on the protocol, and going on could misnumber events.
    pub(super) async fn recv(&mut self) -> Incoming {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => match Inbound::from_json(&text) {
                    Ok(Inbound::Frame(frame)) => return Incoming::Frame(frame),
                    Ok(Inbound::UnknownEvent { seq, event_type }) => {
                        tracing::info!(seq, %event_type, "skipping an event this client does not know");
                        return Incoming::UnknownEvent { seq };
                    }
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

/// Refusals that mean "not now" rather than "never": the server or this address is at
/// its connection cap.
fn is_busy(status: http::StatusCode) -> bool {
    status == http::StatusCode::TOO_MANY_REQUESTS || status == http::StatusCode::SERVICE_UNAVAILABLE
}

/// `Retry-After` in seconds (the form the server sends); an HTTP date is not honoured.
fn retry_after<B>(response: &http::Response<B>) -> Option<Duration> {
    let value = response.headers().get(http::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server that answers one upgrade request with `reply` and hangs up.
    async fn refusing_server(reply: &'static str) -> url::Url {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("one client");
            let mut request = [0u8; 2048];
            let _ = stream.read(&mut request).await;
            let _ = stream.write_all(reply.as_bytes()).await;
        });
        format!("ws://{addr}/api/gateway").parse().expect("valid url")
    }

    #[tokio::test]
    async fn a_429_at_the_upgrade_is_busy_with_the_servers_retry_after() {
        let url =
            refusing_server("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n")
                .await;
        match Socket::open(&url).await {
            Err(GatewayError::Busy { status, retry_after }) => {
                assert_eq!(status, 429, "the status is kept for the log");
                assert_eq!(retry_after, Some(Duration::from_secs(7)), "the server's wait is honoured");
            }
            Err(other) => panic!("a 429 means busy, not {other}"),
            Ok(_) => panic!("the server refused the upgrade"),
        }
    }

    #[tokio::test]
    async fn other_refusals_stay_connection_errors() {
        let url = refusing_server("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await;
        assert!(
            matches!(Socket::open(&url).await, Err(GatewayError::Connect { .. })),
            "a wrong address is not a busy server and gets no special pause"
        );
    }

    #[tokio::test]
    async fn an_event_from_a_newer_server_is_skipped_and_the_connection_stays_up() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("bound address");
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("one client");
            let mut ws = tokio_tungstenite::accept_async(stream).await.expect("upgrade");
            for frame in [
                r#"{"seq":1,"type":"poll_create","poll":{"question":"lunch?"}}"#,
                r#"{"seq":2,"type":"channel_delete","channel_id":"3"}"#,
            ] {
                ws.send(Message::text(frame)).await.expect("send a frame");
            }
            let _ = ws.next().await;
        });
        let url = format!("ws://{addr}/api/gateway").parse().expect("valid url");
        let mut socket = Socket::open(&url).await.expect("connects");
        assert!(
            matches!(socket.recv().await, Incoming::UnknownEvent { seq: 1 }),
            "an unknown event type is named with its seq, not a reason to drop the socket"
        );
        assert!(
            matches!(socket.recv().await, Incoming::Frame(ServerFrame::Event(ref e)) if e.seq == 2),
            "the next known event arrives on the same socket"
        );
    }
}
