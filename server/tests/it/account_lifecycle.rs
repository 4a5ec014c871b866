//! The end of an account: deleting one's own (or, as an admin, another's), what goes and
//! what stays, who may do it; and exporting one's own data.

use cromulent_protocol::account::{AccountDeleted, AccountExport};
use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::{close_code, ClientFrame, ControlFrame, ServerFrame};
use cromulent_protocol::message::Message;
use cromulent_protocol::moderation::{AuditAction, AuditEntry};
use cromulent_protocol::user::{OwnUser, User};
use cromulent_protocol::{ErrorCode, Id};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::db_test;
use crate::gateway_client::{self, WAIT};
use crate::harness::{Reply, TestServer, TestUser, PASSWORD};
use crate::messages::channel_id;

async fn send(srv: &TestServer, user: &TestUser, channel: Id, body: &str) -> Message {
    srv.post(&format!("/api/channels/{channel}/messages"), user, json!({ "body": body })).await.ok()
}

async fn delete_me(srv: &TestServer, user: &TestUser, body: Value) -> Reply {
    srv.call(Method::DELETE, "/api/users/me", Some(&user.access_token), Some(body)).await
}

async fn admin_delete(srv: &TestServer, admin: &TestUser, id: Id, body: Value) -> Reply {
    srv.call(Method::DELETE, &format!("/api/admin/users/{id}"), Some(&admin.access_token), Some(body)).await
}

async fn messages(srv: &TestServer, user: &TestUser, channel: Id) -> Vec<Message> {
    srv.get(&format!("/api/channels/{channel}/messages"), user).await.ok()
}

async fn user(srv: &TestServer, viewer: &TestUser, id: Id) -> User {
    srv.get(&format!("/api/users/{id}"), viewer).await.ok()
}

async fn audit_log(srv: &TestServer, admin: &TestUser) -> Vec<AuditEntry> {
    srv.get("/api/admin/audit_log", admin).await.ok()
}

async fn register(srv: &TestServer, email: &str, username: &str) -> Reply {
    let body = json!({ "email": email, "username": username, "password": PASSWORD });
    srv.anonymous(Method::POST, "/api/auth/register", Some(body)).await
}

/// Identifying on a fresh gateway socket with `token`: the close code it is refused with.
async fn identify_refused(srv: &TestServer, token: &str) -> Option<u16> {
    let mut ws = gateway_client::open(srv, None).await.expect("the socket opens");
    let hello = gateway_client::next_frame(&mut ws, WAIT).await;
    assert!(matches!(hello, Some(ServerFrame::Control(ControlFrame::Hello { .. }))), "hello first");
    let identify = ClientFrame::Identify { token: Some(token.to_owned()), protocol_version: 1 };
    gateway_client::send(&mut ws, &identify).await;
    gateway_client::close_code(&mut ws, WAIT).await
}

