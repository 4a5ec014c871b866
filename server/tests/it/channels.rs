//! Channels end to end: the default set, the caller's list with counters, admin create,
//! update and delete, and refusals that leave everything as it was.

mod members;

use cromulent_protocol::channel::{Channel, ChannelKind, ChannelListEntry, WritePermission};
use cromulent_protocol::{ErrorCode, Id};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::db_test;
use crate::harness::{TestServer, TestUser};

pub async fn channels(srv: &TestServer, user: &TestUser) -> Vec<ChannelListEntry> {
    srv.get("/api/channels", user).await.ok()
}

pub fn names(list: &[ChannelListEntry]) -> Vec<String> {
    list.iter().map(|e| e.channel.name.clone()).collect()
}

/// Creates a channel as `admin`, asserting `201 Created`.
pub async fn create(srv: &TestServer, admin: &TestUser, body: Value) -> Channel {
    let reply = srv.post("/api/channels", admin, body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "creating a channel answers 201: {}", reply.body);
    reply.json()
}

db_test!(
    async fn default_channels_exist_and_every_new_user_is_in_them(srv) {
        let admin = srv.user("ann").await;
        let bob = srv.user("bob").await;
        for user in [&admin, &bob] {
            let list = channels(&srv, user).await;
            let mut got = names(&list);
            got.sort();
            assert_eq!(got, ["general", "random", "voice-main"], "a new server has the original app's channels");
            assert!(list.iter().all(|e| e.is_member && e.channel.is_default), "every user joins the default channels");
            let voice = list.iter().find(|e| e.channel.name == "voice-main").expect("voice-main");
            assert_eq!(voice.channel.kind, ChannelKind::Voice, "voice-main is a voice room");
        }
    }
);

db_test!(
    async fn admins_create_read_update_and_delete_channels(srv) {
        let admin = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let made = create(&srv, &admin, json!({"name": "  Dev-Talk ", "kind": "text", "topic": "builds"})).await;
        assert_eq!(made.name, "dev-talk", "names are trimmed and lower-cased");
        assert_eq!(made.topic.as_deref(), Some("builds"));
        assert_eq!(made.write_permission, WritePermission::Everyone, "posting is open unless said otherwise");

        let seen: ChannelListEntry = srv.get(&format!("/api/channels/{}", made.id), &bob).await.ok();
        assert_eq!(seen.channel, made, "a public channel is visible to every user");
        assert!(!seen.is_member, "a non-default channel is joined, not imposed");
        assert!(names(&channels(&srv, &bob).await).contains(&"dev-talk".to_owned()), "and it is in their list");

        let path = format!("/api/channels/{}", made.id);
        let changed: Channel = srv
            .patch(&path, &admin, json!({"name": "ops", "write_permission": "admin_only", "topic": null}))
            .await
            .ok();
        assert_eq!(changed.name, "ops");
        assert_eq!(changed.write_permission, WritePermission::AdminOnly);
        assert_eq!(changed.topic, None, "null clears the topic");
        let again: ChannelListEntry = srv.get(&path, &admin).await.ok();
        assert_eq!(again.channel, changed, "the change is stored, not just echoed");
        let untouched: Channel = srv.patch(&path, &admin, json!({})).await.ok();
        assert_eq!(untouched, changed, "absent fields are left alone");

        srv.delete(&path, &admin).await.ok::<Value>();
        srv.get(&path, &admin).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        assert!(!names(&channels(&srv, &admin).await).contains(&"ops".to_owned()), "a deleted channel leaves the list");
        srv.delete(&path, &admin).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    }
);

db_test!(
    async fn a_default_channel_takes_in_every_user(srv) {
        let admin = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let lobby = create(&srv, &admin, json!({"name": "lobby", "kind": "voice", "is_default": true})).await;
        let entry = channels(&srv, &bob).await.into_iter().find(|e| e.channel.id == lobby.id).expect("listed");
        assert!(entry.is_member, "existing users join a new default channel");
        let carol = srv.user("carol").await;
        let entry = channels(&srv, &carol).await.into_iter().find(|e| e.channel.id == lobby.id).expect("listed");
        assert!(entry.is_member, "users who register later join it too");

        let plain = create(&srv, &admin, json!({"name": "later", "kind": "text"})).await;
        let path = format!("/api/channels/{}", plain.id);
        srv.patch(&path, &admin, json!({"is_default": true})).await.ok::<Channel>();
        let entry: ChannelListEntry = srv.get(&path, &bob).await.ok();
        assert!(entry.is_member, "making a channel default takes every user in");
    }
);

