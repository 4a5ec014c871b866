//! Messages end to end: sending with nonces, history pages, edits, deletes, rights, and
//! writers racing each other.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use cromulent_protocol::channel::{Channel, ChannelKind, WritePermission};
use cromulent_protocol::message::{Mention, Message};
use cromulent_protocol::{ErrorCode, Id};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::db_test;
use crate::harness::{Database, Reply, TestServer, TestUser};

/// The id of a channel by name.
pub async fn channel_id(srv: &TestServer, name: &str) -> Id {
    let id: i64 = sqlx::query_scalar("SELECT id FROM channels WHERE name = $1")
        .bind(name)
        .fetch_one(srv.state.db.pool())
        .await
        .unwrap_or_else(|e| panic!("channel {name}: {e}"));
    Id(id)
}

/// A new text channel with these members, made through the store so these tests do not
/// depend on the channel admin API.
pub async fn make_channel(
    srv: &TestServer,
    name: &str,
    is_private: bool,
    write: WritePermission,
    members: &[&TestUser],
) -> Id {
    let pool = srv.state.db.pool();
    let channel = Channel {
        id: srv.state.ids.next(),
        name: name.to_owned(),
        kind: ChannelKind::Text,
        topic: None,
        is_default: false,
        is_private,
        write_permission: write,
        voice_mode: None,
        created_at: 1,
    };
    cromulent_server::store::channels::insert(pool, &channel).await.expect("insert channel");
    for member in members {
        cromulent_server::store::memberships::add(pool, channel.id, member.id, 1).await.expect("add member");
    }
    channel.id
}

pub async fn send(srv: &TestServer, user: &TestUser, channel: Id, body: &str) -> Message {
    let reply = srv.post(&format!("/api/channels/{channel}/messages"), user, json!({"body": body})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "a new message is created: {}", reply.body);
    reply.json()
}

async fn send_nonce(srv: &TestServer, user: &TestUser, channel: Id, body: &str, nonce: &str) -> Reply {
    srv.post(&format!("/api/channels/{channel}/messages"), user, json!({"body": body, "nonce": nonce})).await
}

pub async fn history(srv: &TestServer, user: &TestUser, channel: Id, query: &str) -> Vec<Message> {
    srv.get(&format!("/api/channels/{channel}/messages{query}"), user).await.ok()
}

pub async fn message_count(srv: &TestServer) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM messages").fetch_one(srv.state.db.pool()).await.expect("count")
}

db_test!(
    async fn a_sent_message_comes_back_in_history(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        let sent = send(&srv, &ann, general, "  hello **world**, @Bob  ").await;
        assert_eq!(sent.body, "hello **world**, @Bob", "the body is stored trimmed, Markdown untouched");
        assert_eq!((sent.channel_id, sent.author_id), (general, ann.id));
        assert_eq!(sent.mentions, [Mention::User { user_id: bob.id }], "@Bob resolves to bob without case");
        assert!(sent.edited_at.is_none(), "a new message has not been edited");
        let page = history(&srv, &bob, general, "").await;
        assert_eq!(page, [sent], "the reader sees exactly what the sender was answered");
    }
);

db_test!(
    async fn bad_input_is_refused_and_stores_nothing(srv) {
        let ann = srv.user("ann").await;
        let general = channel_id(&srv, "general").await;
        let path = format!("/api/channels/{general}/messages");
        let raw = |body: &'static [u8]| srv.call_raw(Method::POST, &path, Some(&ann.access_token), "application/json", body.to_vec());
        raw(b"{\"body\": ").await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        raw(b"{\"body\": 5}").await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        raw(b"{\"text\": \"hi\"}").await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        let huge = format!("{{\"body\": \"{}\"}}", "a".repeat(65 * 1024)).into_bytes();
        srv.call_raw(Method::POST, &path, Some(&ann.access_token), "application/json", huge)
            .await
            .error(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge);
        let too_long = srv.post(&path, &ann, json!({"body": "a".repeat(4001)})).await;
        let err = too_long.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        assert_eq!(err.field.as_deref(), Some("body"), "the client is told which field to fix");
        srv.post(&path, &ann, json!({"body": " \n "})).await.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        let long_nonce = srv.post(&path, &ann, json!({"body": "hi", "nonce": "n".repeat(65)})).await;
        assert_eq!(long_nonce.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed).field.as_deref(), Some("nonce"));
        srv.post("/api/channels/123456789/messages", &ann, json!({"body": "hi"})).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.post("/api/channels/abc/messages", &ann, json!({"body": "hi"})).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        let voice = channel_id(&srv, "voice-main").await;
        srv.post(&format!("/api/channels/{voice}/messages"), &ann, json!({"body": "hi"}))
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        srv.get("/api/channels/123456789/messages", &ann).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        assert_eq!(message_count(&srv).await, 0, "no refused request may leave a message behind");
        assert!(history(&srv, &ann, general, "").await.is_empty());
    }
);

