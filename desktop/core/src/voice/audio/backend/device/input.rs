//! A sound device as microphone.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample};

use super::{device_id, device_name, find_device, stream_error, Direction, StreamFlags};
use super::{POLL, RETRY, RING_SECONDS, STALL};
use crate::voice::audio::backend::AudioInput;
use crate::voice::audio::AudioError;

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
