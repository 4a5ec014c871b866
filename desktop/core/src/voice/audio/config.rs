//! What the audio pipeline opens and how it starts.

use std::path::PathBuf;

/// Where captured sound comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum InputChoice {
    /// The system's default input device.
    #[default]
    Default,
    /// An input device by the name [`super::list_devices`] shows; falls back to the default
    /// device when it is missing or fails.
    Device(String),
    /// A WAV file of any rate and channel count, played once in real time, then silence.
    Wav(PathBuf),
    /// Digital silence in real time (bots that only listen).
    Silence,
}

/// Where the mixed sound of all peers goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OutputChoice {
    /// The system's default output device.
    #[default]
    Default,
    /// An output device by name; falls back to the default device when missing or failing.
    Device(String),
    /// A WAV file (48 kHz, mono, 16-bit) with exactly what was played, written in real time
    /// and finalized by [`super::Playback::finish`].
    Wav(PathBuf),
    /// Discard in real time.
    Null,
}

/// What opens the microphone gate besides an explicit transmit flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TransmitMode {
    /// Only [`super::Capture::set_transmit`] opens the gate (push-to-talk, or "always" by
    /// setting it once).
    #[default]
    PushToTalk,
    /// The gate also opens while voice is detected (with hangover).
    VoiceActivation,
}

/// Settings for [`super::Capture::start`] and [`super::Playback::start`].
#[derive(Debug, Clone, PartialEq)]
pub struct AudioConfig {
    pub input: InputChoice,
    pub output: OutputChoice,
    /// RNNoise on the microphone signal; switchable later with
    /// [`super::Capture::set_noise_suppression`].
    pub noise_suppression: bool,
    pub transmit_mode: TransmitMode,
    /// Level above which a frame counts as voice, in dBFS (also used for peers' speaking
    /// indicators).
    pub vad_threshold_dbfs: f32,
    /// Opus target bitrate in bits per second.
    pub bitrate: i32,
    /// Packet loss the Opus encoder plans its in-band FEC for, in percent.
    pub expected_loss_percent: u8,
}

impl Default for AudioConfig {
    fn default() -> Self {
        Self {
            input: InputChoice::Default,
            output: OutputChoice::Default,
            noise_suppression: true,
            transmit_mode: TransmitMode::PushToTalk,
            vad_threshold_dbfs: -50.0,
            // 32 kb/s leaves Opus room for in-band FEC at 10 % loss while staying wideband.
            bitrate: 32_000,
            expected_loss_percent: 10,
        }
    }
}
