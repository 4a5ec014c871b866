//! The native voice engine: what the browser client does with `RTCPeerConnection` and
//! WebAudio, done in Rust so the desktop app (whose Linux webview has no WebRTC) and the
//! `cromulent` command can talk with browsers.
//!
//! - [`audio`]: capture and playback threads (devices or WAV files, Opus, jitter buffers).
//! - Two transports, signaled over the gateway: [`mesh`] (one WebRTC peer connection per
//!   remote participant) and [`sfu`] (one connection to the server's selective forwarding
//!   unit, carrying everyone). [`transport`] is all the engine knows of either; they share
//!   how a connection is built ([`connection`]), what it carries (`link`, [`rtp`] for our
//!   frames), its offer/answer steps (`negotiation`), the candidates' JSON ([`signal`])
//!   and their bounded inputs ([`inbox`]).
//! - `call`: one room's transports, chosen by `voice_joined.mode`, and the move between
//!   them on `voice_mode_changed` — both run for a moment, `paths` lets each participant
//!   be heard on exactly one, `switch` says when the old one closes, `roster` knows who
//!   is in the room.
//! - [`VoiceEngine`] (`engine`): owns the audio pipelines and the call for one voice room,
//!   tells the server (`ptt_state`, `set_mute`, `set_deafen`) and keeps a [`VoiceState`]
//!   for the UI (`state`). Beside it: `controls` (what the person set, and the one rule
//!   for the microphone gate), `transmit` (capture to the transports) and `remote`
//!   (playback's side of the remote tracks).
//! - [`removal`]: when the server took us out of the room (access lost, channel deleted);
//!   the engine then hangs up by itself and says why.
//!
//! The engine never touches the gateway itself: it is given a function that sends
//! `ClientFrame`s and is fed every `ServerFrame`. Audio runs on the audio module's own
//! threads; the engine's async parts (transports, frame forwarding) run on the caller's
//! tokio runtime. The handle is `Clone + Send + Sync`, so a UI can keep one and call it
//! from anywhere. Every queue on the media path is bounded and drops its oldest audio when
//! full; signaling is bounded and refused loudly (see `inbox`).

pub mod audio;
mod call;
pub mod connection;
mod controls;
mod engine;
mod inbox;
mod link;
pub mod mesh;
mod mic_test;
mod negotiation;
mod paths;
mod remote;
pub mod removal;
mod roster;
pub mod rtp;
pub mod sfu;
pub mod signal;
pub mod sound;
mod state;
mod switch;
mod transmit;
pub mod transport;

pub use controls::PttMode;
pub use engine::{EngineConfig, VoiceEngine, VoiceError};
pub use removal::Removal;
pub use state::{PeerView, VoiceState};
