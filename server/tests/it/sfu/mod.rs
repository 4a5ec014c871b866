//! The selective forwarding unit with real WebRTC peers (str0m, on loopback UDP): every
//! participant hears every other through one connection, a released key costs nothing,
//! rooms move between mesh and SFU by size, and rights cut a participant off at once.

use std::time::Duration;

use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::{ClientFrame, ControlFrame, ServerFrame};
use cromulent_protocol::voice::RoomMode;
use cromulent_protocol::ErrorCode;
use cromulent_server::config::{Config, VoiceModeSetting};
use cromulent_testkit::sfu_peer::{SfuPeer, Signaling};

use crate::gateway::channel_id;
use crate::gateway_client::{Gw, WAIT};
use crate::harness::{Database, TestServer};
use crate::voice::{add_members, join, voice_channel};

/// How long peers get to connect and exchange their first frames.
const CONNECT: Duration = Duration::from_secs(15);

/// The test client's connection carries the peer's signaling; it checks every event's
/// `seq` on the way.
impl Signaling for Gw {
    async fn send(&mut self, frame: ClientFrame) {
        Gw::send(self, frame).await;
    }

    async fn next(&mut self, within: Duration) -> Option<ServerFrame> {
        Gw::next(self, within).await
    }
}

fn sfu_mode(config: &mut Config) {
    config.voice.voice_mode = VoiceModeSetting::Sfu;
}

