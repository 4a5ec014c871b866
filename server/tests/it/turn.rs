//! The built-in STUN/TURN relay against a real, independent TURN client (coturn's
//! `turnutils_uclient`): credentials from the API work, wrong and expired ones do not,
//! denied peers and the server's own listeners are refused, quotas hold; an expired
//! credential keeps no allocation alive (a message-by-message client); relay-only mode
//! reaches `voice_joined`; the admin self-test and the `/metrics` counters.

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

#[tokio::test]
async fn uclient_relays_through_our_turn_with_credentials_from_the_api() {
    let srv = start(true).await;
    let ann = srv.user("ann").await;
    let turn = turn_entry(&srv, &ann).await;
    let (user, pass) = (turn.username.expect("username"), turn.credential.expect("credential"));
    // -y: two clients allocate and send to each other's relayed address.
    let out = uclient(&srv, &["-y", "-u", &user, "-w", &pass]).await;
    let log = text(&out);
    assert!(out.status.success(), "an allocation with our credentials must work:\n{log}");
    // Two clients, each an RTP and an RTCP allocation, five messages each.
    let totals = "start_mclient: tot_send_msgs=20, tot_recv_msgs=20";
    assert!(log.contains(totals), "every message must come back through the relay:\n{log}");
    assert!(log.contains("Total lost packets 0 "), "nothing lost on loopback:\n{log}");

    let m = metrics(&srv).await;
    assert!(metric(&m, "cromulent_turn_allocations_total") >= 2, "both clients allocated:\n{m}");
    assert!(
        metric(&m, "cromulent_turn_relayed_bytes_total{direction=\"to_peer\"}") >= 10 * 120,
        "relayed payload is counted:\n{m}"
    );
    assert_eq!(metric(&m, "cromulent_turn_refusals_total{reason=\"bad_credentials\"}"), 0, "{m}");
}

#[tokio::test]
async fn uclient_relays_over_tcp_to_our_turn() {
    let srv = start(true).await;
    let ann = srv.user("ann").await;
    let port = srv.state.turn.local_tcp_addr().expect("TURN over TCP").port().to_string();
    // -t: the client talks TURN over TCP; the relay still sends UDP to the peers.
    let out = uclient_at(&port, &["-t", "-y", "-u", &ann.id.to_string(), "-W", SECRET]).await;
    let log = text(&out);
    assert!(out.status.success(), "an allocation over TCP must work:\n{log}");
    assert!(log.contains("start_mclient: tot_send_msgs=20, tot_recv_msgs=20"), "all relayed:\n{log}");
    let m = metrics(&srv).await;
    assert!(metric(&m, "cromulent_turn_allocations_total") >= 2, "{m}");
}

