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
    let (url, subject) = (pg.url.clone(), subject.to_owned());
    TestServer::start_with(Database::Postgres, move |c| {
        c.database_url = Some(url);
        c.nats_url = Some(nats_url());
        c.nats_subject = subject;
        c.node_id = node_id;
        // Both nodes must accept each other's tokens.
        c.secret_key_base = Some("a shared secret for both test nodes, long enough".into());
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
