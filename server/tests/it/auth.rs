//! Accounts end to end: registration, confirmation, login, refresh rotation, sessions,
//! browser cookies, recovery and throttling.

use cromulent_protocol::auth::{
    LoginResponse, RefreshResponse, RegisterResponse, SessionInfo, VerifyResponse,
};
use cromulent_protocol::user::Role;
use cromulent_protocol::ErrorCode;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::db_test;
use crate::harness::{TestServer, PASSWORD};
use crate::security::browser_session;

async fn register(srv: &TestServer, email: &str, username: &str, password: &str) -> crate::harness::Reply {
    srv.anonymous(
        Method::POST,
        "/api/auth/register",
        Some(json!({"email": email, "username": username, "password": password})),
    )
    .await
}

async fn login(srv: &TestServer, email: &str, password: &str) -> crate::harness::Reply {
    srv.anonymous(
        Method::POST,
        "/api/auth/login",
        Some(json!({"email": email, "password": password, "device_name": "Pixel", "device_type": "android"})),
    )
    .await
}

async fn refresh(srv: &TestServer, token: &str) -> crate::harness::Reply {
    srv.anonymous(Method::POST, "/api/auth/refresh", Some(json!({"refresh_token": token}))).await
}

db_test!(
    async fn first_account_is_admin_and_later_ones_are_members(srv) {
        let first: RegisterResponse = register(&srv, "Ann@Example.test", "ann", PASSWORD).await.ok();
        assert!(!first.confirmation_required, "without SMTP, confirmation is not required by default");
        let first = first.user.expect("without confirmation the new account is returned");
        assert_eq!(first.user.role, Role::Admin, "the first account runs the server");
        assert_eq!(first.email, "ann@example.test", "emails are stored lower-cased");
        let second: RegisterResponse = register(&srv, "bob@example.test", "bob", PASSWORD).await.ok();
        assert_eq!(second.user.expect("account").user.role, Role::Member, "only the first account becomes admin");
    }
);

db_test!(
    async fn registration_refuses_bad_and_duplicate_input(srv) {
        register(&srv, "ann@example.test", "ann", PASSWORD).await.ok::<RegisterResponse>();
        let short = register(&srv, "new@example.test", "newbie", "elevenchars").await;
        assert_eq!(short.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed).field.as_deref(), Some("password"));
        let unicode = register(&srv, "uni@example.test", "uni", "ünïcödé pässwörd").await;
        assert!(unicode.status.is_success(), "any characters make a password: {}", unicode.body);
        register(&srv, "ANN@example.test", "ann2", PASSWORD).await.error(StatusCode::CONFLICT, ErrorCode::EmailTaken);
        register(&srv, "ann3@example.test", "ANN", PASSWORD).await.error(StatusCode::CONFLICT, ErrorCode::UsernameTaken);
        register(&srv, "not-an-email", "zed", PASSWORD).await.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        let wrong_type = srv.anonymous(Method::POST, "/api/auth/register", Some(json!({"email": 1, "username": "x", "password": PASSWORD}))).await;
        wrong_type.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        let admin = srv.login("ann@example.test", first_id(&srv).await, "ann").await;
        let group = srv.post("/api/groups", &admin, json!({"name": "mods", "colour": "#336699", "member_ids": []})).await;
        assert!(group.status.is_success(), "{}", group.body);
        register(&srv, "mods@example.test", "Mods", PASSWORD).await.error(StatusCode::CONFLICT, ErrorCode::UsernameTaken);
        let users = cromulent_server::store::users::list(srv.state.db.pool()).await.expect("list");
        assert_eq!(users.len(), 2, "refused registrations must not create accounts");
    }
);

async fn first_id(srv: &TestServer) -> cromulent_protocol::Id {
    cromulent_server::store::users::list(srv.state.db.pool()).await.expect("list")[0].id
}

