//! Moderation: timeouts, bans and unbans by admins and moderators, what each one stops,
//! who may give them, and the audit log that records them with every admin change.

use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::{close_code, ClientFrame};
use cromulent_protocol::message::Message;
use cromulent_protocol::moderation::{AuditAction, AuditEntry, BanResult, ModerationState, Timeout};
use cromulent_protocol::user::{Role, User};
use cromulent_protocol::{ErrorCode, Id};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::db_test;
use crate::gateway::channel_id;
use crate::gateway_client::WAIT;
use crate::harness::{TestServer, TestUser, PASSWORD};
use crate::voice::join;

async fn send(srv: &TestServer, user: &TestUser, channel: Id, body: &str) -> crate::harness::Reply {
    srv.post(&format!("/api/channels/{channel}/messages"), user, json!({ "body": body })).await
}

async fn general(srv: &TestServer, user: &TestUser) -> Id {
    let channels = crate::channels::channels(srv, user).await;
    channels.iter().find(|c| c.channel.name == "general").expect("a general channel").channel.id
}

async fn audit_log(srv: &TestServer, user: &TestUser, query: &str) -> Vec<AuditEntry> {
    srv.get(&format!("/api/admin/audit_log{query}"), user).await.ok()
}

async fn set_role(srv: &TestServer, admin: &TestUser, user: &TestUser, role: &str) {
    srv.patch(&format!("/api/users/{}/role", user.id), admin, json!({ "role": role })).await.ok::<User>();
}

async fn login_reply(srv: &TestServer, email: &str) -> crate::harness::Reply {
    let body = json!({ "email": email, "password": PASSWORD });
    srv.anonymous(Method::POST, "/api/auth/login", Some(body)).await
}

db_test!(
    async fn a_timed_out_user_may_not_post_edit_type_or_talk(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let channel = general(&srv, &bob).await;
        let earlier: Message = send(&srv, &bob, channel, "before the timeout").await.ok();
        let mut b = srv.connect(&bob).await;
        let voice = channel_id(&b, "voice-main");
        join(&mut b, voice).await;

        let given = srv
            .post(&format!("/api/admin/users/{}/timeout", bob.id), &ann, json!({ "duration_secs": 60, "reason": " spam " }))
            .await;
        let timeout: Timeout = given.ok();
        assert_eq!((timeout.user_id, timeout.reason.as_deref(), timeout.created_by), (bob.id, Some("spam"), Some(ann.id)),
            "the timeout names its user, trimmed reason and moderator");
        assert_eq!(timeout.ends_at - timeout.created_at, 60_000, "it lasts the duration asked for");
        let left = b
            .wait_for_event(|e| matches!(e, Event::VoiceStateUpdate { participant, left: true, .. } if participant.user_id == bob.id), WAIT)
            .await;
        assert!(matches!(left, Event::VoiceStateUpdate { channel_id, .. } if channel_id == voice), "a timeout takes its user out of voice at once");

        let refused = send(&srv, &bob, channel, "during the timeout").await.error(StatusCode::FORBIDDEN, ErrorCode::TimedOut);
        let wait = refused.retry_after_secs.expect("a timeout says how long it lasts");
        assert!((1..=60).contains(&wait), "the wait is what is left of the minute: {wait}");
        srv.patch(&format!("/api/messages/{}", earlier.id), &bob, json!({ "body": "edited" }))
            .await
            .error(StatusCode::FORBIDDEN, ErrorCode::TimedOut);
        b.send(ClientFrame::VoiceJoin { channel_id: voice }).await;
        assert_eq!(b.expect_error("voice_join").await, ErrorCode::TimedOut, "a timed-out user may not talk");
        b.send(ClientFrame::TypingStart { channel_id: channel }).await;
        assert_eq!(b.expect_error("typing_start").await, ErrorCode::TimedOut, "nor look like they are writing");

        let state: ModerationState = srv.get("/api/admin/moderation", &ann).await.ok();
        assert_eq!(state.timeouts, vec![timeout], "the timeout in force is listed");

        let lifted = srv.delete(&format!("/api/admin/users/{}/timeout", bob.id), &ann).await;
        assert_eq!(lifted.status, StatusCode::NO_CONTENT, "{}", lifted.body);
        send(&srv, &bob, channel, "after the timeout").await.ok::<Message>();
        join(&mut b, voice).await;
        srv.delete(&format!("/api/admin/users/{}/timeout", bob.id), &ann)
            .await
            .error(StatusCode::NOT_FOUND, ErrorCode::NotFound);

        let log = audit_log(&srv, &ann, "").await;
        let actions: Vec<AuditAction> = log.iter().map(|e| e.action).collect();
        assert_eq!(actions, [AuditAction::TimeoutLifted, AuditAction::UserTimedOut], "both actions, newest first, once each");
        assert_eq!((log[1].actor_id, log[1].target_user_id, log[1].reason.as_deref()), (ann.id, Some(bob.id), Some("spam")));
        assert_eq!(log[1].details["duration_secs"], 60);
    }
);

