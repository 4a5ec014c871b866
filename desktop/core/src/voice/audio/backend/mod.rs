//! Audio backends behind two traits: where samples come from and where they go.
//!
//! Both traits speak mono `f32` in [-1, 1] at the backend's own rate; the pipeline
//! resamples. A backend is opened on the audio thread that uses it (cpal streams are not
//! `Send` on every platform), so the traits need no `Send`.

mod device;
mod echo_sim;
mod file;

pub use device::{list_devices, DeviceInfo, Devices};
pub(crate) use echo_sim::{room, EchoSimInput, EchoSimOutput, RoomMicrophone, RoomSpeaker};

use super::config::{InputChoice, OutputChoice};
use super::AudioError;

/// A source of mono samples that blocks like a microphone: each call waits until some
/// audio is there.
pub trait AudioInput {
    /// The rate of the samples [`AudioInput::read`] returns.
    fn sample_rate(&self) -> u32;
    /// Fills the front of `buf` with the next samples, waiting at most a few milliseconds
    /// for them; returns how many were written (0 = none yet, call again).
    fn read(&mut self, buf: &mut [f32]) -> Result<usize, AudioError>;
    /// What was opened: a device's id, a file's path, "silence".
    fn label(&self) -> String;
    /// Samples the backend had to drop because the pipeline fell behind.
    fn dropped(&self) -> u64 {
        0
    }
}

/// A sink of mono samples that blocks like a speaker: [`AudioOutput::write`] returns once
/// the device can take more, which makes it the playback clock.
pub trait AudioOutput {
    /// The rate [`AudioOutput::write`] expects.
    fn sample_rate(&self) -> u32;
    /// Queues samples for playing, waiting while enough is queued already.
    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError>;
    /// Waits until the next [`AudioOutput::write`] would not wait, so the caller mixes
    /// a block right before it is due rather than a whole block early. A device whose
    /// queue is its own clock does not need it.
    fn wait_ready(&mut self) {}
    /// What was opened: a device's id, a file's path, "null".
    fn label(&self) -> String;
    /// Plays or writes out what is queued and closes the backend (finalizes a WAV file).
    fn finish(self: Box<Self>) -> Result<(), AudioError>;
    /// Times the device ran dry and played silence.
    fn underruns(&self) -> u64 {
        0
    }
}

/// Opens the input the configuration names.
pub fn open_input(choice: &InputChoice) -> Result<Box<dyn AudioInput>, AudioError> {
    Ok(match choice {
        InputChoice::Default => Box::new(device::DeviceInput::open(None)?),
        InputChoice::Device(name) => Box::new(device::DeviceInput::open(Some(name.clone()))?),
        InputChoice::Wav(path) => Box::new(file::WavInput::open(path)?),
        InputChoice::Silence => Box::new(file::WavInput::silence()),
    })
}

/// Opens the output the configuration names.
pub fn open_output(choice: &OutputChoice) -> Result<Box<dyn AudioOutput>, AudioError> {
    Ok(match choice {
        OutputChoice::Default => Box::new(device::DeviceOutput::open(None)?),
        OutputChoice::Device(name) => Box::new(device::DeviceOutput::open(Some(name.clone()))?),
        OutputChoice::Wav(path) => Box::new(file::WavOutput::create(path)?),
        OutputChoice::Null => Box::new(file::NullOutput::new()),
    })
}
