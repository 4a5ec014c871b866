//! The native gateway connection against a real server: identify/ready, live events,
//! resume after a cut connection with exactly the missed events, invalid session,
//! heartbeats, revocation and a refused token.

use std::time::Duration;

use cromulent_client::api::{Client, TokenSource};
use cromulent_client::gateway::{CloseReason, ConnectionState, Gateway, GatewayError, GatewayEvent};
use cromulent_e2e::{connected_user, quick_gateway_config, AdaAndBob, CutProxy, Database, TestServer};
use cromulent_protocol::gateway::{ClientFrame, ControlFrame, Event, PresenceStatus, ServerFrame};
use cromulent_protocol::{ErrorCode, Id};
use tokio::sync::broadcast::Receiver;

/// Liveness deadline for anything awaited here; never a measure of speed.
const DEADLINE: Duration = Duration::from_secs(15);

/// Waits for the first event `pick` maps to something, returning everything seen before.
async fn until<T>(
    events: &mut Receiver<GatewayEvent>,
    mut pick: impl FnMut(&GatewayEvent) -> Option<T>,
) -> (T, Vec<GatewayEvent>) {
    let mut seen = Vec::new();
    tokio::time::timeout(DEADLINE, async {
        loop {
            let event = events.recv().await.expect("the gateway keeps publishing");
            if let Some(found) = pick(&event) {
                return (found, seen);
            }
            seen.push(event);
        }
    })
    .await
    .expect("the awaited gateway event arrives before the deadline")
}

fn message_id(event: &GatewayEvent) -> Option<Id> {
    match event {
        GatewayEvent::Frame(ServerFrame::Event(frame)) => match &frame.event {
            Event::MessageCreate { message } => Some(message.id),
            _ => None,
        },
        _ => None,
    }
}

fn seq(event: &GatewayEvent) -> Option<u64> {
    match event {
        GatewayEvent::Frame(ServerFrame::Event(frame)) => Some(frame.seq),
        _ => None,
    }
}

async fn general(client: &Client) -> Id {
    let channels = client.channels().await.expect("channels");
    channels.iter().find(|c| c.channel.name == "general").expect("#general").channel.id
}

async fn resume_replays_exactly_the_missed_events(db: Database) {
    let server = TestServer::start(db).await;
    let AdaAndBob { ada, ada_client, bob_client, .. } = server.ada_and_bob().await;
    let channel = general(&bob_client).await;
    let proxy = CutProxy::start(&server.base).await;
    let gateway = Gateway::connect(quick_gateway_config(&proxy.base, &ada_client)).await.expect("connects");
    assert_eq!(gateway.ready().user.user.id, ada.id, "ready describes the identified user");
    let mut events = gateway.subscribe();

    let live = bob_client.send_message(channel, "before the cut").await.expect("send").id;
    let (_, _) = until(&mut events, |e| (message_id(e) == Some(live)).then_some(())).await;

    proxy.cut();
    until(&mut events, |e| {
        matches!(e, GatewayEvent::State(ConnectionState::Reconnecting { .. })).then_some(())
    })
    .await;
    let mut missed = Vec::new();
    for n in 0..3 {
        missed.push(bob_client.send_message(channel, &format!("missed {n}")).await.expect("send").id);
    }
    // Queued while disconnected: written after the resume.
    gateway.send(ClientFrame::SetPresence { status: PresenceStatus::Idle }).await.expect("queued");
    proxy.restore();
    let (replayed, during) = until(&mut events, |e| match e {
        GatewayEvent::State(ConnectionState::Resumed { replayed, .. }) => Some(*replayed),
        _ => None,
    })
    .await;
    let replayed_messages: Vec<Id> = during.iter().filter_map(message_id).collect();
    assert_eq!(replayed_messages, missed, "the resume replays exactly the missed messages, in order");
    assert!(replayed >= 3, "the resume reports what it replayed ({replayed})");

    let after = bob_client.send_message(channel, "after the resume").await.expect("send").id;
    let (_, rest) = until(&mut events, |e| (message_id(e) == Some(after)).then_some(())).await;
    assert!(rest.iter().filter_map(message_id).next().is_none(), "nothing is delivered twice");
    let seqs: Vec<u64> = during.iter().chain(rest.iter()).filter_map(seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "sequence numbers stay gapless: {seqs:?}");

    // The presence queued during the cut reached the server: bob's view says idle.
    let bob_gateway =
        Gateway::connect(quick_gateway_config(&server.base, &bob_client)).await.expect("bob connects");
    let ada_presence = bob_gateway.ready().presences.iter().find(|p| p.user_id == ada.id).map(|p| p.status);
    assert_eq!(
        ada_presence,
        Some(PresenceStatus::Idle),
        "a frame sent while disconnected is delivered after resume"
    );
    gateway.close().await;
    bob_gateway.close().await;
}

