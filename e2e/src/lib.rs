//! A real server on 127.0.0.1:0 over a fresh database, for tests that drive it with the
//! native client. The server runs in this process (its own tokio tasks); the client talks
//! to it over loopback exactly as it would to a remote one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use cromulent_protocol::auth::{LoginResponse, RegisterResponse};
use cromulent_protocol::Id;
use cromulent_server::config::Config;
use cromulent_server::state::AppState;
use serde_json::json;
use sqlx::{Connection, Executor};

/// The password of every user the harness creates.
pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    Sqlite,
    Postgres,
}

fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}_{:08x}", std::process::id(), rand::random::<u32>())
}

/// A scratch directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(unique_name("cromulent-e2e"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn pg_admin_url() -> String {
    std::env::var("CROMULENT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh PostgreSQL database, dropped with the server.
struct PgDatabase {
    name: String,
    url: String,
}

impl PgDatabase {
    async fn create() -> Self {
        let admin = pg_admin_url();
        let name = unique_name("cromulent_e2e");
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

/// A running server. Dropping it stops the server and removes its data.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`, what a client is pointed at.
    pub base: String,
    pub state: AppState,
    task: tokio::task::JoinHandle<()>,
    _dir: TempDir,
    _pg: Option<PgDatabase>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A registered user and the credentials a client logs in with.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: Id,
    pub username: String,
    pub email: String,
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
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut config = Config::with_data_dir(dir.path());
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
        TestServer { base, state, task, _dir: dir, _pg: pg }
    }

    /// Registers `username` (email `<username>@example.test`, password [`PASSWORD`]).
    /// The first user of a server is its admin.
    pub async fn user(&self, username: &str) -> TestUser {
        let email = format!("{username}@example.test");
        let resp = reqwest::Client::new()
            .post(format!("{}/api/auth/register", self.base))
            .json(&json!({"email": email, "username": username, "password": PASSWORD}))
            .send()
            .await
            .expect("register request");
        assert!(resp.status().is_success(), "register {username}: {}", resp.status());
        let reg: RegisterResponse = resp.json().await.expect("register body");
        let id =
            reg.user.expect("test servers do not require confirmation, so the account is returned").user.id;
        TestUser { id, username: username.to_owned(), email }
    }

    /// Logs `user` in as a device and returns the refresh token (what the keyring holds).
    pub async fn refresh_token(&self, user: &TestUser) -> String {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/auth/login", self.base))
            .json(&json!({"email": user.email, "password": PASSWORD, "device_name": "e2e", "device_type": "test"}))
            .send()
            .await
            .expect("login request");
        assert!(resp.status().is_success(), "login {}: {}", user.username, resp.status());
        let login: LoginResponse = resp.json().await.expect("login body");
        login.refresh_token
    }
}

// ---- native client helpers ----

/// A logged-in native REST client for `user` (refresh token kept in memory only).
pub async fn client_for(server: &TestServer, user: &TestUser) -> cromulent_client::api::Client {
    let anonymous = cromulent_client::api::Client::new(&server.base).expect("server address");
    let refresh = server.refresh_token(user).await;
    let tokens = cromulent_client::api::TokenSource::new(&anonymous, refresh.into(), None);
    anonymous.with_tokens(tokens)
}

/// A TCP relay in front of a server that a test can cut: every open connection is
/// dropped at once and new ones are refused until [`CutProxy::restore`], which is what
/// a network failure looks like to both ends.
pub struct CutProxy {
    /// `http://127.0.0.1:<port>` of the relay.
    pub base: String,
    blocked: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cuts: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl CutProxy {
    /// Relays to the server at `target` (`http://host:port`).
    pub async fn start(target: &str) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let upstream = target.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let base = format!("http://{}", listener.local_addr().expect("relay addr"));
        let blocked = std::sync::Arc::new(AtomicBool::new(false));
        let (cuts, _) = tokio::sync::watch::channel(0u64);
        let (flag, cut_tx) = (blocked.clone(), cuts.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if flag.load(Ordering::SeqCst) {
                    continue; // dropped: connection refused, in effect
                }
                let mut cut = cut_tx.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else { return };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        CutProxy { base, blocked, cuts, task }
    }

    /// Drops every relayed connection and refuses new ones.
    pub fn cut(&self) {
        self.blocked.store(true, std::sync::atomic::Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Relays again.
    pub fn restore(&self) {
        self.blocked.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Voice tests run real-time audio threads (WAV backends play at the speed of sound)
/// beside a server and two peer connections; two such tests at once on a 2-core machine
/// starve each other and hear their own scheduling hiccups as loss. Each voice test
/// holds this for its whole run.
pub async fn one_real_time_test() -> tokio::sync::MutexGuard<'static, ()> {
    static REAL_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    REAL_TIME.lock().await
}
