//! The real `cromulent` binary against a real server: login with `--password-stdin`
//! (token in the kernel keyring), channels, send, tail seeing another user's message,
//! logout; `send --file` with attachments; `voice join` hanging up with status 3 when an
//! admin removes the user from the private voice channel; and the refusal when no secure
//! store exists.
//!
//! The keyring part runs inside `keyctl session -` (the test re-runs itself there), so
//! the token lives in a throw-away session keyring and never in the user's own.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cromulent_client::voice::audio::analysis;
use cromulent_e2e::{client_for, private_voice_channel, Database, TempDir, TestServer, TestUser, PASSWORD};
use cromulent_protocol::message::ListMessagesQuery;

const DEADLINE: Duration = Duration::from_secs(20);

/// Re-runs `test` (a test function of this module) under `wrapper`; true in the child,
/// which does the work.
fn inside(test: &str, wrapper: &[&str]) -> bool {
    cromulent_testkit::reexec::inside(module_path!(), test, wrapper, &[])
}

/// The `cromulent` binary, brought up to date first: `cargo test -p cromulent-e2e` builds
/// only the library it depends on. Selecting this crate too makes cargo resolve the same
/// features as for this test, so the shared dependencies are not rebuilt.
/// `CROMULENT_BIN` names a prebuilt binary instead (CI builds it once).
fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("CROMULENT_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "cromulent-e2e", "-p", "cromulent-client", "--bin", "cromulent"])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the cromulent binary");
    let bin = dir.join(format!("cromulent{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.exists(), "the binary sits next to the test's deps dir: {}", bin.display());
    bin
}

struct Cli {
    bin: PathBuf,
    server: String,
    config: TempDir,
    keyring: &'static str,
}

impl Cli {
    /// The binary with a config directory of its own, against `server`, keeping its token
    /// in `keyring`.
    fn new(server: &TestServer, keyring: &'static str) -> Self {
        Cli { bin: binary(), server: server.base.clone(), config: TempDir::new(), keyring }
    }

    /// `cromulent login` as `email`, the password on stdin; the login must work.
    async fn login(&self, email: &str) -> Output {
        let login =
            self.run(&["login", "--email", email, "--password-stdin"], &format!("{PASSWORD}\n")).await;
        assert!(login.status.success(), "login works: {}", text(&login.stderr));
        login
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--server")
            .arg(&self.server)
            .arg("--config-dir")
            .arg(self.config.path())
            .arg("--keyring")
            .arg(self.keyring)
            .args(args)
            .env_remove("CROMULENT_SERVER")
            .env_remove("RUST_LOG");
        cmd
    }

    /// Runs to completion off the async threads, feeding `stdin`.
    async fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut cmd = self.command(args);
        let stdin = stdin.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut child = cmd
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn");
            child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
            child.wait_with_output().expect("wait")
        })
        .await
        .expect("join")
    }
}

