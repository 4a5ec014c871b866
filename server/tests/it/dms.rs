//! Direct messages: opening one (the same people find the same conversation), who may
//! read and write it (its participants; not outsiders, not admins), its notifications,
//! its events and voice room, and blocks that keep two people apart.

use cromulent_protocol::channel::{ChannelKind, ChannelListEntry, NotificationLevel};
use cromulent_protocol::dm::{Block, DirectMessage, DM_OTHERS_MAX};
use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::ClientFrame;
use cromulent_protocol::message::Message;
use cromulent_protocol::notification::NotificationKind;
use cromulent_protocol::{ErrorCode, Id};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::db_test;
use crate::gateway_client::WAIT;
use crate::harness::{Reply, TestServer, TestUser};
use crate::messages::{channel_id, send};
use crate::notifications::inbox;
use crate::voice::{join, QUIET};

pub async fn open_dm(srv: &TestServer, user: &TestUser, others: &[&TestUser]) -> Reply {
    let ids: Vec<Id> = others.iter().map(|u| u.id).collect();
    srv.post("/api/dms", user, json!({ "user_ids": ids })).await
}

/// A direct message `user` opens with `others`, new or found.
pub async fn dm(srv: &TestServer, user: &TestUser, others: &[&TestUser]) -> DirectMessage {
    let reply = open_dm(srv, user, others).await;
    assert!(reply.status == StatusCode::CREATED || reply.status == StatusCode::OK, "{}", reply.body);
    reply.json()
}

async fn channel_count(srv: &TestServer) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM channels").fetch_one(srv.state.db.pool()).await.expect("count")
}

async fn channels_of(srv: &TestServer, user: &TestUser) -> Vec<ChannelListEntry> {
    srv.get("/api/channels", user).await.ok()
}

db_test!(
    async fn the_same_people_find_the_same_conversation(srv) {
        let _ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let dave = srv.user("dave").await;

        let first = open_dm(&srv, &bob, &[&carol]).await;
        assert_eq!(first.status, StatusCode::CREATED, "a new conversation: {}", first.body);
        let first: DirectMessage = first.json();
        assert_eq!(first.channel.kind, ChannelKind::Dm);
        assert!(first.channel.is_private, "a direct message is private");
        let mut pair = vec![bob.id, carol.id];
        pair.sort();
        assert_eq!(first.participant_ids, pair, "the opener takes part, in id order");

        let again = open_dm(&srv, &carol, &[&bob]).await;
        assert_eq!(again.status, StatusCode::OK, "the other side finds it: {}", again.body);
        assert_eq!(again.json::<DirectMessage>().channel.id, first.channel.id, "one conversation per pair");

        let group = dm(&srv, &bob, &[&carol, &dave]).await;
        assert_ne!(group.channel.id, first.channel.id, "other people, another conversation");
        let reordered = open_dm(&srv, &dave, &[&carol, &bob]).await;
        assert_eq!(reordered.status, StatusCode::OK, "order does not matter: {}", reordered.body);
        assert_eq!(reordered.json::<DirectMessage>().channel.id, group.channel.id);
        let repeated = open_dm(&srv, &dave, &[&carol, &bob, &carol]).await;
        assert_eq!(repeated.status, StatusCode::OK, "someone named twice is one participant: {}", repeated.body);
        assert_eq!(repeated.json::<DirectMessage>().channel.id, group.channel.id);

        let listed: Vec<DirectMessage> = srv.get("/api/dms", &carol).await.ok();
        let ids: Vec<Id> = listed.iter().map(|d| d.channel.id).collect();
        assert_eq!(ids.len(), 2, "carol takes part in both: {ids:?}");
        assert!(ids.contains(&first.channel.id) && ids.contains(&group.channel.id));
        let listed: Vec<DirectMessage> = srv.get("/api/dms", &dave).await.ok();
        assert_eq!(listed.len(), 1, "dave is in the group only");
        assert_eq!(listed[0].participant_ids.len(), 3, "with everyone in it");

        let entry = channels_of(&srv, &carol).await.into_iter().find(|c| c.channel.id == first.channel.id);
        let entry = entry.expect("a direct message is in its participants' channel list");
        assert!(entry.is_member, "participants are its members");
        assert_eq!(entry.notification_level, NotificationLevel::All, "a direct message notifies of every message");
    }
);

