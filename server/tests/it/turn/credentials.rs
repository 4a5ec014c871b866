//! What the API hands out: ICE servers with TURN REST credentials, the transport policy
//! a joined participant gets, and the admin's self-test of the relay.

use super::*;

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