#[tokio::test]
async fn uclient_relays_over_tls_to_our_turn() {
    let certs = crate::harness::TempDir::new();
    let (cert, key) = (certs.0.join("cert.pem"), certs.0.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        .args(["-subj", "/CN=127.0.0.1", "-days", "1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl makes a test certificate");
    assert!(made.status.success(), "openssl: {}", String::from_utf8_lossy(&made.stderr));
    let srv = TestServer::start_with(Database::Sqlite, |c| {
        local_turn(c, true);
        c.turn.turn_tls_port = 0;
        c.turn.turn_tls_cert = Some(cert.clone());
        c.turn.turn_tls_key = Some(key.clone());
    })
    .await;
    let ann = srv.user("ann").await;
    let port = srv.state.turn.local_tls_addr().expect("TURN over TLS with a certificate").port();
    let turn = turn_entry(&srv, &ann).await;
    assert!(turn.urls.contains(&format!("turns:127.0.0.1:{port}?transport=tcp")), "{:?}", turn.urls);
    // -t -S: the client talks TURN over TLS (-S alone would be DTLS).
    let out =
        uclient_at(&port.to_string(), &["-t", "-S", "-y", "-u", &ann.id.to_string(), "-W", SECRET]).await;
    let log = text(&out);
    assert!(out.status.success(), "an allocation over TLS must work:\n{log}");
    assert!(log.contains("start_mclient: tot_send_msgs=20, tot_recv_msgs=20"), "all relayed:\n{log}");
}

#[tokio::test]
async fn wrong_and_expired_credentials_are_refused() {
    let srv = start(true).await;
    let ann = srv.user("ann").await;
    let turn = turn_entry(&srv, &ann).await;
    let user = turn.username.expect("username");
    let out = uclient(&srv, &["-y", "-u", &user, "-w", "not-the-password"]).await;
    assert!(!out.status.success(), "a wrong password must not allocate:\n{}", text(&out));

    let expired = format!("{}:{}", now_secs() - 60, ann.id);
    let out = uclient(&srv, &["-y", "-u", &expired, "-w", &rest_password(&expired)]).await;
    assert!(!out.status.success(), "an expired (but well signed) name must not allocate:\n{}", text(&out));

    let out = uclient(&srv, &["-y", "-u", &ann.id.to_string(), "-W", "some other secret"]).await;
    assert!(!out.status.success(), "credentials from another secret must not allocate:\n{}", text(&out));

    let m = metrics(&srv).await;
    assert!(metric(&m, "cromulent_turn_refusals_total{reason=\"bad_credentials\"}") >= 2, "{m}");
    assert!(metric(&m, "cromulent_turn_refusals_total{reason=\"expired\"}") >= 1, "{m}");
    assert_eq!(metric(&m, "cromulent_turn_allocations_total"), 0, "no allocation was granted:\n{m}");
}

#[tokio::test]
async fn the_shared_secret_works_as_coturn_use_auth_secret() {
    let srv = start(true).await;
    let ann = srv.user("ann").await;
    // -W: the client derives `expiry:user` and its password from the secret itself,
    // exactly as with coturn's use-auth-secret.
    let out = uclient(&srv, &["-y", "-u", &ann.id.to_string(), "-W", SECRET]).await;
    assert!(out.status.success(), "the REST scheme as coturn's tools compute it must work:\n{}", text(&out));
}

#[tokio::test]
async fn a_peer_in_a_denied_range_is_refused() {
    let srv = start(false).await;
    let ann = srv.user("ann").await;
    let turn = turn_entry(&srv, &ann).await;
    let (user, pass) = (turn.username.expect("username"), turn.credential.expect("credential"));
    let out = uclient(&srv, &["-e", "127.0.0.1", "-r", "9", "-u", &user, "-w", &pass]).await;
    let log = text(&out);
    assert!(!out.status.success(), "relaying to loopback must be refused:\n{log}");
    assert!(log.contains("403"), "the refusal is a 403 Forbidden:\n{log}");
    let m = metrics(&srv).await;
    assert!(
        metric(&m, "cromulent_turn_refusals_total{reason=\"peer_denied\",range=\"loopback\"}") >= 1,
        "{m}"
    );
    assert_eq!(metric(&m, "cromulent_turn_relayed_bytes_total{direction=\"to_peer\"}"), 0, "{m}");
}

#[tokio::test]
async fn a_relay_to_the_servers_own_listeners_is_refused() {
    // Loopback peers allowed (as in every test here): only the own-host rule can refuse.
    let srv = TestServer::start_with(Database::Sqlite, |c| {
        local_turn(c, true);
        // As in production, PORT names the HTTP listener (here the harness's own).
        let url = c.public_url.clone().expect("the harness sets PUBLIC_URL");
        c.port = url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port in PUBLIC_URL");
    })
    .await;
    let ann = srv.user("ann").await;
    let http_port = srv.url("").rsplit(':').next().expect("port").to_owned();
    let turn_port = turn_port(&srv).to_string();
    for (port, what) in
        [(http_port.as_str(), "the HTTP API"), (turn_port.as_str(), "the TURN listener itself")]
    {
        let out =
            uclient(&srv, &["-c", "-e", "127.0.0.1", "-r", port, "-u", &ann.id.to_string(), "-W", SECRET])
                .await;
        let log = text(&out);
        assert!(!out.status.success(), "relaying to {what} on 127.0.0.1:{port} must be refused:\n{log}");
        assert!(log.contains("403"), "the refusal is a 403 Forbidden:\n{log}");
    }
    let m = metrics(&srv).await;
    assert!(
        metric(&m, "cromulent_turn_refusals_total{reason=\"peer_denied\",range=\"own_host\"}") >= 2,
        "both refusals are counted as the server's own address:\n{m}"
    );
    assert_eq!(
        metric(&m, "cromulent_turn_relayed_bytes_total{direction=\"to_peer\"}"),
        0,
        "nothing sent:\n{m}"
    );

    // The control: the same client and settings reach another loopback port.
    let echo = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("echo socket");
    let echo_port = echo.local_addr().expect("addr").port().to_string();
    let echoing = tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = echo.recv_from(&mut buf).await {
            let _ = echo.send_to(&buf[..n], from).await;
        }
    });
    let out =
        uclient(&srv, &["-c", "-e", "127.0.0.1", "-r", &echo_port, "-u", &ann.id.to_string(), "-W", SECRET])
            .await;
    echoing.abort();
    let log = text(&out);
    assert!(out.status.success(), "a loopback peer that is not the server's listener is relayed:\n{log}");
    assert!(
        log.contains("tot_send_msgs=5, tot_recv_msgs=5"),
        "every message came back from the echo:\n{log}"
    );
}

