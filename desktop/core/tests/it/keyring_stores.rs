//! The refresh-token store on real keyrings: a headless Secret Service (gnome-keyring in
//! a private D-Bus session), the kernel keyring in its own session keyring, and the
//! refusal when neither is there; and the account store's automatic login over one.
//!
//! Each test re-runs itself inside the environment it needs (`dbus-run-session`,
//! `keyctl session -`), so a plain `cargo test` works without any setup and never
//! touches the user's real keyrings.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use cromulent_client::account::Accounts;
use cromulent_client::tokens::{Backend, Secret, StoreError, TokenKey, TokenStore};

/// Runs `test` again in a child started by `wrapper` with `env`; true in that child.
fn inside(test: &str, wrapper: &[&str], env: &[(&str, String)]) -> bool {
    cromulent_testkit::reexec::inside(module_path!(), test, wrapper, env)
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("cromulent-{name}-{}-{:x}", std::process::id(), rand_u32()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        // gnome-keyring refuses a runtime dir others can read.
        let _ = Command::new("chmod").arg("700").arg(&dir).status();
        TempDir(dir)
    }

    fn path(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_u32() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
}

/// Store, load, replace, delete: what the client does over a login's life.
fn round_trip(store: &TokenStore) {
    let key = TokenKey {
        server: format!("http://127.0.0.1:{}", 1000 + rand_u32() % 60000),
        account: "ada@example.test".into(),
    };
    assert!(store.load(&key).expect("load").is_none(), "nothing stored yet");
    store.store(&key, &Secret::from("first-token")).expect("store");
    assert_eq!(store.load(&key).expect("load").as_ref().map(|s| s.expose().as_str()), Some("first-token"));
    store.store(&key, &Secret::from("rotated-token")).expect("replace");
    assert_eq!(
        store.load(&key).expect("load").as_ref().map(|s| s.expose().as_str()),
        Some("rotated-token"),
        "a rotated token replaces the old one under the same key"
    );
    let other = TokenKey { account: "bob@example.test".into(), ..key.clone() };
    assert!(store.load(&other).expect("load").is_none(), "entries are per account");
    assert!(store.delete(&key).expect("delete"), "there was a token to delete");
    assert!(store.load(&key).expect("load").is_none(), "deleted means gone");
    assert!(!store.delete(&key).expect("delete again"), "deleting twice is not an error");
}

#[test]
fn secret_service_in_a_private_dbus_session() {
    let home = TempDir::new("keyring-home");
    let env = [
        ("HOME", home.path()),
        ("XDG_RUNTIME_DIR", home.path()),
        ("XDG_DATA_HOME", format!("{}/data", home.path())),
        ("XDG_CONFIG_HOME", format!("{}/config", home.path())),
    ];
    if !inside("secret_service_in_a_private_dbus_session", &["dbus-run-session", "--"], &env) {
        return;
    }
    // Unlocked through stdin: without a password it would wait for a prompt nobody sees.
    let mut daemon = Command::new("gnome-keyring-daemon")
        .args(["--daemonize", "--unlock", "--components=secrets"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("gnome-keyring-daemon is installed (scripts/lib.sh installs it)");
    {
        use std::io::Write;
        let mut stdin = daemon.stdin.take().expect("stdin");
        stdin.write_all(b"test-pass").expect("password");
    }
    assert!(daemon.wait().expect("daemon starts").success(), "gnome-keyring-daemon started");
    let store =
        TokenStore::open(&[Backend::SecretService]).expect("the unlocked Secret Service passes the probe");
    assert_eq!(store.backend(), Backend::SecretService);
    assert_eq!(store.backend().caveat(), None, "the Secret Service persists: nothing to warn about");
    round_trip(&store);
    let auto = TokenStore::open_default().expect("auto picks a store");
    assert_eq!(auto.backend(), Backend::SecretService, "the Secret Service comes first when it works");
}

#[test]
fn kernel_keyring_in_its_own_session() {
    if !inside("kernel_keyring_in_its_own_session", &["keyctl", "session", "-"], &[]) {
        return;
    }
    let store = TokenStore::open(&[Backend::KernelKeyutils]).expect("keyutils works in a session keyring");
    assert!(store.backend().caveat().is_some(), "the user is told the token lasts only for the session");
    round_trip(&store);
}

#[test]
fn no_secure_store_is_a_typed_refusal() {
    let empty = TempDir::new("keyring-nobus");
    let env = [
        ("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}/no-bus-here", empty.path())),
        ("XDG_RUNTIME_DIR", empty.path()),
    ];
    if !inside("no_secure_store_is_a_typed_refusal", &["env"], &env) {
        return;
    }
    match TokenStore::open(&[Backend::SecretService]) {
        Err(StoreError::NoSecureStore { tried }) => {
            assert_eq!(tried.len(), 1, "the one store asked for was tried");
            assert_eq!(tried[0].0, Backend::SecretService);
            let message = StoreError::NoSecureStore { tried }.to_string();
            assert!(message.contains("log in each time"), "the refusal says what to do: {message}");
        }
        Err(other) => panic!("expected NoSecureStore, got {other}"),
        Ok(store) => panic!("no bus, yet a store was opened: {store:?}"),
    }
}

/// A server that refuses every request as a revoked login would: 401 `invalid_token`.
async fn refusing_server() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
    let address = format!("http://{}", listener.local_addr().expect("bound"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                // The request's head and body: enough to answer after it, not parsed.
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = socket.read(&mut buf).await {
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request);
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().to_owned())
                            })
                            .and_then(|v| v.parse::<usize>().ok())
                            .unwrap_or(0);
                        if body.len() >= length {
                            break;
                        }
                    }
                }
                let body = r#"{"code":"invalid_token","message":"this login was revoked"}"#;
                let answer = format!(
                    "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    address
}

#[test]
fn automatic_login_keeps_a_token_it_cannot_check_and_forgets_a_revoked_one() {
    if !inside(
        "automatic_login_keeps_a_token_it_cannot_check_and_forgets_a_revoked_one",
        &["keyctl", "session", "-"],
        &[],
    ) {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let store = TokenStore::open(&[Backend::KernelKeyutils]).expect("keyutils works in a session keyring");
        let home = TempDir::new("accounts");
        for (server, why) in [
            // Port 1: nothing listens, so nobody can say whether the token is still good.
            ("http://127.0.0.1:1".to_owned(), "unreachable"),
            (refusing_server().await, "revoked"),
        ] {
            let config = home.0.join(format!("{why}.json"));
            let json = format!(r#"{{"servers":["{server}"],"current":"{server}","accounts":{{"{server}":"ada@example.test"}}}}"#);
            std::fs::write(&config, json).expect("write the config");
            let key = TokenKey { server: server.clone(), account: "ada@example.test".into() };
            store.store(&key, &Secret::from("stored-refresh-token")).expect("store");
            let accounts = Accounts::with_keyrings(config, "test rig".into(), &[Backend::KernelKeyutils]);
            let resumed = accounts.resume(&format!("{server}/")).await;
            let kept = store.load(&key).expect("load").is_some();
            match why {
                "unreachable" => {
                    assert!(resumed.is_err(), "an unreachable server is an error the UI shows, not a logout");
                    assert!(kept, "a token nobody refused stays for the next start");
                }
                _ => {
                    assert!(resumed.expect("a refused login is no error").is_none(), "the user must log in again");
                    assert!(!kept, "the revoked token is deleted from the keyring");
                }
            }
            let _ = store.delete(&key);
        }
    });
}