db_test!(
    async fn bad_requests_to_open_a_dm_are_refused_and_change_nothing(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let before = channel_count(&srv).await;
        let many: Vec<Id> = (0..=DM_OTHERS_MAX as i64).map(|n| Id(1_000_000 + n)).collect();
        for (body, why) in [
            (json!({"user_ids": []}), "nobody to talk to"),
            (json!({"user_ids": many}), "more than DM_OTHERS_MAX others"),
            (json!({"user_ids": [ann.id]}), "only the caller"),
            (json!({"user_ids": [bob.id, ann.id]}), "the caller among them"),
        ] {
            let reply = srv.post("/api/dms", &ann, body).await;
            let error = reply.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
            assert_eq!(error.field.as_deref(), Some("user_ids"), "{why}");
        }
        srv.post("/api/dms", &ann, json!({"user_ids": [bob.id, Id(424242)]}))
            .await
            .error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.post("/api/dms", &ann, json!({"user_ids": "bob"}))
            .await
            .error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        assert_eq!(channel_count(&srv).await, before, "no refused request made a conversation");
        let listed: Vec<DirectMessage> = srv.get("/api/dms", &ann).await.ok();
        assert!(listed.is_empty());
        srv.anonymous(Method::POST, "/api/dms", Some(json!({"user_ids": [bob.id]})))
            .await
            .error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    }
);

db_test!(
    async fn outsiders_and_admins_neither_read_nor_write_a_dm(srv) {
        let ann = srv.user("ann").await; // the admin
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let dave = srv.user("dave").await;
        let dm = dm(&srv, &bob, &[&carol]).await.channel.id;
        let said = send(&srv, &bob, dm, "just between us").await;
        assert_eq!(send(&srv, &carol, dm, "indeed").await.channel_id, dm, "the other participant writes too");

        for outsider in [&ann, &dave] {
            let who = &outsider.username;
            for path in [
                format!("/api/channels/{dm}"),
                format!("/api/channels/{dm}/messages"),
                format!("/api/channels/{dm}/members"),
            ] {
                let reply = srv.get(&path, outsider).await;
                assert_eq!(reply.status, StatusCode::NOT_FOUND, "{who} reads nothing of {path}");
                reply.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
            }
            srv.post(&format!("/api/channels/{dm}/messages"), outsider, json!({"body": "let me in"}))
                .await
                .error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
            srv.post(&format!("/api/channels/{dm}/ack"), outsider, json!({"message_id": said.id}))
                .await
                .error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
            srv.post(&format!("/api/channels/{dm}/join"), outsider, json!({}))
                .await
                .error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
            srv.call(
                Method::PUT,
                &format!("/api/channels/{dm}/notification_settings"),
                Some(&outsider.access_token),
                Some(json!({"level": "all"})),
            )
            .await
            .error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
            srv.patch(&format!("/api/messages/{}", said.id), outsider, json!({"body": "edited"}))
                .await
                .error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
            srv.delete(&format!("/api/messages/{}", said.id), outsider)
                .await
                .error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
            assert!(
                channels_of(&srv, outsider).await.iter().all(|c| c.channel.id != dm),
                "{who}'s channel list must not hold someone else's direct message"
            );
            let listed: Vec<DirectMessage> = srv.get("/api/dms", outsider).await.ok();
            assert!(listed.is_empty(), "{who} takes part in none");
        }
        // Admins manage channels, but a direct message is nobody's to manage.
        srv.patch(&format!("/api/channels/{dm}"), &ann, json!({"name": "mine-now"}))
            .await
            .error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.put(&format!("/api/channels/{dm}/members/{}", ann.id), &ann)
            .await
            .error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.delete(&format!("/api/channels/{dm}/members/{}", carol.id), &ann)
            .await
            .error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.delete(&format!("/api/channels/{dm}"), &ann).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        // Its people are what makes it this conversation.
        srv.post(&format!("/api/channels/{dm}/leave"), &carol, json!({}))
            .await
            .error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);

        let history: Vec<Message> = srv.get(&format!("/api/channels/{dm}/messages"), &carol).await.ok();
        assert_eq!(history.len(), 2, "both messages stand, none edited away: {history:?}");
        assert!(history.iter().all(|m| m.edited_at.is_none()));
        let members: Vec<Value> = srv.get(&format!("/api/channels/{dm}/members"), &carol).await.ok();
        assert_eq!(members.len(), 2, "nobody joined and nobody left");
        let admin_inbox = inbox(&srv, &ann, "").await;
        assert!(admin_inbox.is_empty(), "an admin is told nothing of other people's conversations");
    }
);

