//! Two nodes sharing PostgreSQL and the real NATS on 127.0.0.1:4222: a client on each
//! sees the other's presence, typing, messages and voice signaling.

use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::{ClientFrame, ControlFrame, PresenceStatus};
use serde_json::json;

use crate::gateway_client::WAIT;
use crate::harness::{Database, PgDatabase, TestServer};

pub fn nats_url() -> String {
    std::env::var("CROMULENT_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

pub async fn node(pg: &PgDatabase, subject: &str, node_id: u16) -> TestServer {
    node_with(pg, subject, node_id, |_| {}).await
}

/// A node as [`node`] starts it, after `adjust` changed its settings.
pub async fn node_with(
    pg: &PgDatabase,
    subject: &str,
    node_id: u16,
    adjust: impl FnOnce(&mut cromulent_server::config::Config),
) -> TestServer {
    let (url, subject) = (pg.url.clone(), subject.to_owned());
    TestServer::start_with(Database::Postgres, move |c| {
        c.database_url = Some(url);
        c.nats_url = Some(nats_url());
        c.nats_subject = subject;
        c.node_id = node_id;
        // Both nodes must accept each other's tokens.
        c.secret_key_base = Some("a shared secret for both test nodes, long enough".into());
        adjust(c);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_on_two_nodes_see_each_other_in_real_time() {
    let pg = PgDatabase::create().await;
    let subject = format!("cromulent.test.{:08x}", rand::random::<u32>());
    let a_node = node(&pg, &subject, 1).await;
    let b_node = node(&pg, &subject, 2).await;
    let ann = a_node.user("ann").await;
    let bob = b_node.user("bob").await;
    let mut a = a_node.connect(&ann).await;
    let mut b = b_node.connect(&bob).await;
    let ready = a.ready.as_ref().expect("ready");
    let general = ready.channels.iter().find(|c| c.channel.name == "general").expect("general").channel.id;
    let voice = ready.channels.iter().find(|c| c.channel.name == "voice-main").expect("voice").channel.id;

    a.wait_for_event(
        |e| matches!(e, Event::PresenceUpdate { user_id, status: PresenceStatus::Online } if *user_id == bob.id),
        WAIT,
    )
    .await;

    b.send(ClientFrame::TypingStart { channel_id: general }).await;
    a.wait_for_event(|e| matches!(e, Event::TypingStart { user_id, .. } if *user_id == bob.id), WAIT).await;

    let sent = b_node
        .post(
            &format!("/api/channels/{general}/messages"),
            &bob,
            json!({"body": "hello from node B", "nonce": "n1"}),
        )
        .await;
    assert!(sent.status.is_success(), "{}", sent.body);
    let got = a.wait_for_event(|e| matches!(e, Event::MessageCreate { .. }), WAIT).await;
    assert!(matches!(got, Event::MessageCreate { message } if message.body == "hello from node B"));

    a.send(ClientFrame::VoiceJoin { channel_id: voice }).await;
    a.wait_for_control(|f| matches!(f, ControlFrame::VoiceJoined { .. }), WAIT).await;
    b.send(ClientFrame::VoiceJoin { channel_id: voice }).await;
    match b.wait_for_control(|f| matches!(f, ControlFrame::VoiceJoined { .. }), WAIT).await {
        ControlFrame::VoiceJoined { room, .. } => {
            assert!(
                room.participants.iter().any(|p| p.session_id == a.session_id),
                "node B knows who is on node A"
            )
        }
        _ => unreachable!(),
    }
    a.wait_for_event(
        |e| matches!(e, Event::PeerJoined { participant, .. } if participant.user_id == bob.id),
        WAIT,
    )
    .await;
    a.send(ClientFrame::SdpOffer { to: b.session_id, sdp: "v=0 cross-node".into() }).await;
    let offer = b.wait_for_event(|e| matches!(e, Event::SdpOffer { .. }), WAIT).await;
    assert_eq!(
        offer,
        Event::SdpOffer { from: a.session_id, from_user_id: ann.id, sdp: "v=0 cross-node".into() }
    );
    b.send(ClientFrame::PttState { active: true }).await;
    a.wait_for_event(
        |e| matches!(e, Event::PttState { user_id, active: true, .. } if *user_id == bob.id),
        WAIT,
    )
    .await;
}

/// A first offer as a participant's browser would make it: one sendonly Opus track.
fn participant_offer() -> String {
    use str0m::media::{Direction, MediaKind};
    let mut rtc = str0m::Rtc::builder().clear_codecs().enable_opus(true).build(std::time::Instant::now());
    let local = "127.0.0.1:9".parse().expect("address");
    rtc.add_local_candidate(str0m::Candidate::host(local, "udp").expect("candidate"));
    let mut change = rtc.sdp_api();
    change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    change.apply().expect("an offer").0.to_sdp_string()
}

/// Offers to the SFU peer `sfu` and returns the UDP port in the answer's candidate:
/// the node whose SFU answered.
async fn sfu_port_answering(gw: &mut crate::gateway_client::Gw, sfu: cromulent_protocol::Id) -> u16 {
    gw.send(ClientFrame::SdpOffer { to: sfu, sdp: participant_offer() }).await;
    let answer =
        gw.wait_for_event(|e| matches!(e, Event::SdpAnswer { from, .. } if *from == sfu), WAIT).await;
    let Event::SdpAnswer { sdp, .. } = answer else { unreachable!() };
    let candidate =
        sdp.lines().find(|l| l.starts_with("a=candidate:")).expect("the SFU's candidate is in its answer");
    candidate.split_whitespace().nth(5).and_then(|p| p.parse().ok()).expect("a port in the candidate")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sfu_room_is_served_by_one_node_and_moves_when_that_node_leaves() {
    let pg = PgDatabase::create().await;
    let subject = format!("cromulent.test.{:08x}", rand::random::<u32>());
    let sfu_cluster = |c: &mut cromulent_server::config::Config| {
        c.voice.voice_mode = cromulent_server::config::VoiceModeSetting::Sfu;
        c.node_heartbeat_ms = 200;
    };
    let a_node = node_with(&pg, &subject, 1, sfu_cluster).await;
    let b_node = node_with(&pg, &subject, 2, sfu_cluster).await;
    let ann = a_node.user("ann").await;
    let bob = b_node.user("bob").await;
    let carol = b_node.user("carol").await;
    let mut a = a_node.connect(&ann).await;
    let mut b = b_node.connect(&bob).await;
    let mut c = b_node.connect(&carol).await;
    let voice = a
        .ready
        .as_ref()
        .expect("ready")
        .channels
        .iter()
        .find(|c| c.channel.name == "voice-main")
        .expect("voice")
        .channel
        .id;
    let joined_sfu = |frame: ControlFrame| match frame {
        ControlFrame::VoiceJoined { sfu_session_id, .. } => sfu_session_id.expect("sfu mode"),
        _ => unreachable!(),
    };

    a.send(ClientFrame::VoiceJoin { channel_id: voice }).await;
    let first = joined_sfu(a.wait_for_control(|f| matches!(f, ControlFrame::VoiceJoined { .. }), WAIT).await);
    for gw in [&mut b, &mut c] {
        gw.send(ClientFrame::VoiceJoin { channel_id: voice }).await;
        let sfu =
            joined_sfu(gw.wait_for_control(|f| matches!(f, ControlFrame::VoiceJoined { .. }), WAIT).await);
        assert_eq!(sfu, first, "a room has one SFU peer, whichever node its participants are on");
    }
    let a_port = a_node.state.gateway.hub.sfu().advertised().port();
    let b_port = b_node.state.gateway.hub.sfu().advertised().port();
    assert_eq!(
        sfu_port_answering(&mut b, first).await,
        a_port,
        "bob, on node B, negotiates over NATS with node A's SFU, where the room's media goes"
    );

    a_node.state.gateway.leave_cluster().await;
    for gw in [&mut b, &mut c] {
        gw.wait_for_event(
            |e| {
                matches!(e, Event::PresenceUpdate { user_id, status: PresenceStatus::Offline }
                    if *user_id == ann.id)
            },
            WAIT,
        )
        .await;
        gw.wait_for_event(
            |e| matches!(e, Event::PeerLeft { session_id, .. } if *session_id == a.session_id),
            WAIT,
        )
        .await;
        let moved = gw.wait_for_event(|e| matches!(e, Event::VoiceModeChanged { .. }), WAIT).await;
        let Event::VoiceModeChanged { mode, sfu_session_id: Some(next), .. } = moved else {
            panic!("the room stays on an SFU: {moved:?}")
        };
        assert_eq!(mode, cromulent_protocol::voice::RoomMode::Sfu);
        assert_ne!(next, first, "a new SFU peer, on a node that is still there");
    }
    let next = b_node.state.gateway.hub.voice_room_route(voice).1.sfu_session_id().expect("routed");
    assert_eq!(sfu_port_answering(&mut c, next).await, b_port, "node B's SFU now serves the room");
}