#[tokio::test]
async fn relay_only_participants_reach_the_servers_own_sfu_through_the_relay() {
    // Loopback peers refused: only the SFU's own exemption lets these through.
    let srv = start(false).await;
    let ann = srv.user("ann").await;
    let sfu = srv.state.gateway.hub.sfu().advertised();
    let username = format!("{}:{}", now_secs() + 600, ann.id);
    let mut client = TurnClient::connect(turn_port(&srv), &username).await;
    let reply = client.allocate().await;
    assert_eq!(reply.typ.class, CLASS_SUCCESS_RESPONSE, "allocates: {}", error_of(&reply));
    let reply = client.create_permission(sfu).await;
    assert_eq!(reply.typ.class, CLASS_SUCCESS_RESPONSE, "a permission for the SFU: {}", error_of(&reply));
    let reply = client.channel_bind(0x4000, sfu).await;
    assert_eq!(reply.typ.class, CLASS_SUCCESS_RESPONSE, "a channel to the SFU: {}", error_of(&reply));
    let neighbour = SocketAddr::new(sfu.ip(), sfu.port().wrapping_add(1));
    let reply = client.channel_bind(0x4001, neighbour).await;
    assert_eq!(error_of(&reply), "403", "the exemption is the SFU's port alone");
}

#[tokio::test]
async fn an_expired_credential_cannot_refresh_or_extend_its_allocation() {
    let srv = start(true).await;
    let ann = srv.user("ann").await;
    let expires_at = now_secs() + 2;
    let username = format!("{expires_at}:{}", ann.id);
    let mut client = TurnClient::connect(turn_port(&srv), &username).await;
    let peer = |port: u16| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);

    let reply = client.allocate().await;
    assert_eq!(reply.typ.class, CLASS_SUCCESS_RESPONSE, "fresh credentials allocate: {}", error_of(&reply));
    let reply = client.refresh(Duration::from_secs(600)).await;
    assert_eq!(reply.typ.class, CLASS_SUCCESS_RESPONSE, "and refresh: {}", error_of(&reply));
    let reply = client.create_permission(peer(9)).await;
    assert_eq!(reply.typ.class, CLASS_SUCCESS_RESPONSE, "and add permissions: {}", error_of(&reply));

    while now_secs() <= expires_at {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reply = client.refresh(Duration::from_secs(600)).await;
    assert_eq!(error_of(&reply), "400", "an expired name must not keep the allocation alive");
    let reply = client.create_permission(peer(10)).await;
    assert_eq!(error_of(&reply), "400", "nor add a permission to it");
    let reply = client.channel_bind(0x4001, peer(11)).await;
    assert_eq!(error_of(&reply), "400", "nor bind a channel on it");
    let m = metrics(&srv).await;
    assert!(metric(&m, "cromulent_turn_refusals_total{reason=\"expired\"}") >= 3, "{m}");

    // Giving the allocation up still works, so its port and quota slot are freed now.
    let reply = client.refresh(Duration::ZERO).await;
    assert_eq!(reply.typ.class, CLASS_SUCCESS_RESPONSE, "a release is accepted: {}", error_of(&reply));
}

/// A TURN client speaking the protocol message by message (the `stun` and `turn` crates'
/// message types), so each request's answer can be checked.
struct TurnClient {
    socket: tokio::net::UdpSocket,
    username: String,
    password: String,
    realm: String,
    nonce: String,
}

