//! The built-in STUN/TURN relay against a real, independent TURN client (coturn's
//! `turnutils_uclient`): credentials from the API work, wrong and expired ones do not,
//! denied peers and the server's own listeners are refused, quotas hold; an expired
//! credential keeps no allocation alive (a message-by-message client); relay-only mode
//! reaches `voice_joined`; the admin self-test and the `/metrics` counters.
//!
//! `coturn_client` drives the relay with coturn's client, `step_by_step` with a client of
//! our own that sends one message at a time, `credentials` checks what the API hands out.

mod coturn_client;
mod credentials;
mod step_by_step;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Output;
use std::time::Duration;

use base64::Engine;
use cromulent_protocol::gateway::{ClientFrame, ControlFrame};
use cromulent_protocol::voice::{IceServer, IceServersResponse, IceTransportPolicy, SelfTestReport};
use cromulent_server::config::Config;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::json;
use stun::agent::TransactionId;
use stun::attributes::{ATTR_NONCE, ATTR_REALM, ATTR_USERNAME};
use stun::error_code::ErrorCodeAttribute;
use stun::integrity::MessageIntegrity;
use stun::message::{
    Getter, Message, MessageType, Method as StunMethod, Setter, CLASS_REQUEST, CLASS_SUCCESS_RESPONSE,
    METHOD_ALLOCATE, METHOD_CHANNEL_BIND, METHOD_CREATE_PERMISSION, METHOD_REFRESH,
};
use stun::textattrs::TextAttribute;
use turn::proto::channum::ChannelNumber;
use turn::proto::lifetime::Lifetime;
use turn::proto::peeraddr::PeerAddress;
use turn::proto::reqtrans::RequestedTransport;
use turn::proto::PROTO_UDP;

use crate::gateway::channel_id;
use crate::gateway_client::WAIT;
use crate::harness::{Database, TestServer, TestUser};

const SECRET: &str = "a turn secret shared with coturn";

/// Our TURN on a free port of 127.0.0.1, advertising 127.0.0.1 in relay candidates.
fn local_turn(config: &mut Config, allow_loopback: bool) {
    config.turn.turn_enabled = true;
    config.turn.turn_bind = IpAddr::V4(Ipv4Addr::LOCALHOST);
    config.turn.turn_port = 0;
    config.turn.turn_public_ip = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    config.turn.turn_relay_port_min = 0;
    config.turn.turn_secret = Some(SECRET.into());
    config.turn.turn_allow_loopback_peers = allow_loopback;
}

async fn start(allow_loopback: bool) -> TestServer {
    TestServer::start_with(Database::Sqlite, |c| local_turn(c, allow_loopback)).await
}

fn turn_port(srv: &TestServer) -> u16 {
    srv.state.turn.local_addr().expect("the built-in TURN server runs").port()
}

/// The TURN entry of the caller's ICE servers.
async fn turn_entry(srv: &TestServer, user: &TestUser) -> IceServer {
    let reply: IceServersResponse = srv.get("/api/voice/ice-servers", user).await.ok();
    reply
        .ice_servers
        .into_iter()
        .find(|s| s.urls.iter().any(|u| u.starts_with("turn:")))
        .expect("a TURN server is handed out")
}

/// Runs `turnutils_uclient` against our server; `args` come before the server address.
async fn uclient(srv: &TestServer, args: &[&str]) -> Output {
    uclient_at(&turn_port(srv).to_string(), args).await
}

async fn uclient_at(port: &str, args: &[&str]) -> Output {
    let mut all: Vec<&str> = vec!["-p", port, "-n", "5", "-l", "120", "-m", "1"];
    all.extend_from_slice(args);
    all.push("127.0.0.1");
    let run = tokio::process::Command::new("turnutils_uclient").args(&all).kill_on_drop(true).output();
    match tokio::time::timeout(Duration::from_secs(30), run).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => panic!(
            "turnutils_uclient must be installed (Debian package coturn; scripts/test.sh installs it): {e}"
        ),
        Err(_) => panic!("turnutils_uclient did not finish within 30 s"),
    }
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

async fn metrics(srv: &TestServer) -> String {
    let resp = srv.http.get(srv.url("/metrics")).send().await.expect("metrics answer");
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.expect("body")
}

/// The value of one exposition line, e.g. `cromulent_turn_allocations_total`.
fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .expect("a number")
}

fn rest_password(username: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}