db_test!(
    async fn rights_are_checked_for_reading_and_posting(srv) {
        let ann = srv.user("ann").await; // admin
        let bob = srv.user("bob").await;
        let eve = srv.user("eve").await;
        let secret = make_channel(&srv, "secret", true, WritePermission::Everyone, &[&bob]).await;
        let news = make_channel(&srv, "news", false, WritePermission::AdminOnly, &[&ann, &bob]).await;
        let open = make_channel(&srv, "open", false, WritePermission::Everyone, &[&bob]).await;
        send(&srv, &bob, secret, "members only").await;

        let path = format!("/api/channels/{secret}/messages");
        srv.get(&path, &eve).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.post(&path, &eve, json!({"body": "let me in"})).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        assert_eq!(history(&srv, &ann, secret, "").await.len(), 1, "admins see private channels");

        let news_path = format!("/api/channels/{news}/messages");
        srv.post(&news_path, &bob, json!({"body": "me too"})).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        send(&srv, &ann, news, "announcement").await;

        let open_path = format!("/api/channels/{open}/messages");
        srv.post(&open_path, &eve, json!({"body": "drive-by"})).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        assert!(history(&srv, &eve, open, "").await.is_empty(), "a public channel is readable without joining");

        srv.anonymous(Method::GET, &open_path, None).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        srv.anonymous(Method::POST, "/api/auth/logout", Some(json!({"refresh_token": bob.refresh_token}))).await.ok::<serde_json::Value>();
        srv.post(&open_path, &bob, json!({"body": "after logout"})).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        assert_eq!(message_count(&srv).await, 2, "only the two permitted posts are stored");
    }
);

db_test!(
    async fn authors_edit_and_authors_or_admins_delete(srv) {
        let ann = srv.user("ann").await; // admin
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let general = channel_id(&srv, "general").await;
        let msg = send(&srv, &bob, general, "frist").await;
        let path = format!("/api/messages/{}", msg.id);

        srv.patch(&path, &carol, json!({"body": "defaced"})).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.patch(&path, &ann, json!({"body": "defaced"})).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.patch(&path, &bob, json!({"body": ""})).await.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        srv.patch("/api/messages/42", &bob, json!({"body": "x"})).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        let edited: Message = srv.patch(&path, &bob, json!({"body": "first"})).await.ok();
        assert_eq!(edited.body, "first");
        assert!(edited.edited_at.is_some_and(|t| t >= msg.created_at), "the edit time is kept");
        assert_eq!((edited.id, edited.created_at), (msg.id, msg.created_at), "an edit keeps identity and place");
        assert_eq!(history(&srv, &carol, general, "").await, [edited], "readers see the edit");

        srv.delete(&path, &carol).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        assert_eq!(message_count(&srv).await, 1, "a refused delete deletes nothing");
        let by_admin = srv.delete(&path, &ann).await;
        assert_eq!(by_admin.status, StatusCode::NO_CONTENT, "admins moderate: {}", by_admin.body);
        srv.delete(&path, &bob).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);

        let own = send(&srv, &carol, general, "oops").await;
        assert_eq!(srv.delete(&format!("/api/messages/{}", own.id), &carol).await.status, StatusCode::NO_CONTENT);
        assert!(history(&srv, &ann, general, "").await.is_empty(), "deleted messages leave history");
    }
);

db_test!(
    async fn messages_in_hidden_channels_are_not_found(srv) {
        let _ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let eve = srv.user("eve").await;
        let secret = make_channel(&srv, "secret", true, WritePermission::Everyone, &[&bob, &eve]).await;
        let msg = send(&srv, &eve, secret, "before I left").await;
        cromulent_server::store::memberships::remove(srv.state.db.pool(), secret, eve.id).await.expect("leave");
        let path = format!("/api/messages/{}", msg.id);
        // Even her own message: the channel is hidden from her now, so it does not exist.
        srv.patch(&path, &eve, json!({"body": "edit"})).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.delete(&path, &eve).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        assert_eq!(history(&srv, &bob, secret, "").await, [msg], "the refused edit and delete changed nothing");
    }
);

