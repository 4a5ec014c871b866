//! The real-time gateway: session lifecycle, delivery to the right sessions only,
//! presence, typing, voice signaling, resume, bad frames and back-pressure.

use std::time::Duration;

use cromulent_protocol::channel::{Channel, ChannelKind, WritePermission};
use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::{close_code, ClientFrame, ControlFrame, PresenceStatus, ServerFrame};
use cromulent_protocol::{ErrorCode, Id};
use futures_util::SinkExt;
use reqwest::Method;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::gateway_client::{close_code as read_close, next_frame, open, send, Gw, WAIT};
use crate::harness::{Database, TestServer};

const QUIET: Duration = Duration::from_millis(400);

/// A channel made straight in the database, for tests that need one before the
/// channels API is involved.
pub async fn make_channel(
    srv: &TestServer,
    name: &str,
    kind: ChannelKind,
    private: bool,
    members: &[Id],
) -> Id {
    let id = srv.state.ids.next();
    let channel = Channel {
        id,
        name: name.into(),
        kind,
        topic: None,
        is_default: false,
        is_private: private,
        write_permission: WritePermission::Everyone,
        voice_mode: None,
        created_at: 0,
    };
    let pool = srv.state.db.pool();
    cromulent_server::store::channels::insert(pool, &channel).await.expect("insert channel");
    for member in members {
        cromulent_server::store::memberships::add(pool, id, *member, 0).await.expect("add member");
    }
    id
}

pub fn channel_id(gw: &Gw, name: &str) -> Id {
    let ready = gw.ready.as_ref().expect("ready");
    ready.channels.iter().find(|c| c.channel.name == name).unwrap_or_else(|| panic!("no {name}")).channel.id
}

#[tokio::test]
async fn ready_describes_the_server_for_this_user() {
    let srv = TestServer::start(Database::Sqlite).await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let hidden = make_channel(&srv, "secret", ChannelKind::Text, true, &[ann.id]).await;
    let gw = srv.connect(&bob).await;
    let ready = gw.ready.as_ref().expect("ready");
    assert_eq!(ready.user.user.id, bob.id, "ready names the identified user");
    let names: Vec<&str> = ready.channels.iter().map(|c| c.channel.name.as_str()).collect();
    for name in ["general", "random", "voice-main"] {
        assert!(names.contains(&name), "default channel {name} is listed: {names:?}");
    }
    assert!(
        ready.channels.iter().all(|c| c.channel.id != hidden),
        "a private channel bob is not in is hidden"
    );
    assert_eq!(ready.users.len(), 2, "both users are known for names and mentions");
    assert!(ready.feature_flags.voice);
}

#[tokio::test]
async fn presence_follows_sessions_and_status() {
    let srv = TestServer::start_with(Database::Sqlite, |c| c.gateway_heartbeat_ms = 400).await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let mut a = srv.connect(&ann).await;
    let mut b = srv.connect(&bob).await;
    let is_bob = |status: PresenceStatus| move |e: &Event| matches!(e, Event::PresenceUpdate { user_id, status: s } if *user_id == bob.id && *s == status);
    a.wait_for_event(is_bob(PresenceStatus::Online), WAIT).await;
    b.send(ClientFrame::SetPresence { status: PresenceStatus::Idle }).await;
    a.wait_for_event(is_bob(PresenceStatus::Idle), WAIT).await;
    b.send(ClientFrame::SetPresence { status: PresenceStatus::Offline }).await;
    assert_eq!(b.expect_error("set_presence").await, ErrorCode::ValidationFailed);

    // A second session online lifts bob back up; when both are gone he is offline.
    let b2 = srv.connect(&bob).await;
    a.wait_for_event(is_bob(PresenceStatus::Online), WAIT).await;
    b.kill();
    b2.kill();
    a.wait_for_event(is_bob(PresenceStatus::Offline), WAIT).await;
}