db_test!(
    async fn every_dm_message_notifies_the_others_as_they_chose(srv) {
        let _ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let dave = srv.user("dave").await;
        let dm = dm(&srv, &bob, &[&carol, &dave]).await.channel.id;

        send(&srv, &bob, dm, "hello both").await;
        for user in [&carol, &dave] {
            let got = inbox(&srv, user, "").await;
            assert_eq!(got.len(), 1, "{} hears of every message by default: {got:?}", user.username);
            assert_eq!((got[0].kind, got[0].channel_id), (NotificationKind::DirectMessage, dm));
            let entry = channels_of(&srv, user).await.into_iter().find(|c| c.channel.id == dm).expect("listed");
            assert_eq!((entry.unread_count, entry.mention_count), (1, 1), "it counts as a badge");
        }
        assert!(inbox(&srv, &bob, "").await.is_empty(), "the author is not told of their own message");

        let path = format!("/api/channels/{dm}/notification_settings");
        srv.call(Method::PUT, &path, Some(&carol.access_token), Some(json!({"level": "mentions"})))
            .await
            .ok::<Value>();
        srv.call(Method::PUT, &path, Some(&dave.access_token), Some(json!({"level": "nothing"})))
            .await
            .ok::<Value>();
        send(&srv, &bob, dm, "anyone?").await;
        assert_eq!(inbox(&srv, &carol, "").await.len(), 1, "mentions only: a plain message is not a notification");
        assert_eq!(inbox(&srv, &dave, "").await.len(), 1, "nothing: no notification");
        send(&srv, &bob, dm, "@carol you?").await;
        assert_eq!(inbox(&srv, &carol, "").await.len(), 2, "mentions only still hears a mention");
        assert_eq!(inbox(&srv, &dave, "").await.len(), 1, "nothing hears nothing");
    }
);

db_test!(
    async fn dm_events_and_voice_reach_its_participants_only(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let mut a = srv.connect(&ann).await;
        let mut b = srv.connect(&bob).await;
        let mut c = srv.connect(&carol).await;
        let dm = dm(&srv, &bob, &[&carol]).await.channel.id;
        let created = |e: &Event| matches!(e, Event::ChannelCreate { channel } if channel.id == dm);
        c.wait_for_event(created, WAIT).await;
        b.wait_for_event(created, WAIT).await;

        send(&srv, &bob, dm, "psst").await;
        let posted = |e: &Event| matches!(e, Event::MessageCreate { message } if message.channel_id == dm);
        c.wait_for_event(posted, WAIT).await;
        c.wait_for_event(
            |e| matches!(e, Event::NotificationCreate { notification } if notification.channel_id == dm),
            WAIT,
        )
        .await;
        b.send(ClientFrame::TypingStart { channel_id: dm }).await;
        c.wait_for_event(|e| matches!(e, Event::TypingStart { channel_id, .. } if *channel_id == dm), WAIT)
            .await;

        // The admin's session hears nothing of it, and may neither type nor call there.
        a.send(ClientFrame::TypingStart { channel_id: dm }).await;
        assert_eq!(a.expect_error("typing_start").await, ErrorCode::NotFound);
        a.send(ClientFrame::VoiceJoin { channel_id: dm }).await;
        assert_eq!(a.expect_error("voice_join").await, ErrorCode::NotFound, "no call into other people's conversation");
        a.expect_no_event(|e| created(e) || posted(e) || matches!(e, Event::TypingStart { .. }), QUIET).await;

        // A participant calls: the room is the conversation's.
        let room = join(&mut b, dm).await;
        assert_eq!(room.channel_id, dm);
        assert!(room.participants.iter().any(|p| p.user_id == bob.id));
        let joined = join(&mut c, dm).await;
        assert_eq!(joined.participants.len(), 2, "both participants are in the call: {joined:?}");
        a.expect_no_event(|e| matches!(e, Event::VoiceStateUpdate { channel_id, .. } if *channel_id == dm), QUIET)
            .await;
        let general = channel_id(&srv, "general").await;
        b.send(ClientFrame::VoiceJoin { channel_id: general }).await;
        assert_eq!(b.expect_error("voice_join").await, ErrorCode::ValidationFailed, "a text channel still has no room");
    }
);

