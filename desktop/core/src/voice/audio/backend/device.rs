//! Sound devices through cpal (ALSA on Linux, CoreAudio, WASAPI).
//!
//! The cpal callbacks only convert and copy samples through a preallocated `rtrb` ring;
//! everything else (downmix, waiting, reopening) happens on the audio thread that owns
//! the backend. A device that errors or stops delivering is replaced by the default
//! device, so unplugging a headset does not end the call.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample};

use super::{AudioInput, AudioOutput};
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

/// What a running cpal stream shares with its callbacks.
#[derive(Default)]
struct StreamFlags {
    failed: AtomicBool,
    /// Input: samples dropped because the ring was full. Output: callbacks that ran dry.
    losses: AtomicU64,
}

fn stream_error(flags: &Arc<StreamFlags>) -> impl FnMut(cpal::Error) + Send + 'static {
    let flags = Arc::clone(flags);
    // Only an atomic store here: the audio thread notices and reopens the device.
    move |_error| flags.failed.store(true, Ordering::Release)
}

/// A microphone. Reads downmix the device's channels to mono.
pub(crate) struct DeviceInput {
    wanted: Option<String>,
    open: OpenInput,
    scratch: Vec<f32>,
    last_data: Instant,
    dropped_before: u64,
    next_retry: Instant,
}

struct OpenInput {
    id: String,
    _stream: cpal::Stream,
    consumer: rtrb::Consumer<f32>,
    channels: usize,
    rate: u32,
    flags: Arc<StreamFlags>,
}

impl DeviceInput {
    pub(crate) fn open(wanted: Option<String>) -> Result<Self, AudioError> {
        let device = find_device(Direction::Input, wanted.as_deref())?;
        let open = OpenInput::start(&device)?;
        let scratch = vec![0.0; open.consumer.buffer().capacity()];
        Ok(Self {
            wanted,
            open,
            scratch,
            last_data: Instant::now(),
            dropped_before: 0,
            next_retry: Instant::now(),
        })
    }

    /// Replaces a failed or silent device with the default one.
    fn reopen(&mut self) -> Result<(), AudioError> {
        tracing::warn!(device = ?self.wanted, "audio input failed, switching to the default device");
        self.dropped_before += self.open.flags.losses.load(Ordering::Relaxed);
        let device = find_device(Direction::Input, None)?;
        self.open = OpenInput::start(&device)?;
        self.scratch.resize(self.open.consumer.buffer().capacity(), 0.0);
        self.last_data = Instant::now();
        Ok(())
    }
}

impl OpenInput {
    fn start(device: &cpal::Device) -> Result<Self, AudioError> {
        let name = device_name(device);
        let device_error = |source| AudioError::Device { device: name.clone(), source };
        let supported = device.default_input_config().map_err(device_error)?;
        let config: cpal::StreamConfig = supported.config();
        let channels = usize::from(config.channels.max(1));
        let capacity = (config.sample_rate as f32 * RING_SECONDS) as usize * channels;
        let (producer, consumer) = rtrb::RingBuffer::new(capacity);
        let flags = Arc::new(StreamFlags::default());
        let stream = match supported.sample_format() {
            SampleFormat::F32 => build_input::<f32>(device, &config, producer, &flags),
            SampleFormat::I16 => build_input::<i16>(device, &config, producer, &flags),
            SampleFormat::I32 => build_input::<i32>(device, &config, producer, &flags),
            SampleFormat::U16 => build_input::<u16>(device, &config, producer, &flags),
            other => return Err(AudioError::UnsupportedFormat { device: name, format: other.to_string() }),
        }
        .map_err(device_error)?;
        stream.play().map_err(device_error)?;
        Ok(Self {
            id: device_id(device),
            _stream: stream,
            consumer,
            channels,
            rate: config.sample_rate,
            flags,
        })
    }
}

