//! Stopping on SIGTERM or Ctrl-C: no new connections, in-flight requests finish, gateway
//! clients are told to reconnect, all within `SHUTDOWN_GRACE_MS`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::gateway::Gateway;

/// The stop of one server: when the signal came, and the gateway to close.
#[derive(Debug)]
pub struct Shutdown {
    grace: Duration,
    gateway: Arc<Gateway>,
    /// When the grace ends; unset until the signal arrives.
    deadline: watch::Sender<Option<Instant>>,
}

impl Shutdown {
    pub fn new(grace: Duration, gateway: Arc<Gateway>) -> Arc<Self> {
        Arc::new(Self { grace, gateway, deadline: watch::Sender::new(None) })
    }

    /// Waits for the signal, then starts the stop: gateway sockets get their close
    /// frame and the other nodes hear this one is leaving. When this returns, the HTTP
    /// server stops accepting and waits for the requests under way.
    pub async fn signalled(self: Arc<Self>) {
        signal().await;
        self.deadline.send_replace(Some(Instant::now() + self.grace));
        self.gateway.close_all();
        self.gateway.leave_cluster().await;
    }

    /// Returns when the grace is over; never before the signal.
    pub async fn grace_over(&self) {
        let mut deadline = self.deadline.subscribe();
        let Ok(at) = deadline.wait_for(Option::is_some).await.map(|at| *at) else {
            return std::future::pending().await;
        };
        tokio::time::sleep_until(at.expect("waited for a deadline")).await;
    }

    /// After the HTTP server stopped: waits, within the grace, for every gateway socket
    /// to have sent its close frame. Upgraded sockets run outside the HTTP server's
    /// connections, so its graceful stop does not wait for them.
    pub async fn finish(&self) {
        let all_closed = tokio::time::timeout(self.remaining(), self.gateway.drained()).await;
        if all_closed.is_err() {
            tracing::warn!(
                open = self.gateway.connection_count(),
                "gateway sockets still open at the end of SHUTDOWN_GRACE_MS; stopping anyway"
            );
        }
    }

    fn remaining(&self) -> Duration {
        match *self.deadline.borrow() {
            Some(at) => at.saturating_duration_since(Instant::now()),
            None => self.grace,
        }
    }
}

async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