db_test!(
    async fn channel_names_are_validated_and_unique(srv) {
        let admin = srv.user("ann").await;
        let before = channels(&srv, &admin).await;
        for bad in ["", "   ", "has space", "#hash", "dot.ted", &"x".repeat(65)] {
            let reply = srv.post("/api/channels", &admin, json!({"name": bad, "kind": "text"})).await;
            let err = reply.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
            assert_eq!(err.field.as_deref(), Some("name"), "{bad:?}: the form must know which field is wrong");
        }
        let topic = srv.post("/api/channels", &admin, json!({"name": "x", "kind": "text", "topic": "t".repeat(513)})).await;
        let err = topic.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        assert_eq!(err.field.as_deref(), Some("topic"), "topics are length-limited");
        let both = srv.post("/api/channels", &admin, json!({"name": "x", "kind": "text", "is_default": true, "is_private": true})).await;
        let err = both.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        assert_eq!(err.field.as_deref(), Some("is_private"), "everyone joins a default channel, so it cannot be private");
        srv.post("/api/channels", &admin, json!({"name": "GENERAL", "kind": "text"}))
            .await
            .error(StatusCode::CONFLICT, ErrorCode::ChannelNameTaken);
        assert_eq!(channels(&srv, &admin).await, before, "refused creations must not change anything");

        let random = before.iter().find(|e| e.channel.name == "random").expect("random").channel.id;
        let path = format!("/api/channels/{random}");
        srv.patch(&path, &admin, json!({"name": "General"})).await.error(StatusCode::CONFLICT, ErrorCode::ChannelNameTaken);
        let err = srv.patch(&path, &admin, json!({"name": "no way"})).await.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        assert_eq!(err.field.as_deref(), Some("name"));
        srv.patch(&path, &admin, json!({"is_private": true}))
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        let same: Channel = srv.patch(&path, &admin, json!({"name": "random"})).await.ok();
        assert_eq!(same.name, "random", "keeping one's own name is not a conflict");
        assert_eq!(channels(&srv, &admin).await, before, "refused updates must not change anything");
    }
);

db_test!(
    async fn malformed_channel_requests_are_refused_without_change(srv) {
        let admin = srv.user("ann").await;
        let before = channels(&srv, &admin).await;
        let general = before.iter().find(|e| e.channel.name == "general").expect("general").channel.id;
        let token = Some(admin.access_token.as_str());
        let garbage = srv.call_raw(Method::POST, "/api/channels", token, "application/json", b"{\"name\":".to_vec()).await;
        garbage.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.post("/api/channels", &admin, json!({"name": 5, "kind": "text"}))
            .await
            .error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.post("/api/channels", &admin, json!({"name": "nokind"}))
            .await
            .error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.post("/api/channels", &admin, json!({"name": "x", "kind": "video"}))
            .await
            .error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        let huge = format!("{{\"name\":\"big\",\"kind\":\"text\",\"topic\":\"{}\"}}", "a".repeat(70 * 1024));
        let big = srv.call_raw(Method::POST, "/api/channels", token, "application/json", huge.into_bytes()).await;
        big.error(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge);
        let path = format!("/api/channels/{general}");
        srv.patch(&path, &admin, json!({"is_private": "yes"}))
            .await
            .error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);

        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let body = (method == Method::PATCH).then(|| json!({"topic": "x"}));
            let not_a_number = srv.call(method.clone(), "/api/channels/abc", token, body.clone()).await;
            not_a_number.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
            let unknown = srv.call(method.clone(), "/api/channels/12345", token, body).await;
            unknown.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        }
        assert_eq!(channels(&srv, &admin).await, before, "bad requests must not change anything");
    }
);

db_test!(
    async fn members_may_not_manage_channels(srv) {
        let admin = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let before = channels(&srv, &admin).await;
        let general = before.iter().find(|e| e.channel.name == "general").expect("general").channel.id;
        let path = format!("/api/channels/{general}");
        srv.post("/api/channels", &bob, json!({"name": "mine", "kind": "text"}))
            .await
            .error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.patch(&path, &bob, json!({"name": "hijacked"})).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.delete(&path, &bob).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        assert_eq!(channels(&srv, &admin).await, before, "refused admin operations must not change anything");
    }
);

