//! Voice rooms over the gateway: who may join (anyone who sees a public room, members
//! of a private one), join refusals, point-to-point signaling, push-to-talk, mute and
//! deafen, moving between devices, leaving when a session dies.

use std::time::Duration;

use cromulent_protocol::channel::{Channel, ChannelKind};
use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::{close_code, ClientFrame, ControlFrame};
use cromulent_protocol::voice::RoomMode;
use cromulent_protocol::{ErrorCode, Id};
use serde_json::json;

use crate::db_test;
use crate::gateway::{channel_id, make_channel};
use crate::gateway_client::WAIT;
use crate::harness::{Database, TestServer};
use crate::voice::{
    add_members, bob_and_carol_in_room, both_in_room, is_signaling, join, peer_joined, peer_left,
    voice_channel, BobAndCarolInRoom, QUIET,
};

#[tokio::test]
async fn voice_join_refusals_are_typed() {
    let srv = TestServer::start(Database::Sqlite).await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let hidden_voice = make_channel(&srv, "staff-voice", ChannelKind::Voice, true, &[ann.id]).await;
    let mut b = srv.connect(&bob).await;
    let general = channel_id(&b, "general");
    let voice = channel_id(&b, "voice-main");

    b.send(ClientFrame::VoiceJoin { channel_id: general }).await;
    assert_eq!(b.expect_error("voice_join").await, ErrorCode::ValidationFailed, "not a voice channel");
    b.send(ClientFrame::VoiceJoin { channel_id: Id(7) }).await;
    assert_eq!(b.expect_error("voice_join").await, ErrorCode::NotFound);
    b.send(ClientFrame::VoiceJoin { channel_id: hidden_voice }).await;
    assert_eq!(b.expect_error("voice_join").await, ErrorCode::NotFound, "a private room stays hidden");
    join(&mut b, voice).await;
    b.send(ClientFrame::VoiceJoin { channel_id: voice }).await;
    assert_eq!(b.expect_error("voice_join").await, ErrorCode::Conflict, "already joined from this session");

    let flags = cromulent_protocol::feature_flag::UpdateFeatureFlagsRequest {
        voice: Some(false),
        ..Default::default()
    };
    let mut conn = srv.state.db.pool().acquire().await.expect("conn");
    cromulent_server::store::feature_flags::update(&mut conn, &flags, 0).await.expect("flags");
    b.send(ClientFrame::VoiceLeave).await;
    b.send(ClientFrame::VoiceJoin { channel_id: voice }).await;
    assert_eq!(b.expect_error("voice_join").await, ErrorCode::FeatureDisabled);
    b.send(ClientFrame::VoiceLeave).await;
    assert_eq!(b.expect_error("voice_leave").await, ErrorCode::NotFound, "not in a room any more");
}

/// An SFU room of many participants has session descriptions far over the 16 KiB that
/// holds every other frame: they pass up to `GATEWAY_MAX_SDP_BYTES`, nothing else does.
#[tokio::test]
async fn session_descriptions_have_a_limit_of_their_own() {
    let srv = TestServer::start_with(Database::Sqlite, |c| c.gateway_max_sdp_bytes = 64 * 1024).await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let mut a = srv.connect(&ann).await;
    let mut b = srv.connect(&bob).await;
    let voice = channel_id(&a, "voice-main");
    join(&mut a, voice).await;
    join(&mut b, voice).await;

    let large = format!("v=0\r\n{}", "a=x\r\n".repeat(40 * 1024 / 5));
    a.send(ClientFrame::SdpOffer { to: b.session_id, sdp: large.clone() }).await;
    let offer = b.wait_for_event(|e| matches!(e, Event::SdpOffer { .. }), WAIT).await;
    assert_eq!(offer, Event::SdpOffer { from: a.session_id, from_user_id: ann.id, sdp: large });

    let candidate = json!({"candidate": "x".repeat(20 * 1024)});
    a.send(ClientFrame::IceCandidate { to: b.session_id, candidate }).await;
    assert_eq!(a.close_code().await, Some(close_code::FRAME_TOO_LARGE), "other ops keep 16 KiB");

    let huge = format!("v=0\r\n{}", "a=x\r\n".repeat(70 * 1024 / 5));
    b.send(ClientFrame::SdpAnswer { to: a.session_id, sdp: huge }).await;
    assert_eq!(b.close_code().await, Some(close_code::FRAME_TOO_LARGE), "over GATEWAY_MAX_SDP_BYTES");
}