/// Waits until `done` holds, checking every 50 ms, or panics with `what` after `within`.
async fn eventually(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn peers_in_room(srv: &TestServer, names: &[&str], room: &str) -> Vec<SfuPeer> {
    let mut peers = Vec::new();
    for name in names {
        let user = srv.user(name).await;
        let gw = srv.connect(&user).await;
        let channel = channel_id(&gw, room);
        peers.push(SfuPeer::join(gw, channel).await.expect("joins the room's SFU"));
    }
    peers
}

fn everyone_hears_everyone(peers: &[SfuPeer], at_least: usize) -> bool {
    peers.iter().all(|listener| {
        peers
            .iter()
            .filter(|speaker| speaker.session_id != listener.session_id)
            .all(|speaker| listener.frames_from(speaker.session_id) >= at_least)
    })
}

#[tokio::test]
async fn six_participants_hear_each_other_and_a_released_key_sends_nothing() {
    let srv = TestServer::start_with(Database::Sqlite, sfu_mode).await;
    let peers = peers_in_room(&srv, &["ann", "bob", "carol", "dave", "erin", "fred"], "voice-main").await;
    assert!(
        peers.windows(2).all(|w| w[0].sfu_session_id == w[1].sfu_session_id),
        "one SFU peer serves the room"
    );
    for peer in &peers {
        peer.speak(true);
    }
    eventually(CONNECT, "all 30 directions carry frames", || everyone_hears_everyone(&peers, 25)).await;
    for peer in &peers {
        assert_eq!(peer.heard().mislabelled, 0, "every frame arrives on its sender's stream");
    }

    let quiet = &peers[0];
    quiet.speak(false);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before: Vec<usize> = peers[1..].iter().map(|p| p.frames_from(quiet.session_id)).collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after: Vec<usize> = peers[1..].iter().map(|p| p.frames_from(quiet.session_id)).collect();
    assert_eq!(before, after, "nothing reaches anyone from a participant whose key is up");
    let still = peers[2].frames_from(peers[1].session_id);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(peers[2].frames_from(peers[1].session_id) > still, "the others keep talking");

    let metrics =
        srv.http.get(srv.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("cromulent_sfu_participants 6"), "{metrics}");
    let rtt_lines = metrics.lines().filter(|l| l.starts_with("cromulent_sfu_participant_speaking{")).count();
    assert_eq!(rtt_lines, 6, "a speaking gauge per participant:\n{metrics}");
}

#[tokio::test]
async fn auto_mode_moves_a_growing_room_to_the_sfu_and_a_shrinking_one_back() {
    let srv = TestServer::start_with(Database::Sqlite, |c| c.voice.voice_sfu_above = 3).await;
    let mut gws = Vec::new();
    for name in ["ann", "bob", "carol", "dave"] {
        let user = srv.user(name).await;
        gws.push(srv.connect(&user).await);
    }
    let voice = channel_id(&gws[0], "voice-main");
    let mode_of_join = |frame: &ControlFrame| match frame {
        ControlFrame::VoiceJoined { mode, sfu_session_id, .. } => Some((*mode, *sfu_session_id)),
        _ => None,
    };
    for gw in &mut gws[..3] {
        gw.send(ClientFrame::VoiceJoin { channel_id: voice }).await;
        let joined = gw.wait_for_control(|f| matches!(f, ControlFrame::VoiceJoined { .. }), WAIT).await;
        assert_eq!(mode_of_join(&joined), Some((RoomMode::Mesh, None)), "three fit a mesh");
    }
    gws[3].send(ClientFrame::VoiceJoin { channel_id: voice }).await;
    let joined = gws[3].wait_for_control(|f| matches!(f, ControlFrame::VoiceJoined { .. }), WAIT).await;
    let (mode, sfu) = mode_of_join(&joined).expect("joined");
    assert_eq!(mode, RoomMode::Sfu, "the fourth join passes VOICE_SFU_ABOVE=3");
    let sfu = sfu.expect("an SFU peer to negotiate with");
    for gw in &mut gws[..3] {
        let moved = gw.wait_for_event(|e| matches!(e, Event::VoiceModeChanged { .. }), WAIT).await;
        assert_eq!(
            moved,
            Event::VoiceModeChanged { channel_id: voice, mode: RoomMode::Sfu, sfu_session_id: Some(sfu) },
            "the members move with the newcomer"
        );
    }

    gws[3].send(ClientFrame::VoiceLeave).await;
    for gw in &mut gws[..3] {
        gw.expect_no_event(|e| matches!(e, Event::VoiceModeChanged { .. }), Duration::from_millis(400)).await;
    }
    gws[2].send(ClientFrame::VoiceLeave).await;
    for gw in &mut gws[..2] {
        let moved = gw.wait_for_event(|e| matches!(e, Event::VoiceModeChanged { .. }), WAIT).await;
        assert_eq!(
            moved,
            Event::VoiceModeChanged { channel_id: voice, mode: RoomMode::Mesh, sfu_session_id: None },
            "below the threshold the room goes back to a mesh (and not at it: no flapping)"
        );
    }
}

#[tokio::test]
async fn the_sfu_takes_signaling_only_from_its_room_and_only_readable_sdp() {
    let srv = TestServer::start_with(Database::Sqlite, sfu_mode).await;
    let ann = srv.user("ann").await;
    let dave = srv.user("dave").await;
    let mut a = srv.connect(&ann).await;
    let mut d = srv.connect(&dave).await;
    let voice = channel_id(&a, "voice-main");
    a.send(ClientFrame::VoiceJoin { channel_id: voice }).await;
    let sfu = match a.wait_for_control(|f| matches!(f, ControlFrame::VoiceJoined { .. }), WAIT).await {
        ControlFrame::VoiceJoined { sfu_session_id, .. } => sfu_session_id.expect("sfu mode"),
        _ => unreachable!(),
    };

    d.send(ClientFrame::SdpOffer { to: sfu, sdp: "v=0".into() }).await;
    assert_eq!(d.expect_error("sdp_offer").await, ErrorCode::NotFound, "not in any room");
    let other = voice_channel(&srv, &ann, "other-room", false).await;
    join(&mut d, other).await;
    d.send(ClientFrame::SdpOffer { to: sfu, sdp: "v=0".into() }).await;
    assert_eq!(d.expect_error("sdp_offer").await, ErrorCode::NotFound, "another room's SFU peer");
    d.send(ClientFrame::IceCandidate { to: sfu, candidate: serde_json::json!({"candidate": ""}) }).await;
    assert_eq!(d.expect_error("ice_candidate").await, ErrorCode::NotFound);

    a.send(ClientFrame::SdpOffer { to: sfu, sdp: "not a session description".into() }).await;
    assert_eq!(a.expect_error("sdp_offer").await, ErrorCode::ValidationFailed);
    a.send(ClientFrame::SdpAnswer { to: sfu, sdp: "v=0".into() }).await;
    assert_eq!(a.expect_error("sdp_answer").await, ErrorCode::ValidationFailed);

    // A client offers the moment it reads `voice_joined`: by then its join is in the
    // room, so the offer reaches the SFU (and is judged on its SDP), never `not_found`.
    let bob = srv.user("bob").await;
    let mut b = srv.connect(&bob).await;
    for round in 0..5 {
        b.send(ClientFrame::VoiceJoin { channel_id: voice }).await;
        b.send(ClientFrame::SdpOffer { to: sfu, sdp: "not a session description".into() }).await;
        assert_eq!(b.expect_error("sdp_offer").await, ErrorCode::ValidationFailed, "round {round}");
        b.send(ClientFrame::VoiceLeave).await;
    }
}

#[tokio::test]
async fn a_participant_removed_from_a_private_room_is_cut_off_at_once() {
    let srv = TestServer::start_with(Database::Sqlite, sfu_mode).await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let carol = srv.user("carol").await;
    let channel = voice_channel(&srv, &ann, "staff-voice", true).await;
    add_members(&srv, &ann, channel, &[&bob, &carol]).await;
    let b = SfuPeer::join(srv.connect(&bob).await, channel).await.expect("bob joins the SFU");
    let mut c = SfuPeer::join(srv.connect(&carol).await, channel).await.expect("carol joins the SFU");
    b.speak(true);
    c.speak(true);
    eventually(CONNECT, "bob and carol hear each other", || {
        b.frames_from(c.session_id) >= 10 && c.frames_from(b.session_id) >= 10
    })
    .await;

    srv.delete(&format!("/api/channels/{channel}/members/{}", carol.id), &ann).await;
    let me = c.session_id;
    c.wait_for_event(
        |e| matches!(e, Event::VoiceStateUpdate { left: true, participant, .. } if participant.session_id == me),
        WAIT,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (carol_heard, bob_heard) = (c.frames_from(b.session_id), b.frames_from(c.session_id));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(c.frames_from(b.session_id), carol_heard, "carol receives nothing once removed");
    assert_eq!(b.frames_from(c.session_id), bob_heard, "and nothing of hers is forwarded");
}

#[tokio::test]
async fn a_full_room_refuses_the_next_join() {
    let srv = TestServer::start_with(Database::Sqlite, |c| c.voice.voice_room_max = 2).await;
    let mut gws = Vec::new();
    for name in ["ann", "bob", "carol"] {
        let user = srv.user(name).await;
        gws.push(srv.connect(&user).await);
    }
    let voice = channel_id(&gws[0], "voice-main");
    join(&mut gws[0], voice).await;
    join(&mut gws[1], voice).await;
    gws[2].send(ClientFrame::VoiceJoin { channel_id: voice }).await;
    assert_eq!(gws[2].expect_error("voice_join").await, ErrorCode::RoomFull);
    gws[1].send(ClientFrame::VoiceLeave).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let room = join(&mut gws[2], voice).await;
    assert_eq!(room.participants.len(), 2, "a place freed is a place taken");
}

/// A connection that loses the first offer the SFU sends (its first renegotiation):
/// a client whose signaling dropped a frame.
struct LosesFirstOffer {
    gw: Gw,
    lost: bool,
}

impl Signaling for LosesFirstOffer {
    async fn send(&mut self, frame: ClientFrame) {
        self.gw.send(frame).await;
    }

    async fn next(&mut self, within: Duration) -> Option<ServerFrame> {
        loop {
            let frame = self.gw.next(within).await?;
            let offer = matches!(&frame, ServerFrame::Event(e) if matches!(e.event, Event::SdpOffer { .. }));
            if offer && !self.lost {
                self.lost = true;
                continue;
            }
            return Some(frame);
        }
    }
}

#[tokio::test]
async fn an_unanswered_offer_is_made_again() {
    let srv = TestServer::start_with(Database::Sqlite, sfu_mode).await;
    let ann = srv.user("ann").await;
    let gw = srv.connect(&ann).await;
    let voice = channel_id(&gw, "voice-main");
    let ann = SfuPeer::join(LosesFirstOffer { gw, lost: false }, voice).await.expect("ann joins");
    let bob = peers_in_room(&srv, &["bob"], "voice-main").await.remove(0);
    bob.speak(true);
    ann.speak(true);
    eventually(CONNECT, "bob hears ann", || bob.frames_from(ann.session_id) >= 25).await;
    // Ann never saw the offer that brought bob's track; the SFU offers it again after
    // its answer deadline, and from then on she hears him.
    eventually(CONNECT, "ann hears bob", || ann.frames_from(bob.session_id) >= 25).await;
}
