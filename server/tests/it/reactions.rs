//! Reactions: add and take back (idempotent), counts and `me` in every message read,
//! events to the channel's readers, refused input and rights, and the two limits.

use std::time::Duration;

use cromulent_protocol::channel::WritePermission;
use cromulent_protocol::event::Event;
use cromulent_protocol::message::{Message, Reaction};
use cromulent_protocol::{ErrorCode, Id};
use reqwest::StatusCode;
use serde_json::json;

use crate::db_test;
use crate::gateway_client::WAIT;
use crate::harness::{Database, TestServer, TestUser};
use crate::messages::{channel_id, history, make_channel, send};

const QUIET: Duration = Duration::from_millis(400);

/// The emoji percent-encoded byte by byte, as a browser puts it in a path.
fn encoded(emoji: &str) -> String {
    emoji.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn path(message: Id, emoji: &str) -> String {
    format!("/api/messages/{message}/reactions/{}", encoded(emoji))
}

async fn react(srv: &TestServer, user: &TestUser, message: Id, emoji: &str) -> StatusCode {
    srv.put(&path(message, emoji), user).await.status
}

async fn reaction_rows(srv: &TestServer) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM message_reactions")
        .fetch_one(srv.state.db.pool())
        .await
        .expect("count")
}

fn reactions(page: &[Message], id: Id) -> Vec<Reaction> {
    page.iter().find(|m| m.id == id).expect("the message is in the page").reactions.clone()
}

fn r(emoji: &str, count: u32, me: bool) -> Reaction {
    Reaction { emoji: emoji.into(), count, me }
}

db_test!(
    async fn reactions_are_counted_per_emoji_and_announced(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let general = channel_id(&srv, "general").await;
        let mut carol_gw = srv.connect(&carol).await;
        let msg = send(&srv, &bob, general, "ship it?").await;

        assert_eq!(react(&srv, &ann, msg.id, "👍").await, StatusCode::NO_CONTENT);
        let added = carol_gw.wait_for_event(|e| matches!(e, Event::ReactionAdd { .. }), WAIT).await;
        assert_eq!(added, Event::ReactionAdd { channel_id: general, message_id: msg.id, user_id: ann.id, emoji: "👍".into() });
        assert_eq!(react(&srv, &ann, msg.id, "👍").await, StatusCode::NO_CONTENT, "reacting again is idempotent");
        carol_gw.expect_no_event(|e| matches!(e, Event::ReactionAdd { .. }), QUIET).await;
        assert_eq!(react(&srv, &bob, msg.id, "🎉").await, StatusCode::NO_CONTENT);
        assert_eq!(react(&srv, &bob, msg.id, "👍").await, StatusCode::NO_CONTENT);

        let by_ann = history(&srv, &ann, general, "").await;
        assert_eq!(reactions(&by_ann, msg.id), [r("👍", 2, true), r("🎉", 1, false)], "counts, `me`, and order of first use");
        let by_carol = history(&srv, &carol, general, "").await;
        assert_eq!(reactions(&by_carol, msg.id), [r("👍", 2, false), r("🎉", 1, false)], "`me` is the reader's own");

        let removed = srv.delete(&path(msg.id, "👍"), &ann).await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.body);
        let gone = carol_gw.wait_for_event(|e| matches!(e, Event::ReactionRemove { .. }), WAIT).await;
        assert_eq!(gone, Event::ReactionRemove { channel_id: general, message_id: msg.id, user_id: ann.id, emoji: "👍".into() });
        assert_eq!(srv.delete(&path(msg.id, "👍"), &ann).await.status, StatusCode::NO_CONTENT, "taking back twice is idempotent");
        carol_gw.expect_no_event(|e| matches!(e, Event::ReactionRemove { .. }), QUIET).await;
        let after = history(&srv, &ann, general, "").await;
        // Ordered by the earliest reaction still there: bob's 👍 came after his 🎉.
        assert_eq!(reactions(&after, msg.id), [r("🎉", 1, false), r("👍", 1, false)]);

        assert_eq!(react(&srv, &carol, msg.id, "\u{263a}").await, StatusCode::NO_CONTENT);
        assert_eq!(react(&srv, &carol, msg.id, "\u{263a}\u{fe0f}").await, StatusCode::NO_CONTENT);
        let smiles = reactions(&history(&srv, &carol, general, "").await, msg.id);
        assert_eq!(smiles.last(), Some(&r("\u{263a}\u{fe0f}", 1, true)), "two spellings of one emoji are one reaction");

        let edited: Message = srv.patch(&format!("/api/messages/{}", msg.id), &bob, json!({"body": "ship it!"})).await.ok();
        assert_eq!(edited.reactions.len(), 3, "an edit answers with the reactions too");
        let pins = srv.put(&format!("/api/channels/{general}/pins/{}", msg.id), &ann).await;
        assert_eq!(pins.status, StatusCode::NO_CONTENT, "{}", pins.body);
        let pinned: Vec<cromulent_protocol::message::Pin> = srv.get(&format!("/api/channels/{general}/pins"), &carol).await.ok();
        assert_eq!(pinned[0].message.reactions, smiles, "pins carry reactions as every message does");
    }
);

