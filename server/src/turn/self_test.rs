//! The admin's connectivity check: a TURN client inside the server allocates through the
//! built-in relay with fresh credentials, bounces a datagram off an echo socket through
//! the relay, and tries a denied peer, reporting each step.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cromulent_protocol::voice::{SelfTestReport, SelfTestStep};
use cromulent_protocol::Id;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::Mutex;
use turn::client::{Client, ClientConfig};
use webrtc_util::Conn;

use super::tcp::{pad_channel_data, read_frame};
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
            tcp_allocation: not_run(off),
            peer_filter: not_run(off),
        };
    };
    let server = loopback_if_any(local);
    let mut report = SelfTestReport {
        ok: false,
        server: server.to_string(),
        stun_binding: not_run("no client socket"),
        allocation: not_run("no client socket"),
        relay_round_trip: not_run("no allocation"),
        tcp_allocation: not_run("no client socket"),
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
    let started = Instant::now();
    report.tcp_allocation = step(started, tcp_allocation(turn, user_id).await);
    report.ok = report.stun_binding.ok
        && report.allocation.ok
        && report.relay_round_trip.ok
        && report.tcp_allocation.ok
        && report.peer_filter.ok;
    report
}

async fn connect(turn: &Turn, server: SocketAddr, user_id: Id) -> Result<Client, String> {
    let any =
        if server.is_ipv4() { IpAddr::V4(Ipv4Addr::UNSPECIFIED) } else { IpAddr::V6(Ipv6Addr::UNSPECIFIED) };
    let socket = UdpSocket::bind(SocketAddr::new(any, 0)).await.map_err(|e| format!("client socket: {e}"))?;
    client_over(turn, server, user_id, Arc::new(socket)).await
}

/// A TURN client with fresh credentials for `user_id`, talking to `server` over `conn`.
async fn client_over(
    turn: &Turn,
    server: SocketAddr,
    user_id: Id,
    conn: Arc<dyn webrtc_util::Conn + Send + Sync>,
) -> Result<Client, String> {
    let credentials = turn.credentials(user_id);
    let client = Client::new(ClientConfig {
        stun_serv_addr: server.to_string(),
        turn_serv_addr: server.to_string(),
        username: credentials.username,
        password: credentials.password,
        realm: turn.realm().to_owned(),
        software: "cromulent self-test".into(),
        rto_in_ms: 0,
        conn,
        vnet: None,
    })
    .await
    .map_err(|e| format!("TURN client: {e}"))?;
    client.listen().await.map_err(|e| format!("TURN client: {e}"))?;
    Ok(client)
}

/// An allocation through the TCP listener, as a client behind a UDP-blocking firewall.
async fn tcp_allocation(turn: &Turn, user_id: Id) -> Result<String, String> {
    let Some(listener) = turn.local_tcp_addr() else {
        return Ok("skipped: TURN_TCP=false".into());
    };
    let server = loopback_if_any(listener);
    let stream = within("TCP connect", TcpStream::connect(server)).await?;
    let local = stream.local_addr().map_err(|e| e.to_string())?;
    let (read, write) = stream.into_split();
    let conn = TcpClient { server, local, read: Mutex::new(read), write: Mutex::new(write) };
    let client = client_over(turn, server, user_id, Arc::new(conn)).await?;
    let result = match within("allocate over TCP", client.allocate()).await {
        Ok(relay) => {
            let relayed = relay.local_addr().map_or_else(|e| e.to_string(), |a| a.to_string());
            let _ = relay.close().await;
            Ok(format!("relayed address {relayed} via tcp {server}"))
        }
        Err(e) => Err(e),
    };
    let _ = client.close().await;
    result
}

fn loopback_if_any(addr: SocketAddr) -> SocketAddr {
    if !addr.ip().is_unspecified() {
        return addr;
    }
    let ip = if addr.is_ipv4() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { IpAddr::V6(Ipv6Addr::LOCALHOST) };
    SocketAddr::new(ip, addr.port())
}

/// The client side of TURN over TCP: frames out, frames in, all from the one server.
struct TcpClient {
    server: SocketAddr,
    local: SocketAddr,
    read: Mutex<OwnedReadHalf>,
    write: Mutex<OwnedWriteHalf>,
}

#[async_trait::async_trait]
impl Conn for TcpClient {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Ok(())
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        let mut read = self.read.lock().await;
        let frame = read_frame(&mut *read, STEP_TIMEOUT * 4)
            .await
            .filter(|f| f.len() <= buf.len())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        buf[..frame.len()].copy_from_slice(&frame);
        Ok((frame.len(), self.server))
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.send_to(buf, self.server).await
    }

    async fn send_to(&self, buf: &[u8], _target: SocketAddr) -> webrtc_util::Result<usize> {
        self.write.lock().await.write_all(&pad_channel_data(buf)).await?;
        Ok(buf.len())
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.local)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        Some(self.server)
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        let _ = self.write.lock().await.shutdown().await;
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
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
