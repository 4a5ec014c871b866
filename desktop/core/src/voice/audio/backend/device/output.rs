//! A sound device as speaker.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};

use super::{device_id, device_name, find_device, stream_error, Direction, StreamFlags};
use super::{OUTPUT_QUEUE, POLL, RETRY, RING_SECONDS, STALL};
use crate::voice::audio::backend::AudioOutput;
use crate::voice::audio::AudioError;

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
        callback_flags.largest_request.fetch_max(data.len() as u64, Ordering::Relaxed);
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
        let margin = (self.open.rate as f32 * OUTPUT_QUEUE.as_secs_f32()) as usize * self.open.channels;
        let request = self.open.flags.largest_request.load(Ordering::Relaxed) as usize;
        let limit = margin + request;
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
