//! Gateway caps beyond the node's: sessions per user, sockets per address, and how
//! long a socket may stay unidentified.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use cromulent_protocol::gateway::{close_code, ClientFrame, ControlFrame, ServerFrame};
use cromulent_protocol::{ApiError, ErrorCode};
use futures_util::SinkExt;
use reqwest::StatusCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::db_test;
use crate::gateway_client::{close_code as read_close, next_frame, open, send, Ws, WAIT};
use crate::harness::{Database, TestServer, TestUser};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Polls `done` until it holds; the server releases a slot when the socket's task ends,
/// a moment after the client's close.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "{what} did not happen within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Opens a socket, reads hello and sends `first`; returns the socket for what follows.
async fn handshake(srv: &TestServer, first: &ClientFrame) -> Ws {
    let mut ws = open(srv, None).await.expect("the upgrade is accepted");
    match next_frame(&mut ws, WAIT).await {
        Some(ServerFrame::Control(ControlFrame::Hello { .. })) => {}
        other => panic!("the server speaks first, with hello; got {other:?}"),
    }
    send(&mut ws, first).await;
    ws
}

/// The harness's server again, on the same kind of database, with a cap of 2.
async fn with_two_sessions_per_user(default: TestServer) -> TestServer {
    let database = default.database;
    drop(default);
    TestServer::start_with(database, |c| c.gateway_max_connections_per_user = 2).await
}

fn identify(user: &TestUser) -> ClientFrame {
    ClientFrame::Identify { token: Some(user.access_token.clone()), protocol_version: 1 }
}

db_test! {
    async fn a_user_over_the_session_cap_is_refused_until_one_closes(srv) {
        let srv = with_two_sessions_per_user(srv).await;
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let first = srv.connect(&ann).await;
        let _second = srv.connect(&ann).await;

        let mut third = handshake(&srv, &identify(&ann)).await;
        assert_eq!(
            read_close(&mut third, WAIT).await,
            Some(close_code::TOO_MANY_SESSIONS),
            "ann already has her 2 sessions open"
        );
        assert_eq!(srv.state.gateway.limits.sessions_of(ann.id), 2, "a refused identify takes no place");
        let _bob = srv.connect(&bob).await;

        let mut first = first;
        first.ws.close(None).await.expect("the client closes its first session");
        eventually("ann's first session releasing its place", || {
            srv.state.gateway.limits.sessions_of(ann.id) == 1
        })
        .await;
        let replacement = srv.connect(&ann).await;
        assert!(replacement.ready.is_some(), "the freed place is taken by a new session");
    }
}

db_test! {
    async fn a_resumed_session_is_counted_once(srv) {
        let srv = with_two_sessions_per_user(srv).await;
        let ann = srv.user("ann").await;
        let old = srv.connect(&ann).await;
        let _other = srv.connect(&ann).await;
        let session_id = old.session_id;

        // The old socket is still open (as after a network loss the server has not yet
        // noticed), so the resume holds the same session a second time.
        let resume = ClientFrame::Resume { token: Some(ann.access_token.clone()), session_id, last_seq: 0 };
        let mut resumed = handshake(&srv, &resume).await;
        loop {
            match next_frame(&mut resumed, WAIT).await {
                Some(ServerFrame::Control(ControlFrame::Resumed { .. })) => break,
                Some(ServerFrame::Event(_)) => continue,
                other => panic!("a held session can be resumed at the cap; got {other:?}"),
            }
        }
        assert_eq!(srv.state.gateway.limits.sessions_of(ann.id), 2, "two sessions, whatever the sockets");

        let mut old = old;
        assert_eq!(old.close_code().await, Some(close_code::NORMAL), "the resume replaced the old socket");
        let mut fresh = handshake(&srv, &identify(&ann)).await;
        assert_eq!(
            read_close(&mut fresh, WAIT).await,
            Some(close_code::TOO_MANY_SESSIONS),
            "the resumed session still holds its one place"
        );

        resumed.close(None).await.expect("the client closes the resumed socket");
        eventually("the resumed session releasing its place", || {
            srv.state.gateway.limits.sessions_of(ann.id) == 1
        })
        .await;
        let _new = srv.connect(&ann).await;
    }
}

#[tokio::test]
async fn an_address_over_its_cap_gets_429_at_the_upgrade() {
    let srv = TestServer::start_with(Database::Sqlite, |c| c.gateway_max_connections_per_ip = 3).await;
    let ann = srv.user("ann").await;
    // Unidentified sockets count as much as identified ones.
    let idle = open(&srv, None).await.expect("first socket");
    let _idle2 = open(&srv, None).await.expect("second socket");
    let _ann = srv.connect(&ann).await;

    match open(&srv, None).await {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "refused before any socket exists");
            assert!(response.headers().contains_key("retry-after"), "the refusal says when to come back");
            let body = response.body().as_deref().expect("the refusal has a body");
            let error: ApiError = serde_json::from_slice(body).expect("the body is the API's error shape");
            assert_eq!(error.code, ErrorCode::RateLimited, "a typed code clients can act on");
        }
        Ok(_) => panic!("a fourth socket from 127.0.0.1 must be refused at a cap of 3"),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
    }

    let mut idle = idle;
    idle.close(None).await.expect("close one socket");
    eventually("the closed socket releasing its place", || {
        srv.state.gateway.limits.connections_from(LOOPBACK) == 2
    })
    .await;
    assert!(open(&srv, None).await.is_ok(), "the freed place is taken again");
}

#[tokio::test]
async fn a_socket_that_does_not_identify_is_closed_after_the_identify_timeout() {
    let srv = TestServer::start_with(Database::Sqlite, |c| c.gateway_identify_timeout_ms = 300).await;
    let started = tokio::time::Instant::now();
    let mut ws = open(&srv, None).await.expect("connects");
    match next_frame(&mut ws, WAIT).await {
        Some(ServerFrame::Control(ControlFrame::Hello { .. })) => {}
        other => panic!("expected hello, got {other:?}"),
    }
    // Heartbeats are answered but do not buy an unidentified socket more time.
    let beat = serde_json::to_string(&ClientFrame::Heartbeat).expect("serializes");
    let mut code = None;
    for _ in 0..50 {
        if ws.send(Message::Text(beat.clone().into())).await.is_err() {
            break;
        }
        match tokio::time::timeout(Duration::from_millis(100), read_close(&mut ws, WAIT)).await {
            Ok(closed) => {
                code = closed;
                break;
            }
            Err(_) => continue,
        }
    }
    let waited = started.elapsed();
    assert_eq!(code, Some(close_code::IDENTIFY_TIMEOUT), "an unidentified socket is closed with 4013");
    let heartbeat_timeout = Duration::from_millis(srv.state.config.gateway_heartbeat_ms * 3 / 2);
    assert!(
        waited < Duration::from_secs(3) && waited < heartbeat_timeout,
        "closed after the 300 ms identify timeout, not the heartbeat timeout: {waited:?}"
    );
    eventually("the timed-out socket releasing its address place", || {
        srv.state.gateway.limits.connections_from(LOOPBACK) == 0
    })
    .await;
}
