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

fn inside(test: &str) -> bool {
    cromulent_testkit::reexec::inside(module_path!(), test, &["keyctl", "session", "-"], &[])
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

/// The last audio level (dBov) the SFU read from each participant's packets.
fn sfu_audio_levels(server: &TestServer) -> Vec<f64> {
    let metrics = server.state.gateway.hub.sfu().render_metrics();
    metrics
        .lines()
        .filter(|l| l.starts_with("cromulent_sfu_participant_audio_level_dbov{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect()
}

/// Every change of the room's mode, with when it happened (looked at every 10 ms).
type Moves = Arc<Mutex<Vec<(std::time::Instant, RoomMode)>>>;

fn watch_moves(server: &TestServer, channel: Id) -> (Moves, tokio::task::JoinHandle<()>) {
    let moves: Moves = Arc::new(Mutex::new(Vec::new()));
    let (state, log) = (server.state.clone(), moves.clone());
    let task = tokio::spawn(async move {
        let mut mode = state.gateway.hub.voice_room_route(channel).1.mode;
        loop {
            sleep(Duration::from_millis(10)).await;
            let now = state.gateway.hub.voice_room_route(channel).1.mode;
            if now != mode {
                log.lock().expect("moves").push((std::time::Instant::now(), now));
                mode = now;
            }
        }
    });
    (moves, task)
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

/// Each 100 ms chunk's share of energy at `frequency` (0 for silent chunks).
fn shares(samples: &[f32], frequency: f64) -> Vec<f64> {
    samples.chunks_exact(CHUNK).map(|chunk| analysis::tone_purity(chunk, RATE, frequency)).collect()
}

// ---- the tests ----

/// The tone of client `i` of twelve: 350 Hz to 1450 Hz in steps of 100, so that every
/// tone has a Goertzel bin of its own in a 100 ms chunk.
fn tone_of(i: usize) -> f64 {
    350.0 + 100.0 * i as f64
}

/// A tone counts as heard in a chunk when it carries this share of the chunk's energy;
/// eleven equal tones carry about 0.09 each, a missing one next to nothing.
const HEARD_SHARE: f64 = 0.02;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_release_clients_in_an_sfu_room_hear_everyone_else_and_not_a_released_key() {
    // Held across the re-run too: the clients run in the child, beside this process's
    // other real-time tests otherwise.
    let _one_at_a_time = cromulent_e2e::one_real_time_test().await;
    if !inside("twelve_release_clients_in_an_sfu_room_hear_everyone_else_and_not_a_released_key") {
        return;
    }
    let bin = tokio::task::spawn_blocking(release_binary).await.expect("build");
    let server =
        TestServer::start_with(Database::Sqlite, |c: &mut Config| c.voice.voice_mode = VoiceModeSetting::Sfu)
            .await;
    let channel = voice_channel(&server).await;
    let dir = TempDir::new();
    const CLIENTS: usize = 12;
    /// The last client talks only while its key is held.
    const KEYED: usize = CLIENTS - 1;

    let mut accounts = Vec::new();
    for i in 0..CLIENTS {
        accounts.push(Account::login(&bin, &server, &format!("u{i:02}")).await);
    }
    let mut voices = Vec::new();
    for (i, account) in accounts.iter().enumerate() {
        // Eleven tones at once must not clip in the mix: 0.05 peak each.
        let input = wav(dir.path(), &format!("in-{i}.wav"), &analysis::sine(tone_of(i), RATE, 120.0, 0.05));
        let output = dir.path().join(format!("out-{i}.wav"));
        let ptt = if i == KEYED { "key" } else { "always" };
        voices.push(account.join(&input, &output, ptt));
    }
    room_size(&server, channel, CLIENTS).await;
    assert_eq!(server.state.gateway.hub.voice_room_route(channel).1.mode, RoomMode::Sfu);
    all_connected(&voices.iter().collect::<Vec<_>>(), CLIENTS - 1).await;

    // Connected, the key released: its tone must not reach anyone for these 3 s.
    sleep(Duration::from_secs(3)).await;
    voices[KEYED].toggle_talking();
    sleep(Duration::from_secs(5)).await;
    voices[KEYED].toggle_talking();
    sleep(Duration::from_secs(3)).await;
    // A 0.05 tone is about -29 dBFS: each always-on client tells the SFU so in RFC 6464.
    let levels = sfu_audio_levels(&server);
    let told = levels.iter().filter(|l| (-35.0..=-23.0).contains(*l)).count();
    assert!(told >= CLIENTS - 1, "every always-on client's packets carry its audio level: {levels:?}");
    for voice in &voices {
        voice.interrupt();
    }
    let mut recordings = Vec::new();
    for voice in voices {
        recordings.push(read(&voice.wait().await));
    }

    let mut heard = 0;
    let mut missing = Vec::new();
    for (listener, samples) in recordings.iter().enumerate() {
        // The room fell silent when the others left; a client that took a second SIGINT
        // to leave recorded on a little longer, so the call's end is read from the sound.
        let end = samples
            .chunks_exact(CHUNK)
            .rposition(|chunk| analysis::rms_dbfs(chunk) >= SILENCE_DBFS)
            .map_or(0, |last| last + 1);
        assert!(end >= 110, "client {listener} heard the room for at least 11 s ({end} chunks)");
        for speaker in (0..CLIENTS).filter(|s| *s != listener) {
            let present: Vec<bool> =
                shares(samples, tone_of(speaker)).iter().take(end).map(|s| *s > HEARD_SHARE).collect();
            let ok = if speaker == KEYED {
                keyed_heard_only_while_held(&present, listener)
            } else {
                // The last 8 s before leaving: everyone always-on is heard throughout.
                let tail = &present[end - 85..end - 5];
                tail.iter().filter(|p| **p).count() * 10 >= tail.len() * 9
            };
            if ok {
                heard += 1;
            } else {
                // Where it was heard, second by second (tenths of each second), for the report.
                let seconds: String = present
                    .chunks(10)
                    .map(|s| char::from_digit(s.iter().filter(|p| **p).count() as u32, 11).unwrap_or('?'))
                    .collect();
                missing.push(format!("{listener} hears {speaker}: {seconds}"));
            }
        }
    }
    assert_eq!(
        heard,
        CLIENTS * (CLIENTS - 1),
        "every client hears every other one; missing:\n{}",
        missing.join("\n")
    );
}

/// The keyed client was held for 5 s between 3 s of release before and after (`present`
/// ends when the call did): its tone is heard for most of those 5 s and at no other time.
fn keyed_heard_only_while_held(present: &[bool], listener: usize) -> bool {
    let chunks: Vec<usize> = present.iter().enumerate().filter(|(_, p)| **p).map(|(i, _)| i).collect();
    let (Some(first), Some(last)) = (chunks.first(), chunks.last()) else {
        eprintln!("listener {listener}: the keyed client was never heard");
        return false;
    };
    let span = last - first + 1;
    let tail = present.len() - last;
    let ok = chunks.len() >= 35 && span <= 60 && tail >= 20 && *first >= 20;
    if !ok {
        eprintln!(
            "listener {listener}: keyed tone in {} chunks over a span of {span} from chunk {first}, {tail} before the end",
            chunks.len()
        );
    }
    ok
}

/// Where a recording falls silent for at least `longest`, and for how long.
fn silences(samples: &[f32], longest: Duration) -> Vec<(Duration, Duration)> {
    let window = (RATE / 100) as usize;
    let quiet: Vec<bool> = samples.chunks(window).map(|c| analysis::rms_dbfs(c) < SILENCE_DBFS).collect();
    let mut found = Vec::new();
    let mut run_start = None;
    for (i, is_quiet) in quiet.iter().chain([&false]).enumerate() {
        match (*is_quiet, run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(from)) => {
                let length = Duration::from_millis(10 * (i - from) as u64);
                if length >= longest {
                    found.push((Duration::from_millis(10 * from as u64), length));
                }
                run_start = None;
            }
            _ => {}
        }
    }
    found
}

/// The speaker's tone in the auto-mode test.
const SPEAKER_HZ: f64 = 440.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_room_moves_to_the_sfu_and_back_while_the_tone_plays_on() {
    // Held across the re-run too: the clients run in the child, beside this process's
    // other real-time tests otherwise.
    let _one_at_a_time = cromulent_e2e::one_real_time_test().await;
    if !inside("an_auto_room_moves_to_the_sfu_and_back_while_the_tone_plays_on") {
        return;
    }
    let bin = tokio::task::spawn_blocking(release_binary).await.expect("build");
    let server = TestServer::start_with(Database::Sqlite, |c: &mut Config| {
        c.voice.voice_mode = VoiceModeSetting::Auto;
        c.voice.voice_sfu_above = 4;
    })
    .await;
    let channel = voice_channel(&server).await;
    let dir = TempDir::new();
    let tone = wav(dir.path(), "tone.wav", &analysis::sine(SPEAKER_HZ, RATE, 120.0, 0.3));
    let silence = wav(dir.path(), "silence.wav", &vec![0.0; RATE as usize]);

    let speaker = Account::login(&bin, &server, "sam").await;
    let listener = Account::login(&bin, &server, "lee").await;
    let mut extra_accounts = Vec::new();
    for i in 0..4 {
        extra_accounts.push(Account::login(&bin, &server, &format!("x{i}")).await);
    }
    let (moves, watching) = watch_moves(&server, channel);
    let speaking = speaker.join(&tone, &dir.path().join("sam.wav"), "always");
    let listening = listener.join(&silence, &dir.path().join("heard.wav"), "never");
    all_connected(&[&speaking, &listening], 1).await;
    assert_eq!(server.state.gateway.hub.voice_room_route(channel).1.mode, RoomMode::Mesh, "two make a mesh");
    sleep(Duration::from_secs(2)).await;

    // 2 → 6: the fifth participant moves the room to the SFU.
    let mut extras = Vec::new();
    for (i, account) in extra_accounts.iter().enumerate() {
        extras.push(account.join(&silence, &dir.path().join(format!("x{i}.wav")), "never"));
        room_size(&server, channel, 3 + i).await;
        sleep(Duration::from_millis(700)).await;
    }
    room_mode(&server, channel, RoomMode::Sfu).await;
    let everyone: Vec<&Voice> = [&speaking, &listening].into_iter().chain(extras.iter()).collect();
    all_connected(&everyone, 5).await;
    let forwarded = sfu_metric(&server, "cromulent_sfu_packets_forwarded_total");
    sleep(Duration::from_secs(3)).await;
    let through_sfu = sfu_metric(&server, "cromulent_sfu_packets_forwarded_total") - forwarded;
    assert!(
        through_sfu > 500,
        "in the SFU the speaker reaches five listeners through it ({through_sfu} packets in 3 s)"
    );

    // 6 → 2: down to three the room goes back to a mesh.
    let mut left = 0;
    while let Some(extra) = extras.pop() {
        extra.interrupt();
        extra.wait().await;
        left += 1;
        room_size(&server, channel, 6 - left).await;
        sleep(Duration::from_millis(700)).await;
    }
    room_mode(&server, channel, RoomMode::Mesh).await;
    // Past the server's grace for a retired SFU peer (10 s): whatever is heard now comes
    // over the mesh.
    sleep(Duration::from_secs(12)).await;
    assert_eq!(sfu_metric(&server, "cromulent_sfu_participants"), 0, "nobody is left on the SFU");
    let forwarded = sfu_metric(&server, "cromulent_sfu_packets_forwarded_total");
    sleep(Duration::from_secs(2)).await;
    let late = sfu_metric(&server, "cromulent_sfu_packets_forwarded_total") - forwarded;
    assert_eq!(late, 0, "back in a mesh the SFU forwards nothing");
    let recording_start = listening.joined_at().expect("the listener said it joined");
    listening.interrupt();
    let heard = read(&listening.wait().await);
    speaking.interrupt();
    speaking.wait().await;

    watching.abort();
    let moves = moves.lock().expect("moves").clone();
    let modes: Vec<RoomMode> = moves.iter().map(|(_, mode)| *mode).collect();
    assert_eq!(modes, [RoomMode::Sfu, RoomMode::Mesh], "the room moved to the SFU and back, once each");
    let (to_sfu, to_mesh) = (moves[0].0, moves[1].0);
    let onset = analysis::onset(&heard, RATE, SILENCE_DBFS).expect("the listener heard the speaker");
    let start = (onset.as_secs_f64() * f64::from(RATE)) as usize;
    let found = analysis::dominant_frequency(&heard[start..], RATE, 100.0, 4000.0);
    assert!((found - SPEAKER_HZ).abs() < 5.0, "the listener hears the speaker's tone, found {found:.1} Hz");
    let gap_around = |moved: std::time::Instant| {
        let at = moved.duration_since(recording_start).as_secs_f64();
        let from = ((at - 1.0).max(0.0) * f64::from(RATE)) as usize;
        let to = (((at + 6.0) * f64::from(RATE)) as usize).min(heard.len());
        analysis::longest_gap(&heard[from.max(start)..to], RATE, SILENCE_DBFS)
    };
    let (up, down) = (gap_around(to_sfu), gap_around(to_mesh));
    let overall = analysis::longest_gap(&heard[start..], RATE, SILENCE_DBFS);
    let at = |moved: std::time::Instant| moved.duration_since(recording_start);
    eprintln!(
        "longest silence: moving to the SFU (at {:?}) {up:?}, back to the mesh (at {:?}) {down:?}, \
         whole call {overall:?}; silences over 30 ms at {:?}",
        at(to_sfu),
        at(to_mesh),
        silences(&heard, Duration::from_millis(30))
    );
    let limit = Duration::from_millis(300);
    assert!(up < limit, "the move to the SFU leaves no gap: {up:?}");
    assert!(down < limit, "the move back to the mesh leaves no gap: {down:?}");
    assert!(overall < limit, "the tone plays on through the whole call: longest silence {overall:?}");
    let last = heard.len().saturating_sub(3 * RATE as usize).max(start);
    let at_the_end = analysis::tone_purity(&heard[last..], RATE, SPEAKER_HZ);
    assert!(
        at_the_end > 0.5,
        "with only the mesh left the tone still dominates what is heard ({at_the_end:.2})"
    );
}

// ---- the engine in this process ----

/// One user in the room: a real gateway connection feeding a voice engine, with what
/// the engine sent.
struct Engine {
    engine: VoiceEngine,
    gateway: Gateway,
    sent: Arc<Mutex<Vec<ClientFrame>>>,
    channel: Id,
}

impl Engine {
    async fn join(server: &TestServer, name: &str, config: EngineConfig) -> Self {
        let user = server.user(name).await;
        let refresh = server.refresh_token(&user).await;
        let client = Client::new(&server.base).expect("client");
        let tokens = TokenSource::new(&client, Secret::new(refresh), None);
        let client = client.with_tokens(tokens.clone());
        let channel = client.channels().await.expect("channels");
        let channel =
            channel.into_iter().find(|c| c.channel.name == "voice-main").expect("voice-main").channel.id;
        let gateway = Gateway::connect(GatewayConfig::new(client.server(), tokens)).await.expect("gateway");
        let mut events = gateway.subscribe();
        let (frames_tx, mut frames_rx) = tokio::sync::mpsc::unbounded_channel();
        let sender = gateway.clone();
        tokio::spawn(async move {
            while let Some(frame) = frames_rx.recv().await {
                let _ = sender.send(frame).await;
            }
        });
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = sent.clone();
        let engine = VoiceEngine::new(
            config,
            Arc::new(move |frame: ClientFrame| {
                log.lock().expect("sent").push(frame.clone());
                let _ = frames_tx.send(frame);
            }),
        );
        let feed = engine.clone();
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                if let GatewayEvent::Frame(frame) = event {
                    feed.handle(&frame);
                }
            }
        });
        engine.join(channel).await.expect("join voice");
        Engine { engine, gateway, sent, channel }
    }
}

