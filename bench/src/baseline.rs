//! The ceiling for fan-out: a bare tokio-tungstenite server that accepts WebSockets and
//! sends every text frame any client sends to every connection. No auth, no JSON, no
//! storage, no sequence numbers: one shared buffer per frame through a broadcast channel.
//! It runs as its own process (`gateway-bench baseline-server`), so its memory and CPU
//! time are read from `/proc` exactly like the real server's.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::server::{proc_cpu_time, proc_rss_kib};

/// Frames a slow connection may fall behind before it skips some.
const BACKLOG: usize = 1024;

/// Serves the broadcast loop on `127.0.0.1:port` until killed.
pub async fn serve(port: u16) -> anyhow::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.context("binding the baseline port")?;
    let (tx, _) = broadcast::channel::<Utf8Bytes>(BACKLOG);
    // The same buffer sizes the real gateway sets, so memory compares like for like.
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_write_buffer_size(256 * 1024);
    loop {
        let (stream, _) = listener.accept().await?;
        let tx = tx.clone();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
                return;
            };
            let (mut sink, mut stream) = ws.split();
            let mut rx = tx.subscribe();
            let writer = tokio::spawn(async move {
                loop {
                    match rx.recv().await {
                        Ok(text) => {
                            if sink.send(Message::Text(text)).await.is_err() {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            });
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Text(text) = message {
                    let _ = tx.send(text);
                }
            }
            writer.abort();
        });
    }
}

/// The baseline server as a child process of this binary; killed when dropped.
pub struct BaselineProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl BaselineProcess {
    /// `env` is what `--server-env` gave the real server, so allocator settings apply to
    /// both sides of a comparison.
    pub fn start(env: &[(String, String)]) -> anyhow::Result<Self> {
        let port = StdListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let exe = std::env::current_exe().context("finding this binary")?;
        let child = Command::new(exe)
            .args(["baseline-server", "--port", &port.to_string()])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .spawn()
            .context("starting the baseline server")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                bail!("the baseline server did not listen on {addr}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self { child, addr })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        proc_rss_kib(self.pid())
    }

    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        proc_cpu_time(self.pid())
    }
}

impl Drop for BaselineProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