#[tokio::test]
async fn signaling_goes_only_to_the_named_peer_in_the_same_room() {
    let srv = TestServer::start_with(Database::Sqlite, |c| c.gateway_heartbeat_ms = 1000).await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let carol = srv.user("carol").await;
    let dave = srv.user("dave").await;
    let mut a = srv.connect(&ann).await;
    let mut b = srv.connect(&bob).await;
    let mut c = srv.connect(&carol).await;
    let mut d = srv.connect(&dave).await;
    let voice = channel_id(&a, "voice-main");

    join(&mut a, voice).await;
    b.send(ClientFrame::VoiceJoin { channel_id: voice }).await;
    match b.wait_for_control(|f| matches!(f, ControlFrame::VoiceJoined { .. }), WAIT).await {
        ControlFrame::VoiceJoined { room, self_session_id, .. } => {
            assert_eq!(self_session_id, b.session_id);
            assert!(
                room.participants.iter().any(|p| p.session_id == a.session_id),
                "the roster has ann: {room:?}"
            );
        }
        _ => unreachable!(),
    }
    let joined = a.wait_for_event(|e| matches!(e, Event::PeerJoined { .. }), WAIT).await;
    assert!(
        matches!(joined, Event::PeerJoined { participant, .. } if participant.session_id == b.session_id)
    );
    join(&mut c, voice).await;

    a.send(ClientFrame::SdpOffer { to: b.session_id, sdp: "v=0 offer".into() }).await;
    let offer = b.wait_for_event(|e| matches!(e, Event::SdpOffer { .. }), WAIT).await;
    assert_eq!(offer, Event::SdpOffer { from: a.session_id, from_user_id: ann.id, sdp: "v=0 offer".into() });
    b.send(ClientFrame::SdpAnswer { to: a.session_id, sdp: "v=0 answer".into() }).await;
    a.wait_for_event(|e| matches!(e, Event::SdpAnswer { from, .. } if *from == b.session_id), WAIT).await;
    a.send(ClientFrame::IceCandidate {
        to: b.session_id,
        candidate: json!({"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host"}),
    })
    .await;
    b.wait_for_event(|e| matches!(e, Event::IceCandidate { .. }), WAIT).await;
    c.expect_no_event(is_signaling, QUIET).await;
    d.expect_no_event(is_signaling, Duration::ZERO).await;

    // Dave is in no room: nobody may signal him, and he may signal nobody.
    a.send(ClientFrame::SdpOffer { to: d.session_id, sdp: "x".into() }).await;
    assert_eq!(a.expect_error("sdp_offer").await, ErrorCode::NotFound);
    d.send(ClientFrame::SdpOffer { to: a.session_id, sdp: "x".into() }).await;
    assert_eq!(d.expect_error("sdp_offer").await, ErrorCode::NotFound);
    d.expect_no_event(is_signaling, QUIET).await;

    // Push-to-talk reaches the room; mute always wins; deafen implies mute.
    a.send(ClientFrame::PttState { active: true }).await;
    let ptt = c.wait_for_event(|e| matches!(e, Event::PttState { .. }), WAIT).await;
    assert_eq!(ptt, Event::PttState { session_id: a.session_id, user_id: ann.id, active: true });
    a.send(ClientFrame::SetMute { muted: true }).await;
    c.wait_for_event(|e| matches!(e, Event::PttState { active: false, .. }), WAIT).await;
    a.send(ClientFrame::PttState { active: true }).await;
    let update = c
        .wait_for_event(|e| matches!(e, Event::VoiceStateUpdate { participant, .. } if participant.session_id == a.session_id && participant.muted), WAIT)
        .await;
    assert!(
        matches!(update, Event::VoiceStateUpdate { ref participant, .. } if !participant.speaking),
        "muted means silent"
    );
    b.send(ClientFrame::SetDeafen { deafened: true }).await;
    let deaf = c
        .wait_for_event(|e| matches!(e, Event::VoiceStateUpdate { participant, .. } if participant.session_id == b.session_id && participant.deafened), WAIT)
        .await;
    assert!(
        matches!(deaf, Event::VoiceStateUpdate { ref participant, .. } if participant.muted),
        "deafen implies mute"
    );

    // A session that dies leaves its room once the heartbeat timeout has passed.
    let bob_session = b.session_id;
    b.kill();
    let left = a.wait_for_event(|e| matches!(e, Event::PeerLeft { .. }), Duration::from_secs(10)).await;
    assert!(matches!(left, Event::PeerLeft { session_id, .. } if session_id == bob_session));
}

