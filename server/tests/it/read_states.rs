//! Read markers: acking clears unread and mention counts, and only ever moves forward.

use cromulent_protocol::channel::{ChannelListEntry, ReadState, WritePermission};
use cromulent_protocol::{ErrorCode, Id};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::db_test;
use crate::harness::{TestServer, TestUser};
use crate::messages::{channel_id, make_channel, send};
use crate::notifications::inbox;

/// The user's entry for a channel in `GET /api/channels`, with its counters.
async fn counts(srv: &TestServer, user: &TestUser, channel: Id) -> ChannelListEntry {
    let list: Vec<ChannelListEntry> = srv.get("/api/channels", user).await.ok();
    list.into_iter().find(|c| c.channel.id == channel).expect("the channel is listed")
}

async fn ack(srv: &TestServer, user: &TestUser, channel: Id, message: Id) -> crate::harness::Reply {
    srv.post(&format!("/api/channels/{channel}/ack"), user, json!({"message_id": message})).await
}

db_test!(
    async fn acking_clears_unread_and_mention_counts(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        send(&srv, &ann, general, "one").await;
        send(&srv, &ann, general, "two for @bob").await;
        let last = send(&srv, &ann, general, "three").await;

        let before = counts(&srv, &bob, general).await;
        assert_eq!((before.unread_count, before.mention_count), (3, 1), "three unread, one of them a mention");
        let own = counts(&srv, &ann, general).await;
        assert_eq!(own.unread_count, 0, "one's own messages are never unread");
        assert_eq!(own.last_read_message_id, Some(last.id), "sending moves the sender's marker");

        let state: ReadState = ack(&srv, &bob, general, last.id).await.ok();
        assert_eq!(state, ReadState { channel_id: general, last_read_message_id: Some(last.id) });
        let after = counts(&srv, &bob, general).await;
        assert_eq!((after.unread_count, after.mention_count), (0, 0), "everything up to the marker is read");
        assert!(inbox(&srv, &bob, "?unread_only=true").await.is_empty(), "the mention was marked read with the channel");
    }
);

db_test!(
    async fn mention_count_counts_only_mentions_above_the_marker(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        let mut ids = Vec::new();
        for body in ["@bob a", "b", "@everyone c", "d", "@bob e"] {
            ids.push(send(&srv, &ann, general, body).await.id);
        }
        let c = counts(&srv, &bob, general).await;
        assert_eq!((c.unread_count, c.mention_count), (5, 3), "plain messages are unread but not mentions");
        ack(&srv, &bob, general, ids[2]).await.ok::<ReadState>();
        let c = counts(&srv, &bob, general).await;
        assert_eq!((c.unread_count, c.mention_count), (2, 1), "only what is above the marker counts");
        let unread = inbox(&srv, &bob, "?unread_only=true").await;
        assert_eq!(unread.iter().map(|n| n.message_id).collect::<Vec<_>>(), [ids[4]], "notifications up to the marker are read");
    }
);

db_test!(
    async fn the_marker_never_moves_back(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        let old = send(&srv, &ann, general, "old").await;
        let new = send(&srv, &ann, general, "new").await;
        ack(&srv, &bob, general, new.id).await.ok::<ReadState>();
        let state: ReadState = ack(&srv, &bob, general, old.id).await.ok();
        assert_eq!(state.last_read_message_id, Some(new.id), "a late ack from another device must not unread messages");
        assert_eq!(counts(&srv, &bob, general).await.unread_count, 0);
    }
);

db_test!(
    async fn acks_must_name_a_message_of_a_visible_channel(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let eve = srv.user("eve").await;
        let general = channel_id(&srv, "general").await;
        let random = channel_id(&srv, "random").await;
        let elsewhere = send(&srv, &ann, random, "in random").await;
        send(&srv, &ann, general, "in general").await;
        ack(&srv, &bob, general, elsewhere.id).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        ack(&srv, &bob, general, Id(12345)).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        let secret = make_channel(&srv, "secret", true, WritePermission::Everyone, &[&ann]).await;
        let hidden = send(&srv, &ann, secret, "hidden").await;
        ack(&srv, &eve, secret, hidden.id).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        let path = format!("/api/channels/{general}/ack");
        srv.call_raw(Method::POST, &path, Some(&bob.access_token), "application/json", b"{\"message_id\": true}".to_vec())
            .await
            .error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.call_raw(Method::POST, &path, Some(&bob.access_token), "application/json", b"{".to_vec())
            .await
            .error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        let c = counts(&srv, &bob, general).await;
        assert_eq!((c.last_read_message_id, c.unread_count), (None, 1), "refused acks moved nothing");
    }
);
