//! A simulated room for tests: what the speaker plays comes back into the microphone.
//!
//! The output and input backends are wrapped: the output passes each block it plays to a
//! ring (the air), the input mixes the air into what it reads, `delay` later and scaled
//! by `gain`. Both sides place their samples on one timeline, 48 kHz samples since the
//! room was made: a backend without a device clock plays and records in real time from
//! the moment it is opened, so a sample's place is fixed once at the start and counted
//! on from there. The ring is preallocated; neither side locks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rtrb::{Consumer, Producer, RingBuffer};

use super::{AudioInput, AudioOutput};
use crate::voice::audio::config::EchoSim;
use crate::voice::audio::resample::Resampler;
use crate::voice::audio::{AudioError, SAMPLE_RATE};

/// The speaker has not played yet.
const NOT_STARTED: u64 = u64::MAX;

/// A room with one speaker and one microphone.
pub(crate) fn room(sim: EchoSim) -> (RoomSpeaker, RoomMicrophone) {
    // The air holds the path's delay plus a second of slack for a slow capture thread.
    let (producer, consumer) = RingBuffer::new(sim.delay_samples() + SAMPLE_RATE as usize);
    let epoch = Instant::now();
    let speaker_start = Arc::new(AtomicU64::new(NOT_STARTED));
    let speaker = RoomSpeaker { producer, epoch, start: Arc::clone(&speaker_start), started: false };
    let microphone = RoomMicrophone {
        consumer,
        epoch,
        speaker_start,
        air_position: None,
        next: None,
        delay: sim.delay_samples() as u64,
        gain: sim.gain(),
    };
    (speaker, microphone)
}

/// Samples at [`SAMPLE_RATE`] from `epoch` to now.
fn timeline_now(epoch: Instant) -> u64 {
    (epoch.elapsed().as_secs_f64() * f64::from(SAMPLE_RATE)) as u64
}

/// Where the output's sound enters the room.
pub(crate) struct RoomSpeaker {
    producer: Producer<f32>,
    epoch: Instant,
    start: Arc<AtomicU64>,
    started: bool,
}

impl RoomSpeaker {
    /// Fixes the timeline position of the first sample played.
    pub(crate) fn start_at(&mut self, position: u64) {
        self.start.store(position, Ordering::Release);
        self.started = true;
    }

    /// Plays the next samples into the room (the oldest are lost if the microphone has
    /// stopped listening, as sound is).
    pub(crate) fn play(&mut self, samples: &[f32]) {
        let _ = self.producer.push_partial_slice(samples);
    }
}

/// Where the room's sound reaches the input.
pub(crate) struct RoomMicrophone {
    consumer: Consumer<f32>,
    epoch: Instant,
    speaker_start: Arc<AtomicU64>,
    /// Timeline position of the oldest sample still in the air.
    air_position: Option<u64>,
    /// Timeline position of the next microphone sample.
    next: Option<u64>,
    delay: u64,
    gain: f32,
}

impl RoomMicrophone {
    /// Adds the room's sound to `samples`, the microphone's from timeline position
    /// `position` on.
    pub(crate) fn hear_at(&mut self, position: u64, samples: &mut [f32]) {
        let air_position = match self.air_position {
            Some(air_position) => air_position,
            None => match self.speaker_start.load(Ordering::Acquire) {
                NOT_STARTED => return,
                start => *self.air_position.insert(start),
            },
        };
        let mut air_position = air_position;
        for (offset, sample) in samples.iter_mut().enumerate() {
            let Some(wanted) = (position + offset as u64).checked_sub(self.delay) else { continue };
            if wanted < air_position {
                // Before the speaker started.
                continue;
            }
            // Sound that has passed the microphone is gone.
            while air_position < wanted && self.consumer.pop().is_ok() {
                air_position += 1;
            }
            if air_position == wanted {
                if let Ok(played) = self.consumer.pop() {
                    *sample += played * self.gain;
                    air_position += 1;
                }
            }
        }
        self.air_position = Some(air_position);
    }

    /// Adds the room's sound to `samples`, just read: they end now.
    fn hear(&mut self, samples: &mut [f32]) {
        let position =
            *self.next.get_or_insert_with(|| timeline_now(self.epoch).saturating_sub(samples.len() as u64));
        self.hear_at(position, samples);
        self.next = Some(position + samples.len() as u64);
    }
}

