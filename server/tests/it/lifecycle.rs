//! The server binary as a container runtime drives it: `healthcheck` answers for it,
//! and SIGTERM lets the request under way finish, sends gateway clients a close frame
//! that tells them to reconnect, and loses no acknowledged message.

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use cromulent_protocol::gateway::close_code;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use tokio_tungstenite::tungstenite::Message as Frame;

use crate::durability::{free_port, history, sign_in, start};
use crate::harness::TempDir;

async fn healthcheck(port: u16) -> ExitStatus {
    Command::new(env!("CARGO_BIN_EXE_cromulent-server"))
        .arg("healthcheck")
        .env_clear()
        .env("PORT", port.to_string())
        .env("BIND", "0.0.0.0")
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .expect("the server binary runs")
}

#[tokio::test]
async fn healthcheck_succeeds_only_while_the_server_is_ready() {
    let dir = TempDir::new();
    let port = free_port();
    assert!(!healthcheck(port).await.success(), "nothing listens on the port yet: unhealthy");
    let _server = start(&dir, port).await;
    // BIND=0.0.0.0 in the probe's settings: it asks on loopback, as in a container.
    assert!(healthcheck(port).await.success(), "a ready server is healthy");
}

async fn next_text(ws: &mut crate::gateway_client::Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("the socket is open")
            .expect("a readable frame");
        if let Frame::Text(text) = frame {
            return serde_json::from_str(text.as_str()).expect("frames are JSON");
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_finishes_the_request_under_way_and_tells_gateway_clients_to_reconnect() {
    let dir = TempDir::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(&dir, port).await;
    let (auth, general) = sign_in(&base).await;
    let token = auth.trim_start_matches("Bearer ");

    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/api/gateway"))
        .await
        .expect("connects");
    assert_eq!(next_text(&mut ws).await["type"], "hello");
    let identify = json!({"type": "identify", "token": token}).to_string();
    ws.send(Frame::Text(identify.into())).await.expect("identify sent");
    while next_text(&mut ws).await["type"] != "ready" {}

    // A message whose request is only half sent when the signal comes.
    let body = json!({"body": "sent while the server stops", "nonce": "in-flight-1"}).to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut request = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connects");
    let start_line = format!(
        "POST /api/channels/{general}/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
        body.len()
    );
    request.write_all(start_line.as_bytes()).await.expect("head sent");
    // The server has read the head and waits in the handler for the rest of the body.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let pid = server.id().expect("running");
    let signalled = Instant::now();
    let status =
        std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("kill runs");
    assert!(status.success());

    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a close frame within 5 s")
        {
            Some(Ok(Frame::Close(frame))) => break frame.expect("the close frame carries a code"),
            Some(Ok(_)) => continue,
            other => panic!("the socket must end with a close frame, not {other:?}"),
        }
    };
    assert_eq!(
        u16::from(close.code),
        close_code::GOING_AWAY,
        "1001 tells clients the server is going away and to reconnect: {close:?}"
    );

    request.write_all(tail.as_bytes()).await.expect("the rest of the body is still read");
    let mut response = String::new();
    request.read_to_string(&mut response).await.expect("an answer");
    assert!(
        response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.1 201"),
        "the request under way when the signal came is answered, not cut: {response}"
    );

    let exit = tokio::time::timeout(Duration::from_secs(10), server.wait())
        .await
        .expect("the server stops within 10 s of SIGTERM")
        .expect("reaped");
    assert!(exit.success(), "a graceful stop exits with 0, got {exit:?}");
    assert!(signalled.elapsed() < Duration::from_secs(10), "stopped within a container runtime's 10 s");

    let _restarted = start(&dir, port).await;
    let history = history(&base, general, &auth).await;
    assert!(
        history.iter().any(|m| m.body == "sent while the server stops"),
        "the message acknowledged during the stop is stored: {history:?}"
    );
}
