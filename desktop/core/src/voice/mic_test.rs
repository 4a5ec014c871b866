//! The mic test: a person hears themselves through the whole capture path (echo
//! cancellation, gain control, noise suppression, Opus) and back out of their speaker,
//! outside any room, while the settings show the level for a meter.

use std::thread::JoinHandle;

use super::audio::{start_duplex, AudioConfig, AudioError, Capture, Playback};

/// The playback key of the looped-back microphone.
const SELF: &str = "mic-test";
const THREAD_NAME: &str = "cromulent-mic-test";

/// A running mic test; [`MicTest::stop`] ends it (dropping it does too, less politely).
pub(super) struct MicTest {
    pub(super) capture: Capture,
    pub(super) playback: Playback,
    loopback: JoinHandle<()>,
}

impl MicTest {
    /// Opens the configured devices, linked like a call's (so the echo canceller hears
    /// the speaker), with the gate held open: every frame comes back.
    pub(super) fn start(audio: &AudioConfig) -> Result<Self, AudioError> {
        let (playback, capture, mut frames) = start_duplex(audio)?;
        capture.set_transmit(true);
        let sink = playback.add_peer(SELF);
        let loopback = std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || {
                let (mut sequence, mut timestamp) = (0_u16, 0_u32);
                // Ends when capture stops and its frame queue closes.
                while let Some(frame) = frames.blocking_recv() {
                    sink.push(sequence, timestamp, &frame.payload);
                    sequence = sequence.wrapping_add(1);
                    timestamp = timestamp.wrapping_add(frame.samples);
                }
            })
            .map_err(|source| AudioError::Thread { name: THREAD_NAME, source })?;
        Ok(Self { capture, playback, loopback })
    }

    pub(super) fn stop(self) -> Result<(), AudioError> {
        let captured = self.capture.stop();
        let _ = self.loopback.join();
        let played = self.playback.finish();
        captured?;
        played
    }
}
