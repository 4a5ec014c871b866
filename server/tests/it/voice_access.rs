//! Voice access ends with the right to it: a member removed from a private voice
//! channel, a channel made private, a channel deleted — each takes the participants who
//! lost the right out of the room at once (peers get `peer_left`, the removed session a
//! `voice_state_update` with `left`), and signaling from them is refused afterwards.
//! Also across two nodes, and when the room was never told (signaling re-checks).

use std::time::Duration;

use cromulent_protocol::channel::Channel;
use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::{ClientFrame, ControlFrame};
use cromulent_protocol::voice::VoiceRoom;
use cromulent_protocol::{ErrorCode, Id};
use serde_json::json;

use crate::db_test;
use crate::gateway_client::{Gw, WAIT};
use crate::harness::{PgDatabase, TestServer, TestUser};

const QUIET: Duration = Duration::from_millis(400);

/// A voice channel created through the API by `admin`, who is its first member when it
/// is private.
pub async fn voice_channel(srv: &TestServer, admin: &TestUser, name: &str, private: bool) -> Id {
    let reply =
        srv.post("/api/channels", admin, json!({"name": name, "kind": "voice", "is_private": private})).await;
    reply.ok::<Channel>().id
}

/// Joins the voice room and returns the roster the server answered with.
pub async fn join(gw: &mut Gw, channel_id: Id) -> VoiceRoom {
    gw.send(ClientFrame::VoiceJoin { channel_id }).await;
    match gw.wait_for_control(|f| matches!(f, ControlFrame::VoiceJoined { .. }), WAIT).await {
        ControlFrame::VoiceJoined { room, .. } => room,
        _ => unreachable!("filtered above"),
    }
}

/// An event already read while waiting for something else, or the next one to match.
pub async fn event(gw: &mut Gw, pred: impl Fn(&Event) -> bool) -> Event {
    if let Some(seen) = gw.seen.iter().find(|e| pred(e)) {
        return seen.clone();
    }
    gw.wait_for_event(pred, WAIT).await
}

fn peer_left(session: Id) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::PeerLeft { session_id, .. } if *session_id == session)
}

/// `gw`'s own session is told it left the room of `channel`.
async fn told_it_left(gw: &mut Gw, channel: Id) {
    let session = gw.session_id;
    event(gw, move |e| {
        matches!(e, Event::VoiceStateUpdate { channel_id, participant, left: true }
            if *channel_id == channel && participant.session_id == session)
    })
    .await;
}

fn is_signaling(e: &Event) -> bool {
    matches!(e, Event::SdpOffer { .. } | Event::SdpAnswer { .. } | Event::IceCandidate { .. })
}

/// `from` has been taken out of the room: every signaling op it tries is refused as
/// coming from outside a room, and `peer` receives none of it.
async fn signaling_refused(from: &mut Gw, peer: &mut Gw) {
    let to = peer.session_id;
    let candidate = json!({"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host"});
    for (frame, op) in [
        (ClientFrame::SdpOffer { to, sdp: "v=0 after removal".into() }, "sdp_offer"),
        (ClientFrame::SdpAnswer { to, sdp: "v=0 after removal".into() }, "sdp_answer"),
        (ClientFrame::IceCandidate { to, candidate }, "ice_candidate"),
    ] {
        from.send(frame).await;
        assert_eq!(
            from.expect_error(op).await,
            ErrorCode::NotFound,
            "{op}: the sender is in no room any more"
        );
    }
    peer.expect_no_event(is_signaling, QUIET).await;
}

/// Both in the room and each told of the other, so later waits start from a quiet line.
async fn both_in_room(first: &mut Gw, second: &mut Gw, channel_id: Id) {
    join(first, channel_id).await;
    let room = join(second, channel_id).await;
    assert!(
        room.participants.iter().any(|p| p.session_id == first.session_id),
        "the second to join finds the first in the roster: {room:?}"
    );
    let newcomer = second.session_id;
    event(
        first,
        move |e| matches!(e, Event::PeerJoined { participant, .. } if participant.session_id == newcomer),
    )
    .await;
}

fn room_sessions(srv: &TestServer, channel_id: Id) -> Vec<Id> {
    srv.state.gateway.hub.voice_room(channel_id).participants.iter().map(|p| p.session_id).collect()
}

