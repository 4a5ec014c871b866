//! The real server binary as a child process, for measurements of that process (its
//! memory and CPU time in `/proc/<pid>`) and for tests of what only a process shows.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How to start one server process.
#[derive(Debug, Clone)]
pub struct ServerLaunch {
    /// The `cromulent-server` binary.
    pub bin: PathBuf,
    pub data_dir: PathBuf,
    /// `DATABASE_URL`; `None` runs on SQLite in the data directory, whatever this
    /// process's environment says.
    pub database_url: Option<String>,
    /// Extra environment, applied last (so it can override anything above).
    pub env: Vec<(String, String)>,
    /// Where the server's stderr goes; `None` discards it.
    pub log: Option<PathBuf>,
}

/// Why a server process did not come up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// No port could be reserved or no log created: the machine is out of something.
    #[error("preparing to start the server: {0}")]
    Prepare(#[source] std::io::Error),
    /// The binary is missing or not executable; not retryable.
    #[error("starting {bin}: {source}")]
    Spawn { bin: PathBuf, source: std::io::Error },
    /// It started but never listened; its log says why.
    #[error("the server did not listen on {addr} within {limit:?}; its log:\n{log}")]
    NotListening { addr: SocketAddr, limit: Duration, log: String },
}

/// A running server process on 127.0.0.1, killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `launch.bin serve` on a free loopback port with its built-in TURN relay on
    /// free ports too, and waits up to `ready_within` for it to listen.
    pub fn start(launch: &ServerLaunch, ready_within: Duration) -> Result<Self, ProcessError> {
        let port = free_port().map_err(ProcessError::Prepare)?;
        let stderr = match &launch.log {
            Some(path) => Stdio::from(std::fs::File::create(path).map_err(ProcessError::Prepare)?),
            None => Stdio::null(),
        };
        let mut command = Command::new(&launch.bin);
        command
            .arg("serve")
            .env("PORT", port.to_string())
            .env("BIND", "127.0.0.1")
            .env("DATA_DIR", &launch.data_dir)
            .env("RUST_LOG", "warn")
            // Servers run side by side: the built-in TURN relay takes free ports.
            .env("TURN_PORT", "0")
            .env("VOICE_SFU_BIND", "127.0.0.1")
            .env("VOICE_SFU_PORT", "0")
            .env_remove("DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(stderr);
        if let Some(url) = &launch.database_url {
            command.env("DATABASE_URL", url);
        }
        command.envs(launch.env.iter().map(|(k, v)| (k, v)));
        let child =
            command.spawn().map_err(|source| ProcessError::Spawn { bin: launch.bin.clone(), source })?;
        let server = ServerProcess { child, addr: SocketAddr::from(([127, 0, 0, 1], port)) };
        server.wait_listening(ready_within, launch.log.as_deref())?;
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn wait_listening(&self, limit: Duration, log: Option<&Path>) -> Result<(), ProcessError> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if std::net::TcpStream::connect(self.addr).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = log.and_then(|path| std::fs::read_to_string(path).ok()).unwrap_or_default();
        Err(ProcessError::NotListening { addr: self.addr, limit, log })
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free a moment ago; the server binds it right after.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
