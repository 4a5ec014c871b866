//! A sound device as microphone.

use std::sync::Arc;
use std::time::Instant;

use cpal::traits::DeviceTrait;
use cpal::{FromSample, Sample, SizedSample};

use super::ring::{sample_ring, RingReader, RingWriter};
use super::stream::{stream_error, OpenStream, StreamFlags, StreamKind};
use super::{Direction, POLL, RETRY, STALL};
use crate::voice::audio::backend::AudioInput;
use crate::voice::audio::AudioError;

/// A microphone. Reads downmix the device's channels to mono.
pub(crate) struct DeviceInput {
    wanted: Option<String>,
    open: OpenStream,
    ring: RingReader,
    scratch: Vec<f32>,
    last_data: Instant,
    /// Samples the rings of replaced devices dropped.
    dropped_before: u64,
    next_retry: Instant,
}

/// Input streams write into a ring that overwrites the oldest samples when the capture
/// thread falls behind (see [`super::ring`]).
struct Microphone;

impl StreamKind for Microphone {
    const DIRECTION: Direction = Direction::Input;
    type CallbackEnd = RingWriter;
    type ThreadEnd = RingReader;

    fn ring(frames: usize, channels: usize) -> (RingWriter, RingReader) {
        sample_ring(frames, channels)
    }

    fn default_config(device: &cpal::Device) -> Result<cpal::SupportedStreamConfig, cpal::Error> {
        device.default_input_config()
    }

    fn build<T>(
        device: &cpal::Device,
        config: &cpal::StreamConfig,
        mut ring: RingWriter,
        flags: &Arc<StreamFlags>,
    ) -> Result<cpal::Stream, cpal::Error>
    where
        T: SizedSample + FromSample<f32>,
        f32: FromSample<T>,
    {
        let on_data = move |data: &[T], _: &cpal::InputCallbackInfo| ring.write(data, f32::from_sample);
        device.build_input_stream(*config, on_data, stream_error(flags), None)
    }
}

impl DeviceInput {
    pub(crate) fn open(wanted: Option<String>) -> Result<Self, AudioError> {
        let (open, ring) = OpenStream::open::<Microphone>(wanted.as_deref())?;
        let scratch = vec![0.0; ring.capacity()];
        Ok(Self {
            wanted,
            open,
            ring,
            scratch,
            last_data: Instant::now(),
            dropped_before: 0,
            next_retry: Instant::now(),
        })
    }

    /// Replaces a failed or silent device with the default one.
    fn reopen(&mut self) -> Result<(), AudioError> {
        tracing::warn!(device = ?self.wanted, "audio input failed, switching to the default device");
        let (open, ring) = OpenStream::open::<Microphone>(None)?;
        self.dropped_before += self.ring.dropped();
        self.open = open;
        self.ring = ring;
        self.scratch.resize(self.ring.capacity(), 0.0);
        self.last_data = Instant::now();
        Ok(())
    }
}

impl AudioInput for DeviceInput {
    fn sample_rate(&self) -> u32 {
        self.open.rate
    }

    fn label(&self) -> String {
        self.open.id.clone()
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize, AudioError> {
        if self.open.failed() || self.last_data.elapsed() > STALL {
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
        let room = (buf.len() * channels).min(self.scratch.len());
        let frames = self.ring.read(&mut self.scratch[..room]) / channels;
        if frames == 0 {
            std::thread::sleep(POLL);
            return Ok(0);
        }
        for (out, frame) in buf.iter_mut().zip(self.scratch.chunks_exact(channels).take(frames)) {
            *out = frame.iter().sum::<f32>() / channels as f32;
        }
        self.last_data = Instant::now();
        Ok(frames)
    }

    fn dropped(&self) -> u64 {
        self.dropped_before + self.ring.dropped()
    }
}
