//! coturn's `turnutils_uclient` through our relay: over UDP, TCP and TLS with the API's
//! credentials, and refused for wrong or expired ones, denied peers, the server's own
//! listeners, allocations past the quota and a switched-off relay.

use super::*;

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