/// Waits for a node's view of the room to become `expected` (another node applies the
/// same bus message a moment later than the one whose clients were told).
async fn room_becomes(srv: &TestServer, channel_id: Id, expected: &[Id]) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while room_sessions(srv, channel_id) != expected {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the room is {:?}, expected {expected:?}",
            room_sessions(srv, channel_id)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

db_test! {
    async fn a_member_removed_from_a_private_voice_channel_leaves_its_room(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let staff = voice_channel(&srv, &ann, "staff-voice", true).await;
        for user in [&bob, &carol] {
            srv.put(&format!("/api/channels/{staff}/members/{}", user.id), &ann).await.ok::<serde_json::Value>();
        }
        let mut b = srv.connect(&bob).await;
        let mut c = srv.connect(&carol).await;
        both_in_room(&mut b, &mut c, staff).await;

        srv.delete(&format!("/api/channels/{staff}/members/{}", bob.id), &ann).await.ok::<serde_json::Value>();
        event(&mut c, peer_left(b.session_id)).await;
        told_it_left(&mut b, staff).await;
        assert_eq!(room_sessions(&srv, staff), vec![c.session_id], "only carol, still a member, stays");
        signaling_refused(&mut b, &mut c).await;

        // Leaving the channel oneself ends the place in the room the same way.
        let mut a = srv.connect(&ann).await;
        join(&mut a, staff).await;
        let ann_session = a.session_id;
        event(&mut c, move |e| matches!(e, Event::PeerJoined { participant, .. } if participant.session_id == ann_session))
            .await;
        srv.post(&format!("/api/channels/{staff}/leave"), &carol, json!({})).await.ok::<serde_json::Value>();
        event(&mut a, peer_left(c.session_id)).await;
        told_it_left(&mut c, staff).await;
        assert_eq!(room_sessions(&srv, staff), vec![a.session_id], "carol left the channel, so the room");
    }
}

db_test! {
    async fn a_voice_channel_made_private_keeps_only_its_members_in_the_room(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let lounge = voice_channel(&srv, &ann, "lounge", false).await;
        let mut b = srv.connect(&bob).await;
        let mut c = srv.connect(&carol).await;
        both_in_room(&mut b, &mut c, lounge).await;

        srv.put(&format!("/api/channels/{lounge}/members/{}", carol.id), &ann).await.ok::<serde_json::Value>();
        srv.patch(&format!("/api/channels/{lounge}"), &ann, json!({"is_private": true})).await.ok::<Channel>();
        event(&mut c, peer_left(b.session_id)).await;
        told_it_left(&mut b, lounge).await;
        assert_eq!(room_sessions(&srv, lounge), vec![c.session_id], "carol is a member and stays");
        signaling_refused(&mut b, &mut c).await;

        // What happens in the room now stays with its members: bob saw carol join while
        // the room was public, but not her mute once it is private.
        c.send(ClientFrame::SetMute { muted: true }).await;
        let carol_session = c.session_id;
        b.expect_no_event(
            |e| matches!(e, Event::VoiceStateUpdate { participant, .. } if participant.session_id == carol_session),
            QUIET,
        )
        .await;
        b.send(ClientFrame::VoiceJoin { channel_id: lounge }).await;
        assert_eq!(b.expect_error("voice_join").await, ErrorCode::NotFound, "bob no longer sees the room");
    }
}

db_test! {
    async fn deleting_a_voice_channel_empties_its_room(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let lounge = voice_channel(&srv, &ann, "lounge", false).await;
        let mut b = srv.connect(&bob).await;
        let mut c = srv.connect(&carol).await;
        both_in_room(&mut b, &mut c, lounge).await;

        srv.delete(&format!("/api/channels/{lounge}"), &ann).await.ok::<serde_json::Value>();
        // Bob joined first, so he leaves first and carol, still there then, is told.
        event(&mut c, peer_left(b.session_id)).await;
        told_it_left(&mut b, lounge).await;
        told_it_left(&mut c, lounge).await;
        assert!(room_sessions(&srv, lounge).is_empty(), "nobody stays in a deleted channel's room");
        signaling_refused(&mut b, &mut c).await;
        signaling_refused(&mut c, &mut b).await;
    }
}

db_test! {
    async fn signaling_rechecks_rights_when_the_room_was_never_told(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let staff = voice_channel(&srv, &ann, "staff-voice", true).await;
        for user in [&bob, &carol] {
            srv.put(&format!("/api/channels/{staff}/members/{}", user.id), &ann).await.ok::<serde_json::Value>();
        }
        let mut b = srv.connect(&bob).await;
        let mut c = srv.connect(&carol).await;
        both_in_room(&mut b, &mut c, staff).await;

        // The membership goes behind the server's back: no announcement, the room still
        // lists bob. His next offer finds out, is refused, and takes him out.
        let pool = srv.state.db.pool();
        assert!(cromulent_server::store::memberships::remove(pool, staff, bob.id).await.expect("remove"));
        b.send(ClientFrame::SdpOffer { to: c.session_id, sdp: "v=0 stale".into() }).await;
        assert_eq!(b.expect_error("sdp_offer").await, ErrorCode::Forbidden, "no longer a member");
        event(&mut c, peer_left(b.session_id)).await;
        told_it_left(&mut b, staff).await;
        assert_eq!(room_sessions(&srv, staff), vec![c.session_id], "the refusal took bob out of the room");
        signaling_refused(&mut b, &mut c).await;
    }
}

/// Two nodes on one PostgreSQL and NATS: the removal is made on node A, the removed
/// participant and a peer are on node B, and node A's own view agrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_on_one_node_takes_effect_on_another() {
    let pg = PgDatabase::create().await;
    let subject = format!("cromulent.test.{:08x}", rand::random::<u32>());
    let a_node = crate::cluster::node(&pg, &subject, 1).await;
    let b_node = crate::cluster::node(&pg, &subject, 2).await;
    let ann = a_node.user("ann").await;
    let bob = b_node.user("bob").await;
    let carol = b_node.user("carol").await;
    let staff = voice_channel(&a_node, &ann, "staff-voice", true).await;
    for user in [&bob, &carol] {
        a_node
            .put(&format!("/api/channels/{staff}/members/{}", user.id), &ann)
            .await
            .ok::<serde_json::Value>();
    }
    let mut b = b_node.connect(&bob).await;
    let mut c = b_node.connect(&carol).await;
    both_in_room(&mut b, &mut c, staff).await;

    a_node.delete(&format!("/api/channels/{staff}/members/{}", bob.id), &ann).await.ok::<serde_json::Value>();
    event(&mut c, peer_left(b.session_id)).await;
    told_it_left(&mut b, staff).await;
    assert_eq!(room_sessions(&b_node, staff), vec![c.session_id], "node B applied the removal");
    // Node A made the change and applies it from the bus like node B.
    room_becomes(&a_node, staff, &[c.session_id]).await;
    signaling_refused(&mut b, &mut c).await;
}
