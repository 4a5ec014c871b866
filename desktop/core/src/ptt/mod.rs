//! Push-to-talk key sources: where "the talk key went down / came up" comes from.
//!
//! One [`PttSource`] runs at a time, picked at run time by [`choice::choose`] from
//! the platform and desktop session, and the reason for the pick is kept so settings
//! can show it:
//! - `portal` (Linux): the XDG GlobalShortcuts portal over the session D-Bus, preferred on
//!   Wayland desktops that offer it: the desktop owns the key (the user confirms or
//!   changes it in the desktop's dialog) and reports only our shortcut's press/release;
//! - [`global`]: rdev's global listener (X11 via XRecord, Windows via a low-level hook,
//!   macOS via an event tap that needs the Input Monitoring permission);
//! - `evdev` (Linux): the kernel's input devices, for Wayland desktops without a
//!   GlobalShortcuts portal, opt-in and only for users in the `input` group;
//! - [`command`]: a Unix socket in `$XDG_RUNTIME_DIR` fed by `cromulent ptt down|up`,
//!   for Wayland desktops where nothing else can see keys (users bind the command to
//!   a key in their compositor).
//!
//! Every source only *reports* the key; whether the microphone opens is the voice
//! engine's decision, where mute always wins. The window adds its own in-window key
//! handling whenever it has focus, so a source that misses keys still works there.

pub mod choice;
pub mod command;
#[cfg(target_os = "linux")]
pub mod evdev;
mod filter;
pub mod global;
pub mod key;
#[cfg(target_os = "linux")]
pub mod portal;

use std::sync::Arc;

pub use choice::{choose, Backend, Choice, Environment};
pub use key::PttKey;

/// What a source reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PttEvent {
    /// The push-to-talk key went down (repeats while held are not reported).
    Down,
    /// The push-to-talk key came up.
    Up,
    /// While capturing, this key or button was pressed and is now the push-to-talk key.
    Captured(PttKey),
}

/// Where a source delivers its events; called from the source's own thread.
pub type PttSink = Arc<dyn Fn(PttEvent) + Send + Sync>;

/// A running key source. Dropping it stops reporting.
pub trait PttSource: Send + Sync {
    /// Which backend this is.
    fn backend(&self) -> Backend;
    /// Changes the key it listens for.
    fn set_key(&self, key: PttKey);
    /// The next key or button pressed becomes the key and is reported as
    /// [`PttEvent::Captured`]. Returns false when this backend cannot capture (the
    /// window then captures in-window).
    fn capture_next(&self) -> bool;
}

/// Why a source could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PttError {
    /// The global listener could not attach (no X display, no permission). Not retryable
    /// without a change to the environment.
    #[error("the global key listener could not start: {0}")]
    Listener(String),
    /// The local command socket could not be bound or reached. Retryable once the path
    /// is free / the app runs.
    #[error("push-to-talk socket {path}: {source}")]
    Socket {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The GlobalShortcuts portal failed a step (no session bus, no portal, the user
    /// dismissed its dialog). Retryable by starting again.
    #[error("GlobalShortcuts portal, {step}: {reason}")]
    Portal { step: &'static str, reason: String },
    /// This backend is chosen by the logic but not built into this version.
    #[error("the {0:?} push-to-talk backend is not available in this build")]
    Unavailable(Backend),
}

/// Starts the source `choice` names (the global listener on a thread of its own; macOS
/// callers use [`global::GlobalListener::start_with`] to run it on the main thread).
pub async fn start(choice: &Choice, key: PttKey, sink: PttSink) -> Result<Box<dyn PttSource>, PttError> {
    match choice.backend {
        Backend::Global => Ok(Box::new(global::GlobalListener::start(key, sink)?)),
        Backend::Command => {
            Ok(Box::new(command::CommandListener::bind(&command::socket_path(), sink).await?))
        }
        #[cfg(target_os = "linux")]
        Backend::Evdev => Ok(Box::new(evdev::EvdevListener::start(key, sink)?)),
        #[cfg(target_os = "linux")]
        Backend::Portal => Ok(Box::new(portal::PortalListener::start(key, sink).await?)),
        // Linux builds every backend; elsewhere evdev and the portal do not exist.
        #[cfg(not(target_os = "linux"))]
        other => Err(PttError::Unavailable(other)),
    }
}