fn build_input<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    mut producer: rtrb::Producer<f32>,
    flags: &Arc<StreamFlags>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let channels = usize::from(config.channels.max(1));
    let callback_flags = Arc::clone(flags);
    let on_data = move |data: &[T], _: &cpal::InputCallbackInfo| {
        // Whole frames only, so the reader never sees channels shifted.
        let fits = producer.slots().min(data.len()) / channels * channels;
        if let Ok(chunk) = producer.write_chunk_uninit(fits) {
            chunk.fill_from_iter(data[..fits].iter().map(|&sample| f32::from_sample(sample)));
        }
        if fits < data.len() {
            callback_flags.losses.fetch_add((data.len() - fits) as u64, Ordering::Relaxed);
        }
    };
    device.build_input_stream(*config, on_data, stream_error(flags), None)
}

impl AudioInput for DeviceInput {
    fn sample_rate(&self) -> u32 {
        self.open.rate
    }

    fn label(&self) -> String {
        self.open.id.clone()
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize, AudioError> {
        if self.open.flags.failed.load(Ordering::Acquire) || self.last_data.elapsed() > STALL {
            // Without a device there is nothing to wait on: sleep like an empty device
            // would, and look for a device again once per RETRY.
            if Instant::now() < self.next_retry {
                std::thread::sleep(POLL * 10);
                return Ok(0);
            }
            if let Err(error) = self.reopen() {
                tracing::warn!(%error, "no input device to fall back to yet");
                self.next_retry = Instant::now() + RETRY;
                return Ok(0);
            }
        }
        let channels = self.open.channels;
        let frames = (self.open.consumer.slots() / channels).min(buf.len());
        if frames == 0 {
            std::thread::sleep(POLL);
            return Ok(0);
        }
        let interleaved = &mut self.scratch[..frames * channels];
        let chunk = self.open.consumer.read_chunk(frames * channels).expect("slots were counted above");
        for (slot, value) in interleaved.iter_mut().zip(chunk) {
            *slot = value;
        }
        for (out, frame) in buf.iter_mut().zip(interleaved.chunks_exact(channels)) {
            *out = frame.iter().sum::<f32>() / channels as f32;
        }
        self.last_data = Instant::now();
        Ok(frames)
    }

    fn dropped(&self) -> u64 {
        self.dropped_before + self.open.flags.losses.load(Ordering::Relaxed)
    }
}

/// A speaker. Writes duplicate the mono signal onto every device channel.
pub(crate) struct DeviceOutput {
    wanted: Option<String>,
    open: OpenOutput,
    underruns_before: u64,
    next_retry: Instant,
}

struct OpenOutput {
    id: String,
    _stream: cpal::Stream,
    producer: rtrb::Producer<f32>,
    channels: usize,
    rate: u32,
    flags: Arc<StreamFlags>,
}

impl DeviceOutput {
    pub(crate) fn open(wanted: Option<String>) -> Result<Self, AudioError> {
        let device = find_device(Direction::Output, wanted.as_deref())?;
        let open = OpenOutput::start(&device)?;
        Ok(Self { wanted, open, underruns_before: 0, next_retry: Instant::now() })
    }

