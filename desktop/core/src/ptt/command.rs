//! The local push-to-talk command: the running app listens on a Unix socket in
//! `$XDG_RUNTIME_DIR` (private to the user), and `cromulent ptt down|up` sends one line
//! to it. On Wayland desktops without another way to see keys, users bind those two
//! commands to a key's press and release in their compositor.
//!
//! Wire format: the client writes `down\n` or `up\n`; the app answers `ok\n`.

use std::path::{Path, PathBuf};

use super::{Backend, PttError, PttEvent, PttKey, PttSink, PttSource};

/// Where the socket lives for this user.
pub fn socket_path() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("cromulent-ptt.sock"),
        // No runtime dir (unusual outside a login session): a per-user name in the temp
        // dir; the socket is made owner-only right after binding.
        None => {
            let user = std::env::var("USER").unwrap_or_else(|_| "user".into());
            std::env::temp_dir().join(format!("cromulent-ptt-{user}.sock"))
        }
    }
}

/// Which way the key went, as the command names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Press {
    Down,
    Up,
}

impl Press {
    fn line(self) -> &'static str {
        match self {
            Press::Down => "down\n",
            Press::Up => "up\n",
        }
    }
}

/// The app's side: accepts connections and turns their lines into events.
pub struct CommandListener {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

#[cfg(unix)]
impl CommandListener {
    /// Binds `path` (replacing a stale socket left by a crashed app) and serves it on
    /// the current tokio runtime. Fails when another running app already serves it.
    pub async fn bind(path: &Path, sink: PttSink) -> Result<Self, PttError> {
        use std::os::unix::fs::PermissionsExt;
        let err = |source| PttError::Socket { path: path.to_path_buf(), source };
        if path.exists() {
            if tokio::net::UnixStream::connect(path).await.is_ok() {
                return Err(err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    "another app is listening",
                )));
            }
            std::fs::remove_file(path).map_err(err)?;
        }
        let listener = tokio::net::UnixListener::bind(path).map_err(err)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
        let task = tokio::spawn(serve(listener, sink));
        Ok(Self { path: path.to_path_buf(), task })
    }
}

#[cfg(not(unix))]
impl CommandListener {
    pub async fn bind(_path: &Path, _sink: PttSink) -> Result<Self, PttError> {
        Err(PttError::Unavailable(Backend::Command))
    }
}

#[cfg(unix)]
async fn serve(listener: tokio::net::UnixListener, sink: PttSink) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(connection(stream, sink.clone()));
    }
}

#[cfg(unix)]
async fn connection(stream: tokio::net::UnixStream, sink: PttSink) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let answer = match line.trim() {
            "down" => {
                sink(PttEvent::Down);
                "ok\n"
            }
            "up" => {
                sink(PttEvent::Up);
                "ok\n"
            }
            _ => "error unknown command\n",
        };
        if write.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The command's side: sends one press to the running app and waits for its answer.
#[cfg(unix)]
pub async fn send(path: &Path, press: Press) -> Result<(), PttError> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let err = |source| PttError::Socket { path: path.to_path_buf(), source };
    let mut stream = tokio::net::UnixStream::connect(path).await.map_err(err)?;
    stream.write_all(press.line().as_bytes()).await.map_err(err)?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).await.map_err(err)?;
    if answer.trim() == "ok" {
        Ok(())
    } else {
        Err(err(std::io::Error::other(format!("the app answered {:?}", answer.trim()))))
    }
}

#[cfg(not(unix))]
pub async fn send(_path: &Path, _press: Press) -> Result<(), PttError> {
    Err(PttError::Unavailable(Backend::Command))
}

impl PttSource for CommandListener {
    fn backend(&self) -> Backend {
        Backend::Command
    }

    /// The key lives in the compositor's binding, not here.
    fn set_key(&self, _key: PttKey) {}

    fn capture_next(&self) -> bool {
        false
    }
}

impl Drop for CommandListener {
    fn drop(&mut self) {
        self.task.abort();
        let _already_gone = std::fs::remove_file(&self.path);
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn recorder() -> (PttSink, Arc<Mutex<Vec<PttEvent>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink_seen = Arc::clone(&seen);
        let sink: PttSink = Arc::new(move |e| sink_seen.lock().expect("test mutex").push(e));
        (sink, seen)
    }

    fn temp_socket(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("cromulent-ptt-test-{}-{name}.sock", std::process::id()))
    }

    #[tokio::test]
    async fn the_command_reaches_the_listener() {
        let path = temp_socket("roundtrip");
        let (sink, seen) = recorder();
        let listener = CommandListener::bind(&path, sink).await.expect("a fresh path binds");
        send(&path, Press::Down).await.expect("the app answers down");
        send(&path, Press::Up).await.expect("the app answers up");
        assert_eq!(
            *seen.lock().expect("test mutex"),
            vec![PttEvent::Down, PttEvent::Up],
            "in order, once each"
        );
        drop(listener);
        assert!(!path.exists(), "the socket file goes with the listener");
    }

    #[tokio::test]
    async fn a_second_app_cannot_take_the_socket_but_a_stale_one_is_replaced() {
        let path = temp_socket("twice");
        let (sink, _) = recorder();
        let first = CommandListener::bind(&path, sink.clone()).await.expect("a fresh path binds");
        assert!(CommandListener::bind(&path, sink.clone()).await.is_err(), "a running app keeps its socket");
        drop(first);
        // A crash leaves the file behind with nobody listening.
        let stale_path = temp_socket("stale");
        drop(std::os::unix::net::UnixListener::bind(&stale_path).expect("a fresh path binds"));
        assert!(stale_path.exists(), "a std listener leaves its file behind, like a crashed app");
        let replaced = CommandListener::bind(&stale_path, sink).await;
        assert!(replaced.is_ok(), "a socket file nobody serves is taken over");
    }

    #[tokio::test]
    async fn sending_without_a_running_app_fails() {
        let err = send(&temp_socket("nobody"), Press::Down).await;
        assert!(
            matches!(err, Err(PttError::Socket { .. })),
            "the command must tell the user the app is not running"
        );
    }
}
