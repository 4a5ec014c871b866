//! The admin's connectivity check: a TURN client inside the server allocates through the
//! built-in relay with fresh credentials, bounces a datagram off an echo socket through
//! the relay, and tries a denied peer, reporting each step.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cromulent_protocol::voice::{SelfTestReport, SelfTestStep};
use cromulent_protocol::Id;
use tokio::net::UdpSocket;
use turn::client::{Client, ClientConfig};
use webrtc_util::Conn;

use super::Turn;

const STEP_TIMEOUT: Duration = Duration::from_secs(4);
const PING: &[u8] = b"cromulent self-test ping";
const PONG: &[u8] = b"cromulent self-test pong";

fn step(started: Instant, result: Result<String, String>) -> SelfTestStep {
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(detail) => SelfTestStep { ok: true, detail, elapsed_ms },
        Err(detail) => SelfTestStep { ok: false, detail, elapsed_ms },
    }
}

fn not_run(why: &str) -> SelfTestStep {
    SelfTestStep { ok: false, detail: format!("not run: {why}"), elapsed_ms: 0 }
}

async fn within<T, E: std::fmt::Display>(
    what: &str,
    f: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(STEP_TIMEOUT, f).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: no answer within {} s", STEP_TIMEOUT.as_secs())),
    }
}

/// Runs every step against the built-in server, as `user_id`.
pub async fn run(turn: &Turn, user_id: Id) -> SelfTestReport {
    let Some(local) = turn.local_addr() else {
        let off = "the built-in TURN server is off (TURN_ENABLED=false)";
        return SelfTestReport {
            ok: false,
            server: String::new(),
            stun_binding: not_run(off),
            allocation: not_run(off),
            relay_round_trip: not_run(off),
            peer_filter: not_run(off),
        };
    };
    let server = if local.ip().is_unspecified() {
        let ip =
            if local.is_ipv4() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { IpAddr::V6(Ipv6Addr::LOCALHOST) };
        SocketAddr::new(ip, local.port())
    } else {
        local
    };
    let mut report = SelfTestReport {
        ok: false,
        server: server.to_string(),
        stun_binding: not_run("no client socket"),
        allocation: not_run("no client socket"),
        relay_round_trip: not_run("no allocation"),
        peer_filter: not_run("no allocation"),
    };
    let client = match connect(turn, server, user_id).await {
        Ok(client) => client,
        Err(e) => {
            report.stun_binding = SelfTestStep { ok: false, detail: e, elapsed_ms: 0 };
            return report;
        }
    };

    let started = Instant::now();
    let binding = within("binding request", client.send_binding_request()).await;
    report.stun_binding = step(started, binding.map(|mapped| format!("mapped address {mapped}")));

    let started = Instant::now();
    match within("allocate", client.allocate()).await {
        Ok(relay) => {
            let relayed = relay.local_addr().map_or_else(|e| e.to_string(), |a| a.to_string());
            report.allocation = step(started, Ok(format!("relayed address {relayed}")));
            let started = Instant::now();
            report.relay_round_trip = step(started, round_trip(turn, &relay, server.ip()).await);
            let started = Instant::now();
            report.peer_filter = step(started, peer_filter(turn, &relay).await);
            let _ = relay.close().await;
        }
        Err(e) => report.allocation = step(started, Err(e)),
    }
    let _ = client.close().await;
    report.ok =
        report.stun_binding.ok && report.allocation.ok && report.relay_round_trip.ok && report.peer_filter.ok;
    report
}

async fn connect(turn: &Turn, server: SocketAddr, user_id: Id) -> Result<Client, String> {
    let any =
        if server.is_ipv4() { IpAddr::V4(Ipv4Addr::UNSPECIFIED) } else { IpAddr::V6(Ipv6Addr::UNSPECIFIED) };
    let socket = UdpSocket::bind(SocketAddr::new(any, 0)).await.map_err(|e| format!("client socket: {e}"))?;
    let credentials = turn.credentials(user_id);
    let client = Client::new(ClientConfig {
        stun_serv_addr: server.to_string(),
        turn_serv_addr: server.to_string(),
        username: credentials.username,
        password: credentials.password,
        realm: turn.realm().to_owned(),
        software: "cromulent self-test".into(),
        rto_in_ms: 0,
        conn: Arc::new(socket),
        vnet: None,
    })
    .await
    .map_err(|e| format!("TURN client: {e}"))?;
    client.listen().await.map_err(|e| format!("TURN client: {e}"))?;
    Ok(client)
}

/// Relay -> echo socket -> relay's advertised address -> back to us.
async fn round_trip(turn: &Turn, relay: &impl Conn, local_ip: IpAddr) -> Result<String, String> {
    let relayed = relay.local_addr().map_err(|e| e.to_string())?;
    let echo = match UdpSocket::bind(SocketAddr::new(relayed.ip(), 0)).await {
        Ok(socket) => socket,
        Err(_) => {
            UdpSocket::bind(SocketAddr::new(local_ip, 0)).await.map_err(|e| format!("echo socket: {e}"))?
        }
    };
    let echo_addr = echo.local_addr().map_err(|e| e.to_string())?;
    // The echo socket is ours, whatever range its address is in.
    let _exempt = turn.policy().exempt(echo_addr);
    within("send through the relay", relay.send_to(PING, echo_addr)).await?;
    let mut buf = [0u8; 128];
    let (n, _) = within("echo socket receive", echo.recv_from(&mut buf)).await?;
    if &buf[..n] != PING {
        return Err("the echo socket got something else".into());
    }
    // Answer to the advertised relay address: that checks TURN_PUBLIC_IP is reachable.
    within("answer to the relayed address", echo.send_to(PONG, relayed)).await?;
    let (n, from) = within("receive through the relay", relay.recv_from(&mut buf)).await?;
    if &buf[..n] != PONG || from != echo_addr {
        return Err(format!("unexpected datagram from {from}"));
    }
    Ok(format!("{} bytes each way via {relayed}", PING.len()))
}

/// A permission for a loopback peer must be refused unless the settings allow it.
async fn peer_filter(turn: &Turn, relay: &impl Conn) -> Result<String, String> {
    if turn.policy().allow_loopback {
        return Ok("skipped: TURN_ALLOW_LOOPBACK_PEERS allows loopback peers".into());
    }
    // Not 127.0.0.1: the client already holds a permission for the echo socket's address.
    let denied = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 9);
    match tokio::time::timeout(STEP_TIMEOUT, relay.send_to(b"x", denied)).await {
        Ok(Err(e)) if e.to_string().contains("403") => Ok(format!("relay to {denied} refused (403)")),
        Ok(Err(e)) => Err(format!("relay to {denied} failed, but not with 403: {e}")),
        Ok(Ok(_)) => Err(format!("relay to {denied} was allowed: internal addresses are exposed")),
        Err(_) => Err(format!("no answer for a permission to {denied}")),
    }
}
