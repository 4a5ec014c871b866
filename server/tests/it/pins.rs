//! Pins: who may pin where, the list, `pins_update` events, the cap, and refusals.

use std::time::Duration;

use cromulent_protocol::channel::WritePermission;
use cromulent_protocol::event::Event;
use cromulent_protocol::message::Pin;
use cromulent_protocol::{ErrorCode, Id};
use reqwest::StatusCode;
use serde_json::json;

use crate::db_test;
use crate::gateway_client::WAIT;
use crate::harness::{Database, TestServer, TestUser};
use crate::messages::{channel_id, make_channel, send};

const QUIET: Duration = Duration::from_millis(400);

fn pin_path(channel: Id, message: Id) -> String {
    format!("/api/channels/{channel}/pins/{message}")
}

async fn pins(srv: &TestServer, user: &TestUser, channel: Id) -> Vec<Pin> {
    srv.get(&format!("/api/channels/{channel}/pins"), user).await.ok()
}

async fn pin_rows(srv: &TestServer) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM channel_pins")
        .fetch_one(srv.state.db.pool())
        .await
        .expect("count")
}

db_test!(
    async fn admins_and_authors_pin_and_everyone_hears_of_it(srv) {
        let ann = srv.user("ann").await; // admin
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let general = channel_id(&srv, "general").await;
        let mut carol_gw = srv.connect(&carol).await;
        let by_bob = send(&srv, &bob, general, "the plan").await;
        let by_carol = send(&srv, &carol, general, "the agenda").await;

        assert_eq!(srv.put(&pin_path(general, by_bob.id), &bob).await.status, StatusCode::NO_CONTENT, "authors pin their own where everyone writes");
        let update = carol_gw.wait_for_event(|e| matches!(e, Event::PinsUpdate { .. }), WAIT).await;
        assert_eq!(update, Event::PinsUpdate { channel_id: general, message_id: by_bob.id, pinned: true, user_id: bob.id });
        assert_eq!(srv.put(&pin_path(general, by_bob.id), &bob).await.status, StatusCode::NO_CONTENT, "pinning twice is idempotent");
        carol_gw.expect_no_event(|e| matches!(e, Event::PinsUpdate { .. }), QUIET).await;
        assert_eq!(srv.put(&pin_path(general, by_carol.id), &ann).await.status, StatusCode::NO_CONTENT, "admins pin anything");

        let listed = pins(&srv, &carol, general).await;
        let ids: Vec<Id> = listed.iter().map(|p| p.message.id).collect();
        assert_eq!(ids, [by_carol.id, by_bob.id], "newest pin first");
        assert_eq!((listed[0].pinned_by, listed[0].message.body.as_str()), (ann.id, "the agenda"));

        srv.put(&pin_path(general, by_carol.id), &bob).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.delete(&pin_path(general, by_carol.id), &bob).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        assert_eq!(srv.delete(&pin_path(general, by_bob.id), &bob).await.status, StatusCode::NO_CONTENT);
        let unpinned = carol_gw.wait_for_event(|e| matches!(e, Event::PinsUpdate { pinned: false, .. }), WAIT).await;
        assert!(matches!(unpinned, Event::PinsUpdate { message_id, .. } if message_id == by_bob.id));

        assert_eq!(srv.delete(&format!("/api/messages/{}", by_carol.id), &carol).await.status, StatusCode::NO_CONTENT);
        let by_delete = carol_gw.wait_for_event(|e| matches!(e, Event::PinsUpdate { pinned: false, .. }), WAIT).await;
        assert!(matches!(by_delete, Event::PinsUpdate { message_id, .. } if message_id == by_carol.id), "deleting a pinned message unpins it");
        assert!(pins(&srv, &ann, general).await.is_empty(), "nothing is pinned any more");
    }
);

db_test!(
    async fn pinning_is_refused_without_the_right(srv) {
        let ann = srv.user("ann").await; // admin
        let bob = srv.user("bob").await;
        let eve = srv.user("eve").await;
        let general = channel_id(&srv, "general").await;
        let random = channel_id(&srv, "random").await;
        let secret = make_channel(&srv, "secret", true, WritePermission::Everyone, &[&bob]).await;
        let news = make_channel(&srv, "news", false, WritePermission::AdminOnly, &[&ann, &bob]).await;
        let hidden = send(&srv, &bob, secret, "members only").await;
        let announcement = send(&srv, &ann, news, "announcement").await;
        // Bob's own message in a channel that became admins-only since.
        let old = send(&srv, &bob, general, "mine").await;
        sqlx::query("UPDATE channels SET write_permission = 'admin_only' WHERE id = $1")
            .bind(general.0).execute(srv.state.db.pool()).await.expect("make general admin-only");

        srv.put(&pin_path(secret, hidden.id), &eve).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.get(&format!("/api/channels/{secret}/pins"), &eve).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.put(&pin_path(news, announcement.id), &bob).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.put(&pin_path(general, old.id), &bob).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.put(&pin_path(random, old.id), &ann).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.put(&pin_path(general, Id(123_456_789)), &ann).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.put(&format!("/api/channels/{general}/pins/abc"), &ann).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);

        let own = send(&srv, &bob, secret, "my own").await;
        let given = srv.post(&format!("/api/admin/users/{}/timeout", bob.id), &ann, json!({"duration_secs": 60})).await;
        assert!(given.status.is_success(), "{}", given.body);
        srv.put(&pin_path(secret, own.id), &bob).await.error(StatusCode::FORBIDDEN, ErrorCode::TimedOut);
        assert_eq!(pin_rows(&srv).await, 0, "no refused request pins anything");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_holds_at_most_the_pins_the_setting_allows() {
    let srv = TestServer::start_with(Database::Sqlite, |c| c.limits.pins_per_channel_max = 2).await;
    let ann = srv.user("ann").await;
    let general = channel_id(&srv, "general").await;
    let mut sent = Vec::new();
    for body in ["one", "two", "three"] {
        sent.push(send(&srv, &ann, general, body).await);
    }
    for m in &sent[..2] {
        assert_eq!(srv.put(&pin_path(general, m.id), &ann).await.status, StatusCode::NO_CONTENT);
    }
    let err = srv
        .put(&pin_path(general, sent[2].id), &ann)
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
    assert!(err.message.contains("at most 2"), "the limit is named: {}", err.message);
    assert_eq!(
        srv.put(&pin_path(general, sent[0].id), &ann).await.status,
        StatusCode::NO_CONTENT,
        "re-pinning at the cap is no new pin"
    );
    assert_eq!(pin_rows(&srv).await, 2);
}
