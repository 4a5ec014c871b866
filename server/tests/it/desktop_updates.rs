//! Desktop updates: `release add` and the updater endpoint, answered as the Tauri updater
//! expects. Releases are files under DATA_DIR, not rows, so these run on SQLite only.

use std::path::Path;

use base64::Engine;
use cromulent_protocol::ErrorCode;
use cromulent_server::releases::{AddError, Releases};
use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{Database, TempDir, TestServer};

const BUNDLE: &[u8] = b"\x7fELF pretend AppImage, 0123456789";

/// A signature shaped as the Tauri signer writes it (base64 of minisign's four lines),
/// bound to `version`. The server checks shape and version only; the app checks the
/// cryptography (scripts/test-desktop.sh).
fn signature(version: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let text = format!(
        "untrusted comment: signature from tauri secret key\n{}\ntrusted comment: timestamp:1796676422\tfile:app.AppImage\tversion:{version}\n{}\n",
        b64.encode([7u8; 74]),
        b64.encode([9u8; 64]),
    );
    b64.encode(text)
}

/// A release folder as an admin prepares it; `sig` is written unless `None`.
fn release_dir(version: &str, target: &str, sig: Option<String>) -> TempDir {
    let dir = TempDir::new();
    let manifest = json!({
        "version": version, "target": target, "arch": "x86_64",
        "notes": format!("What is new in {version}"), "bundle": "Cromulent.AppImage",
    });
    std::fs::write(dir.0.join("release.json"), manifest.to_string()).expect("manifest");
    std::fs::write(dir.0.join("Cromulent.AppImage"), BUNDLE).expect("bundle");
    if let Some(sig) = sig {
        std::fs::write(dir.0.join("Cromulent.AppImage.sig"), sig).expect("signature");
    }
    dir
}

fn add(data_dir: &Path, version: &str) {
    let dir = release_dir(version, "linux", Some(signature(version)));
    Releases::new(data_dir).add(&dir.0, 1_796_676_422_000).expect("a complete release installs");
}