/// A server with ada (its admin) signed in on the CLI, and bob.
async fn bob_and_ada_on_the_cli() -> (TestServer, TestUser, Cli) {
    let server = TestServer::start(Database::Sqlite).await;
    let ada = server.user("ada").await;
    let bob = server.user("bob").await;
    let cli = Cli::new(&server, "keyutils");
    cli.login(&ada.email).await;
    (server, bob, cli)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_channels_send_tail_logout_with_the_real_binary() {
    if !inside("login_channels_send_tail_logout_with_the_real_binary", &["keyctl", "session", "-"]) {
        return;
    }
    let server = TestServer::start(Database::Sqlite).await;
    let ada = server.user("ada").await;
    let bob = server.user("bob").await;
    let cli = Cli::new(&server, "keyutils");

    let login = cli.login(&ada.email).await;
    assert!(text(&login.stdout).contains("as ada"), "login names the account: {}", text(&login.stdout));
    let remembered = std::fs::read_to_string(cli.config.path().join("cli.json")).expect("config written");
    assert!(remembered.contains(&ada.email), "the account is remembered");
    let refresh_like = remembered.lines().any(|l| l.len() > 60);
    assert!(!refresh_like, "no token-sized value in the plain config file: {remembered}");

    let channels = cli.run(&["channels"], "").await;
    assert!(channels.status.success(), "channels works: {}", text(&channels.stderr));
    let table = text(&channels.stdout);
    assert!(table.starts_with("NAME"), "a table with a header: {table}");
    assert!(table.lines().any(|l| l.starts_with("#general") && l.contains("text")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("#voice-main") && l.contains("voice")), "{table}");

    let sent = cli.run(&["send", "general", "hello from the terminal"], "").await;
    assert!(sent.status.success(), "send works: {}", text(&sent.stderr));
    let bob_client = client_for(&server, &bob).await;
    let general = bob_client.channels().await.expect("channels");
    let general = general.iter().find(|c| c.channel.name == "general").expect("#general").channel.id;
    let latest = bob_client.messages(general, &ListMessagesQuery::default()).await.expect("history");
    assert_eq!(latest[0].body, "hello from the terminal", "bob sees what the CLI sent");
    assert_eq!(text(&sent.stdout).trim(), latest[0].id.to_string(), "send prints the new message's id");

    let unknown = cli.run(&["send", "no-such-channel", "x"], "").await;
    assert!(!unknown.status.success(), "an unknown channel fails");
    assert_eq!(text(&unknown.stderr).trim().lines().count(), 1, "one-line error: {}", text(&unknown.stderr));

    // tail: wait for its "connected" line, then bob speaks and tail prints it.
    let mut tail =
        cli.command(&["tail", "--json"]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("tail");
    let (lines_tx, lines_rx) = mpsc::channel::<String>();
    let stdout = tail.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_line = |what: &str| {
        lines_rx
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("tail printed no line while waiting for {what}"))
    };
    while !next_line("connected").contains("\"connected\"") {}
    let message = bob_client.send_message(general, "tail should print this").await.expect("send");
    loop {
        let line = next_line("bob's message");
        if line.contains("message_create") && line.contains("tail should print this") {
            let event: serde_json::Value = serde_json::from_str(&line).expect("--json lines are JSON");
            assert_eq!(event["message"]["id"], message.id.to_string(), "the event carries the message");
            break;
        }
    }
    let interrupted = Command::new("kill").args(["-INT", &tail.id().to_string()]).status().expect("kill");
    assert!(interrupted.success(), "SIGINT delivered");
    let status = tokio::task::spawn_blocking(move || tail.wait()).await.expect("join").expect("wait");
    assert!(status.success(), "Ctrl-C ends tail cleanly with exit 0, got {status}");

    let bench = cli
        .run(&["bench", "gateway", "--sessions", "12", "--messages", "3", "--interval-ms", "10"], "")
        .await;
    let report = text(&bench.stdout);
    assert!(bench.status.success(), "the load generator works: {report}{}", text(&bench.stderr));
    assert!(report.contains("12 connected, 0 failed"), "every session connects: {report}");
    assert!(report.contains("deliveries: 36/36"), "every session gets every message: {report}");

    let logout = cli.run(&["logout"], "").await;
    assert!(logout.status.success(), "logout works: {}", text(&logout.stderr));
    let after = cli.run(&["channels"], "").await;
    assert!(!after.status.success(), "after logout nothing is authenticated");
    let error = text(&after.stderr);
    assert!(error.contains("not logged in"), "the error says what to do: {error}");
    assert_eq!(error.trim().lines().count(), 1, "exactly one line: {error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_without_a_secure_store_refuses_and_keeps_nothing() {
    let server = TestServer::start(Database::Sqlite).await;
    let ada = server.user("ada").await;
    let empty = TempDir::new();
    let cli = Cli::new(&server, "secret-service");
    let mut cmd = cli.command(&["login", "--email", &ada.email, "--password-stdin"]);
    // No session bus anywhere: the Secret Service cannot be reached.
    cmd.env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}/no-bus", empty.path().display()))
        .env("XDG_RUNTIME_DIR", empty.path());
    let output = tokio::task::spawn_blocking(move || {
        let mut child =
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
        child.stdin.take().expect("stdin").write_all(format!("{PASSWORD}\n").as_bytes()).expect("stdin");
        child.wait_with_output().expect("wait")
    })
    .await
    .expect("join");
    assert!(!output.status.success(), "no store, no login");
    let error = text(&output.stderr);
    assert!(error.contains("no secure store"), "the refusal names the problem: {error}");
    assert!(!cli.config.path().join("cli.json").exists(), "nothing is remembered, and surely no token file");
}

/// `cromulent voice join` in a private voice room: when the admin removes the user from
/// the channel, the command hangs up by itself, says why and exits with status 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_join_exits_3_when_the_server_removes_it_from_the_room() {
    // Held across the re-run too: the voice client runs in the child, beside this
    // process's other real-time tests otherwise.
    let _one_at_a_time = cromulent_e2e::one_real_time_test().await;
    if !inside("voice_join_exits_3_when_the_server_removes_it_from_the_room", &["keyctl", "session", "-"]) {
        return;
    }
    let server = TestServer::start(Database::Sqlite).await;
    let ada = server.user("ada").await; // the first user: admin
    let bob = server.user("bob").await;
    let admin = client_for(&server, &ada).await;
    let staff = private_voice_channel(&admin, "staff-voice").await;
    let member = format!("{}/api/channels/{staff}/members/{}", server.base, bob.id);
    let token = || async { admin.tokens().expect("logged in").access_token().await.expect("token") };
    let added =
        reqwest::Client::new().put(&member).bearer_auth(token().await.expose()).send().await.expect("PUT");
    assert!(added.status().is_success(), "bob is added to the private channel: {}", added.status());

    let cli = Cli::new(&server, "keyutils");
    cli.login(&bob.email).await;
    let silence = cli.config.path().join("silence.wav");
    analysis::write_wav(&silence, 48_000, &vec![0.0; 48_000]).expect("write the input");
    let heard = cli.config.path().join("heard.wav");
    let (silence, heard) = (silence.display().to_string(), heard.display().to_string());
    // Enter toggles the key: a terminal nobody types in (stdin held open below) must not
    // keep the command from ending.
    let args = ["voice", "join", "staff-voice", "--input", &silence, "--output", &heard, "--ptt", "key"];
    // Without the removal it would leave on its own after the duration, exit 0 and fail here.
    let mut command = cli.command(&args);
    command
        .args(["--loopback", "--duration", "30"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut voice = command.spawn().expect("voice join");
    let _silent_keyboard = voice.stdin.take().expect("stdin is piped");

    // In the room once the server has it there (its answer reached the CLI before any
    // later event on the same connection).
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !server.state.gateway.hub.voice_room(staff).participants.iter().any(|p| p.user_id == bob.id) {
        assert!(tokio::time::Instant::now() < deadline, "bob's CLI never got into the room");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let removed = reqwest::Client::new()
        .delete(&member)
        .bearer_auth(token().await.expose())
        .send()
        .await
        .expect("DELETE");
    assert!(removed.status().is_success(), "the admin removes bob: {}", removed.status());

    let output =
        tokio::task::spawn_blocking(move || voice.wait_with_output()).await.expect("join").expect("wait");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "a removal has its own exit status: {stderr}");
    assert!(
        stderr.contains("cromulent: removed from the voice room: you no longer have access"),
        "the command says why it ended: {stderr}"
    );
    assert!(server.state.gateway.hub.voice_room(staff).participants.is_empty(), "nobody stays in the room");
}

/// `cromulent send --reply-to` answers a message, and `cromulent history` prints the
/// newest messages oldest first with author, id, the reply's reference and reactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_shows_replies_and_reactions_sent_with_the_real_binary() {
    if !inside("history_shows_replies_and_reactions_sent_with_the_real_binary", &["keyctl", "session", "-"]) {
        return;
    }
    let (server, bob, cli) = bob_and_ada_on_the_cli().await;

    let bob_client = client_for(&server, &bob).await;
    let channels = bob_client.channels().await.expect("channels");
    let general = channels.iter().find(|c| c.channel.name == "general").expect("#general").channel.id;
    let question = bob_client.send_message(general, "lunch at noon?\nor later").await.expect("send");

    let id = question.id.to_string();
    let sent = cli.run(&["send", "general", "noon works", "--reply-to", &id], "").await;
    assert!(sent.status.success(), "send --reply-to works: {}", text(&sent.stderr));
    let latest = bob_client.messages(general, &ListMessagesQuery::default()).await.expect("history");
    let reply = &latest[0];
    assert_eq!(reply.reply_to.as_ref().map(|r| r.id), Some(question.id), "the message answers bob's");
    assert_eq!(text(&sent.stdout).trim(), reply.id.to_string(), "send prints the new message's id");

    let token = bob_client.tokens().expect("logged in").access_token().await.expect("token");
    let reaction = format!("{}/api/messages/{}/reactions/%F0%9F%91%8D", server.base, reply.id);
    let reacted =
        reqwest::Client::new().put(&reaction).bearer_auth(token.expose()).send().await.expect("PUT");
    assert!(reacted.status().is_success(), "bob reacts: {}", reacted.status());

    let history = cli.run(&["history", "general", "--limit", "2"], "").await;
    assert!(history.status.success(), "history works: {}", text(&history.stderr));
    let out = text(&history.stdout);
    let question_at = out.find("<bob>").expect("bob's message is printed");
    let reply_at = out.find("<ada>").expect("ada's reply is printed");
    assert!(question_at < reply_at, "oldest first: {out}");
    assert!(out.contains(&format!("id {}", question.id)), "ids are printed, for --reply-to: {out}");
    assert!(out.contains("    lunch at noon?\n    or later\n"), "the body, every line indented: {out}");
    assert!(out.contains("↳ reply to <bob>: lunch at noon?"), "the reply names what it answers: {out}");
    assert!(out.contains("reactions: 👍 1"), "reactions are counted: {out}");

    let json = cli.run(&["history", "general", "--limit", "1", "--json"], "").await;
    let line = text(&json.stdout);
    let parsed: serde_json::Value =
        serde_json::from_str(line.trim()).expect("--json prints one JSON message");
    assert_eq!(parsed["id"], reply.id.to_string(), "--limit 1 is the newest message");

    let refused = cli.run(&["history", "general", "--limit", "0"], "").await;
    assert!(!refused.status.success(), "a limit of 0 is refused before asking the server");
    let unknown = cli.run(&["send", "general", "x", "--reply-to", "123456789"], "").await;
    assert!(!unknown.status.success(), "a reply to no message fails");
    assert!(
        text(&unknown.stderr).contains("reply_to") || text(&unknown.stderr).contains("no such message"),
        "the error says why: {}",
        text(&unknown.stderr)
    );
}

/// `cromulent send --file` uploads each file (streamed from disk) and sends them with
/// the message, files alone if the text is empty; `history` lists them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_attaches_files_with_the_real_binary() {
    if !inside("send_attaches_files_with_the_real_binary", &["keyctl", "session", "-"]) {
        return;
    }
    let (server, bob, cli) = bob_and_ada_on_the_cli().await;

    let files = TempDir::new();
    let notes = files.path().join("notes.txt");
    let data = files.path().join("data.bin");
    std::fs::write(&notes, "agenda\n").expect("write");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&data, &bytes).expect("write");
    let (notes_arg, data_arg) = (notes.to_string_lossy(), data.to_string_lossy());
    let sent = cli.run(&["send", "general", "", "--file", &notes_arg, "--file", &data_arg], "").await;
    assert!(sent.status.success(), "send --file works: {}", text(&sent.stderr));

    let bob_client = client_for(&server, &bob).await;
    let channels = bob_client.channels().await.expect("channels");
    let general = channels.iter().find(|c| c.channel.name == "general").expect("#general").channel.id;
    let latest = bob_client.messages(general, &ListMessagesQuery::default()).await.expect("history");
    let message = &latest[0];
    assert_eq!(text(&sent.stdout).trim(), message.id.to_string(), "send prints the new message's id");
    assert_eq!(message.body, "", "files alone make a message");
    let names: Vec<&str> = message.attachments.iter().map(|a| a.filename.as_str()).collect();
    assert_eq!(names, ["notes.txt", "data.bin"], "both files, in the order given");
    assert_eq!(message.attachments[1].size, bytes.len() as u64, "the whole file arrived");
    let token = bob_client.tokens().expect("logged in").access_token().await.expect("token");
    let url = format!("{}{}", server.base, message.attachments[1].url);
    let got = reqwest::Client::new().get(&url).bearer_auth(token.expose()).send().await.expect("GET");
    assert_eq!(got.bytes().await.expect("body").as_ref(), &bytes[..], "bob downloads the bytes ada sent");

    let history = cli.run(&["history", "general", "--limit", "1"], "").await;
    let out = text(&history.stdout);
    assert!(out.contains("file: notes.txt (7 bytes)"), "history lists the files: {out}");

    let missing = files.path().join("nope.txt");
    let refused = cli.run(&["send", "general", "x", "--file", &missing.to_string_lossy()], "").await;
    assert!(!refused.status.success(), "a missing file fails before anything is sent");
    assert!(
        text(&refused.stderr).contains("nope.txt"),
        "the error names the file: {}",
        text(&refused.stderr)
    );
}

