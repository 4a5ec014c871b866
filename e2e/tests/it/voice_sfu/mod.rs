//! Native voice through the server's selective forwarding unit, on loopback:
//!
//! - Twelve release-built `cromulent voice join` processes in one room the server keeps
//!   in SFU mode, each sending a tone of its own from a WAV file and recording what it
//!   hears: every recording holds every other client's tone (132 of 132), and the one
//!   client on push-to-talk is heard only while its key is held.
//! - An `auto` room (SFU above 4) grows from 2 to 6 participants and shrinks back to 2:
//!   the listener's recording of the speaker's tone runs on across the move to the SFU
//!   and the move back, and the longest silence around each move is measured.
//! - Relay-only voice reaches the SFU through the built-in TURN relay: the engine sends
//!   the SFU relay candidates only, and the tone still crosses.
//!
//! The processes log in to a kernel keyring session of their own (the tests re-run
//! themselves inside `keyctl session -`), as the `cromulent` command does for a person.

mod auto_room;
mod relay_only;
mod twelve_clients;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cromulent_client::api::{Client, TokenSource};
use cromulent_client::gateway::{Gateway, GatewayConfig, GatewayEvent};
use cromulent_client::tokens::Secret;
use cromulent_client::voice::audio::{analysis, AudioConfig, InputChoice, OutputChoice};
use cromulent_client::voice::mesh::MeshConfig;
use cromulent_client::voice::{EngineConfig, PttMode, VoiceEngine};
use cromulent_e2e::{Database, TempDir, TestServer, PASSWORD};
use cromulent_protocol::gateway::ClientFrame;
use cromulent_protocol::voice::RoomMode;
use cromulent_protocol::Id;
use cromulent_server::config::{Config, VoiceModeSetting};
use tokio::time::{sleep, Instant};

const RATE: u32 = 48_000;
/// Quieter than this (dBFS) counts as silence in a recording.
const SILENCE_DBFS: f32 = -45.0;
/// Liveness deadline for joining and connecting.
const DEADLINE: Duration = Duration::from_secs(60);
/// The analysis window: 100 ms holds a whole number of cycles of every test tone (they
/// are multiples of 10 Hz), so each tone falls in a Goertzel bin of its own.
const CHUNK: usize = (RATE / 10) as usize;
/// The speaker's tone in the auto-mode test.
const SPEAKER_HZ: f64 = 440.0;

/// Re-runs `test` of `module` inside a kernel keyring session of its own; true in the
/// child, which does the work.
fn inside(module: &str, test: &str) -> bool {
    cromulent_testkit::reexec::inside(module, test, &["keyctl", "session", "-"], &[])
}

// ---- the release-built `cromulent` command ----

/// The release build of the `cromulent` binary (twelve debug builds would not keep up
/// in real time on a small machine), brought up to date first;
/// `CROMULENT_RELEASE_BIN` names a prebuilt one instead (never `CROMULENT_BIN`, the
/// debug build the other tests share).
fn release_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("CROMULENT_RELEASE_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/it-… → target/
    let target = exe.ancestors().nth(3).expect("the target directory");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--release", "-p", "cromulent-client", "--bin", "cromulent"])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the release cromulent binary");
    let bin = target.join("release").join(format!("cromulent{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "the release binary is at {}", bin.display());
    bin
}

/// One user's `cromulent` setup: its own configuration directory, logged in.
struct Account {
    bin: PathBuf,
    server: String,
    config: TempDir,
    name: String,
}

impl Account {
    async fn login(bin: &Path, server: &TestServer, name: &str) -> Self {
        let user = server.user(name).await;
        let account = Account {
            bin: bin.to_owned(),
            server: server.base.clone(),
            config: TempDir::new(),
            name: name.into(),
        };
        let mut login = account.command(&["login", "--email", &user.email, "--password-stdin"]);
        let output = tokio::task::spawn_blocking(move || {
            let mut child = login
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn login");
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(format!("{PASSWORD}\n").as_bytes())
                .expect("password");
            child.wait_with_output().expect("login ends")
        })
        .await
        .expect("login task");
        assert!(output.status.success(), "{name} logs in: {}", String::from_utf8_lossy(&output.stderr));
        account
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .arg("--server")
            .arg(&self.server)
            .arg("--config-dir")
            .arg(self.config.path())
            .arg("--keyring")
            .arg("keyutils")
            .args(args)
            .env_remove("CROMULENT_SERVER")
            .env_remove("RUST_LOG");
        command
    }

    /// `cromulent voice join voice-main` sending `input`, recording into `output`.
    fn join(&self, input: &Path, output: &Path, ptt: &str) -> Voice {
        let (input, output_arg) = (input.display().to_string(), output.display().to_string());
        let mut child = self
            .command(&["voice", "join", "voice-main", "--loopback", "--no-noise-suppression"])
            .args(["--input", &input, "--output", &output_arg, "--ptt", ptt])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn voice join");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (stderr, log) = (child.stderr.take().expect("stderr"), lines.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log.lock().expect("lines").push((std::time::Instant::now(), line));
            }
        });
        let stdin = child.stdin.take();
        Voice { name: self.name.clone(), child, stdin, lines, output: output.to_owned() }
    }
}

