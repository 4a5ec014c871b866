//! Voice access ends with the right to it: a member removed from a private voice
//! channel, a channel made private, a channel deleted — each takes the participants who
//! lost the right out of the room at once (peers get `peer_left`, the removed session a
//! `voice_state_update` with `left`), and signaling from them is refused afterwards.
//! Also across two nodes, and when the room was never told (signaling re-checks).

use cromulent_protocol::channel::Channel;
use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::ClientFrame;
use cromulent_protocol::ErrorCode;
use serde_json::json;

use crate::db_test;
use crate::harness::PgDatabase;
use crate::voice::{
    add_members, bob_and_carol_in_room, both_in_room, event, join, peer_joined, room_becomes, room_sessions,
    signaling_refused, taken_out, told_it_left, voice_channel, BobAndCarolInRoom, QUIET,
};

db_test! {
    async fn a_member_removed_from_a_private_voice_channel_leaves_its_room(srv) {
        let BobAndCarolInRoom { ann, bob, carol, channel: staff, mut b, mut c } =
            bob_and_carol_in_room(&srv, "staff-voice", true).await;

        srv.delete(&format!("/api/channels/{staff}/members/{}", bob.id), &ann).await.ok::<serde_json::Value>();
        taken_out(&mut b, &mut c, staff).await;
        assert_eq!(room_sessions(&srv, staff), vec![c.session_id], "only carol, still a member, stays");
        signaling_refused(&mut b, &mut c).await;

        // Leaving the channel oneself ends the place in the room the same way.
        let mut a = srv.connect(&ann).await;
        join(&mut a, staff).await;
        event(&mut c, peer_joined(a.session_id)).await;
        srv.post(&format!("/api/channels/{staff}/leave"), &carol, json!({})).await.ok::<serde_json::Value>();
        taken_out(&mut c, &mut a, staff).await;
        assert_eq!(room_sessions(&srv, staff), vec![a.session_id], "carol left the channel, so the room");
    }
}

db_test! {
    async fn a_voice_channel_made_private_keeps_only_its_members_in_the_room(srv) {
        let BobAndCarolInRoom { ann, carol, channel: lounge, mut b, mut c, .. } =
            bob_and_carol_in_room(&srv, "lounge", false).await;

        add_members(&srv, &ann, lounge, &[&carol]).await;
        srv.patch(&format!("/api/channels/{lounge}"), &ann, json!({"is_private": true})).await.ok::<Channel>();
        taken_out(&mut b, &mut c, lounge).await;
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
        let BobAndCarolInRoom { ann, channel: lounge, mut b, mut c, .. } =
            bob_and_carol_in_room(&srv, "lounge", false).await;

        srv.delete(&format!("/api/channels/{lounge}"), &ann).await.ok::<serde_json::Value>();
        // Bob joined first, so he leaves first and carol, still there then, is told.
        taken_out(&mut b, &mut c, lounge).await;
        told_it_left(&mut c, lounge).await;
        assert!(room_sessions(&srv, lounge).is_empty(), "nobody stays in a deleted channel's room");
        signaling_refused(&mut b, &mut c).await;
        signaling_refused(&mut c, &mut b).await;
    }
}

db_test! {
    async fn signaling_rechecks_rights_when_the_room_was_never_told(srv) {
        let BobAndCarolInRoom { bob, channel: staff, mut b, mut c, .. } =
            bob_and_carol_in_room(&srv, "staff-voice", true).await;

        // The membership goes behind the server's back: no announcement, the room still
        // lists bob. His next offer finds out, is refused, and takes him out.
        let pool = srv.state.db.pool();
        assert!(cromulent_server::store::memberships::remove(pool, staff, bob.id).await.expect("remove"));
        b.send(ClientFrame::SdpOffer { to: c.session_id, sdp: "v=0 stale".into() }).await;
        assert_eq!(b.expect_error("sdp_offer").await, ErrorCode::Forbidden, "no longer a member");
        taken_out(&mut b, &mut c, staff).await;
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
    add_members(&a_node, &ann, staff, &[&bob, &carol]).await;
    let mut b = b_node.connect(&bob).await;
    let mut c = b_node.connect(&carol).await;
    both_in_room(&mut b, &mut c, staff).await;

    a_node.delete(&format!("/api/channels/{staff}/members/{}", bob.id), &ann).await.ok::<serde_json::Value>();
    taken_out(&mut b, &mut c, staff).await;
    assert_eq!(room_sessions(&b_node, staff), vec![c.session_id], "node B applied the removal");
    // Node A made the change and applies it from the bus like node B.
    room_becomes(&a_node, staff, &[c.session_id]).await;
    signaling_refused(&mut b, &mut c).await;
}