db_test!(
    async fn blocks_are_listed_and_lifted(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let block: Block = srv.put(&format!("/api/users/me/blocks/{}", bob.id), &ann).await.ok();
        assert_eq!(block.user_id, bob.id);
        let again: Block = srv.put(&format!("/api/users/me/blocks/{}", bob.id), &ann).await.ok();
        assert_eq!(again.created_at, block.created_at, "blocking twice keeps the first time");
        srv.put(&format!("/api/users/me/blocks/{}", carol.id), &ann).await.ok::<Block>();
        let listed: Vec<Block> = srv.get("/api/users/me/blocks", &ann).await.ok();
        assert_eq!(listed.len(), 2);
        let theirs: Vec<Block> = srv.get("/api/users/me/blocks", &bob).await.ok();
        assert!(theirs.is_empty(), "a block is listed for the one who made it only");

        srv.put(&format!("/api/users/me/blocks/{}", ann.id), &ann).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.put("/api/users/me/blocks/424242", &ann).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.put("/api/users/me/blocks/bob", &ann).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.delete(&format!("/api/users/me/blocks/{}", ann.id), &bob)
            .await
            .error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        let listed: Vec<Block> = srv.get("/api/users/me/blocks", &ann).await.ok();
        assert_eq!(listed.len(), 2, "refused requests changed nothing");

        srv.delete(&format!("/api/users/me/blocks/{}", bob.id), &ann).await.ok::<Value>();
        let listed: Vec<Block> = srv.get("/api/users/me/blocks", &ann).await.ok();
        assert_eq!(listed.iter().map(|b| b.user_id).collect::<Vec<_>>(), vec![carol.id], "bob is unblocked");
        srv.anonymous(Method::GET, "/api/users/me/blocks", None)
            .await
            .error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    }
);

