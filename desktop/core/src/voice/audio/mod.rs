//! The native audio pipeline: microphone to Opus frames, Opus frames to speaker.
//!
//! Two halves, each on its own named `std::thread` (never on tokio):
//!
//! - [`Capture`]: input backend → [`resample`] to 48 kHz mono → [`acoustic`] processing
//!   (high-pass, echo cancellation against what playback played, gain control; each
//!   switchable) → [`denoise`] (RNNoise, switchable) → [`meter`] (level in dBFS, voice activity with hangover) → gate
//!   (push-to-talk or voice activation; mute always wins) → [`codec`] (Opus, 20 ms,
//!   in-band FEC) → [`EncodedFrame`]s, read by the async side from [`CaptureFrames`]
//!   (a [`frame_queue`] that drops the oldest frame when the async side falls behind).
//! - [`Playback`]: per remote peer a [`PeerSink`] that takes RTP payloads from the
//!   async side → [`jitter`] buffer (adaptive depth, reorder, late drop) → Opus decode
//!   (FEC of the next packet when one is missing, PLC when nothing is there) →
//!   per-user volume → [`mixer`] (sum with soft clipping) → deafen → resample to the
//!   device rate → output backend. What it plays goes to capture too, through the
//!   [`far_end`] ring, as the echo canceller's reference; [`start_duplex`] starts the two
//!   halves linked that way.
//!
//! Backends sit behind [`backend::AudioInput`] / [`backend::AudioOutput`]: cpal devices
//! for people, WAV files and silence for tests and bots, which need no sound card; for
//! echo tests a simulated room feeds the output back into the input.
//! cpal callbacks only copy samples through preallocated `rtrb` ring buffers.
//! [`analysis`] holds tone generation and frequency checks that tests reuse.

pub mod acoustic;
pub mod analysis;
pub mod backend;
mod capture;
pub mod codec;
mod config;
pub mod denoise;
mod duplex;
mod error;
mod far_end;
mod frame_queue;
pub mod jitter;
pub mod meter;
pub mod mixer;
mod pacer;
mod playback;
pub mod resample;

pub use backend::{list_devices, DeviceInfo, Devices};
pub use capture::{Capture, CaptureFrames, CaptureProcessor, EncodedFrame, GateInputs};
pub use config::{AudioConfig, EchoSim, EchoSimParseError, InputChoice, OutputChoice, TransmitMode};
pub use duplex::start_duplex;
pub use error::AudioError;
pub use frame_queue::{frame_queue, FrameReceiver, FrameSender, Pushed};
pub use playback::{PeerSink, PeerStats, Playback};

use std::time::Duration;

/// The pipeline's internal sample rate: what Opus and WebRTC use for voice.
/// Locks state a pipeline handle shares with its thread. Every holder only swaps a value
/// in or out, so a lock poisoned by a panic still holds a whole one.
pub(crate) fn locked<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub const SAMPLE_RATE: u32 = 48_000;
/// Samples in one 20 ms Opus frame at [`SAMPLE_RATE`] (mono).
pub const FRAME_SAMPLES: usize = 960;
/// Duration of one Opus frame.
pub const FRAME_DURATION: Duration = Duration::from_millis(20);