/// `cromulent search` finds a message by a word with the real binary: text with the
/// match marked, `--channel` narrowing it, `--json` hits, and a private channel one is
/// not in staying out of the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_messages_with_the_real_binary() {
    if !inside("search_finds_messages_with_the_real_binary", &["keyctl", "session", "-"]) {
        return;
    }
    let (server, bob, cli) = bob_and_ada_on_the_cli().await;

    let bob_client = client_for(&server, &bob).await;
    let channels = bob_client.channels().await.expect("channels");
    let id_of = |name: &str| channels.iter().find(|c| c.channel.name == name).expect("channel").channel.id;
    let in_general =
        bob_client.send_message(id_of("general"), "the quarterly report is ready").await.expect("send");
    let in_random =
        bob_client.send_message(id_of("random"), "quarterly party on friday").await.expect("send");
    // A direct message between bob and carol: not even an admin like ada reads it.
    let carol = server.user("carol").await;
    let token = bob_client.tokens().expect("logged in").access_token().await.expect("token");
    let opened = reqwest::Client::new()
        .post(format!("{}/api/dms", server.base))
        .bearer_auth(token.expose())
        .json(&serde_json::json!({ "user_ids": [carol.id] }))
        .send()
        .await
        .expect("POST /api/dms");
    assert!(opened.status().is_success(), "bob opens a direct message: {}", opened.status());
    let conversation: serde_json::Value = opened.json().await.expect("a direct message");
    let dm_id: cromulent_protocol::Id =
        serde_json::from_value(conversation["channel"]["id"].clone()).expect("id");
    bob_client.send_message(dm_id, "quarterly secrets").await.expect("send");

    let found = cli.run(&["search", "quarterly"], "").await;
    assert!(found.status.success(), "search works: {}", text(&found.stderr));
    let out = text(&found.stdout);
    assert!(out.contains(&format!("#general <bob> id {}", in_general.id)), "where, who and the id: {out}");
    assert!(out.contains("the **quarterly** report is ready"), "the matching word is marked: {out}");
    assert!(out.contains(&format!("id {}", in_random.id)), "every channel is searched: {out}");
    assert!(!out.contains("secrets"), "someone else's direct message stays hidden: {out}");

    let narrowed = cli.run(&["search", "quart", "--channel", "#random", "--json"], "").await;
    assert!(narrowed.status.success(), "search --channel works: {}", text(&narrowed.stderr));
    let lines: Vec<serde_json::Value> = text(&narrowed.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("--json prints JSON hits"))
        .collect();
    assert_eq!(lines.len(), 1, "one hit in #random: {lines:?}");
    assert_eq!(lines[0]["message"]["id"], in_random.id.to_string());

    let empty = cli.run(&["search", "--", "--"], "").await;
    assert!(!empty.status.success(), "a query without words is refused");
    assert!(text(&empty.stderr).contains("word"), "the error says why: {}", text(&empty.stderr));
}
