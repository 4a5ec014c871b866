//! Opening a cpal stream in either direction: the device's default format, a ring sized for
//! the audio thread being late, the callback for the device's sample format, and the flag
//! the stream's errors raise. What differs between microphone and speaker is a
//! [`StreamKind`]: which default format to ask for, which ring to use and what the
//! callback does with it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use cpal::traits::StreamTrait;
use cpal::{FromSample, SampleFormat, SizedSample};

use super::{device_id, device_name, find_device, Direction, RING_SECONDS};
use crate::voice::audio::AudioError;

/// The direction-specific part of a device stream.
pub(super) trait StreamKind {
    const DIRECTION: Direction;
    /// The ring's end that moves into the callback.
    type CallbackEnd: Send + 'static;
    /// The ring's end the audio thread keeps.
    type ThreadEnd;

    /// A ring holding `frames` frames of `channels` interleaved samples.
    fn ring(frames: usize, channels: usize) -> (Self::CallbackEnd, Self::ThreadEnd);

    fn default_config(device: &cpal::Device) -> Result<cpal::SupportedStreamConfig, cpal::Error>;

    /// Builds the stream whose callback moves samples of type `T` through `ring`; the
    /// callback only converts and copies (no allocation, lock, logging or waiting).
    fn build<T>(
        device: &cpal::Device,
        config: &cpal::StreamConfig,
        ring: Self::CallbackEnd,
        flags: &Arc<StreamFlags>,
    ) -> Result<cpal::Stream, cpal::Error>
    where
        T: SizedSample + FromSample<f32>,
        f32: FromSample<T>;
}

/// What a running cpal stream shares with its callbacks.
#[derive(Default)]
pub(super) struct StreamFlags {
    pub(super) failed: AtomicBool,
    /// Output: callbacks that ran dry. (Input drops are counted by its ring's reader.)
    pub(super) losses: AtomicU64,
    /// Output: the most samples one callback asked for. The queue must hold at least
    /// that much, or every callback runs dry and the device plays gaps.
    pub(super) largest_request: AtomicU64,
}

/// The error callback every stream gets. Only an error that leaves the stream dead marks
/// it failed (the audio thread then reopens a device); cpal also reports glitches the
/// stream recovers from by itself, and an xrun on a loaded machine must not move a person
/// off the headset they chose.
pub(super) fn stream_error(flags: &Arc<StreamFlags>) -> impl FnMut(cpal::Error) + Send + 'static {
    let flags = Arc::clone(flags);
    move |error: cpal::Error| {
        if !recovers_by_itself(error.kind()) {
            // Only an atomic store here: the audio thread notices.
            flags.failed.store(true, Ordering::Release);
        }
    }
}

/// Errors after which the stream goes on: a buffer under- or overrun (cpal prepares the
/// device again), a reroute of a default-device stream, a refused real-time promotion.
fn recovers_by_itself(kind: cpal::ErrorKind) -> bool {
    matches!(kind, cpal::ErrorKind::Xrun | cpal::ErrorKind::DeviceChanged | cpal::ErrorKind::RealtimeDenied)
}

/// A playing stream; dropping it stops the device.
pub(super) struct OpenStream {
    /// The device's id, as [`super::DeviceInfo::id`].
    pub(super) id: String,
    _stream: cpal::Stream,
    pub(super) channels: usize,
    pub(super) rate: u32,
    pub(super) flags: Arc<StreamFlags>,
}

impl OpenStream {
    /// Opens the named device (the default one when no name is given or it is not found).
    pub(super) fn open<K: StreamKind>(wanted: Option<&str>) -> Result<(Self, K::ThreadEnd), AudioError> {
        let device = find_device(K::DIRECTION, wanted)?;
        Self::start::<K>(&device)
    }

    /// Whether the device reported an error since it was opened.
    pub(super) fn failed(&self) -> bool {
        self.flags.failed.load(Ordering::Acquire)
    }

    fn start<K: StreamKind>(device: &cpal::Device) -> Result<(Self, K::ThreadEnd), AudioError> {
        let name = device_name(device);
        let device_error = |source| AudioError::Device { device: name.clone(), source };
        let supported = K::default_config(device).map_err(device_error)?;
        let config: cpal::StreamConfig = supported.config();
        let channels = usize::from(config.channels.max(1));
        let frames = (config.sample_rate as f32 * RING_SECONDS) as usize;
        let (callback_end, thread_end) = K::ring(frames, channels);
        let flags = Arc::new(StreamFlags::default());
        let stream = match supported.sample_format() {
            SampleFormat::F32 => K::build::<f32>(device, &config, callback_end, &flags),
            SampleFormat::I16 => K::build::<i16>(device, &config, callback_end, &flags),
            SampleFormat::I32 => K::build::<i32>(device, &config, callback_end, &flags),
            SampleFormat::U16 => K::build::<u16>(device, &config, callback_end, &flags),
            other => return Err(AudioError::UnsupportedFormat { device: name, format: other.to_string() }),
        }
        .map_err(device_error)?;
        stream.play().map_err(device_error)?;
        let open = Self { id: device_id(device), _stream: stream, channels, rate: config.sample_rate, flags };
        Ok((open, thread_end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_errors_that_end_the_stream_mark_it_failed() {
        let flags = Arc::new(StreamFlags::default());
        let mut on_error = stream_error(&flags);
        for glitch in [cpal::ErrorKind::Xrun, cpal::ErrorKind::DeviceChanged, cpal::ErrorKind::RealtimeDenied]
        {
            on_error(glitch.into());
            assert!(!flags.failed.load(Ordering::Acquire), "{glitch:?} is recovered from by the stream");
        }
        on_error(cpal::ErrorKind::DeviceNotAvailable.into());
        assert!(flags.failed.load(Ordering::Acquire), "an unplugged device ends the stream");
    }
}