async fn get(server: &TestServer, path: &str) -> reqwest::Response {
    server.http.get(server.url(path)).send().await.expect("request reaches the server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_newer_release_is_offered_and_never_an_older_one() {
    let server = TestServer::start(Database::Sqlite).await;
    let data = server.state.config.data_dir.clone();
    let none = get(&server, "/api/desktop/updates/linux/x86_64/0.1.0").await;
    assert_eq!(none.status(), StatusCode::NO_CONTENT, "nothing installed: nothing to offer");
    add(&data, "0.2.0");
    add(&data, "0.3.0");
    add(&data, "0.1.5");

    let offer = get(&server, "/api/desktop/updates/linux/x86_64/0.1.0").await;
    assert_eq!(offer.status(), StatusCode::OK);
    let offer: Value = offer.json().await.expect("updater JSON");
    assert_eq!(offer["version"], "0.3.0", "the newest release, not merely a newer one: {offer}");
    assert_eq!(offer["notes"], "What is new in 0.3.0");
    assert_eq!(
        offer["pub_date"], "2026-12-07T20:47:02Z",
        "the time of release add when the manifest has none"
    );
    assert_eq!(
        offer["signature"],
        signature("0.3.0"),
        "the .sig file's contents, as the updater verifies them"
    );
    let url = offer["url"].as_str().expect("url");
    assert_eq!(url, format!("{}/api/desktop/releases/linux/x86_64/0.3.0/Cromulent.AppImage", server.base));

    for current in ["0.3.0", "0.4.0", "1.0.0-beta.1"] {
        let same = get(&server, &format!("/api/desktop/updates/linux/x86_64/{current}")).await;
        assert_eq!(
            same.status(),
            StatusCode::NO_CONTENT,
            "{current}: never offer the same or an older version"
        );
    }
    let other = get(&server, "/api/desktop/updates/windows/x86_64/0.1.0").await;
    assert_eq!(other.status(), StatusCode::NO_CONTENT, "a target with no releases here stays as it is");
    let other = get(&server, "/api/desktop/updates/linux/aarch64/0.1.0").await;
    assert_eq!(other.status(), StatusCode::NO_CONTENT, "releases are per arch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_that_could_leave_the_releases_folder_are_malformed() {
    let server = TestServer::start(Database::Sqlite).await;
    add(&server.state.config.data_dir, "0.2.0");
    // Encoded slashes survive the client's path normalization and reach the handler whole.
    for path in [
        "/api/desktop/updates/linux/x86_64/..%2F..%2Fsecret",
        "/api/desktop/updates/..%2Flinux/x86_64/0.1.0",
        "/api/desktop/updates/linux/x86%2F64/0.1.0",
        "/api/desktop/updates/linux/x86_64/v0.1.0",
        "/api/desktop/releases/linux/x86_64/..%2F0.2.0/Cromulent.AppImage",
    ] {
        let reply = server.anonymous(Method::GET, path, None).await;
        reply.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
    }
    for path in [
        "/api/desktop/releases/linux/x86_64/0.2.0/release.json",
        "/api/desktop/releases/linux/x86_64/0.2.0/Cromulent.AppImage.sig",
        "/api/desktop/releases/linux/x86_64/0.2.0/..%2F..%2F..%2Fcromulent.db",
        "/api/desktop/releases/linux/x86_64/0.9.0/Cromulent.AppImage",
    ] {
        let reply = server.anonymous(Method::GET, path, None).await;
        reply.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_are_served_whole_and_in_ranges() {
    let server = TestServer::start(Database::Sqlite).await;
    add(&server.state.config.data_dir, "0.2.0");
    let path = "/api/desktop/releases/linux/x86_64/0.2.0/Cromulent.AppImage";
    let whole = get(&server, path).await;
    assert_eq!(whole.status(), StatusCode::OK);
    let kind = whole.headers()[CONTENT_TYPE].to_str().expect("type").to_owned();
    assert_eq!(kind, "application/octet-stream", "a binary, never something a browser would render");
    assert_eq!(whole.bytes().await.expect("body").as_ref(), BUNDLE);

    let part = server.http.get(server.url(path)).header(RANGE, "bytes=5-12").send().await.expect("range");
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT, "an interrupted download resumes");
    let range = part.headers()[CONTENT_RANGE].to_str().expect("range").to_owned();
    assert_eq!(range, format!("bytes 5-12/{}", BUNDLE.len()));
    assert_eq!(part.bytes().await.expect("body").as_ref(), &BUNDLE[5..=12]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_update_url_sends_the_updater_elsewhere() {
    let elsewhere = "https://updates.example.test/cromulent/{{target}}/{{arch}}/{{current_version}}";
    let server =
        TestServer::start_with(Database::Sqlite, |c| c.desktop_update_url = Some(elsewhere.into())).await;
    add(&server.state.config.data_dir, "0.2.0");
    let http =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let reply =
        http.get(server.url("/api/desktop/updates/linux/x86_64/0.1.0+local")).send().await.expect("reply");
    assert_eq!(
        reply.status(),
        StatusCode::TEMPORARY_REDIRECT,
        "the community's own choice wins over local releases"
    );
    assert_eq!(
        reply.headers()[LOCATION].to_str().expect("location"),
        "https://updates.example.test/cromulent/linux/x86_64/0.1.0%2Blocal",
        "the same variables the updater fills in, the version encoded as it encodes it"
    );
}

#[test]
fn release_add_refuses_incomplete_or_malformed_releases_and_installs_nothing() {
    let data = TempDir::new();
    let releases = Releases::new(&data.0);
    type IsExpected = fn(&AddError) -> bool;
    let cases: [(TempDir, IsExpected); 5] = [
        (release_dir("0.2.0", "linux", None), |e| matches!(e, AddError::MissingSignature(_))),
        (release_dir("0.2", "linux", Some(signature("0.2"))), |e| matches!(e, AddError::Name(_))),
        (release_dir("0.2.0", "../linux", Some(signature("0.2.0"))), |e| matches!(e, AddError::Name(_))),
        (release_dir("0.2.0", "linux", Some("not a signature".into())), |e| {
            matches!(e, AddError::BadSignature { .. })
        }),
        (release_dir("0.2.0", "linux", Some(signature("0.1.0"))), |e| {
            matches!(e, AddError::SignedVersionMismatch { .. })
        }),
    ];
    for (dir, expected) in cases {
        let err = releases.add(&dir.0, 0).expect_err("an incomplete release is refused");
        assert!(expected(&err), "wrong refusal: {err}");
        assert!(releases.list().is_empty(), "a refused release leaves nothing behind ({err})");
    }
    let dir = release_dir("0.2.0", "linux", Some(signature("0.2.0")));
    releases.add(&dir.0, 0).expect("complete");
    let again = releases.add(&dir.0, 0).expect_err("the same version twice");
    assert!(matches!(again, AddError::AlreadyInstalled { .. }), "{again}");
    assert_eq!(releases.list(), vec![("linux".into(), "x86_64".into(), "0.2.0".into())]);
}

#[test]
fn the_release_add_command_says_what_is_missing() {
    let data = TempDir::new();
    let dir = release_dir("0.2.0", "linux", None);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cromulent-server"))
        .args(["release", "add"])
        .arg(&dir.0)
        .env("DATA_DIR", &data.0)
        .env_remove("DATABASE_URL")
        .output()
        .expect("the server binary runs");
    assert!(!out.status.success(), "a release without its signature must fail the command");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Cromulent.AppImage.sig is missing"), "the admin learns which file: {stderr}");
    assert!(!data.0.join("releases/linux").exists(), "nothing was installed");
}