db_test!(
    async fn the_mailed_link_confirms_the_account_once(srv) {
        register(&srv, "ann@example.test", "ann", PASSWORD).await.ok::<RegisterResponse>();
        let mail = srv.last_mail_to("ann@example.test").expect("a confirmation mail is sent");
        assert!(mail.body.contains(&format!("{}/confirm/", srv.base)), "the link points at PUBLIC_URL: {}", mail.body);
        let token = srv.token_from_mail("ann@example.test", "confirm");
        let done = srv.anonymous(Method::POST, "/api/auth/confirm", Some(json!({"token": token}))).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
        let again = srv.anonymous(Method::POST, "/api/auth/confirm", Some(json!({"token": token}))).await;
        again.error(StatusCode::BAD_REQUEST, ErrorCode::InvalidToken);
        let logged: LoginResponse = login(&srv, "ann@example.test", PASSWORD).await.ok();
        assert!(logged.user.email_confirmed, "the account is confirmed now");
        srv.anonymous(Method::POST, "/api/auth/confirm", Some(json!({"token": "bogus"})))
            .await
            .error(StatusCode::BAD_REQUEST, ErrorCode::InvalidToken);
    }
);

db_test!(
    async fn refresh_rotates_and_a_replayed_token_revokes_the_login(srv) {
        register(&srv, "ann@example.test", "ann", PASSWORD).await.ok::<RegisterResponse>();
        let first: LoginResponse = login(&srv, "ann@example.test", PASSWORD).await.ok();
        let r1: RefreshResponse = refresh(&srv, &first.refresh_token).await.ok();
        assert_ne!(r1.refresh_token, first.refresh_token, "every refresh hands out a new refresh token");
        assert_eq!(r1.expires_in, 900, "access tokens live 15 minutes");
        let me = srv.call(Method::GET, "/api/sessions", Some(&r1.access_token), None).await;
        assert_eq!(me.status, StatusCode::OK, "the access token works: {}", me.body);

        let r2: RefreshResponse = refresh(&srv, &r1.refresh_token).await.ok();

        // The old token shows up again after its successor was used: someone copied it.
        // The whole login must die.
        refresh(&srv, &first.refresh_token).await.error(StatusCode::UNAUTHORIZED, ErrorCode::TokenReused);
        refresh(&srv, &r2.refresh_token).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        srv.call(Method::GET, "/api/sessions", Some(&r2.access_token), None)
            .await
            .error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    }
);

db_test!(
    async fn wrong_credentials_and_forged_tokens_are_refused(srv) {
        register(&srv, "ann@example.test", "ann", PASSWORD).await.ok::<RegisterResponse>();
        login(&srv, "ann@example.test", "not the password at all").await.error(StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials);
        login(&srv, "nobody@example.test", PASSWORD).await.error(StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials);
        refresh(&srv, "made-up").await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        srv.call(Method::GET, "/api/sessions", Some("made.up"), None).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        srv.anonymous(Method::GET, "/api/sessions", None).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    }
);

db_test!(
    async fn repeated_failures_are_throttled_with_retry_after(srv) {
        register(&srv, "ann@example.test", "ann", PASSWORD).await.ok::<RegisterResponse>();
        for _ in 0..10 {
            login(&srv, "ann@example.test", "wrong password guess").await.error(StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials);
        }
        let blocked = login(&srv, "ann@example.test", PASSWORD).await;
        let err = blocked.error(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited);
        let header: u64 = blocked.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
        assert_eq!(Some(header), err.retry_after_secs, "header and body agree on the wait");
        assert!(header > 0 && header <= 900, "the wait is within the 15-minute window");
    }
);

db_test!(
    async fn verify_and_logout_follow_the_refresh_token(srv) {
        register(&srv, "ann@example.test", "ann", PASSWORD).await.ok::<RegisterResponse>();
        let session: LoginResponse = login(&srv, "ann@example.test", PASSWORD).await.ok();
        let body = json!({"refresh_token": session.refresh_token});
        let verified: VerifyResponse = srv.anonymous(Method::POST, "/api/auth/verify", Some(body.clone())).await.ok();
        assert!(verified.valid && verified.user.is_some(), "a fresh token verifies");
        srv.anonymous(Method::POST, "/api/auth/logout", Some(body.clone())).await.ok::<serde_json::Value>();
        let verified: VerifyResponse = srv.anonymous(Method::POST, "/api/auth/verify", Some(body)).await.ok();
        assert!(!verified.valid, "a logged-out token is dead");
        refresh(&srv, &session.refresh_token).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    }
);

