//! Backends without a sound card: WAV file in, WAV file out, silence in, null out.
//! Each keeps real time with a [`Pacer`], so a bot or test behaves like a person.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::{AudioInput, AudioOutput};
use crate::voice::audio::pacer::Pacer;
use crate::voice::audio::{AudioError, SAMPLE_RATE};

/// Samples per read: 5 ms at the file's rate, like a low-latency device period.
const PERIOD_DIVISOR: u32 = 200;

/// A WAV file (any rate, any channels, downmixed) played once, then silence forever.
pub(crate) struct WavInput {
    label: String,
    samples: Vec<f32>,
    rate: u32,
    position: u64,
    started: bool,
    pacer: Pacer,
}

impl WavInput {
    pub(crate) fn open(path: &Path) -> Result<Self, AudioError> {
        let wav_error = |source| AudioError::Wav { path: path.to_owned(), source };
        let reader = hound::WavReader::open(path).map_err(wav_error)?;
        let spec = reader.spec();
        let channels = usize::from(spec.channels.max(1));
        let interleaved: Vec<f32> = match spec.sample_format {
            hound::SampleFormat::Float => {
                reader.into_samples::<f32>().collect::<Result<_, _>>().map_err(wav_error)?
            }
            hound::SampleFormat::Int => {
                let scale = 1.0 / (1_i64 << (spec.bits_per_sample.max(1) - 1)) as f32;
                reader
                    .into_samples::<i32>()
                    .map(|sample| sample.map(|s| s as f32 * scale))
                    .collect::<Result<_, _>>()
                    .map_err(wav_error)?
            }
        };
        let samples =
            interleaved.chunks(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32).collect();
        let label = path.display().to_string();
        Ok(Self {
            label,
            samples,
            rate: spec.sample_rate,
            position: 0,
            started: false,
            pacer: Pacer::new(spec.sample_rate),
        })
    }

    pub(crate) fn silence() -> Self {
        Self {
            label: "silence".to_owned(),
            samples: Vec::new(),
            rate: SAMPLE_RATE,
            position: 0,
            started: false,
            pacer: Pacer::new(SAMPLE_RATE),
        }
    }
}

impl AudioInput for WavInput {
    fn sample_rate(&self) -> u32 {
        self.rate
    }

    fn label(&self) -> String {
        self.label.clone()
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize, AudioError> {
        if self.position == 0 && !self.started {
            // The file starts playing when the pipeline first asks, not when it was opened:
            // setting up the encoder must not turn into a burst of overdue audio.
            self.pacer = Pacer::new(self.rate);
            self.started = true;
        }
        let period = u64::from(self.rate / PERIOD_DIVISOR);
        // Hand out whole periods once they are due, like a device interrupt would.
        let next = self.position + period;
        self.pacer.wait_until(next);
        let count = (self.pacer.due() - self.position).min(buf.len() as u64) as usize;
        for (index, slot) in buf[..count].iter_mut().enumerate() {
            let at = self.position as usize + index;
            *slot = self.samples.get(at).copied().unwrap_or(0.0);
        }
        self.position += count as u64;
        Ok(count)
    }
}

/// What was played, as a 48 kHz mono 16-bit WAV file.
pub(crate) struct WavOutput {
    path: PathBuf,
    writer: hound::WavWriter<BufWriter<File>>,
    written: u64,
    pacer: Pacer,
}

impl WavOutput {
    pub(crate) fn create(path: &Path) -> Result<Self, AudioError> {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer = hound::WavWriter::create(path, spec)
            .map_err(|source| AudioError::Wav { path: path.to_owned(), source })?;
        Ok(Self { path: path.to_owned(), writer, written: 0, pacer: Pacer::new(SAMPLE_RATE) })
    }
}

impl AudioOutput for WavOutput {
    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn label(&self) -> String {
        self.path.display().to_string()
    }

    fn wait_ready(&mut self) {
        self.pacer.wait_until(self.written);
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        // A speaker takes a buffer when the previous one has played: wait for our own end.
        self.pacer.wait_until(self.written);
        for &sample in samples {
            let value = (sample.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16;
            self.writer
                .write_sample(value)
                .map_err(|source| AudioError::Wav { path: self.path.clone(), source })?;
        }
        self.written += samples.len() as u64;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), AudioError> {
        let path = self.path;
        self.writer.finalize().map_err(|source| AudioError::Wav { path, source })
    }
}

/// Discards samples in real time.
pub(crate) struct NullOutput {
    written: u64,
    pacer: Pacer,
}

impl NullOutput {
    pub(crate) fn new() -> Self {
        Self { written: 0, pacer: Pacer::new(SAMPLE_RATE) }
    }
}

impl AudioOutput for NullOutput {
    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn label(&self) -> String {
        "null".to_owned()
    }

    fn wait_ready(&mut self) {
        self.pacer.wait_until(self.written);
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        self.pacer.wait_until(self.written);
        self.written += samples.len() as u64;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), AudioError> {
        Ok(())
    }
}