db_test!(
    async fn a_timeout_runs_out_by_itself(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let channel = general(&srv, &bob).await;
        srv.post(&format!("/api/admin/users/{}/timeout", bob.id), &ann, json!({ "duration_secs": 1 })).await.ok::<Timeout>();
        send(&srv, &bob, channel, "too early").await.error(StatusCode::FORBIDDEN, ErrorCode::TimedOut);
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        send(&srv, &bob, channel, "free again").await.ok::<Message>();
        let state: ModerationState = srv.get("/api/admin/moderation", &ann).await.ok();
        assert!(state.timeouts.is_empty(), "an expired timeout is not in force");
    }
);

db_test!(
    async fn a_ban_ends_every_login_and_refuses_the_address(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let channel = general(&srv, &bob).await;
        let first: Message = send(&srv, &bob, channel, "one").await.ok();
        send(&srv, &bob, channel, "two").await.ok::<Message>();
        let kept: Message = send(&srv, &carol, channel, "carol stays").await.ok();
        let mut b = srv.connect(&bob).await;
        let mut c = srv.connect(&carol).await;

        let banned: BanResult = srv
            .post(&format!("/api/admin/users/{}/ban", bob.id), &ann, json!({ "reason": "raids", "delete_messages_hours": 1 }))
            .await
            .ok();
        assert_eq!(banned.deleted_messages, 2, "both of bob's messages of the last hour go");
        assert_eq!((banned.ban.user_id, banned.ban.reason.as_deref()), (Some(bob.id), Some("raids")));
        assert_eq!(b.close_code().await, Some(close_code::SESSION_REVOKED), "the banned user's gateway session ends at once");
        let gone = c.wait_for_event(|e| matches!(e, Event::MessageDelete { .. }), WAIT).await;
        assert!(matches!(gone, Event::MessageDelete { message_id, .. } if message_id == first.id), "others see the messages go");

        srv.get("/api/users/me", &bob).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        let refresh = json!({ "refresh_token": bob.refresh_token });
        srv.anonymous(Method::POST, "/api/auth/refresh", Some(refresh)).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        login_reply(&srv, &bob.email).await.error(StatusCode::FORBIDDEN, ErrorCode::Banned);
        let wrong = json!({ "email": bob.email, "password": "not the password at all" });
        srv.anonymous(Method::POST, "/api/auth/login", Some(wrong)).await.error(StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials);
        let again = json!({ "email": bob.email.to_uppercase(), "username": "bob2", "password": PASSWORD });
        srv.anonymous(Method::POST, "/api/auth/register", Some(again)).await.error(StatusCode::FORBIDDEN, ErrorCode::Banned);

        let page: Vec<Message> = srv.get(&format!("/api/channels/{channel}/messages"), &ann).await.ok();
        assert!(page.iter().all(|m| m.author_id != bob.id), "bob's recent messages are deleted");
        assert!(page.iter().any(|m| m.id == kept.id), "other people's messages stay");

        srv.post(&format!("/api/admin/users/{}/ban", bob.id), &ann, json!({})).await.error(StatusCode::CONFLICT, ErrorCode::Conflict);
        let state: ModerationState = srv.get("/api/admin/moderation", &ann).await.ok();
        assert_eq!(state.bans.len(), 1, "one ban is listed");

        let lifted = srv.delete(&format!("/api/admin/users/{}/ban", bob.id), &ann).await;
        assert_eq!(lifted.status, StatusCode::NO_CONTENT, "{}", lifted.body);
        assert_eq!(login_reply(&srv, &bob.email).await.status, StatusCode::OK, "an unbanned user may log in again");
        srv.delete(&format!("/api/admin/users/{}/ban", bob.id), &ann).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);

        let log = audit_log(&srv, &ann, "").await;
        let actions: Vec<AuditAction> = log.iter().map(|e| e.action).collect();
        assert_eq!(actions, [AuditAction::UserUnbanned, AuditAction::UserBanned]);
        assert_eq!(log[1].details["deleted_messages"], 2, "the entry records what the ban deleted");
    }
);

