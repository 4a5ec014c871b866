//! Accounts: enumeration through registration and address changes, the first-admin
//! race, notification excerpts after leaving, and HSTS.

use cromulent_protocol::auth::RegisterResponse;
use cromulent_protocol::channel::WritePermission;
use cromulent_protocol::notification::Notification;
use cromulent_protocol::user::Role;
use cromulent_protocol::ErrorCode;
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::db_test;
use crate::harness::{Database, TestServer, PASSWORD};
use crate::messages::{make_channel, send};
use crate::smtp::{server_with_smtp, SmtpSink};

db_test!(
    async fn registration_answers_alike_for_taken_addresses_where_mail_works(srv) {
        let sink = SmtpSink::start().await;
        let srv = server_with_smtp(&sink, srv.database).await;
        let register = |email: &'static str, username: &'static str| {
            let srv = &srv;
            async move {
                srv.anonymous(Method::POST, "/api/auth/register", Some(json!({"email": email, "username": username, "password": PASSWORD})))
                    .await
            }
        };
        let fresh = register("ann@example.test", "ann").await;
        let again = register("ann@example.test", "annagain").await;
        assert_eq!(
            (fresh.status, &fresh.body),
            (again.status, &again.body),
            "a taken address must look exactly like a new account"
        );
        let body: RegisterResponse = again.ok();
        assert!(body.user.is_none() && body.confirmation_required);
        let warned = sink.wait_for("ann@example.test", "Someone tried to register").await;
        assert!(warned.contains("/forgot"), "the owner is offered a way back in: {warned}");
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(srv.state.db.pool()).await.expect("count");
        assert_eq!(users, 1, "nothing was created for the second try");
    }
);

db_test!(
    async fn an_address_change_to_a_taken_address_says_nothing(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let taken = srv.post("/api/users/me/email", &ann, json!({"current_password": PASSWORD, "new_email": bob.email})).await;
        let free = srv.post("/api/users/me/email", &ann, json!({"current_password": PASSWORD, "new_email": "ann@new.test"})).await;
        assert_eq!((taken.status, &taken.body), (free.status, &free.body), "a taken address answers like a free one");
        let told = srv.last_mail_to(&bob.email).expect("the owner hears of it");
        assert!(told.subject.contains("move a Cromulent account"), "{told:?}");
        assert!(!told.body.contains("/confirm-email/"), "and gets no link that could move anything");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_change_mails_are_limited_per_user() {
    let srv =
        TestServer::start_with(Database::Sqlite, |c| c.limits.email_changes_per_user_per_hour = 2).await;
    let ann = srv.user("ann").await;
    for i in 0..2 {
        let body = json!({"current_password": PASSWORD, "new_email": format!("ann{i}@new.test")});
        assert_eq!(srv.post("/api/users/me/email", &ann, body).await.status, StatusCode::ACCEPTED);
    }
    let body = json!({"current_password": PASSWORD, "new_email": "victim@elsewhere.test"});
    srv.post("/api/users/me/email", &ann, body)
        .await
        .error(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited);
    assert!(srv.last_mail_to("victim@elsewhere.test").is_none(), "no mail went out past the limit");
}

db_test!(
    async fn racing_first_registrations_make_one_admin(srv) {
        let attempts = (0..8).map(|i| {
            let srv = &srv;
            async move {
                let body = json!({"email": format!("racer{i}@example.test"), "username": format!("racer{i}"), "password": PASSWORD});
                srv.anonymous(Method::POST, "/api/auth/register", Some(body)).await
            }
        });
        let replies = join_all(attempts).await;
        let admins = replies
            .iter()
            .map(|r| r.ok::<RegisterResponse>().user.expect("account").user.role)
            .filter(|role| *role == Role::Admin)
            .count();
        assert_eq!(admins, 1, "exactly one of the concurrent first registrations runs the server");
    }
);

db_test!(
    async fn a_notification_from_a_channel_one_left_cannot_be_read(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let secret = make_channel(&srv, "secret", true, WritePermission::Everyone, &[&ann, &bob]).await;
        send(&srv, &ann, secret, "@bob the launch code is 1234").await;
        let inbox: Vec<Notification> = srv.get("/api/notifications", &bob).await.ok();
        let id = inbox.first().expect("bob was mentioned").id;
        cromulent_server::store::memberships::remove(srv.state.db.pool(), secret, bob.id).await.expect("remove");
        let read = srv.post(&format!("/api/notifications/{id}/read"), &bob, json!({})).await;
        read.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        assert!(!read.body.to_string().contains("launch code"), "the excerpt must not come back in any answer");
        let inbox: Vec<Notification> = srv.get("/api/notifications", &bob).await.ok();
        assert!(inbox.is_empty(), "nor in the inbox");
        let read_at: Option<i64> = sqlx::query_scalar("SELECT read_at FROM notifications WHERE id = $1")
            .bind(id.0)
            .fetch_one(srv.state.db.pool())
            .await
            .expect("row");
        assert_eq!(read_at, None, "the refused request changed nothing");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsts_is_sent_exactly_when_served_over_https() {
    let plain = TestServer::start(Database::Sqlite).await;
    let reply = plain.anonymous(Method::GET, "/healthz", None).await;
    assert!(!reply.headers.contains_key("strict-transport-security"), "plain http must not pin TLS");
    let tls =
        TestServer::start_with(Database::Sqlite, |c| c.public_url = Some("https://chat.example".into()))
            .await;
    let reply = tls.anonymous(Method::GET, "/healthz", None).await;
    let hsts = reply.headers.get("strict-transport-security").expect("https servers pin TLS");
    assert!(hsts.to_str().expect("ascii").starts_with("max-age="), "{hsts:?}");
}