impl TurnClient {
    async fn connect(port: u16, username: &str) -> Self {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("client socket");
        socket.connect(("127.0.0.1", port)).await.expect("the TURN server on loopback");
        let password = rest_password(username);
        let mut client = TurnClient {
            socket,
            username: username.into(),
            password,
            realm: String::new(),
            nonce: String::new(),
        };
        // The first Allocate is unauthenticated: the 401 names the realm and a nonce.
        let challenge = client
            .exchange(METHOD_ALLOCATE, vec![Box::new(RequestedTransport { protocol: PROTO_UDP })], false)
            .await;
        assert_eq!(error_of(&challenge), "401", "an unauthenticated Allocate is challenged");
        let text = |attr| {
            let mut t = TextAttribute::new(attr, String::new());
            t.get_from(&challenge).expect("the challenge carries realm and nonce");
            t.text
        };
        client.realm = text(ATTR_REALM);
        client.nonce = text(ATTR_NONCE);
        client
    }

    async fn allocate(&mut self) -> Message {
        self.exchange(METHOD_ALLOCATE, vec![Box::new(RequestedTransport { protocol: PROTO_UDP })], true).await
    }

    async fn refresh(&mut self, lifetime: Duration) -> Message {
        self.exchange(METHOD_REFRESH, vec![Box::new(Lifetime(lifetime))], true).await
    }

    async fn create_permission(&mut self, peer: SocketAddr) -> Message {
        self.exchange(
            METHOD_CREATE_PERMISSION,
            vec![Box::new(PeerAddress { ip: peer.ip(), port: peer.port() })],
            true,
        )
        .await
    }

    async fn channel_bind(&mut self, channel: u16, peer: SocketAddr) -> Message {
        let attrs: Vec<Box<dyn Setter>> = vec![
            Box::new(ChannelNumber(channel)),
            Box::new(PeerAddress { ip: peer.ip(), port: peer.port() }),
        ];
        self.exchange(METHOD_CHANNEL_BIND, attrs, true).await
    }

    /// Sends one request (signed with the long-term credential when `signed`) and returns
    /// the answer with the same transaction id.
    async fn exchange(&mut self, method: StunMethod, attrs: Vec<Box<dyn Setter>>, signed: bool) -> Message {
        let id = TransactionId::new();
        let mut setters: Vec<Box<dyn Setter>> =
            vec![Box::new(id), Box::new(MessageType::new(method, CLASS_REQUEST))];
        setters.extend(attrs);
        if signed {
            setters.push(Box::new(TextAttribute::new(ATTR_USERNAME, self.username.clone())));
            setters.push(Box::new(TextAttribute::new(ATTR_REALM, self.realm.clone())));
            setters.push(Box::new(TextAttribute::new(ATTR_NONCE, self.nonce.clone())));
            setters.push(Box::new(MessageIntegrity::new_long_term_integrity(
                self.username.clone(),
                self.realm.clone(),
                self.password.clone(),
            )));
        }
        let mut request = Message::new();
        request.build(&setters).expect("a valid request");
        let mut buf = vec![0u8; 1500];
        // UDP on loopback rarely loses a datagram, but a retry costs nothing.
        for _ in 0..5 {
            self.socket.send(&request.raw).await.expect("send to the TURN server");
            let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
            while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, self.socket.recv(&mut buf)).await {
                let mut reply = Message::new();
                if reply.unmarshal_binary(&buf[..n]).is_ok() && reply.transaction_id == id {
                    return reply;
                }
            }
        }
        panic!("no answer to {method} from the TURN server");
    }
}

/// The error code of an error response, or what the message is instead.
fn error_of(m: &Message) -> String {
    let mut code = ErrorCodeAttribute::default();
    match code.get_from(m) {
        Ok(()) => code.code.0.to_string(),
        Err(_) => format!("no error ({})", m.typ),
    }
}

#[tokio::test]
async fn allocations_past_the_user_quota_are_refused() {
    let srv = TestServer::start_with(Database::Sqlite, |c| {
        local_turn(c, true);
        c.turn.turn_user_quota = 1;
    })
    .await;
    let ann = srv.user("ann").await;
    // -y needs two allocations for the same user.
    let out = uclient(&srv, &["-y", "-u", &ann.id.to_string(), "-W", SECRET]).await;
    let log = text(&out);
    assert!(!out.status.success(), "a second live allocation is over the quota:\n{log}");
    assert!(log.contains("486"), "the refusal is 486 Allocation Quota Reached:\n{log}");
    let m = metrics(&srv).await;
    assert!(metric(&m, "cromulent_turn_refusals_total{reason=\"user_quota\"}") >= 1, "{m}");
}