db_test!(
    async fn deleting_ones_account_ends_every_login_and_keeps_messages_as_deleted_user(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        let kept = send(&srv, &bob, general, "bob was here").await;
        let quiet = json!({ "level": "nothing" });
        let path = format!("/api/channels/{general}/notification_settings");
        srv.call(Method::PUT, &path, Some(&bob.access_token), Some(quiet)).await.ok::<Value>();
        let mut bob_gw = srv.connect(&bob).await;
        let mut ann_gw = srv.connect(&ann).await;

        let done: AccountDeleted = delete_me(&srv, &bob, json!({ "password": PASSWORD })).await.ok();
        assert_eq!((done.user_id, done.deleted_messages), (bob.id, 0), "messages stay by default");
        assert_eq!(bob_gw.close_code().await, Some(close_code::ACCOUNT_DELETED), "the gateway says the account is gone");
        let update = ann_gw.wait_for_event(|e| matches!(e, Event::UserUpdate { user } if user.id == bob.id), WAIT).await;
        let Event::UserUpdate { user: tomb } = update else { unreachable!("matched above") };
        assert_eq!(tomb.display_name.as_deref(), Some("Deleted user"), "others are told the name is gone");
        ann_gw.wait_for_event(|e| matches!(e, Event::MemberLeave { user_id, .. } if *user_id == bob.id), WAIT).await;

        srv.get("/api/users/me", &bob).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        let refresh = json!({ "refresh_token": bob.refresh_token });
        srv.anonymous(Method::POST, "/api/auth/refresh", Some(refresh))
            .await
            .error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        assert_eq!(identify_refused(&srv, &bob.access_token).await, Some(close_code::AUTHENTICATION_FAILED), "an old access token opens no gateway session");
        let login = json!({ "email": bob.email, "password": PASSWORD });
        srv.anonymous(Method::POST, "/api/auth/login", Some(login))
            .await
            .error(StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials);

        let listed = messages(&srv, &ann, general).await;
        assert!(listed.iter().any(|m| m.id == kept.id && m.author_id == bob.id), "the message stays, still bob's id");
        let shown = user(&srv, &ann, bob.id).await;
        assert_eq!(shown.display_name.as_deref(), Some("Deleted user"));
        assert!(shown.deleted_at.is_some() && shown.avatar_url.is_none(), "the profile is a tombstone");
        assert!(!shown.username.eq_ignore_ascii_case("bob"), "the username is freed");

        let pool = srv.state.db.pool();
        for table in ["auth_sessions", "channel_memberships", "channel_reads", "channel_notification_settings", "group_memberships", "mail_tokens", "voice_preferences", "notifications"] {
            let left: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE user_id = $1"))
                .bind(bob.id.0)
                .fetch_one(pool)
                .await
                .expect("count");
            assert_eq!(left, 0, "{table} holds nothing of bob any more");
        }
        let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1").bind(bob.id.0).fetch_one(pool).await.expect("row");
        assert!(hash.is_empty(), "the password hash is gone");

        register(&srv, &bob.email, "bob").await.ok::<Value>();
        let again = srv.login(&bob.email, Id(0), "bob").await;
        let me: OwnUser = srv.get("/api/users/me", &again).await.ok();
        assert_ne!(me.user.id, bob.id, "the freed address and name make a new account");

        let log = audit_log(&srv, &ann).await;
        let entry = log.iter().find(|e| e.action == AuditAction::UserDeleted).expect("the deletion is audited");
        assert_eq!((entry.actor_id, entry.target_user_id, &entry.details["by_owner"]), (bob.id, Some(bob.id), &json!(true)));
    }
);

db_test!(
    async fn deleting_with_messages_deletes_them_for_everyone(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        let first = send(&srv, &bob, general, "one").await;
        send(&srv, &bob, general, "two").await;
        let anns = send(&srv, &ann, general, "ann stays").await;
        let mut ann_gw = srv.connect(&ann).await;

        let done: AccountDeleted =
            delete_me(&srv, &bob, json!({ "password": PASSWORD, "delete_messages": true })).await.ok();
        assert_eq!(done.deleted_messages, 2, "both of bob's messages go");
        ann_gw
            .wait_for_event(|e| matches!(e, Event::MessageDelete { message_id, .. } if *message_id == first.id), WAIT)
            .await;
        let listed = messages(&srv, &ann, general).await;
        assert!(listed.iter().all(|m| m.author_id != bob.id), "none of bob's messages is listed");
        assert!(listed.iter().any(|m| m.id == anns.id), "other people's stay");
    }
);

db_test!(
    async fn a_wrong_password_or_bad_input_deletes_nothing(srv) {
        let _ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let wrong = delete_me(&srv, &bob, json!({ "password": "not the password at all" })).await;
        wrong.error(StatusCode::FORBIDDEN, ErrorCode::InvalidCredentials);
        for bad in [json!({}), json!({ "password": 5 }), json!({ "password": PASSWORD, "delete_messages": "yes" })] {
            delete_me(&srv, &bob, bad).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        }
        let me: OwnUser = srv.get("/api/users/me", &bob).await.ok();
        assert_eq!((me.user.username.as_str(), me.user.deleted_at), ("bob", None), "bob's account is untouched");
        srv.anonymous(Method::DELETE, "/api/users/me", Some(json!({ "password": PASSWORD })))
            .await
            .error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    }
);

db_test!(
    async fn the_last_admin_cannot_delete_themselves(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        delete_me(&srv, &ann, json!({ "password": PASSWORD })).await.error(StatusCode::CONFLICT, ErrorCode::Conflict);
        admin_delete(&srv, &ann, ann.id, json!({})).await.error(StatusCode::CONFLICT, ErrorCode::Conflict);
        let me: OwnUser = srv.get("/api/users/me", &ann).await.ok();
        assert_eq!(me.user.deleted_at, None, "the refusal changed nothing");

        srv.patch(&format!("/api/users/{}/role", bob.id), &ann, json!({ "role": "admin" })).await.ok::<User>();
        delete_me(&srv, &ann, json!({ "password": PASSWORD })).await.ok::<AccountDeleted>();
        assert!(user(&srv, &bob, ann.id).await.deleted_at.is_some(), "with another admin, the first may go");
    }
);