#[tokio::test]
async fn voice_updates_need_a_room_and_a_second_device_moves_the_user() {
    let srv = TestServer::start(Database::Sqlite).await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let mut laptop = srv.connect(&bob).await;
    let mut phone = srv.connect(&bob).await;
    let mut a = srv.connect(&ann).await;
    let voice = channel_id(&a, "voice-main");
    for (frame, op) in [
        (ClientFrame::PttState { active: true }, "ptt_state"),
        (ClientFrame::SetMute { muted: true }, "set_mute"),
        (ClientFrame::SetDeafen { deafened: true }, "set_deafen"),
        (ClientFrame::VoiceLeave, "voice_leave"),
    ] {
        laptop.send(frame).await;
        assert_eq!(laptop.expect_error(op).await, ErrorCode::NotFound, "{op} needs a voice room");
    }
    join(&mut a, voice).await;
    join(&mut laptop, voice).await;
    let laptop_session = laptop.session_id;
    a.wait_for_event(peer_joined(laptop_session), WAIT).await;

    // Joining from the phone moves bob: the laptop's place in the room is given up.
    join(&mut phone, voice).await;
    a.wait_for_event(peer_left(laptop_session), WAIT).await;
    a.wait_for_event(peer_joined(phone.session_id), WAIT).await;
    laptop.send(ClientFrame::PttState { active: true }).await;
    assert_eq!(
        laptop.expect_error("ptt_state").await,
        ErrorCode::NotFound,
        "the laptop is no longer in the room"
    );
    a.expect_no_event(
        |e| matches!(e, Event::PttState { session_id, .. } if *session_id == laptop_session),
        QUIET,
    )
    .await;
}

db_test! {
    async fn a_voice_room_an_admin_creates_is_open_to_everyone_who_sees_it(srv) {
        // Neither bob nor carol is a member: a public room needs no membership.
        let BobAndCarolInRoom { ann, bob, channel: lounge, mut b, mut c, .. } =
            bob_and_carol_in_room(&srv, "lounge", false).await;
        b.send(ClientFrame::SdpOffer { to: c.session_id, sdp: "v=0 lounge".into() }).await;
        let offer = c.wait_for_event(|e| matches!(e, Event::SdpOffer { .. }), WAIT).await;
        assert_eq!(
            offer,
            Event::SdpOffer { from: b.session_id, from_user_id: bob.id, sdp: "v=0 lounge".into() },
            "they are each other's peers"
        );
        let members: Vec<serde_json::Value> = srv.get(&format!("/api/channels/{lounge}/members"), &ann).await.ok();
        assert!(members.is_empty(), "joining the room does not join the membership: {members:?}");

        // The admin who made it may talk there too, membership or not.
        let mut a = srv.connect(&ann).await;
        let room = join(&mut a, lounge).await;
        assert_eq!(room.participants.len(), 3, "ann joins bob and carol: {room:?}");
    }
}