/// A running `cromulent voice join`.
struct Voice {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    /// Its stderr lines (the status line every second a change happens) with when they came.
    lines: Arc<Mutex<Vec<(std::time::Instant, String)>>>,
    output: PathBuf,
}

impl Voice {
    /// Peers its latest status line shows connected.
    fn connected_peers(&self) -> usize {
        let lines = self.lines.lock().expect("lines");
        let status = lines.iter().rev().find(|(_, l)| l.contains("; peers: ") || l.contains("nobody else"));
        status.map_or(0, |(_, line)| line.split(", ").filter(|p| p.contains(" connected")).count())
    }

    /// Its last lines, for a failure's message.
    fn log_tail(&self) -> String {
        let lines = self.lines.lock().expect("lines");
        let tail: Vec<&str> = lines.iter().rev().take(8).rev().map(|(_, l)| l.as_str()).collect();
        tail.join("\n")
    }

    /// When it said it joined: its recording starts about then.
    fn joined_at(&self) -> Option<std::time::Instant> {
        let lines = self.lines.lock().expect("lines");
        lines.iter().find(|(_, l)| l.starts_with("joined #")).map(|(at, _)| *at)
    }

    /// Enter: push-to-talk toggles (a terminal reports no key releases).
    fn toggle_talking(&mut self) {
        let stdin = self.stdin.as_mut().expect("stdin kept open");
        stdin.write_all(b"\n").and_then(|()| stdin.flush()).expect("Enter");
    }

    /// Ctrl-C: it leaves, finalizes its recording and exits 0.
    fn interrupt(&self) {
        let status =
            Command::new("kill").args(["-INT", &self.child.id().to_string()]).status().expect("kill");
        assert!(status.success(), "SIGINT reaches {}", self.name);
    }

    /// Waits for it to exit after [`Voice::interrupt`]. The command listens for Ctrl-C
    /// afresh each time round its loop, so a signal that lands between two rounds is
    /// missed: it is sent again every second until the command is gone.
    async fn wait(mut self) -> PathBuf {
        // Its stdin closed: a read of it pending would keep the command from exiting.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "{} does not leave:\n{}", self.name, self.log_tail());
            sleep(Duration::from_secs(1)).await;
            if matches!(self.child.try_wait(), Ok(None)) {
                self.interrupt();
            }
        };
        let log: Vec<String> = self.lines.lock().expect("lines").iter().map(|(_, l)| l.clone()).collect();
        assert!(status.success(), "{} leaves cleanly: {status:?}\n{}", self.name, log.join("\n"));
        self.output.clone()
    }
}

/// A test that fails half-way must not leave its clients running.
impl Drop for Voice {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits (liveness deadline only) until each of `voices` shows `peers` connected peers.
async fn all_connected(voices: &[&Voice], peers: usize) {
    let deadline = Instant::now() + DEADLINE;
    while !voices.iter().all(|v| v.connected_peers() >= peers) {
        if Instant::now() >= deadline {
            let behind: Vec<String> = voices
                .iter()
                .filter(|v| v.connected_peers() < peers)
                .map(|v| format!("{}:\n{}", v.name, v.log_tail()))
                .collect();
            panic!("not everyone connected to {peers} peers:\n{}", behind.join("\n"));
        }
        sleep(Duration::from_millis(200)).await;
    }
}

async fn voice_channel(server: &TestServer) -> Id {
    let admin = server.user("root").await;
    let client = cromulent_e2e::client_for(server, &admin).await;
    let channels = client.channels().await.expect("channels");
    channels
        .into_iter()
        .find(|c| c.channel.name == "voice-main")
        .expect("the seeded voice channel")
        .channel
        .id
}

/// Waits until the room's participant count is `count`.
async fn room_size(server: &TestServer, channel: Id, count: usize) {
    let deadline = Instant::now() + DEADLINE;
    while server.state.gateway.hub.voice_room(channel).participants.len() != count {
        assert!(Instant::now() < deadline, "the room never held {count}");
        sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the room's mode is `mode`.
async fn room_mode(server: &TestServer, channel: Id, mode: RoomMode) {
    let deadline = Instant::now() + DEADLINE;
    while server.state.gateway.hub.voice_room_route(channel).1.mode != mode {
        assert!(Instant::now() < deadline, "the room never moved to {mode:?}");
        sleep(Duration::from_millis(20)).await;
    }
}

/// The SFU's metric `name` (a counter or an unlabelled gauge).
fn sfu_metric(server: &TestServer, name: &str) -> u64 {
    let metrics = server.state.gateway.hub.sfu().render_metrics();
    let line = metrics.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::to_owned));
    line.and_then(|v| v.trim().parse().ok()).unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
}

fn wav(dir: &Path, name: &str, samples: &[f32]) -> PathBuf {
    let path = dir.join(name);
    analysis::write_wav(&path, RATE, samples).expect("write a WAV input");
    path
}

fn read(path: &Path) -> Vec<f32> {
    let (rate, samples) = analysis::read_wav(path).expect("a finished recording");
    assert_eq!(rate, RATE);
    samples
}
