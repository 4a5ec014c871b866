//! Events from REST writes reach exactly the sessions allowed to see them, at once.

use std::time::Duration;

use cromulent_protocol::channel::Channel;
use cromulent_protocol::event::Event;
use cromulent_protocol::message::Message;
use cromulent_protocol::Id;
use serde_json::json;

use crate::gateway_client::{Gw, WAIT};
use crate::harness::{Database, TestServer};

const QUIET: Duration = Duration::from_millis(400);

fn general(gw: &Gw) -> Id {
    let ready = gw.ready.as_ref().expect("ready");
    ready.channels.iter().find(|c| c.channel.name == "general").expect("general").channel.id
}

fn is_message(body: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::MessageCreate { message } if message.body == body)
}

#[tokio::test]
async fn message_events_mentions_and_read_state_reach_the_right_sessions() {
    let srv = TestServer::start(Database::Sqlite).await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let mut a = srv.connect(&ann).await;
    let mut b = srv.connect(&bob).await;
    let mut b_phone = srv.connect(&bob).await;
    let channel = general(&a);

    let sent: Message = srv
        .post(&format!("/api/channels/{channel}/messages"), &ann, json!({"body": "hi @bob", "nonce": "x1"}))
        .await
        .ok();
    b.wait_for_event(is_message("hi @bob"), WAIT).await;
    let note = b.wait_for_event(|e| matches!(e, Event::NotificationCreate { .. }), WAIT).await;
    assert!(matches!(note, Event::NotificationCreate { notification } if notification.message_id == sent.id));
    a.wait_for_event(is_message("hi @bob"), WAIT).await;
    a.expect_no_event(|e| matches!(e, Event::NotificationCreate { .. }), QUIET).await;

    let edited =
        srv.patch(&format!("/api/messages/{}", sent.id), &ann, json!({"body": "hi again @bob"})).await;
    assert!(edited.status.is_success(), "{}", edited.body);
    b.wait_for_event(|e| matches!(e, Event::MessageUpdate { message } if message.edited_at.is_some()), WAIT)
        .await;

    let acked = srv.post(&format!("/api/channels/{channel}/ack"), &bob, json!({"message_id": sent.id})).await;
    assert!(acked.status.is_success(), "{}", acked.body);
    b_phone.wait_for_event(|e| matches!(e, Event::ReadStateUpdate { .. }), WAIT).await;
    a.expect_no_event(|e| matches!(e, Event::ReadStateUpdate { .. }), QUIET).await;

    let deleted = srv.delete(&format!("/api/messages/{}", sent.id), &ann).await;
    assert!(deleted.status.is_success(), "{}", deleted.body);
    let gone = b.wait_for_event(|e| matches!(e, Event::MessageDelete { .. }), WAIT).await;
    assert_eq!(gone, Event::MessageDelete { channel_id: channel, message_id: sent.id });
}

#[tokio::test]
async fn removal_from_a_private_channel_stops_its_events_at_once() {
    let srv = TestServer::start(Database::Sqlite).await;
    let admin = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let carol = srv.user("carol").await;
    let mut b = srv.connect(&bob).await;
    let mut c = srv.connect(&carol).await;

    let created: Channel = srv
        .post("/api/channels", &admin, json!({"name": "staff", "kind": "text", "is_private": true}))
        .await
        .ok();
    c.expect_no_event(|e| matches!(e, Event::ChannelCreate { .. }), QUIET).await;
    for user in [&bob, &carol] {
        let added = srv.put(&format!("/api/channels/{}/members/{}", created.id, user.id), &admin).await;
        assert!(added.status.is_success(), "{}", added.body);
    }
    b.wait_for_event(|e| matches!(e, Event::ChannelCreate { channel } if channel.id == created.id), WAIT)
        .await;
    let path = format!("/api/channels/{}/messages", created.id);
    srv.post(&path, &bob, json!({"body": "first"})).await.ok::<Message>();
    c.wait_for_event(is_message("first"), WAIT).await;

    let removed = srv.delete(&format!("/api/channels/{}/members/{}", created.id, carol.id), &admin).await;
    assert!(removed.status.is_success(), "{}", removed.body);
    c.wait_for_event(|e| matches!(e, Event::ChannelDelete { channel_id } if *channel_id == created.id), WAIT)
        .await;
    srv.post(&path, &bob, json!({"body": "after"})).await.ok::<Message>();
    b.wait_for_event(is_message("after"), WAIT).await;
    c.expect_no_event(is_message("after"), QUIET).await;
}

#[tokio::test]
async fn public_changes_reach_everyone() {
    let srv = TestServer::start(Database::Sqlite).await;
    let admin = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let mut b = srv.connect(&bob).await;
    srv.post("/api/channels", &admin, json!({"name": "lounge", "kind": "text"})).await.ok::<Channel>();
    b.wait_for_event(|e| matches!(e, Event::ChannelCreate { channel } if channel.name == "lounge"), WAIT)
        .await;
    srv.patch("/api/admin/feature_flags", &admin, json!({"voice": false})).await.ok::<serde_json::Value>();
    b.wait_for_event(
        |e| matches!(e, Event::FeatureFlagsUpdate { feature_flags } if !feature_flags.voice),
        WAIT,
    )
    .await;
    srv.patch("/api/users/me", &admin, json!({"display_name": "Ann A."})).await.ok::<serde_json::Value>();
    b.wait_for_event(
        |e| matches!(e, Event::UserUpdate { user } if user.display_name.as_deref() == Some("Ann A.")),
        WAIT,
    )
    .await;
    srv.post("/api/groups", &admin, json!({"name": "crew", "colour": "#112233", "member_ids": [bob.id]}))
        .await
        .ok::<serde_json::Value>();
    b.wait_for_event(|e| matches!(e, Event::GroupUpdate { group } if group.name == "crew"), WAIT).await;
}

#[tokio::test]
async fn here_reaches_only_those_online() {
    let srv = TestServer::start(Database::Sqlite).await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let carol = srv.user("carol").await;
    let mut b = srv.connect(&bob).await;
    let mut a = srv.connect(&ann).await;
    a.wait_for_event(|e| matches!(e, Event::PresenceUpdate { user_id, .. } if *user_id == ann.id), WAIT)
        .await;
    let channel = general(&b);
    srv.post(&format!("/api/channels/{channel}/messages"), &ann, json!({"body": "@here standup"}))
        .await
        .ok::<Message>();
    b.wait_for_event(|e| matches!(e, Event::NotificationCreate { .. }), WAIT).await;
    let carols: Vec<serde_json::Value> = srv.get("/api/notifications", &carol).await.ok();
    assert!(carols.is_empty(), "carol is offline, so @here does not reach her: {carols:?}");
}
