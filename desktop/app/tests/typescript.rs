//! The UI bridge's TypeScript in `desktop-ui/src/generated/bridge/` must match the Rust
//! side: the payload and command types (ts-rs) and the event names (`bridge.rs`). Run
//! with `--features ts`; set `CROMULENT_UPDATE_GENERATED=1` to rewrite them.
#![cfg(feature = "ts")]

use std::path::{Path, PathBuf};

use cromulent_client::account::Config;
use cromulent_client::api::{ApiCall, CallFailure};
use cromulent_client::voice::sound::{SoundDevices, SoundSettings};
use cromulent_desktop::attachments::PickedFile;
use cromulent_desktop::bridge::{self, LinkStatus, PttStatus};
use cromulent_desktop::updates::UpdateOffer;
use cromulent_desktop::voice::{SoundStatus, VoiceSnapshot};
use cromulent_protocol::typescript;
use ts_rs::TS;

/// The folder under `desktop-ui/src/generated/` the bridge owns; the protocol's files
/// sit beside it and are checked by the protocol's own test.
const BRIDGE: &str = "bridge";

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../desktop-ui/src/generated").join(BRIDGE)
}

#[test]
fn generated_bridge_typescript_matches_the_rust_side() {
    let out = std::env::temp_dir().join(format!("cromulent-bridge-ts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let cfg = typescript::config(&out);
    macro_rules! all {
        ($($t:ty),* $(,)?) => { $( <$t>::export_all(&cfg).expect(concat!("export ", stringify!($t))); )* };
    }
    // The command arguments and answers, and the event payloads (with what they use).
    all!(
        ApiCall,
        CallFailure,
        Config,
        VoiceSnapshot,
        PttStatus,
        LinkStatus,
        PickedFile,
        UpdateOffer,
        SoundSettings,
        SoundDevices,
        SoundStatus,
    );
    let mut fresh = typescript::read_dir(&out.join(BRIDGE), &[]);
    fresh.insert("events.ts".into(), bridge::typescript(&cfg));
    let _ = std::fs::remove_dir_all(&out);
    typescript::check_or_update(
        &target_dir(),
        &fresh,
        &[],
        "cargo test -p cromulent-desktop --features ts --test typescript",
    );
}