db_test!(
    async fn a_revoked_login_cannot_list_channels(srv) {
        let admin = srv.user("ann").await;
        channels(&srv, &admin).await;
        let out = srv.anonymous(Method::POST, "/api/auth/logout", Some(json!({"refresh_token": admin.refresh_token}))).await;
        assert_eq!(out.status, StatusCode::OK, "logout succeeds: {}", out.body);
        srv.get("/api/channels", &admin).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        srv.post("/api/channels", &admin, json!({"name": "late", "kind": "text"}))
            .await
            .error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        srv.anonymous(Method::GET, "/api/channels", None).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    }
);

/// Writes a message row directly: the counters are the list's job, posting is not.
async fn insert_message(srv: &TestServer, id: i64, channel: Id, author: Id) {
    sqlx::query(
        "INSERT INTO messages (id, channel_id, author_id, body, created_at) VALUES ($1, $2, $3, 'hi', 0)",
    )
    .bind(id)
    .bind(channel.0)
    .bind(author.0)
    .execute(srv.state.db.pool())
    .await
    .expect("insert message");
}

db_test!(
    async fn the_list_counts_unread_messages_and_mentions(srv) {
        let admin = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channels(&srv, &bob).await.into_iter().find(|e| e.channel.name == "general").expect("general");
        assert_eq!((general.unread_count, general.mention_count), (0, 0), "a new channel has nothing unread");
        let channel = general.channel.id;
        insert_message(&srv, 1, channel, admin.id).await;
        insert_message(&srv, 2, channel, admin.id).await;
        insert_message(&srv, 3, channel, bob.id).await;
        sqlx::query("INSERT INTO notifications (id, user_id, kind, channel_id, message_id, actor_id, excerpt, created_at) VALUES (10, $1, 'mention', $2, 2, $3, 'hi', 0)")
            .bind(bob.id.0)
            .bind(channel.0)
            .bind(admin.id.0)
            .execute(srv.state.db.pool())
            .await
            .expect("insert notification");
        let entry: ChannelListEntry = srv.get(&format!("/api/channels/{channel}"), &bob).await.ok();
        assert_eq!(entry.unread_count, 2, "others' messages count as unread, one's own do not");
        assert_eq!(entry.mention_count, 1, "the mention of bob is counted");
        let listed = channels(&srv, &bob).await.into_iter().find(|e| e.channel.id == channel).expect("listed");
        assert_eq!(listed, entry, "the list and the single channel agree");
        let for_admin = channels(&srv, &admin).await.into_iter().find(|e| e.channel.id == channel).expect("listed");
        assert_eq!((for_admin.unread_count, for_admin.mention_count), (1, 0), "counters are per user");
    }
);

#[tokio::test]
async fn channel_user_group_and_flag_endpoints_are_documented() {
    let srv = TestServer::start(crate::harness::Database::Sqlite).await;
    let doc = srv.anonymous(Method::GET, "/api/openapi.json", None).await;
    let paths = doc.body["paths"].as_object().expect("paths object");
    let expected = [
        ("/api/channels", &["get", "post"][..]),
        ("/api/channels/{id}", &["get", "patch", "delete"]),
        ("/api/channels/{id}/join", &["post"]),
        ("/api/channels/{id}/leave", &["post"]),
        ("/api/channels/{id}/members", &["get"]),
        ("/api/channels/{id}/members/{user_id}", &["put", "delete"]),
        ("/api/channels/{id}/notification_settings", &["put"]),
        ("/api/users", &["get"]),
        ("/api/users/me", &["get", "patch"]),
        ("/api/users/{id}", &["get"]),
        ("/api/users/{id}/role", &["patch"]),
        ("/api/groups", &["get", "post"]),
        ("/api/groups/{id}", &["patch", "delete"]),
        ("/api/feature_flags", &["get"]),
        ("/api/admin/feature_flags", &["patch"]),
    ];
    for (path, methods) in expected {
        let item = paths.get(path).unwrap_or_else(|| panic!("{path} must be documented"));
        for method in methods {
            assert!(item.get(*method).is_some(), "{method} {path} must be documented");
        }
    }
}
