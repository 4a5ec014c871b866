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
    /// Echo cancellation (WebRTC's AEC3) with what playback plays as the far-end
    /// reference; off for headsets, where no echo reaches the microphone. Switchable
    /// later with [`super::Capture::set_echo_cancellation`].
    pub echo_cancellation: bool,
    /// Adaptive digital gain (WebRTC's AGC2), so quiet and loud microphones arrive at a
    /// similar level; switchable with [`super::Capture::set_gain_control`].
    pub gain_control: bool,
    /// A high-pass filter against rumble and DC below the voice band; switchable with
    /// [`super::Capture::set_high_pass`].
    pub high_pass: bool,
    /// Input volume: a factor on the microphone before any processing (1.0 as the device
    /// gives it, up to 4.0); changeable later with [`super::Capture::set_input_gain`].
    pub input_volume: f32,
    /// Output volume: a factor on the whole mix (1.0 as mixed, up to 4.0); changeable later
    /// with [`super::Playback::set_output_volume`].
    pub output_volume: f32,
    /// Tests only: feed what playback plays back into the microphone, as a room would.
    pub echo_sim: Option<EchoSim>,
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
            // Speakers are the common case; a headset user switches it off.
            echo_cancellation: true,
            gain_control: true,
            high_pass: true,
            input_volume: 1.0,
            output_volume: 1.0,
            echo_sim: None,
            transmit_mode: TransmitMode::PushToTalk,
            vad_threshold_dbfs: -50.0,
            // 32 kb/s leaves Opus room for in-band FEC at 10 % loss while staying wideband.
            bitrate: 32_000,
            expected_loss_percent: 10,
        }
    }
}

/// A simulated acoustic path from the speaker to the microphone: playback's output comes
/// back into the input `delay_ms` later, scaled by `gain_db`, mixed with what the input
/// itself gives. Written `DELAY_MS:GAIN_DB` on the command line, e.g. `60:-6`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EchoSim {
    pub delay_ms: u32,
    pub gain_db: f32,
}

impl EchoSim {
    /// The path's delay in samples at [`super::SAMPLE_RATE`].
    pub fn delay_samples(&self) -> usize {
        (u64::from(self.delay_ms) * u64::from(super::SAMPLE_RATE) / 1000) as usize
    }

    /// The path's gain as a factor.
    pub fn gain(&self) -> f32 {
        10.0_f32.powf(self.gain_db / 20.0)
    }
}

/// Why an `--echo-sim` value was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected DELAY_MS:GAIN_DB (e.g. 60:-6), with a delay of at most {MAX_ECHO_SIM_MS} ms, got {0:?}")]
pub struct EchoSimParseError(String);

/// The longest simulated path: more than any room, and it bounds the ring that holds it.
pub const MAX_ECHO_SIM_MS: u32 = 1000;

impl std::str::FromStr for EchoSim {
    type Err = EchoSimParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || EchoSimParseError(text.to_owned());
        let (delay, gain) = text.split_once(':').ok_or_else(error)?;
        let delay_ms: u32 = delay.trim().parse().map_err(|_| error())?;
        let gain_db: f32 = gain.trim().parse().map_err(|_| error())?;
        if delay_ms > MAX_ECHO_SIM_MS || !gain_db.is_finite() {
            return Err(error());
        }
        Ok(Self { delay_ms, gain_db })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_sim_reads_delay_and_gain() {
        let sim: EchoSim = "60:-6".parse().expect("the documented example parses");
        assert_eq!(sim, EchoSim { delay_ms: 60, gain_db: -6.0 }, "delay and gain are read as written");
        assert_eq!(sim.delay_samples(), 2880, "60 ms at 48 kHz");
        assert!((sim.gain() - 0.501).abs() < 0.001, "-6 dB is about half the amplitude");
        for bad in ["60", "x:-6", "60:loud", "5000:0", "60:inf"] {
            assert!(bad.parse::<EchoSim>().is_err(), "{bad:?} must be refused");
        }
    }
}
