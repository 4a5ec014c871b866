//! Steps the voice tests share: a voice channel made through the API, two users in its
//! room, joining, and waiting for who joined, who left and who was told so.

use std::time::Duration;

use cromulent_protocol::channel::Channel;
use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::{ClientFrame, ControlFrame};
use cromulent_protocol::voice::VoiceRoom;
use cromulent_protocol::{ErrorCode, Id};
use serde_json::json;

use crate::gateway_client::{Gw, WAIT};
use crate::harness::{TestServer, TestUser};

/// Long enough for a frame that should not come to have arrived if it were sent.
pub const QUIET: Duration = Duration::from_millis(400);

/// A voice channel created through the API by `admin`, who is its first member when it
/// is private.
pub async fn voice_channel(srv: &TestServer, admin: &TestUser, name: &str, private: bool) -> Id {
    let reply =
        srv.post("/api/channels", admin, json!({"name": name, "kind": "voice", "is_private": private})).await;
    reply.ok::<Channel>().id
}

/// `admin` adds each of `users` to the channel's members.
pub async fn add_members(srv: &TestServer, admin: &TestUser, channel: Id, users: &[&TestUser]) {
    for user in users {
        srv.put(&format!("/api/channels/{channel}/members/{}", user.id), admin)
            .await
            .ok::<serde_json::Value>();
    }
}

/// Ann (the first user, so an admin) made a voice channel; bob and carol are each
/// connected once (`b`, `c`) and both in its room.
pub struct BobAndCarolInRoom {
    pub ann: TestUser,
    pub bob: TestUser,
    pub carol: TestUser,
    pub channel: Id,
    pub b: Gw,
    pub c: Gw,
}

/// A room as [`BobAndCarolInRoom`] says; a private channel gets bob and carol as
/// members first.
pub async fn bob_and_carol_in_room(srv: &TestServer, name: &str, private: bool) -> BobAndCarolInRoom {
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let carol = srv.user("carol").await;
    let channel = voice_channel(srv, &ann, name, private).await;
    if private {
        add_members(srv, &ann, channel, &[&bob, &carol]).await;
    }
    let mut b = srv.connect(&bob).await;
    let mut c = srv.connect(&carol).await;
    both_in_room(&mut b, &mut c, channel).await;
    BobAndCarolInRoom { ann, bob, carol, channel, b, c }
}

/// Joins the voice room and returns the roster the server answered with.
pub async fn join(gw: &mut Gw, channel_id: Id) -> VoiceRoom {
    gw.send(ClientFrame::VoiceJoin { channel_id }).await;
    match gw.wait_for_control(|f| matches!(f, ControlFrame::VoiceJoined { .. }), WAIT).await {
        ControlFrame::VoiceJoined { room, .. } => room,
        _ => unreachable!("filtered above"),
    }
}

/// Both in the room and each told of the other, so later waits start from a quiet line.
pub async fn both_in_room(first: &mut Gw, second: &mut Gw, channel_id: Id) {
    join(first, channel_id).await;
    let room = join(second, channel_id).await;
    assert!(
        room.participants.iter().any(|p| p.session_id == first.session_id),
        "the second to join finds the first in the roster: {room:?}"
    );
    event(first, peer_joined(second.session_id)).await;
}

/// An event already read while waiting for something else, or the next one to match.
pub async fn event(gw: &mut Gw, pred: impl Fn(&Event) -> bool) -> Event {
    if let Some(seen) = gw.seen.iter().find(|e| pred(e)) {
        return seen.clone();
    }
    gw.wait_for_event(pred, WAIT).await
}

pub fn peer_joined(session: Id) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::PeerJoined { participant, .. } if participant.session_id == session)
}

pub fn peer_left(session: Id) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::PeerLeft { session_id, .. } if *session_id == session)
}

/// `gw`'s own session is told it left the room of `channel`.
pub async fn told_it_left(gw: &mut Gw, channel: Id) {
    let session = gw.session_id;
    event(gw, move |e| {
        matches!(e, Event::VoiceStateUpdate { channel_id, participant, left: true }
            if *channel_id == channel && participant.session_id == session)
    })
    .await;
}

/// `removed` was taken out of the room of `channel`: `peer`, still there, is told it
/// left, and so is `removed` itself.
pub async fn taken_out(removed: &mut Gw, peer: &mut Gw, channel: Id) {
    event(peer, peer_left(removed.session_id)).await;
    told_it_left(removed, channel).await;
}

pub fn is_signaling(e: &Event) -> bool {
    matches!(e, Event::SdpOffer { .. } | Event::SdpAnswer { .. } | Event::IceCandidate { .. })
}

/// `from` has been taken out of the room: every signaling op it tries is refused as
/// coming from outside a room, and `peer` receives none of it.
pub async fn signaling_refused(from: &mut Gw, peer: &mut Gw) {
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

/// The sessions in a node's view of the room, in joining order.
pub fn room_sessions(srv: &TestServer, channel_id: Id) -> Vec<Id> {
    srv.state.gateway.hub.voice_room(channel_id).participants.iter().map(|p| p.session_id).collect()
}

/// Waits for a node's view of the room to become `expected` (another node applies the
/// same bus message a moment later than the one whose clients were told).
pub async fn room_becomes(srv: &TestServer, channel_id: Id, expected: &[Id]) {
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