db_test! {
    async fn a_private_voice_room_stays_for_its_members(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let staff = voice_channel(&srv, &ann, "staff-voice", true).await;
        let mut b = srv.connect(&bob).await;
        b.send(ClientFrame::VoiceJoin { channel_id: staff }).await;
        assert_eq!(b.expect_error("voice_join").await, ErrorCode::NotFound, "a non-member does not even see it");

        // The creator is its first member; an admin who is not a member sees the room
        // but, as for posting, must add themselves first.
        let mut a = srv.connect(&ann).await;
        join(&mut a, staff).await;
        a.send(ClientFrame::VoiceLeave).await;
        srv.delete(&format!("/api/channels/{staff}/members/{}", ann.id), &ann).await.ok::<serde_json::Value>();
        a.send(ClientFrame::VoiceJoin { channel_id: staff }).await;
        assert_eq!(a.expect_error("voice_join").await, ErrorCode::Forbidden, "admins need membership too");
        add_members(&srv, &ann, staff, &[&bob]).await;
        join(&mut b, staff).await;
    }
}

#[tokio::test]
async fn an_admin_pins_a_rooms_mode_and_the_room_moves_at_once() {
    let srv = TestServer::start(Database::Postgres).await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let mut a = srv.connect(&ann).await;
    let mut b = srv.connect(&bob).await;
    let voice = channel_id(&a, "voice-main");
    both_in_room(&mut a, &mut b, voice).await;

    let pinned: Channel =
        srv.patch(&format!("/api/channels/{voice}"), &ann, json!({"voice_mode": "sfu"})).await.ok();
    assert_eq!(pinned.voice_mode, Some(RoomMode::Sfu), "the pin is stored and returned");
    let mut sfu = None;
    for gw in [&mut a, &mut b] {
        match gw.wait_for_event(|e| matches!(e, Event::VoiceModeChanged { .. }), WAIT).await {
            Event::VoiceModeChanged { mode: RoomMode::Sfu, sfu_session_id: Some(id), .. } => {
                assert!(sfu.is_none_or(|s| s == id), "one SFU peer for the room");
                sfu = Some(id);
            }
            other => panic!("two people in a room pinned to the SFU move there: {other:?}"),
        }
    }

    let unpinned: Channel =
        srv.patch(&format!("/api/channels/{voice}"), &ann, json!({"voice_mode": null})).await.ok();
    assert_eq!(unpinned.voice_mode, None, "null follows the server again");
    let back = a.wait_for_event(|e| matches!(e, Event::VoiceModeChanged { .. }), WAIT).await;
    assert_eq!(
        back,
        Event::VoiceModeChanged { channel_id: voice, mode: RoomMode::Mesh, sfu_session_id: None },
        "two people are below VOICE_SFU_ABOVE: the room goes back to a mesh"
    );

    srv.patch(&format!("/api/channels/{voice}"), &ann, json!({"voice_mode": "mesh"})).await.ok::<Channel>();
    b.send(ClientFrame::VoiceLeave).await;
    let carol = srv.user("carol").await;
    let mut c = srv.connect(&carol).await;
    c.send(ClientFrame::VoiceJoin { channel_id: voice }).await;
    match c.wait_for_control(|f| matches!(f, ControlFrame::VoiceJoined { .. }), WAIT).await {
        ControlFrame::VoiceJoined { mode, sfu_session_id, .. } => {
            assert_eq!((mode, sfu_session_id), (RoomMode::Mesh, None), "a join reads the pin");
        }
        _ => unreachable!(),
    }
    let refused = srv.patch(&format!("/api/channels/{voice}"), &bob, json!({"voice_mode": "sfu"})).await;
    refused.error(reqwest::StatusCode::FORBIDDEN, ErrorCode::Forbidden);
}