fn engine_config(input: InputChoice, output: OutputChoice, mode: PttMode) -> EngineConfig {
    EngineConfig {
        audio: AudioConfig { input, output, noise_suppression: false, ..AudioConfig::default() },
        mesh: MeshConfig::loopback(),
        mode,
    }
}

/// Forces relay-only voice for everyone, as the admin (the first user) may.
async fn force_relay(server: &TestServer) {
    let admin = server.user("root").await;
    let client = cromulent_e2e::client_for(server, &admin).await;
    let token = client.tokens().expect("logged in").access_token().await.expect("token");
    let resp = reqwest::Client::new()
        .patch(format!("{}/api/admin/voice/settings", server.base))
        .bearer_auth(token.expose())
        .json(&serde_json::json!({"force_relay": true}))
        .send()
        .await
        .expect("settings");
    assert!(resp.status().is_success(), "force relay: {}", resp.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relay_only_voice_reaches_the_sfu_through_turn_and_carries_the_tone() {
    let _one_at_a_time = cromulent_e2e::one_real_time_test().await;
    // No loopback exemption for TURN: the relay must reach the server's own SFU as it is.
    let server =
        TestServer::start_with(Database::Sqlite, |c: &mut Config| c.voice.voice_mode = VoiceModeSetting::Sfu)
            .await;
    force_relay(&server).await;
    let dir = TempDir::new();
    let tone = wav(dir.path(), "tone.wav", &analysis::sine(SPEAKER_HZ, RATE, 30.0, 0.5));
    let heard = dir.path().join("heard.wav");
    let ann = Engine::join(
        &server,
        "ann",
        engine_config(InputChoice::Wav(tone), OutputChoice::Null, PttMode::Always),
    )
    .await;
    let bob = Engine::join(
        &server,
        "bob",
        engine_config(InputChoice::Silence, OutputChoice::Wav(heard.clone()), PttMode::Never),
    )
    .await;
    let deadline = Instant::now() + DEADLINE;
    loop {
        let state = bob.engine.snapshot();
        let from_ann = state.peers.iter().find(|p| p.session_id == ann.gateway.session_id());
        if from_ann.is_some_and(|p| p.connection == "connected" && p.packets_received > 100) {
            break;
        }
        assert!(Instant::now() < deadline, "ann's audio never reached bob through the SFU: {state:?}");
        sleep(Duration::from_millis(100)).await;
    }
    let (_, route) = server.state.gateway.hub.voice_room_route(bob.channel);
    assert_eq!(route.mode, RoomMode::Sfu, "the server keeps the room in its SFU");
    bob.engine.leave().expect("bob leaves, output finalized");
    ann.engine.leave().expect("ann leaves");
    for (name, engine) in [("ann", &ann), ("bob", &bob)] {
        let sent = engine.sent.lock().expect("sent");
        let offers = sent.iter().filter(|f| matches!(f, ClientFrame::SdpOffer { .. })).count();
        let candidates: Vec<String> = sent
            .iter()
            .filter_map(|f| match f {
                ClientFrame::IceCandidate { candidate, .. } => {
                    candidate.get("candidate").and_then(|c| c.as_str()).map(str::to_owned)
                }
                _ => None,
            })
            .collect();
        assert!(offers >= 1, "{name} offered to the SFU");
        assert!(
            !candidates.is_empty() && candidates.iter().all(|c| c.contains(" typ relay")),
            "{name} gives the SFU relay candidates only: {candidates:?}"
        );
    }
    let samples = read(&heard);
    let onset = analysis::onset(&samples, RATE, SILENCE_DBFS).expect("bob heard ann");
    let start = (onset.as_secs_f64() * f64::from(RATE)) as usize;
    let found = analysis::dominant_frequency(&samples[start..], RATE, 100.0, 4000.0);
    assert!((found - SPEAKER_HZ).abs() < 5.0, "440 Hz through TURN and the SFU, found {found:.1} Hz");
}