#[tokio::test]
async fn resume_replays_exactly_the_missed_events_sqlite() {
    resume_replays_exactly_the_missed_events(Database::Sqlite).await;
}

#[tokio::test]
async fn resume_replays_exactly_the_missed_events_postgres() {
    resume_replays_exactly_the_missed_events(Database::Postgres).await;
}

#[tokio::test]
async fn a_session_past_its_replay_buffer_identifies_afresh_and_reports_lost_frames() {
    let server = TestServer::start_with(Database::Sqlite, |c| c.gateway_replay_events = 2).await;
    let AdaAndBob { ada_client, bob_client, .. } = server.ada_and_bob().await;
    let channel = general(&bob_client).await;
    let proxy = CutProxy::start(&server.base).await;
    let gateway = Gateway::connect(quick_gateway_config(&proxy.base, &ada_client)).await.expect("connects");
    let first_session = gateway.session_id();
    let mut events = gateway.subscribe();

    proxy.cut();
    until(&mut events, |e| {
        matches!(e, GatewayEvent::State(ConnectionState::Reconnecting { .. })).then_some(())
    })
    .await;
    for n in 0..5 {
        bob_client.send_message(channel, &format!("overflow {n}")).await.expect("send");
    }
    gateway.send(ClientFrame::TypingStart { channel_id: channel }).await.expect("queued");
    proxy.restore();
    let (_, before) = until(&mut events, |e| {
        matches!(e, GatewayEvent::State(ConnectionState::InvalidSession)).then_some(())
    })
    .await;
    assert!(
        before.iter().filter_map(message_id).next().is_none(),
        "no partial replay before invalid_session"
    );
    let (undelivered, _) = until(&mut events, |e| match e {
        GatewayEvent::Undelivered(frames) => Some(frames.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        undelivered,
        vec![ClientFrame::TypingStart { channel_id: channel }],
        "frames queued for the lost session are reported, not silently dropped"
    );
    let (ready_session, _) = until(&mut events, |e| match e {
        GatewayEvent::Frame(ServerFrame::Control(ControlFrame::Ready { session_id, .. })) => {
            Some(*session_id)
        }
        _ => None,
    })
    .await;
    let (connected, _) = until(&mut events, |e| match e {
        GatewayEvent::State(ConnectionState::Connected { session_id }) => Some(*session_id),
        _ => None,
    })
    .await;
    assert_eq!(connected, ready_session, "Connected names the new session");
    assert_ne!(connected, first_session, "a lost session is replaced by a new one");

    let live = bob_client.send_message(channel, "after identify").await.expect("send").id;
    let (frame_seq, _) = until(&mut events, |e| (message_id(e) == Some(live)).then(|| seq(e))).await;
    assert_eq!(frame_seq, Some(1), "the new session numbers its events from 1");
    gateway.close().await;
}

#[tokio::test]
async fn heartbeats_keep_a_quiet_connection_open() {
    let server = TestServer::start_with(Database::Sqlite, |c| c.gateway_heartbeat_ms = 300).await;
    let (_ada, _client, gateway) = connected_user(&server, "ada").await;
    let mut events = gateway.subscribe();
    let mut acks = 0;
    while acks < 5 {
        let ((), seen) = until(&mut events, |e| {
            matches!(e, GatewayEvent::Frame(ServerFrame::Control(ControlFrame::HeartbeatAck))).then_some(())
        })
        .await;
        assert!(
            !seen.iter().any(|e| matches!(e, GatewayEvent::State(ConnectionState::Reconnecting { .. }))),
            "a heartbeating client is never dropped for silence (4006)"
        );
        acks += 1;
    }
    gateway.close().await;
}

#[tokio::test]
async fn logging_out_stops_the_gateway_for_good() {
    let server = TestServer::start(Database::Sqlite).await;
    let (_ada, client, gateway) = connected_user(&server, "ada").await;
    let mut events = gateway.subscribe();
    let tokens = client.tokens().expect("logged in");
    client.logout(&tokens.refresh_token().await).await.expect("logout");
    let (reason, seen) = until(&mut events, |e| match e {
        GatewayEvent::State(ConnectionState::Closed(reason)) => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert_eq!(reason, CloseReason::Revoked, "4009 means the login ended: stop, do not reconnect");
    assert!(
        !seen.iter().any(|e| matches!(e, GatewayEvent::State(ConnectionState::Reconnecting { .. }))),
        "a revoked login is not retried"
    );
    assert!(
        matches!(gateway.send(ClientFrame::VoiceLeave).await, Err(GatewayError::Stopped)),
        "a stopped gateway refuses frames instead of queueing them forever"
    );
}

#[tokio::test]
async fn a_refused_refresh_token_fails_connect_with_the_servers_code() {
    let server = TestServer::start(Database::Sqlite).await;
    let anonymous = Client::new(&server.base).expect("address");
    let tokens = TokenSource::new(&anonymous, "not-a-real-token".into(), None);
    let client = anonymous.with_tokens(tokens);
    match Gateway::connect(quick_gateway_config(&server.base, &client)).await {
        Err(GatewayError::Auth(error)) => {
            assert_eq!(error.code(), Some(ErrorCode::Unauthorized), "{error}");
            assert!(error.is_login_lost(), "the user must log in again");
        }
        other => panic!("expected an authentication error, got {other:?}"),
    }
}

#[tokio::test]
async fn voice_signaling_travels_through_the_gateway() {
    let server = TestServer::start(Database::Sqlite).await;
    let AdaAndBob { ada_client, bob_client, .. } = server.ada_and_bob().await;
    let voice = ada_client.channels().await.expect("channels");
    let voice = voice.iter().find(|c| c.channel.name == "voice-main").expect("#voice-main").channel.id;
    let ada_gateway =
        Gateway::connect(quick_gateway_config(&server.base, &ada_client)).await.expect("ada connects");
    let bob_gateway =
        Gateway::connect(quick_gateway_config(&server.base, &bob_client)).await.expect("bob connects");
    let (mut ada_events, mut bob_events) = (ada_gateway.subscribe(), bob_gateway.subscribe());
    let voice_joined = |e: &GatewayEvent| match e {
        GatewayEvent::Frame(ServerFrame::Control(ControlFrame::VoiceJoined { self_session_id, .. })) => {
            Some(*self_session_id)
        }
        _ => None,
    };

    ada_gateway.send(ClientFrame::VoiceJoin { channel_id: voice }).await.expect("queued");
    let (ada_peer, _) = until(&mut ada_events, voice_joined).await;
    bob_gateway.send(ClientFrame::VoiceJoin { channel_id: voice }).await.expect("queued");
    let (bob_peer, _) = until(&mut bob_events, voice_joined).await;
    // The room's existing member learns of the newcomer and offers, as browsers do.
    let (joined, _) = until(&mut ada_events, |e| match e {
        GatewayEvent::Frame(ServerFrame::Event(frame)) => match &frame.event {
            Event::PeerJoined { participant, .. } => Some(participant.session_id),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(joined, bob_peer, "peer_joined names bob's session");
    ada_gateway.send(ClientFrame::SdpOffer { to: bob_peer, sdp: "v=0 offer".into() }).await.expect("queued");
    let ((from, sdp), _) = until(&mut bob_events, |e| match e {
        GatewayEvent::Frame(ServerFrame::Event(frame)) => match &frame.event {
            Event::SdpOffer { from, sdp, .. } => Some((*from, sdp.clone())),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!((from, sdp.as_str()), (ada_peer, "v=0 offer"), "the offer reaches bob from ada's session");
    ada_gateway.close().await;
    bob_gateway.close().await;
}

#[tokio::test]
async fn a_requested_reconnect_resumes_the_same_session() {
    let server = TestServer::start(Database::Sqlite).await;
    let (_ada, client, gateway) = connected_user(&server, "ada").await;
    let mut events = gateway.subscribe();
    gateway.reconnect().await.expect("reconnect requested");
    let (resumed, seen) = until(&mut events, |e| match e {
        GatewayEvent::State(ConnectionState::Resumed { session_id, .. }) => Some(*session_id),
        _ => None,
    })
    .await;
    assert_eq!(resumed, gateway.session_id(), "a new socket continues the same session");
    assert!(
        !seen.iter().any(|e| matches!(e, GatewayEvent::State(ConnectionState::InvalidSession))),
        "a prompt reconnect never loses the session"
    );
    let general = general(&client).await;
    let sent = client.send_message(general, "still here").await.expect("send").id;
    until(&mut events, |e| (message_id(e) == Some(sent)).then_some(())).await;
    gateway.close().await;
}
