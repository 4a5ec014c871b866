//! Feature flags end to end: everyone reads them, admins set them, and the switches that
//! guard accounts (registration, email confirmation) really take effect.

use cromulent_protocol::auth::RegisterResponse;
use cromulent_protocol::feature_flag::{FeatureFlags, RegistrationMode};
use cromulent_protocol::ErrorCode;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::db_test;
use crate::harness::{TestServer, TestUser, PASSWORD};

async fn flags(srv: &TestServer, user: &TestUser) -> FeatureFlags {
    srv.get("/api/feature_flags", user).await.ok()
}

async fn register(srv: &TestServer, username: &str) -> crate::harness::Reply {
    let body =
        json!({"email": format!("{username}@example.test"), "username": username, "password": PASSWORD});
    srv.anonymous(Method::POST, "/api/auth/register", Some(body)).await
}

async fn login(srv: &TestServer, username: &str) -> crate::harness::Reply {
    let body = json!({"email": format!("{username}@example.test"), "password": PASSWORD});
    srv.anonymous(Method::POST, "/api/auth/login", Some(body)).await
}

db_test!(
    async fn everyone_reads_the_flags_and_admins_set_them(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let defaults = flags(&srv, &bob).await;
        let expected = FeatureFlags {
            voice: true,
            registration: RegistrationMode::Open,
            member_invites: false,
            link_previews: false,
            email_confirmation: false,
            turn: true,
        };
        assert_eq!(defaults, expected, "without SMTP, confirmation is off; the rest are the documented defaults");

        let set: FeatureFlags = srv.patch("/api/admin/feature_flags", &ann, json!({"voice": false, "link_previews": true})).await.ok();
        assert_eq!(set, FeatureFlags { voice: false, link_previews: true, ..expected }, "only the fields sent change");
        assert_eq!(flags(&srv, &bob).await, set, "every user sees the admin's choice");
        let kept: FeatureFlags = srv.patch("/api/admin/feature_flags", &ann, json!({})).await.ok();
        assert_eq!(kept, set, "an empty change changes nothing");
        let back: FeatureFlags = srv.patch("/api/admin/feature_flags", &ann, json!({"voice": true})).await.ok();
        assert!(back.voice && back.link_previews, "a flag can be switched back without touching the others");
    }
);

db_test!(
    async fn flags_refuse_members_and_bad_input_without_change(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let before = flags(&srv, &ann).await;
        srv.patch("/api/admin/feature_flags", &bob, json!({"registration": "closed"}))
            .await
            .error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        // `registration` was a boolean before it became a mode; old clients are told so.
        let bodies = [json!({"voice": "yes"}), json!({"turn": 1}), json!("voice"), json!({"registration": false}),
                      json!({"registration": "sometimes"}), json!({"member_invites": "yes"})];
        for body in bodies {
            srv.patch("/api/admin/feature_flags", &ann, body).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        }
        let token = Some(ann.access_token.as_str());
        let garbage = srv.call_raw(Method::PATCH, "/api/admin/feature_flags", token, "application/json", b"{voice}".to_vec()).await;
        garbage.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        let huge = format!("{{\"voice\":false,\"pad\":\"{}\"}}", "a".repeat(70 * 1024));
        let big = srv.call_raw(Method::PATCH, "/api/admin/feature_flags", token, "application/json", huge.into_bytes()).await;
        big.error(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge);
        srv.call(Method::PUT, "/api/admin/feature_flags", token, Some(json!({})))
            .await
            .error(StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed);
        assert_eq!(flags(&srv, &ann).await, before, "refused changes must leave the flags as they were");

        srv.anonymous(Method::GET, "/api/feature_flags", None).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        let out = srv.anonymous(Method::POST, "/api/auth/logout", Some(json!({"refresh_token": ann.refresh_token}))).await;
        assert_eq!(out.status, StatusCode::OK, "logout succeeds: {}", out.body);
        srv.patch("/api/admin/feature_flags", &ann, json!({"registration": "closed"}))
            .await
            .error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        assert_eq!(flags(&srv, &bob).await, before, "a revoked admin login changes nothing");
    }
);

db_test!(
    async fn closed_registration_refuses_new_accounts(srv) {
        let ann = srv.user("ann").await;
        srv.patch("/api/admin/feature_flags", &ann, json!({"registration": "closed"})).await.ok::<Value>();
        register(&srv, "bob").await.error(StatusCode::FORBIDDEN, ErrorCode::RegistrationClosed);
        login(&srv, "bob").await.error(StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials);
        srv.patch("/api/admin/feature_flags", &ann, json!({"registration": "open"})).await.ok::<Value>();
        let reply = register(&srv, "bob").await;
        assert_eq!(reply.status, StatusCode::CREATED, "reopened registration lets people in: {}", reply.body);
    }
);

db_test!(
    async fn required_confirmation_blocks_unconfirmed_logins(srv) {
        let ann = srv.user("ann").await;
        let set: FeatureFlags = srv.patch("/api/admin/feature_flags", &ann, json!({"email_confirmation": true})).await.ok();
        assert!(set.email_confirmation);
        let carol: RegisterResponse = register(&srv, "carol").await.ok();
        assert!(carol.confirmation_required, "the client is told to ask for the mailed link");
        login(&srv, "carol").await.error(StatusCode::FORBIDDEN, ErrorCode::EmailNotConfirmed);

        let token = srv.token_from_mail("carol@example.test", "confirm");
        let done = srv.anonymous(Method::POST, "/api/auth/confirm", Some(json!({"token": token}))).await;
        assert_eq!(done.status, StatusCode::OK, "the mailed link confirms: {}", done.body);
        let reply = login(&srv, "carol").await;
        assert_eq!(reply.status, StatusCode::OK, "a confirmed account logs in: {}", reply.body);

        srv.patch("/api/admin/feature_flags", &ann, json!({"email_confirmation": false})).await.ok::<Value>();
        register(&srv, "dave").await.ok::<RegisterResponse>();
        let reply = login(&srv, "dave").await;
        assert_eq!(reply.status, StatusCode::OK, "with the flag off, unconfirmed accounts log in: {}", reply.body);
    }
);