db_test!(
    async fn bad_moderation_input_is_refused_and_changes_nothing(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let timeout = format!("/api/admin/users/{}/timeout", bob.id);
        let ban = format!("/api/admin/users/{}/ban", bob.id);
        for bad in [json!({ "duration_secs": 0 }), json!({ "duration_secs": -5 }), json!({ "duration_secs": 28 * 24 * 3600 + 1 })] {
            srv.post(&timeout, &ann, bad).await.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        }
        for malformed in [json!({}), json!({ "duration_secs": 1.5 }), json!({ "duration_secs": "60" })] {
            srv.post(&timeout, &ann, malformed).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        }
        let long = "x".repeat(cromulent_protocol::moderation::MODERATION_REASON_MAX_CHARS + 1);
        let refused = srv.post(&timeout, &ann, json!({ "duration_secs": 60, "reason": long })).await;
        assert_eq!(refused.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed).field.as_deref(), Some("reason"));
        for bad in [json!({ "delete_messages_hours": -1 }), json!({ "delete_messages_hours": 7 * 24 + 1 })] {
            srv.post(&ban, &ann, bad).await.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        }
        srv.post("/api/admin/users/7/ban", &ann, json!({})).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.post("/api/admin/users/nobody/timeout", &ann, json!({ "duration_secs": 60 }))
            .await
            .error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.post(&format!("/api/admin/users/{}/ban", ann.id), &ann, json!({})).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);

        let state: ModerationState = srv.get("/api/admin/moderation", &ann).await.ok();
        assert_eq!(state, ModerationState::default(), "no refused request left a ban or a timeout");
        assert!(audit_log(&srv, &ann, "").await.is_empty(), "nor an audit entry");
        assert_eq!(login_reply(&srv, &bob.email).await.status, StatusCode::OK, "bob is untouched");
    }
);

db_test!(
    async fn moderation_needs_rights_and_moderators_change_no_settings(srv) {
        let ann = srv.user("ann").await;
        let mia = srv.user("mia").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let paths = |user: &TestUser| {
            [format!("/api/admin/users/{}/timeout", user.id), format!("/api/admin/users/{}/ban", user.id)]
        };
        for path in paths(&carol) {
            srv.post(&path, &bob, json!({ "duration_secs": 60 })).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
            srv.delete(&path, &bob).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
            srv.anonymous(Method::DELETE, &path, None).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        }
        for path in ["/api/admin/moderation", "/api/admin/audit_log"] {
            srv.get(path, &bob).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
            srv.anonymous(Method::GET, path, None).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        }

        set_role(&srv, &ann, &mia, "moderator").await;
        let me: User = srv.get(&format!("/api/users/{}", mia.id), &bob).await.ok();
        assert_eq!(me.role, Role::Moderator, "everyone sees the moderator role");
        srv.post(&paths(&carol)[0], &mia, json!({ "duration_secs": 60 })).await.ok::<Timeout>();
        srv.post(&paths(&carol)[1], &mia, json!({})).await.ok::<BanResult>();
        let unbanned = srv.delete(&paths(&carol)[1], &mia).await;
        assert_eq!(unbanned.status, StatusCode::NO_CONTENT, "moderators unban too: {}", unbanned.body);
        let _: ModerationState = srv.get("/api/admin/moderation", &mia).await.ok();
        let _: Vec<AuditEntry> = srv.get("/api/admin/audit_log", &mia).await.ok();

        set_role(&srv, &ann, &bob, "moderator").await;
        srv.post(&paths(&bob)[0], &mia, json!({ "duration_secs": 60 })).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.post(&paths(&ann)[1], &mia, json!({})).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.post(&paths(&mia)[0], &mia, json!({ "duration_secs": 60 })).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.post(&paths(&bob)[0], &ann, json!({ "duration_secs": 60 })).await.ok::<Timeout>();

        let before = audit_log(&srv, &ann, "").await.len();
        srv.patch("/api/admin/feature_flags", &mia, json!({ "voice": false })).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.patch("/api/admin/voice/settings", &mia, json!({ "force_relay": true })).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.post("/api/channels", &mia, json!({ "name": "mine", "kind": "text" })).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.patch(&format!("/api/users/{}/role", mia.id), &mia, json!({ "role": "admin" }))
            .await
            .error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        assert_eq!(audit_log(&srv, &ann, "").await.len(), before, "refused settings changes record nothing");

        let dan = srv.user("dan").await;
        let channel = general(&srv, &dan).await;
        let dans: Message = send(&srv, &dan, channel, "posted by dan").await.ok();
        let removed = srv.delete(&format!("/api/messages/{}", dans.id), &mia).await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT, "moderators delete other people's messages: {}", removed.body);
        let mine: Message = send(&srv, &mia, channel, "by mia").await.ok();
        srv.delete(&format!("/api/messages/{}", mine.id), &dan).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    }
);

