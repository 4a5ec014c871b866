//! A sound device as speaker.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cpal::traits::DeviceTrait;
use cpal::{FromSample, SizedSample};

use super::stream::{stream_error, OpenStream, StreamFlags, StreamKind};
use super::{Direction, OUTPUT_QUEUE, POLL, RETRY, STALL};
use crate::voice::audio::backend::AudioOutput;
use crate::voice::audio::AudioError;

/// A speaker. Writes duplicate the mono signal onto every device channel.
pub(crate) struct DeviceOutput {
    wanted: Option<String>,
    open: OpenStream,
    queue: rtrb::Producer<f32>,
    underruns_before: u64,
    next_retry: Instant,
}

/// Output streams read from an `rtrb` ring the playback thread keeps from filling (it
/// waits for the device's clock), so nothing is ever dropped on the way in; a callback
/// that finds too little plays silence for the rest and counts an underrun.
struct Speaker;

impl StreamKind for Speaker {
    const DIRECTION: Direction = Direction::Output;
    type CallbackEnd = rtrb::Consumer<f32>;
    type ThreadEnd = rtrb::Producer<f32>;

    fn ring(frames: usize, channels: usize) -> (rtrb::Consumer<f32>, rtrb::Producer<f32>) {
        let (producer, consumer) = rtrb::RingBuffer::new(frames * channels);
        (consumer, producer)
    }

    fn default_config(device: &cpal::Device) -> Result<cpal::SupportedStreamConfig, cpal::Error> {
        device.default_output_config()
    }

    fn build<T>(
        device: &cpal::Device,
        config: &cpal::StreamConfig,
        mut consumer: rtrb::Consumer<f32>,
        flags: &Arc<StreamFlags>,
    ) -> Result<cpal::Stream, cpal::Error>
    where
        T: SizedSample + FromSample<f32>,
        f32: FromSample<T>,
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
}

impl DeviceOutput {
    pub(crate) fn open(wanted: Option<String>) -> Result<Self, AudioError> {
        let (open, queue) = OpenStream::open::<Speaker>(wanted.as_deref())?;
        Ok(Self { wanted, open, queue, underruns_before: 0, next_retry: Instant::now() })
    }

    fn reopen(&mut self) -> Result<(), AudioError> {
        tracing::warn!(device = ?self.wanted, "audio output failed, switching to the default device");
        let (open, queue) = OpenStream::open::<Speaker>(None)?;
        self.underruns_before += self.open.flags.losses.load(Ordering::Relaxed);
        self.open = open;
        self.queue = queue;
        Ok(())
    }

    /// Samples written and not yet taken by the device.
    fn queued(&self) -> usize {
        self.queue.buffer().capacity() - self.queue.slots()
    }
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
        while self.queued() > limit {
            if self.open.failed() || waiting_since.elapsed() > STALL {
                break;
            }
            std::thread::sleep(POLL);
        }
        if self.open.failed() || waiting_since.elapsed() > STALL {
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
        let fits = (self.queue.slots() / channels).min(samples.len());
        if let Ok(chunk) = self.queue.write_chunk_uninit(fits * channels) {
            chunk.fill_from_iter(
                samples[..fits].iter().flat_map(|&sample| std::iter::repeat_n(sample, channels)),
            );
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), AudioError> {
        let deadline = Instant::now() + Duration::from_millis(500);
        while self.queued() > 0 && Instant::now() < deadline && !self.open.failed() {
            std::thread::sleep(POLL);
        }
        Ok(())
    }

    fn underruns(&self) -> u64 {
        self.underruns_before + self.open.flags.losses.load(Ordering::Relaxed)
    }
}