db_test!(
    async fn sessions_list_devices_and_only_their_owner_revokes_them(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let second = srv.login(&ann.email, ann.id, "ann").await;
        let list: Vec<SessionInfo> = srv.get("/api/sessions", &ann).await.ok();
        assert_eq!(list.len(), 2, "both of ann's logins are listed");
        assert_eq!(list.iter().filter(|s| s.current).count(), 1, "exactly one is marked as this one");
        let entry = &list[0];
        assert_eq!(entry.device_name.as_deref(), Some("test rig"));
        assert_eq!(entry.ip_address.as_deref(), Some("127.0.0.1"), "the address is recorded");
        let other = list.iter().find(|s| !s.current).expect("the other login");

        srv.delete(&format!("/api/sessions/{}", other.id), &bob).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        assert_eq!(srv.get("/api/sessions", &second).await.status, StatusCode::OK, "bob's attempt changed nothing");
        srv.delete(&format!("/api/sessions/{}", other.id), &ann).await.ok::<serde_json::Value>();
        srv.get("/api/sessions", &second).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        srv.delete("/api/sessions/abc", &ann).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
    }
);

db_test!(
    async fn changing_the_password_ends_every_other_login(srv) {
        let ann = srv.user("ann").await;
        let other = srv.login(&ann.email, ann.id, "ann").await;
        let wrong = srv.post("/api/users/me/password", &ann, json!({"current_password": "wrong wrong wrong", "new_password": "a brand new passphrase"})).await;
        wrong.error(StatusCode::FORBIDDEN, ErrorCode::InvalidCredentials);
        assert_eq!(srv.get("/api/sessions", &other).await.status, StatusCode::OK, "a refused change ends nothing");
        srv.post("/api/users/me/password", &ann, json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}))
            .await
            .ok::<serde_json::Value>();
        assert_eq!(srv.get("/api/sessions", &ann).await.status, StatusCode::OK, "the login that changed it stays");
        srv.get("/api/sessions", &other).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        login(&srv, &ann.email, PASSWORD).await.error(StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials);
        login(&srv, &ann.email, "a brand new passphrase").await.ok::<LoginResponse>();
    }
);

db_test!(
    async fn forgot_password_answers_alike_and_reset_works_once(srv) {
        let ann = srv.user("ann").await;
        let known = srv.anonymous(Method::POST, "/api/auth/forgot_password", Some(json!({"email": ann.email}))).await;
        let unknown = srv.anonymous(Method::POST, "/api/auth/forgot_password", Some(json!({"email": "ghost@example.test"}))).await;
        assert_eq!((known.status, &known.body), (unknown.status, &unknown.body), "the answer must not reveal which accounts exist");
        assert!(srv.last_mail_to("ghost@example.test").is_none(), "no mail for a missing account");
        let token = srv.token_from_mail(&ann.email, "reset");
        let short = srv.anonymous(Method::POST, "/api/auth/reset_password", Some(json!({"token": token, "password": "short"}))).await;
        short.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        srv.anonymous(Method::POST, "/api/auth/reset_password", Some(json!({"token": token, "password": "reset to something long"})))
            .await
            .ok::<serde_json::Value>();
        srv.anonymous(Method::POST, "/api/auth/reset_password", Some(json!({"token": token, "password": "and once more please"})))
            .await
            .error(StatusCode::BAD_REQUEST, ErrorCode::InvalidToken);
        srv.get("/api/sessions", &ann).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        login(&srv, &ann.email, "reset to something long").await.ok::<LoginResponse>();
    }
);

db_test!(
    async fn a_new_email_takes_effect_only_when_confirmed(srv) {
        let ann = srv.user("ann").await;
        srv.user("bob").await;
        let taken = srv.post("/api/users/me/email", &ann, json!({"current_password": PASSWORD, "new_email": "bob@example.test"})).await;
        assert_eq!(taken.status, StatusCode::ACCEPTED, "a taken address is not revealed (the owner is told instead)");
        assert!(srv.last_mail_to("bob@example.test").is_some_and(|m| !m.body.contains("/confirm-email/")));
        let asked = srv.post("/api/users/me/email", &ann, json!({"current_password": PASSWORD, "new_email": "ann@new.test"})).await;
        assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
        login(&srv, "ann@example.test", PASSWORD).await.ok::<LoginResponse>();
        let token = srv.token_from_mail("ann@new.test", "confirm-email");
        srv.anonymous(Method::POST, "/api/auth/confirm_email", Some(json!({"token": token}))).await.ok::<serde_json::Value>();
        login(&srv, "ann@example.test", PASSWORD).await.error(StatusCode::UNAUTHORIZED, ErrorCode::InvalidCredentials);
        let moved: LoginResponse = login(&srv, "ann@new.test", PASSWORD).await.ok();
        assert!(moved.user.email_confirmed, "the link proved the new address");
    }
);

