//! An acknowledged message survives the server being killed outright, and SIGTERM
//! stops the server promptly even with clients connected.

use std::process::Stdio;
use std::time::Duration;

use cromulent_protocol::auth::{LoginResponse, RefreshResponse};
use cromulent_protocol::channel::ChannelListEntry;
use cromulent_protocol::message::Message;
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::harness::{TempDir, PASSWORD};

pub(crate) async fn start(dir: &TempDir, port: u16) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_cromulent-server"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATA_DIR", &dir.0)
        .env("PORT", port.to_string())
        .env("BIND", "127.0.0.1")
        // Tests run side by side: the built-in TURN server takes any free UDP port.
        .env("TURN_PORT", "0")
        .env("VOICE_SFU_BIND", "127.0.0.1")
        .env("VOICE_SFU_PORT", "0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the server binary starts");
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not become ready");
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[tokio::test]
async fn an_acknowledged_message_survives_a_kill() {
    let dir = TempDir::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut server = start(&dir, port).await;

    let (auth, general) = sign_in(&base).await;
    let sent: Message = http
        .post(format!("{base}/api/channels/{general}/messages"))
        .header("authorization", &auth)
        .json(&json!({"body": "written before the crash", "nonce": "durable-1"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");

    // SIGKILL: no shutdown handler runs, nothing is flushed on the way out.
    server.start_kill().expect("kill");
    server.wait().await.expect("reaped");
    let _restarted = start(&dir, port).await;
    let history = history(&base, general, &auth).await;
    assert!(
        history.iter().any(|m| m.id == sent.id),
        "the acknowledged message must still be there: {history:?}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_stops_the_server_promptly_with_clients_connected() {
    let dir = TempDir::new();
    let port = free_port();
    let mut server = start(&dir, port).await;
    let url = format!("ws://127.0.0.1:{port}/api/gateway");
    let (_socket, _) = tokio_tungstenite::connect_async(url).await.expect("a gateway client connects");
    let pid = server.id().expect("running");
    let status =
        std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("kill runs");
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(15), server.wait())
        .await
        .expect("the server stops within 15 s of SIGTERM, open sockets or not")
        .expect("reaped");
    assert!(exit.success(), "a graceful stop exits with 0, got {exit:?}");
}

/// The newest page of the channel's history, as the holder of `auth` reads it.
pub(crate) async fn history(base: &str, channel: cromulent_protocol::Id, auth: &str) -> Vec<Message> {
    reqwest::Client::new()
        .get(format!("{base}/api/channels/{channel}/messages"))
        .header("authorization", auth)
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("json")
}

/// Registers and logs in one account; returns its bearer token and the id of #general.
pub(crate) async fn sign_in(base: &str) -> (String, cromulent_protocol::Id) {
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| http.post(format!("{base}{path}")).json(&body).send();
    post("/api/auth/register", json!({"email": "ann@example.test", "username": "ann", "password": PASSWORD}))
        .await
        .expect("register");
    let login: LoginResponse =
        post("/api/auth/login", json!({"email": "ann@example.test", "password": PASSWORD}))
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
    let tokens: RefreshResponse = post("/api/auth/refresh", json!({"refresh_token": login.refresh_token}))
        .await
        .expect("refresh")
        .json()
        .await
        .expect("json");
    let auth = format!("Bearer {}", tokens.access_token);
    let channels: Vec<ChannelListEntry> = http
        .get(format!("{base}/api/channels"))
        .header("authorization", &auth)
        .send()
        .await
        .expect("channels")
        .json()
        .await
        .expect("json");
    let general = channels.iter().find(|c| c.channel.name == "general").expect("general").channel.id;
    (auth, general)
}