db_test!(
    async fn a_block_keeps_two_people_out_of_each_others_dms(srv) {
        let _ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let dave = srv.user("dave").await;
        let pair = dm(&srv, &bob, &[&carol]).await.channel.id;
        let group = dm(&srv, &bob, &[&carol, &dave]).await.channel.id;
        let said = send(&srv, &bob, pair, "before the block").await;
        // 👍, percent-encoded as a browser puts it in the path.
        let thumbs = format!("/api/messages/{}/reactions/%F0%9F%91%8D", said.id);
        assert_eq!(srv.put(&thumbs, &carol).await.status, StatusCode::NO_CONTENT, "carol reacts before the block");

        srv.put(&format!("/api/users/me/blocks/{}", bob.id), &carol).await.ok::<Block>();
        let before = channel_count(&srv).await;
        open_dm(&srv, &bob, &[&carol]).await.error(StatusCode::FORBIDDEN, ErrorCode::Blocked);
        open_dm(&srv, &carol, &[&bob]).await.error(StatusCode::FORBIDDEN, ErrorCode::Blocked);
        open_dm(&srv, &bob, &[&dave, &carol]).await.error(StatusCode::FORBIDDEN, ErrorCode::Blocked);
        assert_eq!(channel_count(&srv).await, before, "no conversation was opened");

        for (user, channel, why) in [
            (&bob, pair, "the blocked user writes to the blocker"),
            (&carol, pair, "the blocker writes to the blocked user"),
            (&bob, group, "a group that holds the blocker"),
        ] {
            let reply = srv.post(&format!("/api/channels/{channel}/messages"), user, json!({"body": "hi"})).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{why}: {}", reply.body);
            reply.error(StatusCode::FORBIDDEN, ErrorCode::Blocked);
        }
        srv.patch(&format!("/api/messages/{}", said.id), &bob, json!({"body": "edited after"}))
            .await
            .error(StatusCode::FORBIDDEN, ErrorCode::Blocked);
        for user in [&bob, &carol] {
            srv.put(&thumbs, user).await.error(StatusCode::FORBIDDEN, ErrorCode::Blocked);
        }
        let taken_back = srv.delete(&thumbs, &carol).await;
        assert_eq!(taken_back.status, StatusCode::NO_CONTENT, "one's own reaction may be taken back: {}", taken_back.body);
        let mut b = srv.connect(&bob).await;
        b.send(ClientFrame::TypingStart { channel_id: pair }).await;
        assert_eq!(b.expect_error("typing_start").await, ErrorCode::Blocked);
        send(&srv, &dave, group, "dave is not part of the quarrel").await;
        let history: Vec<Message> = srv.get(&format!("/api/channels/{pair}/messages"), &bob).await.ok();
        assert_eq!(history.len(), 1, "reading stays possible; nothing new was written: {history:?}");

        srv.delete(&format!("/api/users/me/blocks/{}", bob.id), &carol).await.ok::<Value>();
        send(&srv, &bob, pair, "after the block").await;
        assert_eq!(open_dm(&srv, &carol, &[&bob]).await.status, StatusCode::OK, "unblocked, the pair meets again");
    }
);

db_test!(
    async fn a_call_in_a_dm_rings_the_others_who_may_decline(srv) {
        let ann = srv.user("ann").await; // the admin, outside the conversation
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let dm = dm(&srv, &bob, &[&carol]).await.channel.id;
        let mut a = srv.connect(&ann).await;
        let mut b = srv.connect(&bob).await;
        let mut c = srv.connect(&carol).await;
        let mut c2 = srv.connect(&carol).await;

        let started = cromulent_server::ids::now_ms();
        join(&mut b, dm).await;
        let ringing = |e: &Event| matches!(e, Event::CallRing { channel_id, .. } if *channel_id == dm);
        for gw in [&mut c, &mut c2] {
            match gw.wait_for_event(ringing, WAIT).await {
                Event::CallRing { from_user_id, expires_at, .. } => {
                    assert_eq!(from_user_id, bob.id, "the ring names the caller");
                    let ring_ms = 30_000;
                    assert!(
                        expires_at >= started + ring_ms && expires_at <= cromulent_server::ids::now_ms() + ring_ms,
                        "it rings for DM_CALL_RING_SECS (30 s by default): {expires_at}"
                    );
                }
                _ => unreachable!("filtered above"),
            }
        }
        b.expect_no_event(ringing, QUIET).await;
        a.expect_no_event(ringing, QUIET).await;

        // Carol declines on one device: bob hears it, and her other device stops ringing.
        c.send(ClientFrame::CallDecline { channel_id: dm }).await;
        let declined =
            |e: &Event| matches!(e, Event::CallDeclined { channel_id, user_id } if *channel_id == dm && *user_id == carol.id);
        b.wait_for_event(declined, WAIT).await;
        c2.wait_for_event(declined, WAIT).await;
        a.expect_no_event(declined, QUIET).await;

        // Refusals: an outsider and an admin cannot decline, nor anything outside a DM.
        a.send(ClientFrame::CallDecline { channel_id: dm }).await;
        assert_eq!(a.expect_error("call_decline").await, ErrorCode::NotFound, "an admin is no participant");
        let general = channel_id(&srv, "general").await;
        c.send(ClientFrame::CallDecline { channel_id: general }).await;
        assert_eq!(c.expect_error("call_decline").await, ErrorCode::ValidationFailed, "only direct messages ring");

        // Carol joins after all: nobody rings, since the call is on already.
        join(&mut c2, dm).await;
        b.expect_no_event(ringing, QUIET).await;
        c.expect_no_event(ringing, QUIET).await;
    }
);
