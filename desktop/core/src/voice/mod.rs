//! The native voice engine: what the browser client does with `RTCPeerConnection` and
//! WebAudio, done in Rust so the desktop app (whose Linux webview has no WebRTC) and the
//! `cromulent` command can talk with browsers.
//!
//! - [`audio`]: capture and playback threads (devices or WAV files, Opus, jitter buffers).
//! - [`mesh`]: one WebRTC peer connection per remote participant, signaled over the gateway;
//!   [`transport`] is all the engine knows of it, so a selective forwarding connection
//!   can replace it; [`rtp`] numbers our frames for either.
//! - [`VoiceEngine`] (`engine`): owns both for one voice room, tells the server
//!   (`ptt_state`, `set_mute`, `set_deafen`) and keeps a [`VoiceState`] for the UI (`state`).
//!   Beside it: `controls` (what the person set, and the one rule for the microphone gate),
//!   `transmit` (capture to the transport) and `remote` (remote tracks to playback).
//! - [`removal`]: when the server took us out of the room (access lost, channel deleted);
//!   the engine then hangs up by itself and says why.
//!
//! The engine never touches the gateway itself: it is given a function that sends
//! `ClientFrame`s and is fed every `ServerFrame`. Audio runs on the audio module's own
//! threads; the engine's async parts (mesh, frame forwarding) run on the caller's tokio
//! runtime. The handle is `Clone + Send + Sync`, so a UI can keep one and call it from
//! anywhere. Every queue on the media path is bounded and drops its oldest audio when
//! full; signaling is bounded and refused loudly (see `mesh`'s inbox).

pub mod audio;
mod controls;
mod engine;
pub mod mesh;
mod remote;
pub mod removal;
pub mod rtp;
mod state;
mod transmit;
pub mod transport;

pub use controls::PttMode;
pub use engine::{EngineConfig, VoiceEngine, VoiceError};
pub use removal::Removal;
pub use state::{PeerView, VoiceState};
