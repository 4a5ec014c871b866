//! Users end to end: one's own account and profile, public profiles, and roles.

use cromulent_protocol::channel::Channel;
use cromulent_protocol::user::{OwnUser, Role, User, VoiceMode};
use cromulent_protocol::ErrorCode;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::db_test;
use crate::harness::{TestServer, TestUser};

async fn me(srv: &TestServer, user: &TestUser) -> OwnUser {
    srv.get("/api/users/me", user).await.ok()
}

async fn role_of(srv: &TestServer, asker: &TestUser, user: &TestUser) -> Role {
    srv.get(&format!("/api/users/{}", user.id), asker).await.ok::<User>().role
}

db_test!(
    async fn users_read_and_change_their_own_profile(srv) {
        let ann = srv.user("ann").await;
        let own = me(&srv, &ann).await;
        assert_eq!((own.user.id, own.email.as_str()), (ann.id, "ann@example.test"), "me is the caller");
        assert_eq!(own.voice_mode, VoiceMode::Ptt, "push-to-talk is the default voice mode");

        let changed: OwnUser = srv
            .patch(
                "/api/users/me",
                &ann,
                json!({"display_name": "  Ann A. ", "avatar_url": "https://img.example/a.png",
                       "voice_mode": "vad", "vad_threshold_db": -55.5}),
            )
            .await
            .ok();
        assert_eq!(changed.user.display_name.as_deref(), Some("Ann A."), "display names are trimmed");
        assert_eq!(changed.user.avatar_url.as_deref(), Some("https://img.example/a.png"));
        assert_eq!((changed.voice_mode, changed.vad_threshold_db), (VoiceMode::Vad, -55.5));
        assert_eq!(me(&srv, &ann).await, changed, "the change is stored, not just echoed");

        let cleared: OwnUser = srv.patch("/api/users/me", &ann, json!({"display_name": null})).await.ok();
        assert_eq!(cleared.user.display_name, None, "null clears the display name");
        assert_eq!(cleared.user.avatar_url, changed.user.avatar_url, "absent fields are left alone");
        let edges: OwnUser = srv.patch("/api/users/me", &ann, json!({"vad_threshold_db": -100})).await.ok();
        assert_eq!(edges.vad_threshold_db, -100.0, "the range includes its ends");
    }
);

db_test!(
    async fn bad_profile_changes_are_refused_without_change(srv) {
        let ann = srv.user("ann").await;
        let before = me(&srv, &ann).await;
        let invalid = [
            (json!({"display_name": "x".repeat(65)}), "display_name"),
            (json!({"display_name": "bell\u{7}"}), "display_name"),
            (json!({"avatar_url": "javascript:alert(1)"}), "avatar_url"),
            (json!({"vad_threshold_db": 3}), "vad_threshold_db"),
            (json!({"vad_threshold_db": -100.5}), "vad_threshold_db"),
        ];
        for (body, field) in invalid {
            let reply = srv.patch("/api/users/me", &ann, body.clone()).await;
            let err = reply.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
            assert_eq!(err.field.as_deref(), Some(field), "{body}: the form must know which field is wrong");
        }
        // A valid field beside an invalid one must not be applied either.
        srv.patch("/api/users/me", &ann, json!({"display_name": "Ok", "vad_threshold_db": 1}))
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        for body in [json!({"display_name": 5}), json!({"voice_mode": "telepathy"}), json!({"vad_threshold_db": "-40"})] {
            srv.patch("/api/users/me", &ann, body).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        }
        let token = Some(ann.access_token.as_str());
        let garbage = srv.call_raw(Method::PATCH, "/api/users/me", token, "application/json", b"[1,".to_vec()).await;
        garbage.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        let huge = format!("{{\"display_name\":\"{}\"}}", "a".repeat(70 * 1024));
        let big = srv.call_raw(Method::PATCH, "/api/users/me", token, "application/json", huge.into_bytes()).await;
        big.error(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge);
        assert_eq!(me(&srv, &ann).await, before, "refused changes must leave the profile as it was");
    }
);