#[tokio::test]
async fn the_turn_flag_switches_the_relay() {
    let srv = start(true).await;
    let ann = srv.user("ann").await;
    let id = ann.id.to_string();
    srv.patch("/api/admin/feature_flags", &ann, json!({"turn": false})).await.ok::<serde_json::Value>();
    wait_until(|| !srv.state.turn.is_accepting()).await;
    let out = uclient(&srv, &["-y", "-u", &id, "-W", SECRET]).await;
    assert!(!out.status.success(), "no new allocations with the flag off:\n{}", text(&out));
    assert!(text(&out).contains("403"), "refused as forbidden:\n{}", text(&out));
    let m = metrics(&srv).await;
    assert!(metric(&m, "cromulent_turn_refusals_total{reason=\"disabled\"}") >= 1, "{m}");

    srv.patch("/api/admin/feature_flags", &ann, json!({"turn": true})).await.ok::<serde_json::Value>();
    wait_until(|| srv.state.turn.is_accepting()).await;
    let out = uclient(&srv, &["-y", "-u", &id, "-W", SECRET]).await;
    assert!(out.status.success(), "allocations again with the flag back on:\n{}", text(&out));
}

/// The relay rereads the flag every few seconds.
async fn wait_until(cond: impl Fn() -> bool) {
    for _ in 0..100 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the relay did not follow the turn flag within 10 s");
}

#[tokio::test]
async fn ice_server_credentials_follow_the_turn_rest_scheme() {
    let srv = start(false).await;
    let ann = srv.user("ann").await;
    let reply = srv.anonymous(Method::GET, "/api/voice/ice-servers", None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "credentials only for signed-in users");

    let reply: IceServersResponse = srv.get("/api/voice/ice-servers", &ann).await.ok();
    let port = turn_port(&srv);
    let stun = reply.ice_servers.iter().find(|s| s.username.is_none()).expect("a STUN entry");
    assert!(stun.urls.contains(&format!("stun:127.0.0.1:{port}")), "our STUN: {stun:?}");
    // From the same answer: `expires_at` belongs to these credentials.
    let turn = reply.ice_servers.iter().find(|s| s.username.is_some()).expect("a TURN entry").clone();
    let tcp_port = srv.state.turn.local_tcp_addr().expect("TURN over TCP runs by default").port();
    assert_eq!(
        turn.urls,
        vec![
            format!("turn:127.0.0.1:{port}?transport=udp"),
            format!("turn:127.0.0.1:{tcp_port}?transport=tcp")
        ]
    );
    let username = turn.username.expect("username");
    let (expiry, user) = username.split_once(':').expect("expiry:user_id");
    assert_eq!(user, ann.id.to_string(), "the user is named in the credential");
    let expiry: u64 = expiry.parse().expect("Unix seconds");
    let lifetime = expiry.abs_diff(now_secs() + 86_400);
    assert!(lifetime <= 5, "a day by default, got {expiry} at {}", now_secs());
    assert_eq!(turn.credential.expect("credential"), rest_password(&username), "base64 HMAC-SHA1");
    assert_eq!(reply.expires_at, i64::try_from(expiry).expect("fits") * 1000);
    assert_eq!(reply.ice_transport_policy, IceTransportPolicy::All, "no relay-only chosen");

    // An external coturn instead: its URLs, the same credentials.
    let srv = TestServer::start_with(Database::Sqlite, |c| {
        local_turn(c, false);
        c.turn.turn_urls = vec!["turn:turn.example.test:3478?transport=udp".into()];
        c.turn.turn_ttl_secs = 600;
    })
    .await;
    let bob = srv.user("bob").await;
    let turn = turn_entry(&srv, &bob).await;
    assert_eq!(turn.urls, vec!["turn:turn.example.test:3478?transport=udp".to_owned()]);
    let username = turn.username.expect("username");
    assert_eq!(turn.credential.expect("credential"), rest_password(&username));
    let expiry: u64 = username.split_once(':').expect("expiry").0.parse().expect("secs");
    assert!(expiry.abs_diff(now_secs() + 600) <= 5, "TURN_TTL_SECS sets the lifetime");

    // TURN switched off by the feature flag: STUN only.
    srv.patch("/api/admin/feature_flags", &bob, json!({"turn": false})).await.ok::<serde_json::Value>();
    let reply: IceServersResponse = srv.get("/api/voice/ice-servers", &bob).await.ok();
    assert!(reply.ice_servers.iter().all(|s| s.username.is_none()), "no TURN when the flag is off");
}

