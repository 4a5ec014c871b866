//! Streaming sample-rate conversion with a windowed-sinc polyphase filter.
//!
//! Linear interpolation folds a microphone's 44.1 kHz content back into the voice band as
//! audible aliasing that Opus then spends bits on; a 32-tap Blackman-windowed sinc with
//! the cutoff below the lower Nyquist keeps it out at a cost of ~32 multiply-adds per
//! output sample.

/// Taps on each side of the interpolation point.
const HALF_TAPS: usize = 16;
/// Sub-sample positions the filter table holds; positions between are interpolated.
const PHASES: usize = 256;
/// Cutoff as a fraction of the lower Nyquist frequency: the transition band sits above it.
const CUTOFF: f64 = 0.92;

/// Converts a mono stream from one rate to another, chunk by chunk, keeping the filter's
/// history between calls so chunk borders are inaudible.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: u32,
    to: u32,
    /// Input samples advanced per output sample.
    step: f64,
    /// Position of the next output sample, in input samples from `history[0]`.
    position: f64,
    history: Vec<f32>,
    /// `PHASES + 1` rows of `2 * HALF_TAPS` coefficients.
    table: Vec<f32>,
}

impl Resampler {
    pub fn new(from: u32, to: u32) -> Self {
        let step = f64::from(from) / f64::from(to);
        let cutoff = CUTOFF * (f64::from(to) / f64::from(from)).min(1.0);
        let taps = 2 * HALF_TAPS;
        let mut table = vec![0.0_f32; (PHASES + 1) * taps];
        for phase in 0..=PHASES {
            let fraction = phase as f64 / PHASES as f64;
            let row = &mut table[phase * taps..(phase + 1) * taps];
            let mut sum = 0.0;
            let mut values = [0.0_f64; 2 * HALF_TAPS];
            for (tap, value) in values.iter_mut().enumerate() {
                // Distance of this input sample from the output point.
                let x = tap as f64 - (HALF_TAPS as f64 - 1.0) - fraction;
                *value = cutoff * sinc(cutoff * x) * blackman(x / HALF_TAPS as f64);
                sum += *value;
            }
            // Unity gain at DC in every phase, so a constant stays constant.
            for (slot, value) in row.iter_mut().zip(values) {
                *slot = (value / sum) as f32;
            }
        }
        // Start with a silent history so the first output sample is aligned with the first
        // input sample (the filter's delay is HALF_TAPS input samples).
        let history = vec![0.0; HALF_TAPS - 1];
        Self { from, to, step, position: 0.0, history, table }
    }

    pub fn input_rate(&self) -> u32 {
        self.from
    }

    pub fn output_rate(&self) -> u32 {
        self.to
    }

    /// Appends to `out` every output sample the input so far determines.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        if self.from == self.to {
            out.extend_from_slice(input);
            return;
        }
        self.history.extend_from_slice(input);
        let taps = 2 * HALF_TAPS;
        loop {
            let base = self.position.floor();
            let first = base as usize;
            if first + taps > self.history.len() {
                break;
            }
            let fraction = (self.position - base) * PHASES as f64;
            let phase = fraction.floor() as usize;
            let blend = (fraction - phase as f64) as f32;
            let low = &self.table[phase * taps..(phase + 1) * taps];
            let high = &self.table[(phase + 1) * taps..(phase + 2) * taps];
            let window = &self.history[first..first + taps];
            let mut acc = 0.0_f32;
            for ((&sample, &a), &b) in window.iter().zip(low).zip(high) {
                acc += sample * (a + (b - a) * blend);
            }
            out.push(acc);
            self.position += self.step;
        }
        // Drop what no future output sample needs.
        let consumed = (self.position.floor() as usize).min(self.history.len());
        self.history.drain(..consumed);
        self.position -= consumed as f64;
    }
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-9 {
        1.0
    } else {
        let pix = std::f64::consts::PI * x;
        pix.sin() / pix
    }
}

/// Blackman window over [-1, 1].
fn blackman(t: f64) -> f64 {
    if t.abs() >= 1.0 {
        return 0.0;
    }
    let angle = std::f64::consts::PI * (t + 1.0);
    0.42 - 0.5 * angle.cos() + 0.08 * (2.0 * angle).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::audio::analysis;

    #[test]
    fn keeps_a_1khz_tone_at_1khz_from_44_1k_to_48k() {
        let input = analysis::sine(1000.0, 44_100, 1.0, 0.5);
        let mut resampler = Resampler::new(44_100, 48_000);
        let mut out = Vec::new();
        // Odd chunk sizes, like device periods, to exercise the history across calls.
        for chunk in input.chunks(441) {
            resampler.process(chunk, &mut out);
        }
        let expected = 48_000.0 * input.len() as f64 / 44_100.0;
        assert!(
            (out.len() as f64 - expected).abs() < 40.0,
            "output length {} must match the rate ratio ({expected})",
            out.len()
        );
        let found = analysis::dominant_frequency(&out[4800..], 48_000, 100.0, 4000.0);
        assert!((found - 1000.0).abs() <= 5.0, "a 1 kHz tone must stay at 1 kHz, found {found}");
        let level = analysis::rms_dbfs(&out[4800..]);
        let expected_level = analysis::rms_dbfs(&input[4410..]);
        assert!((level - expected_level).abs() < 0.5, "level {level} must stay {expected_level}");
    }

    #[test]
    fn downsampling_removes_content_above_the_new_nyquist() {
        // 30 kHz does not exist at 48 kHz; a naive converter would fold it to 18 kHz.
        let input = analysis::sine(30_000.0, 96_000, 0.5, 0.5);
        let mut resampler = Resampler::new(96_000, 48_000);
        let mut out = Vec::new();
        resampler.process(&input, &mut out);
        let level = analysis::rms_dbfs(&out[480..]);
        assert!(level < -40.0, "aliased content must be filtered out, level {level} dBFS");
    }
}