db_test!(
    async fn admins_delete_other_accounts_and_nobody_else_may(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let mia = srv.user("mia").await;
        let carol = srv.user("carol").await;
        srv.patch(&format!("/api/users/{}/role", mia.id), &ann, json!({ "role": "moderator" })).await.ok::<User>();
        let general = channel_id(&srv, "general").await;
        send(&srv, &carol, general, "carol's words").await;

        admin_delete(&srv, &bob, carol.id, json!({})).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        admin_delete(&srv, &mia, carol.id, json!({})).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        admin_delete(&srv, &ann, carol.id, json!({ "delete_messages": 1 }))
            .await
            .error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        admin_delete(&srv, &ann, Id(424242), json!({})).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        assert_eq!(user(&srv, &ann, carol.id).await.deleted_at, None, "refusals delete nothing");

        let mut carol_gw = srv.connect(&carol).await;
        let done: AccountDeleted = admin_delete(&srv, &ann, carol.id, json!({ "delete_messages": true })).await.ok();
        assert_eq!(done.deleted_messages, 1);
        assert_eq!(carol_gw.close_code().await, Some(close_code::ACCOUNT_DELETED));
        srv.get("/api/users/me", &carol).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        admin_delete(&srv, &ann, carol.id, json!({})).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.patch(&format!("/api/users/{}/role", carol.id), &ann, json!({ "role": "admin" }))
            .await
            .error(StatusCode::NOT_FOUND, ErrorCode::NotFound);

        let log = audit_log(&srv, &ann).await;
        let entry = log.iter().find(|e| e.action == AuditAction::UserDeleted).expect("audited");
        assert_eq!((entry.actor_id, entry.target_user_id), (ann.id, Some(carol.id)));
        assert_eq!((&entry.details["by_owner"], &entry.details["deleted_messages"]), (&json!(false), &json!(1)));
    }
);

db_test!(
    async fn an_export_holds_the_users_data_and_every_message(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        // More than one page of the stream, so pages join correctly; stored directly,
        // since so many posts would trip the per-user write limit.
        let mut sent = vec![send(&srv, &bob, general, "through the API").await.id];
        for i in 0..510 {
            let id = srv.state.ids.next();
            sqlx::query("INSERT INTO messages (id, channel_id, author_id, body, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(id.0)
                .bind(general.0)
                .bind(bob.id.0)
                .bind(format!("message {i}"))
                .bind(cromulent_server::ids::now_ms())
                .execute(srv.state.db.pool())
                .await
                .expect("store a message");
            sent.push(id);
        }
        send(&srv, &ann, general, "not bob's").await;
        srv.call(
            Method::PUT,
            &format!("/api/channels/{general}/notification_settings"),
            Some(&bob.access_token),
            Some(json!({ "level": "all" })),
        )
        .await
        .ok::<Value>();

        let response = srv
            .http
            .get(format!("{}/api/users/me/export", srv.base))
            .bearer_auth(&bob.access_token)
            .send()
            .await
            .expect("export");
        assert_eq!(response.status(), StatusCode::OK);
        let disposition = response.headers()["content-disposition"].to_str().expect("ascii").to_owned();
        assert_eq!(disposition, "attachment; filename=\"cromulent-export-bob.json\"");
        let export: AccountExport = serde_json::from_slice(&response.bytes().await.expect("body")).expect("valid JSON");
        assert_eq!((export.profile.user.id, export.profile.email.as_str()), (bob.id, bob.email.as_str()));
        assert_eq!(export.messages.iter().map(|m| m.id).collect::<Vec<_>>(), sent, "every message of bob's, oldest first");
        assert!(export.channels.iter().any(|c| c.channel_id == general), "the channels joined");
        assert!(export.sessions.iter().any(|s| s.current), "the logins, this one marked");
        assert_eq!(export.notification_settings.len(), 1, "the one setting bob chose");
        let text = serde_json::to_string(&export).expect("serializes");
        assert!(!text.contains(&bob.refresh_token) && !text.contains("password"), "no secrets in the archive");

        srv.anonymous(Method::GET, "/api/users/me/export", None).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    }
);

#[tokio::test]
async fn exports_are_rate_limited_per_user() {
    let srv = TestServer::start_with(crate::harness::Database::Sqlite, |c| {
        c.limits.data_exports_per_user_per_hour = 1
    })
    .await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    srv.get("/api/users/me/export", &ann).await.ok::<AccountExport>();
    srv.get("/api/users/me/export", &ann).await.error(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited);
    srv.get("/api/users/me/export", &bob).await.ok::<AccountExport>();
}
