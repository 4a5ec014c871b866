//! Test harness: a real server on 127.0.0.1:0 over a fresh database (SQLite file or a
//! new PostgreSQL database), from the test kit, and helpers to act as users against it.
#![allow(dead_code)] // Shared helpers; each test module uses a different subset.

use cromulent_protocol::auth::RefreshResponse;
use cromulent_protocol::{ApiError, ErrorCode, Id};
use cromulent_server::config::Config;
use cromulent_testkit::accounts::{email_of, login, register};
use cromulent_testkit::InProcessServer;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

pub use cromulent_testkit::accounts::PASSWORD;
pub use cromulent_testkit::{Database, PgDatabase, TempDir};

/// Runs one async test body once on SQLite and once on PostgreSQL, each on its own
/// server with its own fresh database.
#[macro_export]
macro_rules! db_test {
    ($(#[$meta:meta])* async fn $name:ident($srv:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            async fn body($srv: $crate::harness::TestServer) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                body($crate::harness::TestServer::start($crate::harness::Database::Sqlite).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                body($crate::harness::TestServer::start($crate::harness::Database::Postgres).await).await
            }
        }
    };
}

/// A server in this process with an HTTP client for acting as its users; dereferences
/// to the [`InProcessServer`] (`base`, `state`, `database`, `url`).
pub struct TestServer {
    pub http: reqwest::Client,
    server: InProcessServer,
}

impl std::ops::Deref for TestServer {
    type Target = InProcessServer;

    fn deref(&self) -> &InProcessServer {
        &self.server
    }
}

/// A signed-in user as the tests drive them.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: Id,
    pub username: String,
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
}

/// A response, read eagerly so assertions can look at status and body together.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_value(self.body.clone())
            .unwrap_or_else(|e| panic!("unexpected body {}: {e}", self.body))
    }

    /// Asserts success and returns the body.
    pub fn ok<T: DeserializeOwned>(&self) -> T {
        assert!(self.status.is_success(), "expected success, got {} {}", self.status, self.body);
        self.json()
    }

    /// Asserts a typed error with this status and code.
    pub fn error(&self, status: StatusCode, code: ErrorCode) -> ApiError {
        let err: ApiError = serde_json::from_value(self.body.clone())
            .unwrap_or_else(|e| panic!("expected an error body, got {} {}: {e}", self.status, self.body));
        assert_eq!((self.status, err.code), (status, code), "wrong error: {}", self.body);
        err
    }
}

impl TestServer {
    pub async fn start(database: Database) -> Self {
        Self::start_with(database, |_| {}).await
    }

    /// Starts a server after `adjust` has changed its settings.
    pub async fn start_with(database: Database, adjust: impl FnOnce(&mut Config)) -> Self {
        let server = InProcessServer::start_with(database, adjust).await;
        let http = reqwest::Client::builder().build().expect("client");
        TestServer { http, server }
    }

    /// Any request; `token` is sent as a bearer token.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut req = self.http.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request reaches the server");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply { status, headers, body }
    }

    /// A raw body with a content type, for malformed-input tests.
    pub async fn call_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let mut req =
            self.http.request(method, self.url(path)).header("content-type", content_type).body(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.expect("request reaches the server");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str, user: &TestUser) -> Reply {
        self.call(Method::GET, path, Some(&user.access_token), None).await
    }

    pub async fn post(&self, path: &str, user: &TestUser, body: Value) -> Reply {
        self.call(Method::POST, path, Some(&user.access_token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, user: &TestUser, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(&user.access_token), Some(body)).await
    }

    pub async fn put(&self, path: &str, user: &TestUser) -> Reply {
        self.call(Method::PUT, path, Some(&user.access_token), None).await
    }

    pub async fn delete(&self, path: &str, user: &TestUser) -> Reply {
        self.call(Method::DELETE, path, Some(&user.access_token), None).await
    }

    pub async fn anonymous(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call(method, path, None, body).await
    }

    /// Registers `username` (email `<username>@example.test`), logs in and refreshes.
    /// The first user of a server is its admin.
    pub async fn user(&self, username: &str) -> TestUser {
        let id = register(&self.http, &self.base, username).await.unwrap_or_else(|e| panic!("{e}"));
        self.login(&email_of(username), id, username).await
    }

    pub async fn login(&self, email: &str, id: Id, username: &str) -> TestUser {
        let login = login(&self.http, &self.base, email, "test rig").await.unwrap_or_else(|e| panic!("{e}"));
        let refreshed: RefreshResponse = self
            .anonymous(Method::POST, "/api/auth/refresh", Some(json!({"refresh_token": login.refresh_token})))
            .await
            .ok();
        TestUser {
            id,
            username: username.to_owned(),
            email: email.to_owned(),
            access_token: refreshed.access_token,
            refresh_token: refreshed.refresh_token,
        }
    }

    /// The newest dev-mailbox mail to `to`, if any.
    pub fn last_mail_to(&self, to: &str) -> Option<cromulent_server::mail::dev_mailbox::StoredMail> {
        let mailbox = self.state.mailer.dev_mailbox().expect("tests run with the dev mailbox");
        mailbox.list().into_iter().find(|m| m.to == to)
    }

    /// The token at the end of the link in the newest mail to `to` for `route`.
    pub fn token_from_mail(&self, to: &str, route: &str) -> String {
        let mail = self.last_mail_to(to).unwrap_or_else(|| panic!("no mail to {to}"));
        link_token(&mail.body, route).unwrap_or_else(|| panic!("no /{route}/ link in {:?}", mail.body))
    }
}

/// The token from a `…/<route>/<token>` link in a mail body.
pub fn link_token(body: &str, route: &str) -> Option<String> {
    let marker = format!("/{route}/");
    body.lines().find_map(|line| {
        let at = line.find(&marker)?;
        Some(line[at + marker.len()..].trim().to_owned())
    })
}