/// An output that also plays into the room.
pub(crate) struct EchoSimOutput {
    inner: Box<dyn AudioOutput>,
    speaker: RoomSpeaker,
}

impl EchoSimOutput {
    /// Wraps an output opened just now: its first sample plays from now on.
    pub(crate) fn new(inner: Box<dyn AudioOutput>, mut speaker: RoomSpeaker) -> Self {
        let now = timeline_now(speaker.epoch);
        speaker.start_at(now);
        Self { inner, speaker }
    }
}

impl AudioOutput for EchoSimOutput {
    fn sample_rate(&self) -> u32 {
        self.inner.sample_rate()
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        self.inner.write(samples)?;
        // The room is on the pipeline's clock; a device at another rate is not simulated.
        if self.inner.sample_rate() == SAMPLE_RATE && self.speaker.started {
            self.speaker.play(samples);
        }
        Ok(())
    }

    fn wait_ready(&mut self) {
        self.inner.wait_ready();
    }

    fn label(&self) -> String {
        self.inner.label()
    }

    fn finish(self: Box<Self>) -> Result<(), AudioError> {
        self.inner.finish()
    }

    fn underruns(&self) -> u64 {
        self.inner.underruns()
    }
}

/// An input that also hears the room, always at [`SAMPLE_RATE`].
pub(crate) struct EchoSimInput {
    inner: Box<dyn AudioInput>,
    microphone: RoomMicrophone,
    /// Converts an input at another rate first, so the room is mixed on its own clock.
    resampler: Resampler,
    raw: Vec<f32>,
    pending: Vec<f32>,
}

impl EchoSimInput {
    pub(crate) fn new(inner: Box<dyn AudioInput>, microphone: RoomMicrophone) -> Self {
        let resampler = Resampler::new(inner.sample_rate(), SAMPLE_RATE);
        Self { inner, microphone, resampler, raw: vec![0.0; 8192], pending: Vec::with_capacity(16_384) }
    }
}

impl AudioInput for EchoSimInput {
    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize, AudioError> {
        let count = if self.inner.sample_rate() == SAMPLE_RATE && self.pending.is_empty() {
            self.inner.read(buf)?
        } else {
            if self.resampler.input_rate() != self.inner.sample_rate() {
                self.resampler = Resampler::new(self.inner.sample_rate(), SAMPLE_RATE);
            }
            let read = self.inner.read(&mut self.raw)?;
            self.resampler.process(&self.raw[..read], &mut self.pending);
            let count = self.pending.len().min(buf.len());
            buf[..count].copy_from_slice(&self.pending[..count]);
            self.pending.drain(..count);
            count
        };
        self.microphone.hear(&mut buf[..count]);
        Ok(count)
    }

    fn label(&self) -> String {
        self.inner.label()
    }

    fn dropped(&self) -> u64 {
        self.inner.dropped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_impulse_comes_back_with_the_paths_delay_and_gain() {
        let sim = EchoSim { delay_ms: 60, gain_db: -6.0 };
        let (mut speaker, mut microphone) = room(sim);
        speaker.start_at(1000);
        let mut played = vec![0.0_f32; 4800];
        played[100] = 1.0;
        // Played in 10 ms ticks, heard in 5 ms periods, as the file backends do.
        let mut heard = vec![0.25_f32; 9600];
        for (tick, chunk) in played.chunks(480).enumerate() {
            speaker.play(chunk);
            let position = 1000 + tick as u64 * 480;
            for (half, period) in heard[tick * 480..(tick + 1) * 480].chunks_mut(240).enumerate() {
                microphone.hear_at(position + half as u64 * 240, period);
            }
        }
        let expected_at = 100 + sim.delay_samples();
        for (index, &sample) in heard[..4800].iter().enumerate() {
            let echo = sample - 0.25;
            if index == expected_at {
                assert!((echo - sim.gain()).abs() < 1e-6, "the impulse returns scaled by -6 dB, got {echo}");
            } else {
                assert!(
                    echo.abs() < 1e-6,
                    "only the delayed impulse is added to the input; {echo} at {index}"
                );
            }
        }
    }

    #[test]
    fn nothing_is_heard_before_the_speaker_plays() {
        let (_speaker, mut microphone) = room(EchoSim { delay_ms: 0, gain_db: 0.0 });
        let mut heard = [0.5_f32; 480];
        microphone.hear_at(0, &mut heard);
        assert!(heard.iter().all(|&s| s == 0.5), "an unstarted speaker adds nothing to the input");
    }
}