crate::db_test! {
    async fn relay_only_mode_reaches_voice_joined(srv) {
        let ann = srv.user("ann").await; // admin
        let bob = srv.user("bob").await;
        let cy = srv.user("cy").await;
        let prefs = srv.patch("/api/voice/preferences", &bob, json!({"relay_only": true})).await;
        assert_eq!(prefs.body, json!({"relay_only": true, "forced_by_admin": false}));

        assert_eq!(joined_policy(&srv, &bob).await, IceTransportPolicy::Relay, "bob chose relay-only");
        assert_eq!(joined_policy(&srv, &cy).await, IceTransportPolicy::All, "cy did not");

        let refused = srv.patch("/api/admin/voice/settings", &cy, json!({"force_relay": true})).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "only admins force relay");
        let set = srv.patch("/api/admin/voice/settings", &ann, json!({"force_relay": true})).await;
        assert_eq!(set.body, json!({"force_relay": true}));
        assert_eq!(joined_policy(&srv, &cy).await, IceTransportPolicy::Relay, "forced for everyone");
        let prefs = srv.get("/api/voice/preferences", &cy).await;
        assert_eq!(prefs.body, json!({"relay_only": false, "forced_by_admin": true}));
        let ice: IceServersResponse = srv.get("/api/voice/ice-servers", &cy).await.ok();
        assert_eq!(ice.ice_transport_policy, IceTransportPolicy::Relay, "the REST answer agrees");
    }
}

/// Joins `voice-main` on a fresh connection and returns the policy in `voice_joined`.
async fn joined_policy(srv: &TestServer, user: &TestUser) -> IceTransportPolicy {
    let mut gw = srv.connect(user).await;
    let voice = channel_id(&gw, "voice-main");
    gw.send(ClientFrame::VoiceJoin { channel_id: voice }).await;
    match gw.wait_for_control(|f| matches!(f, ControlFrame::VoiceJoined { .. }), WAIT).await {
        ControlFrame::VoiceJoined { ice_transport_policy, ice_servers, .. } => {
            assert!(
                ice_servers.iter().any(|s| s.username.is_some()),
                "voice_joined carries TURN credentials: {ice_servers:?}"
            );
            ice_transport_policy
        }
        other => panic!("expected voice_joined, got {other:?}"),
    }
}

#[tokio::test]
async fn the_self_test_allocates_relays_and_checks_the_peer_filter() {
    let srv = start(false).await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let refused = srv.post("/api/admin/voice/self-test", &bob, json!({})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "members may not run it");
    let reply = srv.call(Method::POST, "/api/admin/voice/self-test", None, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    let report: SelfTestReport = srv.post("/api/admin/voice/self-test", &ann, json!({})).await.ok();
    assert!(report.ok, "every step must pass on a healthy server: {report:#?}");
    assert!(report.stun_binding.detail.contains("127.0.0.1"), "{report:#?}");
    assert!(report.allocation.detail.contains("127.0.0.1"), "relayed on the public address: {report:#?}");
    assert!(report.peer_filter.detail.contains("403"), "loopback refused: {report:#?}");
    assert!(report.tcp_allocation.detail.contains("via tcp"), "allocated over TCP too: {report:#?}");
    let m = metrics(&srv).await;
    assert!(metric(&m, "cromulent_turn_allocations_total") >= 1, "{m}");
    assert!(metric(&m, "cromulent_turn_binding_requests_total") >= 1, "{m}");
    assert!(metric(&m, "cromulent_turn_relayed_bytes_total{direction=\"from_peer\"}") > 0, "{m}");

    // With TURN off there is nothing to test, and the report says so.
    let off = TestServer::start_with(Database::Sqlite, |c| c.turn.turn_enabled = false).await;
    let admin = off.user("ann").await;
    let report: SelfTestReport = off.post("/api/admin/voice/self-test", &admin, json!({})).await.ok();
    assert!(!report.ok && report.allocation.detail.contains("TURN_ENABLED"), "{report:#?}");
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}
