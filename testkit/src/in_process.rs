//! A real server on 127.0.0.1:0 inside the test's own process (its own tokio tasks),
//! reached over loopback exactly as a remote one would be.

use std::net::SocketAddr;

use cromulent_server::config::Config;
use cromulent_server::state::AppState;

use crate::storage::{Database, Storage};

/// A running server. Dropping it stops the server and removes its data.
pub struct InProcessServer {
    /// `http://127.0.0.1:<port>`, what a client is pointed at.
    pub base: String,
    /// The server's state, for tests that look behind the API.
    pub state: AppState,
    pub database: Database,
    task: tokio::task::JoinHandle<()>,
    _storage: Storage,
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl InProcessServer {
    pub async fn start(database: Database) -> Self {
        Self::start_with(database, |_| {}).await
    }

    /// Starts a server after `adjust` has changed its settings. Before that they are
    /// the defaults with mail kept in the dev mailbox, a secret key of its own, a small
    /// pool, and the TURN relay on loopback and free ports, so that many servers run at
    /// once.
    pub async fn start_with(database: Database, adjust: impl FnOnce(&mut Config)) -> Self {
        let storage = Storage::new(database).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut config = Config::with_data_dir(storage.dir.path());
        config.database_url = storage.database_url().map(str::to_owned);
        config.public_url = Some(base.clone());
        config.dev_mailbox = Some(true);
        config.secret_key_base = None;
        config.smtp.host = None;
        config.pool_size = 5;
        config.turn.turn_bind = std::net::Ipv4Addr::LOCALHOST.into();
        config.turn.turn_port = 0;
        config.turn.turn_relay_port_min = 0;
        config.voice.voice_sfu_bind = std::net::Ipv4Addr::LOCALHOST.into();
        config.voice.voice_sfu_port = 0;
        adjust(&mut config);
        let state = cromulent_server::build_state(config).await.expect("server state");
        let app = cromulent_server::app(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .await
                .expect("serve");
        });
        InProcessServer { base, state, database, task, _storage: storage }
    }

    /// The address of `path` (`/api/...`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}
