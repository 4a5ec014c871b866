//! The UI bridge's TypeScript in `desktop-ui/src/generated/bridge/` must match the Rust
//! side: the payload and command types (ts-rs) and the event names (`bridge.rs`). Run
//! with `--features ts`; set `CROMULENT_UPDATE_GENERATED=1` to rewrite them.
#![cfg(feature = "ts")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cromulent_client::account::Config;
use cromulent_client::api::{ApiCall, CallFailure};
use cromulent_desktop::bridge::{self, LinkStatus, PttStatus};
use cromulent_desktop::voice::VoiceSnapshot;
use ts_rs::TS;

/// The folder under `desktop-ui/src/generated/` the bridge owns; the protocol's files
/// sit beside it and are checked by the protocol's own test.
const BRIDGE: &str = "bridge";

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../desktop-ui/src/generated").join(BRIDGE)
}

/// Every `.ts` file under `dir`, by path relative to it.
fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, files);
            } else if path.extension().is_some_and(|e| e == "ts") {
                let name = path.strip_prefix(root).expect("under root").to_string_lossy().into_owned();
                files.insert(name, std::fs::read_to_string(&path).expect("readable"));
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

#[test]
fn generated_bridge_typescript_matches_the_rust_side() {
    let out = std::env::temp_dir().join(format!("cromulent-bridge-ts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    // As for the protocol: ids are strings, timestamps plain numbers.
    let cfg = ts_rs::Config::new().with_large_int("number").with_out_dir(&out);
    macro_rules! all {
        ($($t:ty),* $(,)?) => { $( <$t>::export_all(&cfg).expect(concat!("export ", stringify!($t))); )* };
    }
    // The command arguments and answers, and the event payloads (with what they use).
    all!(ApiCall, CallFailure, Config, VoiceSnapshot, PttStatus, LinkStatus);
    let mut fresh = read_dir(&out.join(BRIDGE));
    fresh.insert("events.ts".into(), bridge::typescript(&cfg));
    let _ = std::fs::remove_dir_all(&out);

    let target = target_dir();
    if std::env::var_os("CROMULENT_UPDATE_GENERATED").is_some() {
        let _ = std::fs::remove_dir_all(&target);
        for (name, text) in &fresh {
            let path = target.join(name);
            std::fs::create_dir_all(path.parent().expect("inside target")).expect("create dir");
            std::fs::write(path, text).expect("write");
        }
    }
    let committed = read_dir(&target);
    let stale: Vec<&String> = fresh.keys().filter(|k| committed.get(*k) != fresh.get(*k)).collect();
    let extra: Vec<&String> = committed.keys().filter(|k| !fresh.contains_key(*k)).collect();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "desktop-ui/src/generated/bridge is stale (changed: {stale:?}, no longer generated: {extra:?}); \
         regenerate with CROMULENT_UPDATE_GENERATED=1 cargo test -p cromulent-desktop --features ts --test typescript"
    );
}
