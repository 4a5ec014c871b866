//! Errors of the audio pipeline.

use std::path::PathBuf;

/// Why the audio pipeline could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AudioError {
    /// The sound system has no device in that direction. Retryable once a device appears.
    #[error("no {direction} audio device available")]
    NoDevice { direction: &'static str },
    /// The sound system refused a device or stream. Retryable (devices come and go).
    #[error("audio device {device:?}: {source}")]
    Device {
        device: String,
        #[source]
        source: cpal::Error,
    },
    /// The device only offers a sample format the pipeline does not convert. Not retryable.
    #[error("audio device {device:?} offers unsupported sample format {format}")]
    UnsupportedFormat { device: String, format: String },
    /// A WAV file could not be read or written. Not retryable without a different file.
    #[error("WAV file {path}: {source}")]
    Wav {
        path: PathBuf,
        #[source]
        source: hound::Error,
    },
    /// libopus refused a setting or a frame. Not retryable.
    #[error("opus {context}: {source}")]
    Codec {
        context: &'static str,
        #[source]
        source: opus::Error,
    },
    /// The operating system would not start the audio thread. Retryable.
    #[error("could not start audio thread {name}: {source}")]
    Thread {
        name: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The audio thread panicked or vanished. Not retryable; restart the pipeline.
    #[error("audio thread {name} ended unexpectedly")]
    ThreadGone { name: &'static str },
}