db_test!(
    async fn admin_changes_are_audited_and_paged(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let made: Value = srv.post("/api/channels", &ann, json!({ "name": "news", "kind": "text" })).await.ok();
        let channel: Id = serde_json::from_value(made["id"].clone()).expect("an id");
        srv.post("/api/channels", &ann, json!({ "name": "news", "kind": "text" }))
            .await
            .error(StatusCode::CONFLICT, ErrorCode::ChannelNameTaken);
        srv.patch(&format!("/api/channels/{channel}"), &ann, json!({ "topic": "what is new" })).await.ok::<Value>();
        srv.delete(&format!("/api/channels/{channel}"), &ann).await.ok::<Value>();
        set_role(&srv, &ann, &bob, "moderator").await;
        srv.patch("/api/admin/feature_flags", &ann, json!({ "link_previews": true })).await.ok::<Value>();
        srv.patch("/api/admin/voice/settings", &ann, json!({ "force_relay": true })).await.ok::<Value>();
        let body = json!({ "email": "dee@example.test", "username": "dee", "password": PASSWORD, "role": "member" });
        srv.post("/api/admin/users", &ann, body).await.ok::<Value>();

        let log = audit_log(&srv, &ann, "").await;
        let actions: Vec<AuditAction> = log.iter().map(|e| e.action).collect();
        assert_eq!(actions, [
            AuditAction::UserCreated,
            AuditAction::VoiceSettingsUpdated,
            AuditAction::FeatureFlagsUpdated,
            AuditAction::RoleChanged,
            AuditAction::ChannelDeleted,
            AuditAction::ChannelUpdated,
            AuditAction::ChannelCreated,
        ], "every admin change, newest first; the refused duplicate left nothing");
        assert!(log.iter().all(|e| e.actor_id == ann.id), "each names who did it");
        assert_eq!(log[3].target_user_id, Some(bob.id));
        assert_eq!((log[3].details["from"].as_str(), log[3].details["to"].as_str()), (Some("member"), Some("moderator")));
        assert_eq!(log[5].target_channel_id, Some(channel));
        assert_eq!(log[5].details["after"]["topic"], "what is new", "an update records the channel as it became");
        assert_eq!(log[1].details["force_relay"], true);

        let first = audit_log(&srv, &ann, "?limit=3").await;
        let rest = audit_log(&srv, &ann, &format!("?limit=3&before={}", first[2].id)).await;
        assert_eq!(first.iter().chain(&rest).map(|e| e.id).collect::<Vec<_>>(), log[..6].iter().map(|e| e.id).collect::<Vec<_>>(),
            "pages follow each other without gaps or repeats");
        for bad in ["?limit=0", "?limit=101"] {
            srv.get(&format!("/api/admin/audit_log{bad}"), &ann).await.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        }
        srv.get("/api/admin/audit_log?before=abc", &ann).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
    }
);