#[tokio::test]
async fn typing_reaches_only_those_who_may_see_the_channel() {
    let srv = TestServer::start(Database::Sqlite).await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let carol = srv.user("carol").await;
    let private = make_channel(&srv, "private", ChannelKind::Text, true, &[bob.id, carol.id]).await;
    let mut a = srv.connect(&ann).await;
    let mut b = srv.connect(&bob).await;
    let mut c = srv.connect(&carol).await;
    let general = channel_id(&a, "general");
    let typing_in = |channel: Id| move |e: &Event| matches!(e, Event::TypingStart { channel_id, .. } if *channel_id == channel);

    b.send(ClientFrame::TypingStart { channel_id: general }).await;
    match a.wait_for_event(typing_in(general), WAIT).await {
        Event::TypingStart { user_id, expires_at, .. } => {
            assert_eq!(user_id, bob.id);
            assert!(expires_at > 0, "the indicator expires by itself");
        }
        _ => unreachable!(),
    }
    b.send(ClientFrame::TypingStart { channel_id: private }).await;
    c.wait_for_event(typing_in(private), WAIT).await;
    b.expect_no_event(typing_in(general), QUIET).await;
    b.expect_no_event(typing_in(private), Duration::ZERO).await;
    // ann is not a member of the private channel: not an admin? ann is the first user,
    // so an admin, and admins see every channel.
    a.wait_for_event(typing_in(private), WAIT).await;

    let dave = srv.user("dave").await;
    let mut d = srv.connect(&dave).await;
    d.send(ClientFrame::TypingStart { channel_id: private }).await;
    assert_eq!(d.expect_error("typing_start").await, ErrorCode::NotFound, "outsiders cannot type there");
    d.send(ClientFrame::TypingStart { channel_id: Id(42) }).await;
    assert_eq!(d.expect_error("typing_start").await, ErrorCode::NotFound);
    b.send(ClientFrame::TypingStart { channel_id: general }).await;
    d.wait_for_event(typing_in(general), WAIT).await;
    d.expect_no_event(typing_in(private), QUIET).await;
}

