//! Test signals and measurements: tones, noise, WAV files, dominant frequency, gaps.
//!
//! Public so integration and end-to-end tests (and bots checking what they heard) use
//! one implementation of "is there a 440 Hz tone in this file".

use std::path::Path;
use std::time::Duration;

pub use super::meter::rms_dbfs;

/// A sine tone of `seconds` at `rate`, peak `amplitude`.
pub fn sine(frequency: f64, rate: u32, seconds: f64, amplitude: f32) -> Vec<f32> {
    let count = (seconds * f64::from(rate)) as usize;
    let step = std::f64::consts::TAU * frequency / f64::from(rate);
    (0..count).map(|n| amplitude * (step * n as f64).sin() as f32).collect()
}

/// Uniform white noise with the given peak, reproducible from `seed`.
pub fn white_noise(count: usize, amplitude: f32, seed: u64) -> Vec<f32> {
    // xorshift64*: deterministic across platforms and without a dependency.
    let mut state = seed.max(1);
    (0..count)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let value = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
            let unit = value as f64 / (1_u64 << 53) as f64;
            amplitude * (2.0 * unit - 1.0) as f32
        })
        .collect()
}

/// A crude voiced sound: a 150 Hz pitch with harmonics shaped like a vowel's formants
/// (about 700 Hz and 1200 Hz), syllables of 200 ms on and 50 ms off. Good enough for
/// RNNoise to treat it as speech, unlike a pure tone.
pub fn voice_like(count: usize, rate: u32, amplitude: f32) -> Vec<f32> {
    let pitch = 150.0;
    let formants = [(700.0, 130.0), (1200.0, 150.0), (2600.0, 250.0)];
    let harmonics: Vec<(f64, f64)> = (1..40)
        .map(|k| {
            let frequency = pitch * f64::from(k);
            let gain: f64 = formants
                .iter()
                .map(|&(center, width)| (-((frequency - center) / width).powi(2)).exp())
                .sum::<f64>()
                + 0.05;
            (frequency, gain)
        })
        .filter(|&(frequency, _)| frequency < f64::from(rate) / 2.0)
        .collect();
    let total: f64 = harmonics.iter().map(|&(_, gain)| gain).sum();
    (0..count)
        .map(|n| {
            let t = n as f64 / f64::from(rate);
            let syllable = (t % 0.25) < 0.2;
            if !syllable {
                return 0.0;
            }
            let value: f64 = harmonics
                .iter()
                .map(|&(frequency, gain)| gain * (std::f64::consts::TAU * frequency * t).sin())
                .sum();
            amplitude * (value / total) as f32
        })
        .collect()
}

/// Writes mono samples as a 16-bit WAV file.
pub fn write_wav(path: &Path, rate: u32, samples: &[f32]) -> Result<(), hound::Error> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec)?;
    for &sample in samples {
        writer.write_sample((sample.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16)?;
    }
    writer.finalize()
}

/// Reads a 16-bit WAV file (any channels, downmixed); returns its rate and samples.
pub fn read_wav(path: &Path) -> Result<(u32, Vec<f32>), hound::Error> {
    let reader = hound::WavReader::open(path)?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let interleaved: Vec<i16> = reader.into_samples::<i16>().collect::<Result<_, _>>()?;
    let samples = interleaved
        .chunks(channels)
        .map(|frame| frame.iter().map(|&s| f32::from(s) / 32_768.0).sum::<f32>() / channels as f32)
        .collect();
    Ok((spec.sample_rate, samples))
}

/// Power of `samples` at one frequency (Goertzel), normalized by length.
pub fn goertzel_power(samples: &[f32], rate: u32, frequency: f64) -> f64 {
    let coefficient = 2.0 * (std::f64::consts::TAU * frequency / f64::from(rate)).cos();
    let (mut previous, mut before) = (0.0_f64, 0.0_f64);
    for &sample in samples {
        let current = f64::from(sample) + coefficient * previous - before;
        before = previous;
        previous = current;
    }
    let power = previous * previous + before * before - coefficient * previous * before;
    power / (samples.len().max(1) as f64).powi(2)
}

/// The strongest frequency between `low` and `high` Hz: a 5 Hz grid search refined to
/// 0.5 Hz around the peak.
pub fn dominant_frequency(samples: &[f32], rate: u32, low: f64, high: f64) -> f64 {
    let strongest = |from: f64, to: f64, step: f64| {
        let mut best = (from, f64::MIN);
        let mut frequency = from;
        while frequency <= to {
            let power = goertzel_power(samples, rate, frequency);
            if power > best.1 {
                best = (frequency, power);
            }
            frequency += step;
        }
        best.0
    };
    let coarse = strongest(low, high, 5.0);
    strongest((coarse - 5.0).max(low), (coarse + 5.0).min(high), 0.5)
}

/// Share of the signal's energy that lies within `bandwidth` Hz of `frequency`,
/// estimated by comparing the tone's power with the total power.
pub fn tone_purity(samples: &[f32], rate: u32, frequency: f64) -> f64 {
    let total: f64 =
        samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / samples.len().max(1) as f64;
    if total <= 0.0 {
        return 0.0;
    }
    // A sine of amplitude A has mean power A²/2 and Goertzel power A²/4.
    (2.0 * goertzel_power(samples, rate, frequency) / total).min(1.0)
}

/// The longest stretch of 10 ms windows quieter than `threshold_dbfs` between the first
/// and the last loud window: a dropout inside a signal, ignoring silence around it.
pub fn longest_gap(samples: &[f32], rate: u32, threshold_dbfs: f32) -> Duration {
    let window = (rate / 100).max(1) as usize;
    let loud: Vec<bool> = samples.chunks(window).map(|chunk| rms_dbfs(chunk) >= threshold_dbfs).collect();
    let (Some(first), Some(last)) = (loud.iter().position(|&l| l), loud.iter().rposition(|&l| l)) else {
        return Duration::ZERO;
    };
    let mut longest = 0;
    let mut current = 0;
    for &is_loud in &loud[first..=last] {
        current = if is_loud { 0 } else { current + 1 };
        longest = longest.max(current);
    }
    Duration::from_millis(10 * longest as u64)
}

/// The time from the start of the samples to the first 10 ms window louder than
/// `threshold_dbfs`, if any.
pub fn onset(samples: &[f32], rate: u32, threshold_dbfs: f32) -> Option<Duration> {
    let window = (rate / 100).max(1) as usize;
    samples
        .chunks(window)
        .position(|chunk| rms_dbfs(chunk) >= threshold_dbfs)
        .map(|index| Duration::from_millis(10 * index as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_frequency_of_a_tone_in_noise_and_gaps_in_it() {
        let mut signal = sine(440.0, 48_000, 1.0, 0.5);
        for (sample, noise) in signal.iter_mut().zip(white_noise(48_000, 0.1, 3)) {
            *sample += noise;
        }
        let found = dominant_frequency(&signal, 48_000, 100.0, 4000.0);
        assert!((found - 440.0).abs() <= 1.0, "440 Hz must be found, got {found}");
        assert!(tone_purity(&signal, 48_000, 440.0) > 0.8, "the tone dominates the noise");
        signal[24_000..28_800].fill(0.0);
        let gap = longest_gap(&signal, 48_000, -40.0);
        assert_eq!(gap, Duration::from_millis(100), "a 100 ms dropout must be measured as such");
    }
}