db_test!(
    async fn everyone_sees_public_profiles_and_never_emails(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let list = srv.get("/api/users", &bob).await;
        let users: Vec<User> = list.ok();
        let mut names: Vec<_> = users.iter().map(|u| u.username.as_str()).collect();
        names.sort();
        assert_eq!(names, ["ann", "bob"], "every account is listed for mention autocomplete");
        let raw = list.body.to_string();
        assert!(!raw.contains("example.test") && !raw.contains("email"), "emails are private: {raw}");

        let one = srv.get(&format!("/api/users/{}", ann.id), &bob).await;
        let user: User = one.ok();
        assert_eq!((user.id, user.username.as_str(), user.role), (ann.id, "ann", Role::Admin));
        assert!(one.body.get("email").is_none(), "one profile carries no email either");
        srv.get("/api/users/424242", &bob).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.get("/api/users/ann", &bob).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.anonymous(Method::GET, "/api/users", None).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    }
);

db_test!(
    async fn admins_set_roles_but_never_remove_the_last_admin(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let bob_role = format!("/api/users/{}/role", bob.id);
        let ann_role = format!("/api/users/{}/role", ann.id);

        srv.patch(&ann_role, &bob, json!({"role": "member"})).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.patch(&bob_role, &bob, json!({"role": "admin"})).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        assert_eq!(role_of(&srv, &bob, &bob).await, Role::Member, "a member cannot promote themselves");
        srv.patch(&ann_role, &ann, json!({"role": "member"})).await.error(StatusCode::CONFLICT, ErrorCode::Conflict);
        assert_eq!(role_of(&srv, &ann, &ann).await, Role::Admin, "the only admin stays admin");

        let promoted: User = srv.patch(&bob_role, &ann, json!({"role": "admin"})).await.ok();
        assert_eq!(promoted.role, Role::Admin);
        let made = srv.post("/api/channels", &bob, json!({"name": "bobs", "kind": "text"})).await;
        assert_eq!(made.status, StatusCode::CREATED, "the new role takes effect at once: {}", made.body);
        made.json::<Channel>();

        let demoted: User = srv.patch(&ann_role, &bob, json!({"role": "member"})).await.ok();
        assert_eq!(demoted.role, Role::Member, "with two admins, one may demote the other");
        srv.patch(&bob_role, &bob, json!({"role": "member"})).await.error(StatusCode::CONFLICT, ErrorCode::Conflict);
        srv.patch(&bob_role, &ann, json!({"role": "member"})).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        assert_eq!(role_of(&srv, &ann, &bob).await, Role::Admin, "refusals leave the last admin in place");

        srv.patch(&bob_role, &bob, json!({"role": "king"})).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.patch("/api/users/424242/role", &bob, json!({"role": "admin"})).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.patch("/api/users/x/role", &bob, json!({"role": "admin"})).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        let again: User = srv.patch(&bob_role, &bob, json!({"role": "admin"})).await.ok();
        assert_eq!(again.role, Role::Admin, "setting the role one has is harmless");
    }
);

db_test!(
    async fn a_revoked_login_cannot_read_or_change_the_account(srv) {
        let ann = srv.user("ann").await;
        me(&srv, &ann).await;
        let out = srv.anonymous(Method::POST, "/api/auth/logout", Some(json!({"refresh_token": ann.refresh_token}))).await;
        assert_eq!(out.status, StatusCode::OK, "logout succeeds: {}", out.body);
        srv.get("/api/users/me", &ann).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        srv.patch("/api/users/me", &ann, json!({"display_name": "ghost"}))
            .await
            .error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        let ann = srv.login(&ann.email, ann.id, &ann.username).await;
        assert_eq!(me(&srv, &ann).await.user.display_name, None, "the refused change was not applied");
    }
);
