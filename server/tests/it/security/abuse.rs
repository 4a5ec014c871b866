//! Floods and guessing: throttles raced by concurrency, forwarded addresses, the dev
//! mailbox and `/metrics` from afar, write budgets, mass pings, edits past the rules.

use cromulent_protocol::channel::WritePermission;
use cromulent_protocol::user::Role;
use cromulent_protocol::ErrorCode;
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::login;
use crate::db_test;
use crate::harness::{Database, TestServer, TestUser, PASSWORD};
use crate::messages::{channel_id, make_channel, send};

/// A request that seems to come through a proxy from `client`.
async fn forwarded(
    srv: &TestServer,
    method: Method,
    path: &str,
    client: &str,
    body: Option<serde_json::Value>,
) -> StatusCode {
    let mut req = srv.http.request(method, srv.url(path)).header("x-forwarded-for", client);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.expect("request reaches the server").status()
}

async fn message_count(srv: &TestServer) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM messages").fetch_one(srv.state.db.pool()).await.expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_guesses_all_count_before_the_hash() {
    let srv = TestServer::start(Database::Sqlite).await;
    let ann = srv.user("ann").await;
    let guesses = (0..30).map(|i| {
        let srv = &srv;
        let email = ann.email.clone();
        async move { login(srv, &email, &format!("wrong guess number {i}")).await.status }
    });
    let statuses = join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let limited = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(
        (checked, limited),
        (10, 20),
        "30 racing guesses get exactly the 10 checks LOGIN_FAILURES_PER_ACCOUNT allows: {statuses:?}"
    );
    let right = login(&srv, &ann.email, PASSWORD).await;
    let err = right.error(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited);
    assert!(
        err.retry_after_secs.is_some() && right.headers.contains_key("retry-after"),
        "the client learns when to retry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_password_checks_share_the_login_throttle() {
    let srv = TestServer::start_with(Database::Sqlite, |c| c.limits.login_failures_per_account = 3).await;
    let ann = srv.user("ann").await;
    let change =
        |current: &str| json!({"current_password": current, "new_password": "a fresh long passphrase"});
    for _ in 0..3 {
        srv.post("/api/users/me/password", &ann, change("not my password"))
            .await
            .error(StatusCode::FORBIDDEN, ErrorCode::InvalidCredentials);
    }
    srv.post("/api/users/me/password", &ann, change(PASSWORD))
        .await
        .error(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited);
    let email = json!({"current_password": PASSWORD, "new_email": "elsewhere@example.test"});
    srv.post("/api/users/me/email", &ann, email)
        .await
        .error(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited);
    login(&srv, &ann.email, PASSWORD).await.error(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
    let limits = |c: &mut cromulent_server::config::Config| {
        c.limits.login_failures_per_ip = 2;
        c.limits.login_failures_per_account = 1000;
    };
    let wrong = || Some(json!({"email": "nobody@example.test", "password": "wrong guess"}));

    let direct = TestServer::start_with(Database::Sqlite, limits).await;
    for client in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(
            forwarded(&direct, Method::POST, "/api/auth/login", client, wrong()).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        forwarded(&direct, Method::POST, "/api/auth/login", "203.0.113.3", wrong()).await,
        StatusCode::TOO_MANY_REQUESTS,
        "without TRUSTED_PROXIES the header is the caller's own word: every guess is 127.0.0.1's"
    );

    let proxied = TestServer::start_with(Database::Sqlite, |c| {
        limits(c);
        c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("network")];
    })
    .await;
    for _ in 0..2 {
        forwarded(&proxied, Method::POST, "/api/auth/login", "203.0.113.1", wrong()).await;
    }
    assert_eq!(
        forwarded(&proxied, Method::POST, "/api/auth/login", "203.0.113.1", wrong()).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        forwarded(&proxied, Method::POST, "/api/auth/login", "203.0.113.2", wrong()).await,
        StatusCode::UNAUTHORIZED,
        "behind a trusted proxy each client has its own budget"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dev_mailbox_and_metrics_are_for_this_machine_admins_and_scrapers() {
    let srv = TestServer::start_with(Database::Sqlite, |c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("network")];
        c.metrics_token = Some("scrape-me".into());
    })
    .await;
    let ann = srv.user("ann").await;
    let bob = srv.user("bob").await;
    let from_afar = |token: Option<&str>, path: &'static str| {
        let srv = &srv;
        let token = token.map(str::to_owned);
        async move {
            let mut req = srv.http.get(srv.url(path)).header("x-forwarded-for", "198.51.100.7");
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            req.send().await.expect("sent").status()
        }
    };
    assert_eq!(
        from_afar(None, "/dev/mailbox.json").await,
        StatusCode::FORBIDDEN,
        "reset links are not for strangers"
    );
    assert_eq!(
        from_afar(Some(&bob.access_token), "/dev/mailbox").await,
        StatusCode::FORBIDDEN,
        "nor for members"
    );
    assert_eq!(
        from_afar(Some(&ann.access_token), "/dev/mailbox.json").await,
        StatusCode::OK,
        "admins may look"
    );
    assert_eq!(
        srv.anonymous(Method::GET, "/dev/mailbox.json", None).await.status,
        StatusCode::OK,
        "this machine may look"
    );

    assert_eq!(from_afar(None, "/metrics").await, StatusCode::FORBIDDEN);
    assert_eq!(from_afar(Some("wrong"), "/metrics").await, StatusCode::FORBIDDEN);
    assert_eq!(
        from_afar(Some("scrape-me"), "/metrics").await,
        StatusCode::OK,
        "METRICS_TOKEN lets a scraper in"
    );
    assert_eq!(srv.anonymous(Method::GET, "/metrics", None).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_budgeted_per_user_and_per_address() {
    let srv =
        TestServer::start_with(Database::Sqlite, |c| c.limits.http_writes_per_user_per_minute = 4).await;
    let ann = srv.user("ann").await;
    let general = channel_id(&srv, "general").await;
    for i in 0..4 {
        send(&srv, &ann, general, &format!("message {i}")).await;
    }
    let over =
        srv.post(&format!("/api/channels/{general}/messages"), &ann, json!({"body": "one too many"})).await;
    over.error(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited);
    assert!(over.headers.contains_key("retry-after"));
    assert_eq!(message_count(&srv).await, 4, "a refused write changes nothing");
    assert_eq!(
        srv.get(&format!("/api/channels/{general}/messages"), &ann).await.status,
        StatusCode::OK,
        "reads are not budgeted"
    );

    let srv = TestServer::start_with(Database::Sqlite, |c| c.limits.http_writes_per_ip_per_minute = 3).await;
    let ask = || Some(json!({"email": "someone@example.test"}));
    for _ in 0..3 {
        assert_eq!(
            srv.anonymous(Method::POST, "/api/auth/forgot_password", ask()).await.status,
            StatusCode::ACCEPTED
        );
    }
    srv.anonymous(Method::POST, "/api/auth/forgot_password", ask())
        .await
        .error(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_and_resets_are_limited_per_address_before_hashing() {
    let srv = TestServer::start_with(Database::Sqlite, |c| {
        c.limits.registrations_per_ip_per_hour = 2;
        c.limits.password_resets_per_ip_per_hour = 2;
    })
    .await;
    let register = |name: &str| {
        let body = json!({"email": format!("{name}@example.test"), "username": name, "password": PASSWORD});
        let srv = &srv;
        async move { srv.anonymous(Method::POST, "/api/auth/register", Some(body)).await }
    };
    register("ann").await.ok::<serde_json::Value>();
    register("bob").await.ok::<serde_json::Value>();
    register("cat").await.error(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited);
    let users: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(srv.state.db.pool()).await.expect("count");
    assert_eq!(users, 2, "the refused registration created nothing");

    let reset = || Some(json!({"token": "guessed", "password": "some new long password"}));
    for _ in 0..2 {
        srv.anonymous(Method::POST, "/api/auth/reset_password", reset())
            .await
            .error(StatusCode::BAD_REQUEST, ErrorCode::InvalidToken);
    }
    srv.anonymous(Method::POST, "/api/auth/reset_password", reset())
        .await
        .error(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited);
}

db_test!(
    async fn only_admins_ring_everyone_in_public_channels(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        for body in ["@everyone look", "@here look"] {
            let refused = srv.post(&format!("/api/channels/{general}/messages"), &bob, json!({"body": body})).await;
            let err = refused.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
            assert_eq!(err.field.as_deref(), Some("body"), "the composer can say what to change");
        }
        assert_eq!(message_count(&srv).await, 0, "nothing was posted, nobody notified");
        send(&srv, &ann, general, "@everyone the server restarts at noon").await;
        let team = make_channel(&srv, "team", true, WritePermission::Everyone, &[&ann, &bob]).await;
        send(&srv, &bob, team, "@everyone standup now").await;
    }
);

async fn edit(
    srv: &TestServer,
    user: &TestUser,
    id: cromulent_protocol::Id,
    body: &str,
) -> crate::harness::Reply {
    srv.patch(&format!("/api/messages/{id}"), user, json!({"body": body})).await
}

db_test!(
    async fn edits_pass_the_same_rules_as_sends(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        let said = send(&srv, &bob, general, "hello").await;
        edit(&srv, &bob, said.id, "hello @everyone").await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.post(&format!("/api/channels/{general}/leave"), &bob, json!({})).await.ok::<serde_json::Value>();
        edit(&srv, &bob, said.id, "rewritten after leaving").await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);

        let pool = srv.state.db.pool();
        cromulent_server::store::users::set_role(pool, bob.id, Role::Admin).await.expect("promote");
        let news = make_channel(&srv, "news", false, WritePermission::AdminOnly, &[&ann, &bob]).await;
        let posted = send(&srv, &bob, news, "announcement").await;
        cromulent_server::store::users::set_role(pool, bob.id, Role::Member).await.expect("demote");
        edit(&srv, &bob, posted.id, "sneaky edit").await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        let kept: String = sqlx::query_scalar("SELECT body FROM messages WHERE id = $1").bind(posted.id.0).fetch_one(pool).await.expect("body");
        assert_eq!(kept, "announcement", "a refused edit changes nothing");
    }
);
