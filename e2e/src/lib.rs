//! A real server on 127.0.0.1:0 over a fresh database, for tests that drive it with the
//! native client. The server runs in this process (its own tokio tasks, started by the
//! test kit); the client talks to it over loopback exactly as it would to a remote one.
//! Here: users and logged-in native clients, a relay that can cut the connection, and
//! the lock that keeps real-time audio tests apart.

use std::time::Duration;

use cromulent_client::gateway::{Gateway, GatewayConfig};
use cromulent_protocol::channel::{ChannelKind, CreateChannelRequest, WritePermission};
use cromulent_protocol::Id;
use cromulent_server::config::Config;
use cromulent_testkit::accounts::{email_of, login, register};
use cromulent_testkit::InProcessServer;

pub use cromulent_testkit::accounts::PASSWORD;
pub use cromulent_testkit::{Database, TempDir};

/// A running server. Dropping it stops the server and removes its data. Dereferences to
/// the test kit's [`InProcessServer`] (`base`, `state`).
pub struct TestServer {
    server: InProcessServer,
}

impl std::ops::Deref for TestServer {
    type Target = InProcessServer;

    fn deref(&self) -> &InProcessServer {
        &self.server
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
        TestServer { server: InProcessServer::start_with(database, adjust).await }
    }

    /// Registers `username` (email `<username>@example.test`, password [`PASSWORD`]).
    /// The first user of a server is its admin.
    pub async fn user(&self, username: &str) -> TestUser {
        let id =
            register(&reqwest::Client::new(), &self.base, username).await.unwrap_or_else(|e| panic!("{e}"));
        TestUser { id, username: username.to_owned(), email: email_of(username) }
    }

    /// Logs `user` in as a device and returns the refresh token (what the keyring holds).
    pub async fn refresh_token(&self, user: &TestUser) -> String {
        let login = login(&reqwest::Client::new(), &self.base, &user.email, "e2e").await;
        login.unwrap_or_else(|e| panic!("{e}")).refresh_token
    }
}

// ---- native client helpers ----

/// Ada and Bob, registered in that order (so Ada is the admin), each with a logged-in
/// native client.
pub struct AdaAndBob {
    pub ada: TestUser,
    pub bob: TestUser,
    pub ada_client: cromulent_client::api::Client,
    pub bob_client: cromulent_client::api::Client,
}

impl TestServer {
    pub async fn ada_and_bob(&self) -> AdaAndBob {
        let (ada, bob) = (self.user("ada").await, self.user("bob").await);
        let (ada_client, bob_client) = (client_for(self, &ada).await, client_for(self, &bob).await);
        AdaAndBob { ada, bob, ada_client, bob_client }
    }
}

/// Gateway settings for `client` against `base` (the server, or a [`CutProxy`] in front
/// of it), with short reconnect delays so the reconnect tests stay quick.
pub fn quick_gateway_config(base: &str, client: &cromulent_client::api::Client) -> GatewayConfig {
    let server = cromulent_client::api::Client::new(base).expect("address").server().clone();
    let mut config = GatewayConfig::new(&server, client.tokens().expect("logged in").clone());
    config.initial_backoff = Duration::from_millis(50);
    config.max_backoff = Duration::from_millis(300);
    config
}

/// `name` registered, logged in and connected to the gateway.
pub async fn connected_user(
    server: &TestServer,
    name: &str,
) -> (TestUser, cromulent_client::api::Client, Gateway) {
    let user = server.user(name).await;
    let client = client_for(server, &user).await;
    let gateway = Gateway::connect(quick_gateway_config(&server.base, &client)).await.expect("connects");
    (user, client, gateway)
}

/// A private voice channel `name` that `admin` creates (members only, added one by one).
pub async fn private_voice_channel(admin: &cromulent_client::api::Client, name: &str) -> Id {
    let request = CreateChannelRequest {
        name: name.into(),
        kind: ChannelKind::Voice,
        topic: None,
        is_default: false,
        is_private: true,
        write_permission: WritePermission::Everyone,
        voice_mode: None,
    };
    admin.create_channel(&request).await.expect("the admin creates a private voice channel").id
}

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