    fn reopen(&mut self) -> Result<(), AudioError> {
        tracing::warn!(device = ?self.wanted, "audio output failed, switching to the default device");
        self.underruns_before += self.open.flags.losses.load(Ordering::Relaxed);
        let device = find_device(Direction::Output, None)?;
        self.open = OpenOutput::start(&device)?;
        Ok(())
    }
}

impl OpenOutput {
    fn start(device: &cpal::Device) -> Result<Self, AudioError> {
        let name = device_name(device);
        let device_error = |source| AudioError::Device { device: name.clone(), source };
        let supported = device.default_output_config().map_err(device_error)?;
        let config: cpal::StreamConfig = supported.config();
        let channels = usize::from(config.channels.max(1));
        let capacity = (config.sample_rate as f32 * RING_SECONDS) as usize * channels;
        let (producer, consumer) = rtrb::RingBuffer::new(capacity);
        let flags = Arc::new(StreamFlags::default());
        let stream = match supported.sample_format() {
            SampleFormat::F32 => build_output::<f32>(device, &config, consumer, &flags),
            SampleFormat::I16 => build_output::<i16>(device, &config, consumer, &flags),
            SampleFormat::I32 => build_output::<i32>(device, &config, consumer, &flags),
            SampleFormat::U16 => build_output::<u16>(device, &config, consumer, &flags),
            other => return Err(AudioError::UnsupportedFormat { device: name, format: other.to_string() }),
        }
        .map_err(device_error)?;
        stream.play().map_err(device_error)?;
        Ok(Self {
            id: device_id(device),
            _stream: stream,
            producer,
            channels,
            rate: config.sample_rate,
            flags,
        })
    }

    fn queued(&self) -> usize {
        self.producer.buffer().capacity() - self.producer.slots()
    }
}

fn build_output<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    mut consumer: rtrb::Consumer<f32>,
    flags: &Arc<StreamFlags>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    let channels = usize::from(config.channels.max(1));
    let callback_flags = Arc::clone(flags);
    let on_data = move |data: &mut [T], _: &cpal::OutputCallbackInfo| {
        let available = consumer.slots().min(data.len()) / channels * channels;
        let (filled, rest) = data.split_at_mut(available);
        if let Ok(chunk) = consumer.read_chunk(available) {
            for (slot, value) in filled.iter_mut().zip(chunk) {
                *slot = T::from_sample(value);
            }
        }
        if !rest.is_empty() {
            rest.fill(T::EQUILIBRIUM);
            callback_flags.losses.fetch_add(1, Ordering::Relaxed);
        }
    };
    device.build_output_stream(*config, on_data, stream_error(flags), None)
}

impl AudioOutput for DeviceOutput {
    fn sample_rate(&self) -> u32 {
        self.open.rate
    }

    fn label(&self) -> String {
        self.open.id.clone()
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        let limit = (self.open.rate as f32 * OUTPUT_QUEUE.as_secs_f32()) as usize * self.open.channels;
        let waiting_since = Instant::now();
        // The device clock paces playback: wait until it has taken what we gave it.
        while self.open.queued() > limit {
            if self.open.flags.failed.load(Ordering::Acquire) || waiting_since.elapsed() > STALL {
                break;
            }
            std::thread::sleep(POLL);
        }
        if self.open.flags.failed.load(Ordering::Acquire) || waiting_since.elapsed() > STALL {
            // The samples are lost either way; keep real time so the mix goes on (and the
            // peers' jitter buffers keep draining) until a device is back.
            std::thread::sleep(Duration::from_secs_f64(
                samples.len() as f64 / f64::from(self.open.rate.max(1)),
            ));
            if Instant::now() >= self.next_retry {
                // A new device may run at another rate; the caller resamples from its
                // next frame on.
                if let Err(error) = self.reopen() {
                    tracing::warn!(%error, "no output device to fall back to yet");
                    self.next_retry = Instant::now() + RETRY;
                }
            }
            return Ok(());
        }
        let channels = self.open.channels;
        let fits = (self.open.producer.slots() / channels).min(samples.len());
        if let Ok(chunk) = self.open.producer.write_chunk_uninit(fits * channels) {
            chunk.fill_from_iter(
                samples[..fits].iter().flat_map(|&sample| std::iter::repeat_n(sample, channels)),
            );
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), AudioError> {
        let deadline = Instant::now() + Duration::from_millis(500);
        while self.open.queued() > 0
            && Instant::now() < deadline
            && !self.open.flags.failed.load(Ordering::Acquire)
        {
            std::thread::sleep(POLL);
        }
        Ok(())
    }

    fn underruns(&self) -> u64 {
        self.underruns_before + self.open.flags.losses.load(Ordering::Relaxed)
    }
}
