//! A person's sound settings on one device: which microphone and speaker, how loud, the
//! voice-activity threshold and the processing switches. The desktop app keeps them in
//! its config file (they describe this machine's hardware, so they stay with it rather
//! than with the server account) and hands them to the engine at start and on each change.

use serde::{Deserialize, Serialize};

use super::audio::{list_devices, AudioConfig, AudioError, DeviceInfo, InputChoice, OutputChoice};
use super::VoiceEngine;

/// The settings card's values. Volumes are whole percents (100 is as the device gives
/// it) so the file stays exact and comparable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export_to = "bridge/"))]
pub struct SoundSettings {
    /// A device id as [`SoundDevices`] lists it; `None` follows the system default.
    pub input_device: Option<String>,
    pub output_device: Option<String>,
    /// Microphone volume in percent, 0 to [`MAX_VOLUME_PERCENT`].
    pub input_volume: u16,
    /// Volume of everything played, in percent, 0 to [`MAX_VOLUME_PERCENT`].
    pub output_volume: u16,
    /// Level above which the microphone counts as voice, in dBFS
    /// ([`MIN_VAD_THRESHOLD_DB`] to [`MAX_VAD_THRESHOLD_DB`]).
    pub vad_threshold_db: i16,
    pub echo_cancellation: bool,
    pub noise_suppression: bool,
    pub gain_control: bool,
}

/// +12 dB: the loudest either volume goes.
pub const MAX_VOLUME_PERCENT: u16 = 400;
pub const MIN_VAD_THRESHOLD_DB: i16 = -80;
pub const MAX_VAD_THRESHOLD_DB: i16 = -10;

impl Default for SoundSettings {
    fn default() -> Self {
        let audio = AudioConfig::default();
        Self {
            input_device: None,
            output_device: None,
            input_volume: 100,
            output_volume: 100,
            vad_threshold_db: audio.vad_threshold_dbfs as i16,
            echo_cancellation: audio.echo_cancellation,
            noise_suppression: audio.noise_suppression,
            gain_control: audio.gain_control,
        }
    }
}

impl SoundSettings {
    /// The same settings with every number in its range (a hand-edited file, a UI bug).
    pub fn clamped(mut self) -> Self {
        self.input_volume = self.input_volume.min(MAX_VOLUME_PERCENT);
        self.output_volume = self.output_volume.min(MAX_VOLUME_PERCENT);
        self.vad_threshold_db = self.vad_threshold_db.clamp(MIN_VAD_THRESHOLD_DB, MAX_VAD_THRESHOLD_DB);
        self
    }

    pub fn input(&self) -> InputChoice {
        self.input_device.clone().map_or(InputChoice::Default, InputChoice::Device)
    }

    pub fn output(&self) -> OutputChoice {
        self.output_device.clone().map_or(OutputChoice::Default, OutputChoice::Device)
    }

    /// Hands every setting to `engine`: a call or mic test in progress changes at once,
    /// later ones start with them.
    pub fn apply(&self, engine: &VoiceEngine) {
        let settings = self.clone().clamped();
        engine.set_devices(settings.input(), settings.output());
        engine.set_input_volume(percent(settings.input_volume));
        engine.set_output_volume(percent(settings.output_volume));
        engine.set_vad_threshold(f32::from(settings.vad_threshold_db));
        engine.set_echo_cancellation(settings.echo_cancellation);
        engine.set_noise_suppression(settings.noise_suppression);
        engine.set_gain_control(settings.gain_control);
    }
}

fn percent(value: u16) -> f32 {
    f32::from(value) / 100.0
}

/// A sound device as the settings card lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export_to = "bridge/"))]
pub struct SoundDevice {
    /// What to pass back as [`SoundSettings::input_device`] / `output_device`.
    pub id: String,
    pub name: String,
    pub is_default: bool,
}

impl From<DeviceInfo> for SoundDevice {
    fn from(device: DeviceInfo) -> Self {
        Self { id: device.id, name: device.name, is_default: device.is_default }
    }
}

/// The microphones and speakers the sound system offers right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export_to = "bridge/"))]
pub struct SoundDevices {
    pub inputs: Vec<SoundDevice>,
    pub outputs: Vec<SoundDevice>,
}

impl SoundDevices {
    /// Asks the sound system (cpal's default host).
    pub fn list() -> Result<Self, AudioError> {
        let devices = list_devices()?;
        Ok(Self {
            inputs: devices.inputs.into_iter().map(SoundDevice::from).collect(),
            outputs: devices.outputs.into_iter().map(SoundDevice::from).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_engines_and_out_of_range_values_are_clamped() {
        let settings = SoundSettings::default();
        assert_eq!(settings.input(), InputChoice::Default);
        assert_eq!(settings.output(), OutputChoice::Default);
        assert!(settings.echo_cancellation && settings.noise_suppression && settings.gain_control);
        let wild = SoundSettings { input_volume: 9000, vad_threshold_db: -300, ..settings.clone() }.clamped();
        assert_eq!((wild.input_volume, wild.vad_threshold_db), (MAX_VOLUME_PERCENT, MIN_VAD_THRESHOLD_DB));
        let high = SoundSettings { vad_threshold_db: 5, ..settings }.clamped();
        assert_eq!(high.vad_threshold_db, MAX_VAD_THRESHOLD_DB);
    }

    #[test]
    fn a_file_of_an_older_version_reads_with_defaults_for_what_it_lacks() {
        let settings: SoundSettings =
            serde_json::from_str(r#"{"input_device":"alsa:pulse","output_volume":50}"#).expect("reads");
        assert_eq!(settings.input(), InputChoice::Device("alsa:pulse".to_owned()));
        assert_eq!(settings.output_volume, 50);
        assert_eq!(settings.input_volume, 100);
        assert!(settings.echo_cancellation);
    }
}