db_test!(
    async fn browser_sessions_use_an_httponly_cookie_and_refuse_cross_site_writes(srv) {
        let ann = srv.user("ann").await;
        let (jar, cookie) = browser_session(&srv, &ann.email).await;
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "script cannot read it: {cookie}");
        let list = jar.get(srv.url("/api/sessions")).send().await.expect("sent");
        assert_eq!(list.status(), StatusCode::OK, "the cookie authenticates reads");

        let evil = jar
            .post(srv.url("/api/users/me/password"))
            .header("origin", "https://evil.example")
            .json(&json!({"current_password": PASSWORD, "new_password": "attacker chosen pass"}))
            .send()
            .await
            .expect("sent");
        assert_eq!(evil.status(), StatusCode::FORBIDDEN, "a cross-site write with the cookie is refused");
        login(&srv, &ann.email, PASSWORD).await.ok::<LoginResponse>();

        let cross_login = srv
            .http
            .post(srv.url("/api/auth/session"))
            .header("origin", "https://evil.example")
            .json(&json!({"email": ann.email, "password": PASSWORD}))
            .send()
            .await
            .expect("sent");
        assert_eq!(cross_login.status(), StatusCode::FORBIDDEN, "login CSRF is refused too");

        let closed = jar.delete(srv.url("/api/auth/session")).header("origin", &srv.base).send().await.expect("sent");
        assert_eq!(closed.status(), StatusCode::OK);
        let after = jar.get(srv.url("/api/sessions")).send().await.expect("sent");
        assert_eq!(after.status(), StatusCode::UNAUTHORIZED, "a closed browser session no longer works");
    }
);

db_test!(
    async fn auto_login_trades_a_refresh_token_for_a_cookie_from_our_origin_only(srv) {
        let ann = srv.user("ann").await;
        let body = json!({"refresh_token": ann.refresh_token});
        let cross = srv.http.post(srv.url("/auto_login")).header("origin", "https://evil.example").json(&body).send().await.expect("sent");
        assert_eq!(cross.status(), StatusCode::FORBIDDEN, "another site must not log the browser in");
        let jar = reqwest::Client::builder().cookie_store(true).build().expect("client");
        let traded = jar.post(srv.url("/auto_login")).header("origin", &srv.base).json(&body).send().await.expect("sent");
        assert_eq!(traded.status(), StatusCode::OK);
        assert_eq!(jar.get(srv.url("/api/sessions")).send().await.expect("sent").status(), StatusCode::OK);
        refresh(&srv, &ann.refresh_token).await.ok::<RefreshResponse>();
        let bad = srv.http.post(srv.url("/auto_login")).json(&json!({"refresh_token": "nope"})).send().await.expect("sent");
        assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    }
);

db_test!(
    async fn the_confirmation_mail_can_be_sent_again_and_replaces_the_first(srv) {
        register(&srv, "ann@example.test", "ann", PASSWORD).await.ok::<RegisterResponse>();
        let first = srv.token_from_mail("ann@example.test", "confirm");
        let resend = |email: &'static str| {
            let srv = &srv;
            async move { srv.anonymous(Method::POST, "/api/auth/resend_confirmation", Some(json!({"email": email}))).await }
        };
        let known = resend("ann@example.test").await;
        let unknown = resend("ghost@example.test").await;
        assert_eq!((known.status, &known.body), (unknown.status, &unknown.body), "the answer must not reveal which accounts exist");
        assert_eq!(known.status, StatusCode::ACCEPTED);
        assert!(srv.last_mail_to("ghost@example.test").is_none(), "no mail for a missing account");
        let second = srv.token_from_mail("ann@example.test", "confirm");
        assert_ne!(first, second, "a fresh link was mailed");
        srv.anonymous(Method::POST, "/api/auth/confirm", Some(json!({"token": first})))
            .await
            .error(StatusCode::BAD_REQUEST, ErrorCode::InvalidToken);
        srv.anonymous(Method::POST, "/api/auth/confirm", Some(json!({"token": second}))).await.ok::<serde_json::Value>();
        let mails = srv.state.mailer.dev_mailbox().expect("dev mailbox").list().len();
        resend("ann@example.test").await;
        assert_eq!(srv.state.mailer.dev_mailbox().expect("dev mailbox").list().len(), mails, "a confirmed account gets no more links");
    }
);
