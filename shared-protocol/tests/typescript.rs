//! The TypeScript wire types in `desktop-ui/src/generated/` must match these Rust types.
//! Run with `--features ts`; set `CROMULENT_UPDATE_GENERATED=1` to rewrite them.
#![cfg(feature = "ts")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cromulent_protocol::{
    auth, channel, feature_flag, gateway, group, invite, message, notification, user, voice, ApiError,
};
use ts_rs::{Config, TS};

fn generated_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../desktop-ui/src/generated")
}

/// Every root type; `export_all` follows their dependencies.
fn export(cfg: &Config) {
    macro_rules! all {
        ($($t:ty),* $(,)?) => { $( <$t>::export_all(cfg).expect(concat!("export ", stringify!($t))); )* };
    }
    all!(
        gateway::ClientFrame,
        gateway::ServerFrame,
        ApiError,
        auth::RegisterRequest,
        auth::RegisterResponse,
        auth::ResendConfirmationRequest,
        auth::TokenRequest,
        auth::LoginRequest,
        auth::LoginResponse,
        auth::RefreshRequest,
        auth::RefreshResponse,
        auth::VerifyResponse,
        auth::SessionLoginRequest,
        auth::SessionLoginResponse,
        auth::ForgotPasswordRequest,
        auth::ResetPasswordRequest,
        auth::ChangePasswordRequest,
        auth::ChangeEmailRequest,
        auth::Accepted,
        auth::SessionInfo,
        user::UpdateProfileRequest,
        user::SetRoleRequest,
        user::CreateUserRequest,
        channel::CreateChannelRequest,
        channel::UpdateChannelRequest,
        channel::ChannelMember,
        channel::AckRequest,
        message::SendMessageRequest,
        message::EditMessageRequest,
        message::LinkPreview,
        group::CreateGroupRequest,
        group::UpdateGroupRequest,
        notification::Notification,
        feature_flag::UpdateFeatureFlagsRequest,
        invite::CreateInviteRequest,
        invite::CreatedInvite,
        invite::Invite,
        invite::RegistrationInfo,
        voice::IceServer,
        voice::IceServersResponse,
        voice::VoicePreferences,
        voice::UpdateVoicePreferencesRequest,
        voice::VoiceSettings,
        voice::UpdateVoiceSettingsRequest,
        voice::SelfTestReport,
    );
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
fn generated_typescript_matches_the_rust_types() {
    let out = std::env::temp_dir().join(format!("cromulent-ts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    // Ids are strings and timestamps plain numbers on the wire (milliseconds fit).
    let cfg = Config::new().with_large_int("number").with_out_dir(&out);
    export(&cfg);
    let fresh = read_dir(&out);
    let target = generated_dir();
    if std::env::var_os("CROMULENT_UPDATE_GENERATED").is_some() {
        let _ = std::fs::remove_dir_all(&target);
        std::fs::create_dir_all(&target).expect("create generated dir");
        for (name, text) in &fresh {
            let path = target.join(name);
            std::fs::create_dir_all(path.parent().expect("inside target")).expect("create dir");
            std::fs::write(path, text).expect("write");
        }
    }
    let committed = read_dir(&target);
    let _ = std::fs::remove_dir_all(&out);
    let stale: Vec<&String> = fresh.keys().filter(|k| committed.get(*k) != fresh.get(*k)).collect();
    let extra: Vec<&String> = committed.keys().filter(|k| !fresh.contains_key(*k)).collect();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "desktop-ui/src/generated is stale (changed: {stale:?}, no longer generated: {extra:?}); \
         regenerate with CROMULENT_UPDATE_GENERATED=1 cargo test -p cromulent-protocol --features ts"
    );
}