db_test!(
    async fn the_same_nonce_stores_one_message(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        let random = channel_id(&srv, "random").await;
        let first = send_nonce(&srv, &ann, general, "once", "n-1").await;
        assert_eq!(first.status, StatusCode::CREATED);
        let again = send_nonce(&srv, &ann, general, "once, retried", "n-1").await;
        assert_eq!(again.status, StatusCode::OK, "a retry is answered, not created: {}", again.body);
        assert_eq!(again.json::<Message>(), first.json::<Message>(), "the retry gets the stored message");
        send_nonce(&srv, &ann, random, "elsewhere", "n-1").await.error(StatusCode::CONFLICT, ErrorCode::Conflict);
        let bobs = send_nonce(&srv, &bob, general, "mine", "n-1").await;
        assert_eq!(bobs.status, StatusCode::CREATED, "nonces are per author");

        // Ten copies of one send in flight at once: one row, one id for everyone.
        let sends = (0..10).map(|_| send_nonce(&srv, &ann, general, "racing", "n-2"));
        let replies = futures_util::future::join_all(sends).await;
        let ids: BTreeSet<Id> = replies.iter().map(|r| r.ok::<Message>().id).collect();
        assert_eq!(ids.len(), 1, "every concurrent copy gets the same message");
        let created = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
        assert_eq!(created, 1, "exactly one copy created it");
        assert_eq!(message_count(&srv).await, 3, "n-1 by ann, n-1 by bob, n-2 by ann");
    }
);

db_test!(
    async fn paging_visits_every_message_once_in_order(srv) {
        let ann = srv.user("ann").await;
        let general = channel_id(&srv, "general").await;
        let mut sent = Vec::new();
        for i in 0..120 {
            sent.push(send(&srv, &ann, general, &format!("message {i}")).await.id);
        }
        assert!(sent.windows(2).all(|w| w[0] < w[1]), "ids grow in the order messages were sent");

        let mut back = Vec::new();
        let mut query = "?limit=50".to_owned();
        loop {
            let page = history(&srv, &ann, general, &query).await;
            assert!(page.windows(2).all(|w| w[0].id > w[1].id), "pages are newest first");
            let Some(last) = page.last() else { break };
            query = format!("?limit=50&before={}", last.id);
            back.extend(page.iter().map(|m| m.id));
        }
        back.reverse();
        assert_eq!(back, sent, "walking back with `before` sees each message once");

        let mut forward = Vec::new();
        let mut cursor = Id(0);
        loop {
            let page = history(&srv, &ann, general, &format!("?limit=50&after={cursor}")).await;
            assert!(page.windows(2).all(|w| w[0].id > w[1].id), "pages are newest first");
            let Some(newest) = page.first() else { break };
            cursor = newest.id;
            forward.extend(page.iter().rev().map(|m| m.id));
        }
        assert_eq!(forward, sent, "walking forward with `after` sees each message once");

        let latest = history(&srv, &ann, general, "").await;
        assert_eq!(latest.len(), 50, "the default page is 50");
        assert_eq!(latest[0].id, sent[119], "without a cursor the newest come first");
        assert_eq!(history(&srv, &ann, general, "?limit=100").await.len(), 100);

        let around = history(&srv, &ann, general, &format!("?around={}&limit=10", sent[60])).await;
        let ids: Vec<Id> = around.iter().map(|m| m.id).collect();
        let expected: Vec<Id> = sent[55..65].iter().rev().copied().collect();
        assert_eq!(ids, expected, "around: five older, the message, four newer, newest first");
        let edge = history(&srv, &ann, general, &format!("?around={}&limit=10", sent[0])).await;
        assert_eq!(edge.last().map(|m| m.id), Some(sent[0]), "around the oldest there is nothing older");
        assert_eq!(edge.len(), 5, "and only the newer half of the page");
    }
);

db_test!(
    async fn page_parameters_are_checked(srv) {
        let ann = srv.user("ann").await;
        let general = channel_id(&srv, "general").await;
        let path = format!("/api/channels/{general}/messages");
        for query in ["?before=1&after=2", "?after=1&around=2", "?limit=0", "?limit=101"] {
            srv.get(&format!("{path}{query}"), &ann).await.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        }
        for query in ["?before=abc", "?limit=-1", "?limit=many"] {
            srv.get(&format!("{path}{query}"), &ann).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        }
    }
);

