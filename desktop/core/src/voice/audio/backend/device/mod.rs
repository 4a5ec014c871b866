//! Sound devices through cpal (ALSA on Linux, CoreAudio, WASAPI).
//!
//! The cpal callbacks only convert and copy samples through a preallocated lock-free ring
//! ([`ring`] for the microphone, which keeps the newest audio; `rtrb` for the speaker,
//! which the playback thread keeps from filling); everything else (downmix, waiting,
//! reopening) happens on the audio thread that owns the backend. A device that errors or
//! stops delivering is replaced by the default device, so unplugging a headset does not
//! end the call.

mod input;
mod output;
mod ring;
mod stream;

pub(crate) use input::DeviceInput;
pub(crate) use output::DeviceOutput;

use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait};

use crate::voice::audio::AudioError;

/// Ring capacity in seconds of device audio: room for the audio thread being late.
const RING_SECONDS: f32 = 0.5;
/// How much the playback side keeps queued beyond what the device itself buffers.
const OUTPUT_QUEUE: Duration = Duration::from_millis(10);
/// A device that delivers nothing for this long counts as gone.
const STALL: Duration = Duration::from_secs(2);
/// How often the audio thread looks at a ring that is empty (input) or full (output).
const POLL: Duration = Duration::from_millis(1);
/// How often a lost device is looked for again while there is none to fall back to.
const RETRY: Duration = Duration::from_secs(1);

/// A device the sound system offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// What to show a person (on ALSA a description such as "PulseAudio Sound Server").
    pub name: String,
    /// A stable identifier (on ALSA the PCM name, e.g. `alsa:pulse`). Either this or the
    /// name can be passed as `InputChoice::Device` / `OutputChoice::Device`.
    pub id: String,
    /// Whether this is the system default in its direction.
    pub is_default: bool,
}

/// Input and output devices, as [`list_devices`] found them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Devices {
    pub inputs: Vec<DeviceInfo>,
    pub outputs: Vec<DeviceInfo>,
}

/// Lists the sound devices of the default host. The default device of each direction is
/// marked, and listed first when the host does not enumerate it (ALSA's `default` PCM).
pub fn list_devices() -> Result<Devices, AudioError> {
    let host = cpal::default_host();
    let host_error = |source| AudioError::Device { device: "host".to_owned(), source };
    let inputs = host.input_devices().map_err(host_error)?.map(|device| describe(&device)).collect();
    let outputs = host.output_devices().map_err(host_error)?.map(|device| describe(&device)).collect();
    Ok(Devices {
        inputs: with_default(inputs, host.default_input_device()),
        outputs: with_default(outputs, host.default_output_device()),
    })
}

fn describe(device: &cpal::Device) -> DeviceInfo {
    let id = device_id(device);
    let name = device.description().map(|description| description.name().to_owned()).unwrap_or(id.clone());
    DeviceInfo { name, id, is_default: false }
}

fn with_default(mut devices: Vec<DeviceInfo>, default: Option<cpal::Device>) -> Vec<DeviceInfo> {
    let Some(default) = default else { return devices };
    let default = DeviceInfo { is_default: true, ..describe(&default) };
    match devices.iter_mut().find(|device| device.id == default.id) {
        Some(listed) => listed.is_default = true,
        None => devices.insert(0, default),
    }
    devices
}

fn device_id(device: &cpal::Device) -> String {
    device.id().map(|id| id.to_string()).unwrap_or_else(|_| "unknown".to_owned())
}

fn device_name(device: &cpal::Device) -> String {
    describe(device).name
}

#[derive(Clone, Copy)]
enum Direction {
    Input,
    Output,
}

impl Direction {
    fn label(self) -> &'static str {
        match self {
            Direction::Input => "input",
            Direction::Output => "output",
        }
    }
}

/// The named device, or the default one when no name is given or the name is not found.
fn find_device(direction: Direction, name: Option<&str>) -> Result<cpal::Device, AudioError> {
    let host = cpal::default_host();
    if let Some(wanted) = name {
        let devices = match direction {
            Direction::Input => host.input_devices().map(|d| d.collect::<Vec<_>>()),
            Direction::Output => host.output_devices().map(|d| d.collect::<Vec<_>>()),
        };
        let found = devices.ok().and_then(|devices| {
            devices.into_iter().find(|device| device_name(device) == wanted || device_id(device) == wanted)
        });
        match found {
            Some(device) => return Ok(device),
            None => tracing::warn!(device = wanted, "audio device not found, using the default device"),
        }
    }
    let default = match direction {
        Direction::Input => host.default_input_device(),
        Direction::Output => host.default_output_device(),
    };
    default.ok_or(AudioError::NoDevice { direction: direction.label() })
}
