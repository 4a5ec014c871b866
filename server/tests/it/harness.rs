//! Test harness: a real server on 127.0.0.1:0 over a fresh database (SQLite file or a
#![allow(dead_code)] // Shared helpers; each test module uses a different subset.
//! new PostgreSQL database), and helpers to act as users against it.

use std::net::SocketAddr;
use std::path::PathBuf;

use cromulent_protocol::auth::{LoginResponse, RefreshResponse, RegisterResponse};
use cromulent_protocol::{ApiError, ErrorCode, Id};
use cromulent_server::config::Config;
use cromulent_server::state::AppState;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sqlx::{Connection, Executor};

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    Sqlite,
    Postgres,
}

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

pub fn pg_admin_url() -> String {
    std::env::var("CROMULENT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}_{:08x}", std::process::id(), rand::random::<u32>())
}

/// A scratch directory removed when the test ends.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(unique_name("cromulent-test"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh PostgreSQL database, dropped when the test ends.
pub struct PgDatabase {
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create() -> Self {
        let admin = pg_admin_url();
        let name = unique_name("cromulent_test");
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL must be reachable at CROMULENT_TEST_PG_URL (scripts/test.sh starts it)");
        conn.execute(&*format!("CREATE DATABASE {name}")).await.expect("create test database");
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(base, _)| base).to_owned();
        PgDatabase { url: format!("{base}/{name}"), name }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside async; a short-lived runtime on its own thread does the work.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&pg_admin_url()).await {
                    let _ = conn.execute(&*format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                }
            });
        })
        .join();
    }
}

pub struct TestServer {
    pub base: String,
    pub http: reqwest::Client,
    pub state: AppState,
    pub database: Database,
    task: tokio::task::JoinHandle<()>,
    _dir: TempDir,
    _pg: Option<PgDatabase>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
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
        let dir = TempDir::new();
        let pg = match database {
            Database::Sqlite => None,
            Database::Postgres => Some(PgDatabase::create().await),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let mut config = Config::with_data_dir(&dir.0);
        config.database_url = pg.as_ref().map(|pg| pg.url.clone());
        config.public_url = Some(base.clone());
        config.dev_mailbox = Some(true);
        config.secret_key_base = None;
        config.smtp.host = None;
        config.pool_size = 5;
        // Many servers run at once: each TURN relay on loopback and a free port.
        config.turn.turn_bind = std::net::Ipv4Addr::LOCALHOST.into();
        config.turn.turn_port = 0;
        config.turn.turn_relay_port_min = 0;
        adjust(&mut config);
        let state = cromulent_server::build_state(config).await.expect("server state");
        let app = cromulent_server::app(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .await
                .expect("serve");
        });
        let http = reqwest::Client::builder().build().expect("client");
        TestServer { base, http, state, database, task, _dir: dir, _pg: pg }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
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
        let email = format!("{username}@example.test");
        let reg = self
            .anonymous(
                Method::POST,
                "/api/auth/register",
                Some(json!({"email": email, "username": username, "password": PASSWORD})),
            )
            .await;
        let reg: RegisterResponse = reg.ok();
        let id =
            reg.user.expect("test servers do not require confirmation, so the account is returned").user.id;
        self.login(&email, id, username).await
    }

    pub async fn login(&self, email: &str, id: Id, username: &str) -> TestUser {
        let login = self
            .anonymous(
                Method::POST,
                "/api/auth/login",
                Some(json!({"email": email, "password": PASSWORD, "device_name": "test rig", "device_type": "test"})),
            )
            .await;
        let login: LoginResponse = login.ok();
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