/// `writers` users post `each` messages at once into #general while a reader walks
/// forward with `after`; returns the ids the reader saw, in the order it saw them.
async fn race(srv: &TestServer, writers: usize, each: usize) -> (Vec<TestUser>, Vec<Id>) {
    let mut users = Vec::new();
    for i in 0..writers {
        users.push(srv.user(&format!("writer{i}")).await);
    }
    let general = channel_id(srv, "general").await;
    let reader = &users[0];
    let writing = AtomicUsize::new(writers);
    let read = async {
        let mut seen = Vec::new();
        let mut cursor = Id(0);
        loop {
            // Read "are the writers done?" before the page, so an empty page after they
            // are done means the reader has caught up with everything committed.
            let done = writing.load(Ordering::SeqCst) == 0;
            let page = history(srv, reader, general, &format!("?limit=100&after={cursor}")).await;
            assert!(page.windows(2).all(|w| w[0].id > w[1].id), "ids strictly decrease within a page");
            let Some(newest) = page.first() else {
                if done {
                    break seen;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                continue;
            };
            cursor = newest.id;
            seen.extend(page.iter().rev().map(|m| m.id));
        }
    };
    let write = futures_util::future::join_all(users.iter().enumerate().map(|(w, user)| {
        let writing = &writing;
        async move {
            for i in 0..each {
                let reply =
                    send_nonce(srv, user, general, &format!("writer {w} message {i}"), &format!("{w}-{i}"))
                        .await;
                assert_eq!(
                    reply.status,
                    StatusCode::CREATED,
                    "no write may fail under contention: {}",
                    reply.body
                );
            }
            writing.fetch_sub(1, Ordering::SeqCst);
        }
    }));
    let raced = async { tokio::join!(read, write) };
    let (seen, _) = tokio::time::timeout(std::time::Duration::from_secs(300), raced)
        .await
        .expect("the writers finish and the reader catches up");
    (users, seen)
}

fn assert_all_once_in_order(srv_history: &[Message], seen: &[Id], total: usize) {
    let stored: Vec<Id> = srv_history.iter().rev().map(|m| m.id).collect();
    assert_eq!(stored.len(), total, "every message is stored");
    assert_eq!(stored.iter().collect::<BTreeSet<_>>().len(), total, "and stored once");
    let missed = stored.iter().filter(|id| !seen.contains(id)).count();
    assert_eq!(missed, 0, "a reader paging with `after` while writers commit must miss no message");
    assert_eq!(seen, stored, "and it sees each once, in order");
}

async fn whole_history(srv: &TestServer, user: &TestUser) -> Vec<Message> {
    let general = channel_id(srv, "general").await;
    let mut all = Vec::new();
    let mut query = "?limit=100".to_owned();
    loop {
        let page = history(srv, user, general, &query).await;
        let Some(last) = page.last() else { break };
        query = format!("?limit=100&before={}", last.id);
        all.extend(page);
    }
    all
}

db_test!(
    async fn concurrent_writers_commit_in_id_order(srv) {
        let (users, seen) = race(&srv, 4, 25).await;
        assert_all_once_in_order(&whole_history(&srv, &users[0]).await, &seen, 100);
    }
);

#[tokio::test(flavor = "multi_thread")]
async fn eight_writers_times_two_hundred_on_sqlite() {
    // 1,600 writes from one address in seconds: a contention test, not a flood.
    let srv =
        TestServer::start_with(Database::Sqlite, |c| c.limits.http_writes_per_ip_per_minute = 10_000).await;
    let (users, seen) = race(&srv, 8, 200).await;
    let all = whole_history(&srv, &users[0]).await;
    assert_all_once_in_order(&all, &seen, 1600);
    for user in &users {
        let theirs = all.iter().filter(|m| m.author_id == user.id).count();
        assert_eq!(theirs, 200, "each writer's 200 messages are all there");
    }
}

#[tokio::test]
async fn the_openapi_document_lists_the_message_endpoints() {
    let srv = TestServer::start(Database::Sqlite).await;
    let doc = srv.anonymous(Method::GET, "/api/openapi.json", None).await;
    let paths = doc.body["paths"].as_object().expect("paths object");
    let expected = [
        ("/api/channels/{id}/messages", "get"),
        ("/api/channels/{id}/messages", "post"),
        ("/api/messages/{id}", "patch"),
        ("/api/messages/{id}", "delete"),
        ("/api/channels/{id}/ack", "post"),
        ("/api/notifications", "get"),
        ("/api/notifications/{id}/read", "post"),
        ("/api/notifications/read_all", "post"),
    ];
    for (path, method) in expected {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} must be documented");
    }
    let list = &paths["/api/channels/{id}/messages"]["get"]["parameters"];
    let names: Vec<&str> =
        list.as_array().expect("parameters").iter().filter_map(|p| p["name"].as_str()).collect();
    for name in ["id", "before", "after", "around", "limit"] {
        assert!(names.contains(&name), "the {name} parameter is documented: {names:?}");
    }
}