db_test!(
    async fn bad_reactions_are_refused_and_store_nothing(srv) {
        let ann = srv.user("ann").await;
        let general = channel_id(&srv, "general").await;
        let msg = send(&srv, &ann, general, "react to me").await;
        for text in ["a", ":+1:", "👍👍", "👍 ", &"😀".repeat(20)] {
            let err = srv.put(&path(msg.id, text), &ann).await.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
            assert_eq!(err.field.as_deref(), Some("emoji"), "{text:?} is not one emoji");
        }
        srv.put(&path(Id(123_456_789), "👍"), &ann).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.put("/api/messages/abc/reactions/%F0%9F%91%8D", &ann).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.delete(&path(msg.id, "nope"), &ann).await.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        assert_eq!(reaction_rows(&srv).await, 0, "no refused request leaves a reaction");
    }
);

db_test!(
    async fn reacting_needs_sight_membership_and_no_timeout(srv) {
        let ann = srv.user("ann").await; // admin
        let bob = srv.user("bob").await;
        let eve = srv.user("eve").await;
        let secret = make_channel(&srv, "secret", true, WritePermission::Everyone, &[&bob]).await;
        let open = make_channel(&srv, "open", false, WritePermission::Everyone, &[&bob]).await;
        let news = make_channel(&srv, "news", false, WritePermission::AdminOnly, &[&ann, &bob]).await;
        let hidden = send(&srv, &bob, secret, "members only").await;
        let public = send(&srv, &bob, open, "members write here").await;
        let announcement = send(&srv, &ann, news, "we ship friday").await;

        srv.put(&path(hidden.id, "👍"), &eve).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.delete(&path(hidden.id, "👍"), &eve).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.put(&path(public.id, "👍"), &eve).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        assert_eq!(react(&srv, &bob, announcement.id, "🎉").await, StatusCode::NO_CONTENT, "members react to announcements they cannot write");

        let given = srv.post(&format!("/api/admin/users/{}/timeout", bob.id), &ann, json!({"duration_secs": 60})).await;
        assert!(given.status.is_success(), "{}", given.body);
        srv.put(&path(public.id, "👍"), &bob).await.error(StatusCode::FORBIDDEN, ErrorCode::TimedOut);
        srv.delete(&path(announcement.id, "🎉"), &bob).await.error(StatusCode::FORBIDDEN, ErrorCode::TimedOut);
        assert_eq!(reaction_rows(&srv).await, 1, "only the permitted reaction is stored");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emoji_cap_and_the_rate_are_settings() {
    let srv = TestServer::start_with(Database::Sqlite, |c| {
        c.limits.reactions_per_message_max = 2;
        c.limits.reactions_per_user_per_minute = 6;
    })
    .await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let general = channel_id(&srv, "general").await;
    let msg = send(&srv, &ann, general, "pick two").await;
    assert_eq!(react(&srv, &ann, msg.id, "👍").await, StatusCode::NO_CONTENT);
    assert_eq!(react(&srv, &ann, msg.id, "🎉").await, StatusCode::NO_CONTENT);
    let err = srv
        .put(&path(msg.id, "🚀"), &bob)
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
    assert!(err.message.contains("at most 2"), "the limit is named: {}", err.message);
    assert_eq!(
        react(&srv, &bob, msg.id, "👍").await,
        StatusCode::NO_CONTENT,
        "an emoji already there still takes more users"
    );
    for _ in 0..4 {
        react(&srv, &bob, msg.id, "🎉").await;
    }
    let limited =
        srv.put(&path(msg.id, "🎉"), &bob).await.error(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited);
    assert!(limited.retry_after_secs.is_some(), "the refusal says when to retry");
    assert_eq!(react(&srv, &ann, msg.id, "👍").await, StatusCode::NO_CONTENT, "the rate is per user");
}
