//! Many WebSocket connections at once: opened from spread-out loopback sources with a
//! bounded number of handshakes in flight, each handed to its own task once ready.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::ws::{self, Ws};

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Crowd {
    pub addr: SocketAddr,
    pub path: String,
    /// Access tokens to identify with, used round robin; empty: no identify (baseline).
    pub tokens: Vec<String>,
    pub count: usize,
    /// Source addresses 127.0.0.2 … 127.0.0.(1 + spread).
    pub spread: u8,
    /// Handshakes in flight at once.
    pub handshakes: usize,
}

/// A connection ready for its task: its index, the socket, and the heartbeat interval
/// (`None` when the peer does not ask for heartbeats).
pub struct Ready {
    pub index: usize,
    pub ws: Ws,
    pub heartbeat: Option<Duration>,
}

/// What opening the crowd came to.
pub struct Gathered {
    pub opened: usize,
    pub first_error: Option<anyhow::Error>,
    pub tasks: JoinSet<()>,
}

/// Opens up to `crowd.count` connections and spawns `session` for each; stops opening
/// new ones at the first failure (a limit reached) and says so.
pub async fn gather<F, Fut>(crowd: &Crowd, session: F) -> Gathered
where
    F: Fn(Ready) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let gate = Arc::new(Semaphore::new(crowd.handshakes.max(1)));
    let failed = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    let mut handshakes = JoinSet::new();
    let mut tasks = JoinSet::new();
    let (spawn_tx, mut spawn_rx) = tokio::sync::mpsc::unbounded_channel::<Ready>();
    for index in 0..crowd.count {
        let permit = gate.clone().acquire_owned().await.expect("the semaphore is never closed");
        if failed.load(Ordering::Relaxed) {
            break;
        }
        while let Ok(ready) = spawn_rx.try_recv() {
            tasks.spawn(session.clone()(ready));
        }
        let (crowd, failed, opened, spawn_tx) =
            (crowd.clone(), failed.clone(), opened.clone(), spawn_tx.clone());
        handshakes.spawn(async move {
            let _permit = permit;
            match open_one(&crowd, index).await {
                Ok(ready) => {
                    opened.fetch_add(1, Ordering::Relaxed);
                    let _ = spawn_tx.send(ready);
                    None
                }
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    Some(e.context(format!("connection {index}")))
                }
            }
        });
    }
    drop(spawn_tx);
    let mut first_error = None;
    while let Some(result) = handshakes.join_next().await {
        if let Ok(Some(e)) = result {
            first_error.get_or_insert(e);
        }
    }
    while let Some(ready) = spawn_rx.recv().await {
        tasks.spawn(session.clone()(ready));
    }
    Gathered { opened: opened.load(Ordering::Relaxed), first_error, tasks }
}

async fn open_one(crowd: &Crowd, index: usize) -> anyhow::Result<Ready> {
    let mut socket = ws::open(crowd.addr, ws::source_addr(index, crowd.spread), &crowd.path).await?;
    let heartbeat = match crowd.tokens.get(index % crowd.tokens.len().max(1)) {
        Some(token) => Some(ws::identify(&mut socket, token).await?),
        None => None,
    };
    Ok(Ready { index, ws: socket, heartbeat })
}

/// Keeps a connection alive and idle: heartbeats at the asked interval (from a random
/// offset, so thousands of connections do not beat in step), reads and drops whatever
/// arrives, until `stop` or the server closes it. `alive` counts open connections.
pub async fn idle(mut ready: Ready, alive: Arc<AtomicUsize>, stop: watch::Receiver<bool>) {
    alive.fetch_add(1, Ordering::Relaxed);
    let period = ready.heartbeat.unwrap_or(Duration::from_secs(3600));
    let offset = Duration::from_millis(rand::random::<u64>() % period.as_millis().max(1) as u64);
    serve(&mut ready, offset, stop, |_| {}).await;
    alive.fetch_sub(1, Ordering::Relaxed);
}

/// Why [`serve`] returned.
pub enum End {
    Stopped,
    /// The server closed the connection, with its close frame.
    Closed(Option<CloseFrame>),
    /// The connection failed or ended without a close frame.
    Lost,
}

/// Heartbeats at the asked interval (the first after `first_beat`) and hands every text
/// frame to `on_text`, until `stop` or the connection ends.
pub async fn serve(
    ready: &mut Ready,
    first_beat: Duration,
    mut stop: watch::Receiver<bool>,
    mut on_text: impl FnMut(&str),
) -> End {
    let period = ready.heartbeat.unwrap_or(Duration::from_secs(3600));
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + first_beat, period);
    loop {
        tokio::select! {
            _ = stop.changed() => return End::Stopped,
            _ = beat.tick(), if ready.heartbeat.is_some() => {
                if ready.ws.send(ws::heartbeat()).await.is_err() {
                    return End::Lost;
                }
            }
            next = ready.ws.next() => match next {
                Some(Ok(Message::Text(text))) => on_text(text.as_str()),
                Some(Ok(Message::Close(frame))) => return End::Closed(frame),
                Some(Err(_)) | None => return End::Lost,
                Some(Ok(_)) => {}
            },
        }
    }
}