#[tokio::test]
async fn a_dropped_client_resumes_with_every_missed_event_in_order() {
    let srv = TestServer::start_with(Database::Sqlite, |c| c.gateway_replay_events = 20).await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let mut a = srv.connect(&ann).await;
    let mut b = srv.connect(&bob).await;
    let general = channel_id(&a, "general");
    let random = channel_id(&a, "random");
    a.wait_for_event(|e| matches!(e, Event::PresenceUpdate { user_id, .. } if *user_id == bob.id), WAIT)
        .await;
    let (session_id, last_seq) = (a.session_id, a.last_seq);
    a.kill();

    // While ann is gone, bob types in two channels, alternating, five times.
    for i in 0..5 {
        let channel = if i % 2 == 0 { general } else { random };
        b.send(ClientFrame::TypingStart { channel_id: channel }).await;
    }
    b.settle(QUIET).await;

    let mut ws = open(&srv, None).await.expect("reconnects");
    next_frame(&mut ws, WAIT).await.expect("hello");
    send(&mut ws, &ClientFrame::Resume { token: Some(ann.access_token.clone()), session_id, last_seq }).await;
    let mut replayed = Vec::new();
    loop {
        match next_frame(&mut ws, WAIT).await.expect("frames until resumed") {
            ServerFrame::Event(frame) => replayed.push(frame),
            ServerFrame::Control(ControlFrame::Resumed { last_seq: resumed_at }) => {
                assert_eq!(resumed_at, replayed.last().map_or(last_seq, |f| f.seq));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let seqs: Vec<u64> = replayed.iter().map(|f| f.seq).collect();
    let expected: Vec<u64> = (last_seq + 1..=last_seq + 5).collect();
    assert_eq!(seqs, expected, "exactly the missed events, once each, in order");
    let channels: Vec<Id> = replayed
        .iter()
        .map(|f| match &f.event {
            Event::TypingStart { channel_id, .. } => *channel_id,
            other => panic!("only typing happened: {other:?}"),
        })
        .collect();
    assert_eq!(channels, vec![general, random, general, random, general], "in the order they happened");

    // Live events continue after the replay, numbered on.
    b.send(ClientFrame::TypingStart { channel_id: general }).await;
    match next_frame(&mut ws, WAIT).await {
        Some(ServerFrame::Event(frame)) => assert_eq!(frame.seq, last_seq + 6, "no gap after the replay"),
        other => panic!("expected the live event, got {other:?}"),
    }
}

#[tokio::test]
async fn resuming_past_the_buffer_or_someone_elses_session_is_refused() {
    let srv = TestServer::start_with(Database::Sqlite, |c| c.gateway_replay_events = 3).await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let a = srv.connect(&ann).await;
    let mut b = srv.connect(&bob).await;
    let general = channel_id(&b, "general");
    let session_id = a.session_id;
    a.kill();
    for _ in 0..6 {
        b.send(ClientFrame::TypingStart { channel_id: general }).await;
    }
    b.settle(QUIET).await;

    let mut ws = open(&srv, None).await.expect("reconnects");
    next_frame(&mut ws, WAIT).await.expect("hello");
    send(&mut ws, &ClientFrame::Resume { token: Some(ann.access_token.clone()), session_id, last_seq: 0 })
        .await;
    let answer = next_frame(&mut ws, WAIT).await;
    assert_eq!(answer, Some(ServerFrame::Control(ControlFrame::InvalidSession)), "the gap cannot be filled");
    // Bob may not take over ann's session either.
    send(&mut ws, &ClientFrame::Resume { token: Some(bob.access_token.clone()), session_id, last_seq: 100 })
        .await;
    assert_eq!(next_frame(&mut ws, WAIT).await, Some(ServerFrame::Control(ControlFrame::InvalidSession)));
    // The same connection can identify afresh.
    send(&mut ws, &ClientFrame::Identify { token: Some(ann.access_token.clone()), protocol_version: 1 })
        .await;
    assert!(matches!(
        next_frame(&mut ws, WAIT).await,
        Some(ServerFrame::Control(ControlFrame::Ready { .. }))
    ));
}

async fn refused_with(srv: &TestServer, first: Message) -> Option<u16> {
    let mut ws = open(srv, None).await.expect("connects");
    next_frame(&mut ws, WAIT).await.expect("hello");
    ws.send(first).await.expect("send");
    read_close(&mut ws, WAIT).await
}

#[tokio::test]
async fn bad_frames_close_with_typed_codes_and_the_server_stays_healthy() {
    let srv = TestServer::start(Database::Sqlite).await;
    let ann = srv.user("ann").await;
    let text = |s: &str| Message::Text(s.to_owned().into());
    assert_eq!(refused_with(&srv, text("{not json")).await, Some(close_code::DECODE_ERROR));
    assert_eq!(refused_with(&srv, text(r#"{"type":"launch"}"#)).await, Some(close_code::DECODE_ERROR));
    assert_eq!(
        refused_with(&srv, Message::Binary(vec![1, 2, 3].into())).await,
        Some(close_code::DECODE_ERROR)
    );
    assert_eq!(
        refused_with(&srv, text(r#"{"type":"typing_start","channel_id":"1"}"#)).await,
        Some(close_code::NOT_AUTHENTICATED)
    );
    assert_eq!(
        refused_with(&srv, text(r#"{"type":"identify","token":"forged"}"#)).await,
        Some(close_code::AUTHENTICATION_FAILED)
    );
    let old = format!(r#"{{"type":"identify","token":"{}","protocol_version":99}}"#, ann.access_token);
    assert_eq!(refused_with(&srv, text(&old)).await, Some(close_code::UNSUPPORTED_VERSION));

    let mut gw = srv.connect(&ann).await;
    gw.send(ClientFrame::Identify { token: Some(ann.access_token.clone()), protocol_version: 1 }).await;
    assert_eq!(gw.close_code().await, Some(close_code::ALREADY_AUTHENTICATED));

    let mut gw = srv.connect(&ann).await;
    let huge = format!(r#"{{"type":"typing_start","channel_id":"{}"}}"#, "9".repeat(20 * 1024));
    gw.ws.send(text(&huge)).await.expect("send");
    assert_eq!(gw.close_code().await, Some(close_code::FRAME_TOO_LARGE), "frames over 16 KiB are refused");

    let gw = srv.connect(&ann).await;
    assert!(gw.ready.is_some(), "after all that, the server still serves");
    let health = srv.anonymous(Method::GET, "/healthz", None).await;
    assert!(health.status.is_success());
}

#[tokio::test]
async fn commands_over_the_rate_limit_close_the_connection() {
    let srv = TestServer::start(Database::Sqlite).await;
    let ann = srv.user("ann").await;
    let mut gw = srv.connect(&ann).await;
    for _ in 0..130 {
        let beat = serde_json::to_string(&ClientFrame::Heartbeat).expect("json");
        if gw.ws.send(Message::Text(beat.into())).await.is_err() {
            break;
        }
    }
    assert_eq!(gw.close_code().await, Some(close_code::RATE_LIMITED), "120 commands a minute at most");
}

#[tokio::test]
async fn cross_site_pages_cannot_open_the_gateway() {
    let srv = TestServer::start(Database::Sqlite).await;
    assert!(
        open(&srv, Some("https://evil.example")).await.is_err(),
        "a foreign origin is refused at the upgrade"
    );
    assert!(open(&srv, Some(&srv.base)).await.is_ok(), "our own origin is welcome");
    assert!(open(&srv, Some("tauri://localhost")).await.is_ok(), "so is the desktop app");
    assert!(open(&srv, None).await.is_ok(), "native clients send no origin");
}

#[tokio::test]
async fn ending_a_login_closes_its_gateway_sessions() {
    let srv = TestServer::start(Database::Sqlite).await;
    let ann = srv.user("ann").await;
    let other = srv.login(&ann.email, ann.id, "ann").await;
    let mut gw = srv.connect(&ann).await;
    let mut gw_other = srv.connect(&other).await;
    srv.anonymous(Method::POST, "/api/auth/logout", Some(json!({"refresh_token": ann.refresh_token}))).await;
    assert_eq!(
        gw.close_code().await,
        Some(close_code::SESSION_REVOKED),
        "a logged-out login loses its socket"
    );
    gw_other.expect_no_event(|_| false, QUIET).await;
    let mut again = srv.connect(&other).await;
    let changed = srv
        .post(
            "/api/users/me/password",
            &other,
            json!({"current_password": crate::harness::PASSWORD, "new_password": "another long password"}),
        )
        .await;
    assert!(changed.status.is_success(), "{}", changed.body);
    again.expect_no_event(|_| false, QUIET).await;
    assert!(again.ready.is_some(), "the login that changed the password keeps its socket");
}

#[tokio::test]
async fn a_consumer_that_stops_reading_is_cut_loose_without_hurting_others() {
    let srv = TestServer::start(Database::Sqlite).await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let mut stuck = srv.connect(&ann).await;
    let mut reader = srv.connect(&bob).await;
    let payload = "x".repeat(2000);
    let total = 4000;
    let flood = {
        let bus = srv.state.bus.clone();
        tokio::spawn(async move {
            for i in 0..total {
                // A steady stream a healthy client keeps up with; only the stuck one
                // falls behind.
                if i % 50 == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                bus.publish(cromulent_server::bus::BusMessage::Event(cromulent_server::bus::Envelope {
                    audience: cromulent_server::bus::Audience::Everyone,
                    event: Event::UserUpdate { user: big_user(&payload, i) },
                    skip_user: None,
                }))
                .await;
            }
        })
    };
    let mut received = 0;
    while received < total {
        match reader.next(WAIT).await {
            Some(ServerFrame::Event(frame)) if matches!(frame.event, Event::UserUpdate { .. }) => {
                received += 1
            }
            Some(_) => {}
            None => panic!("the reading client stalled after {received} events"),
        }
    }
    flood.await.expect("flood");
    // The stuck client's queue filled: it is told to resume elsewhere.
    let mut code = None;
    while let Some(frame) =
        tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut stuck.ws)).await.ok().flatten()
    {
        if let Ok(Message::Close(Some(f))) = frame {
            code = Some(u16::from(f.code));
            break;
        }
    }
    assert_eq!(code, Some(close_code::SLOW_CONSUMER), "a consumer that stops reading is disconnected");
}

fn big_user(filler: &str, i: i64) -> cromulent_protocol::user::User {
    cromulent_protocol::user::User {
        id: Id(i),
        username: format!("flood{i}"),
        display_name: Some(filler.to_owned()),
        avatar_url: None,
        role: cromulent_protocol::user::Role::Member,
        created_at: 0,
        deleted_at: None,
    }
}
