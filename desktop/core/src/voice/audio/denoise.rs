//! Noise suppression with RNNoise (the `nnnoiseless` port), switchable at run time.

use super::FRAME_SAMPLES;

/// RNNoise works on 10 ms frames at 48 kHz.
const RNNOISE_FRAME: usize = nnnoiseless::DenoiseState::FRAME_SIZE;
/// RNNoise expects samples on the 16-bit integer scale.
const SCALE: f32 = 32_768.0;

/// Denoises one 20 ms frame at a time.
pub struct NoiseSuppressor {
    state: Box<nnnoiseless::DenoiseState<'static>>,
    scaled: [f32; RNNOISE_FRAME],
    cleaned: [f32; RNNOISE_FRAME],
    /// RNNoise's own speech probability for the last frame, 0..1.
    voice_probability: f32,
}

impl Default for NoiseSuppressor {
    fn default() -> Self {
        Self::new()
    }
}

impl NoiseSuppressor {
    pub fn new() -> Self {
        Self {
            state: nnnoiseless::DenoiseState::new(),
            scaled: [0.0; RNNOISE_FRAME],
            cleaned: [0.0; RNNOISE_FRAME],
            voice_probability: 0.0,
        }
    }

    /// Replaces a 20 ms, 48 kHz frame with its denoised version.
    pub fn process(&mut self, frame: &mut [f32; FRAME_SAMPLES]) {
        let mut probability = 0.0_f32;
        for half in frame.chunks_exact_mut(RNNOISE_FRAME) {
            for (scaled, &sample) in self.scaled.iter_mut().zip(half.iter()) {
                *scaled = sample * SCALE;
            }
            probability = probability.max(self.state.process_frame(&mut self.cleaned, &self.scaled));
            for (sample, &cleaned) in half.iter_mut().zip(self.cleaned.iter()) {
                *sample = cleaned / SCALE;
            }
        }
        self.voice_probability = probability;
    }

    pub fn voice_probability(&self) -> f32 {
        self.voice_probability
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::audio::analysis;

    fn run(suppressor: &mut NoiseSuppressor, signal: &[f32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(signal.len());
        for chunk in signal.chunks_exact(FRAME_SAMPLES) {
            let mut frame = [0.0; FRAME_SAMPLES];
            frame.copy_from_slice(chunk);
            suppressor.process(&mut frame);
            out.extend_from_slice(&frame);
        }
        out
    }

    #[test]
    fn attenuates_white_noise_and_passes_a_voice_like_signal() {
        let noise = analysis::white_noise(48_000 * 2, 0.05, 7);
        let cleaned = run(&mut NoiseSuppressor::new(), &noise);
        // Skip the first half second: RNNoise needs a moment to learn the noise floor.
        let before = analysis::rms_dbfs(&noise[24_000..]);
        let after = analysis::rms_dbfs(&cleaned[24_000..]);
        assert!(after < before - 6.0, "white noise must lose at least 6 dB: {before} -> {after}");

        let voice = analysis::voice_like(48_000 * 2, 48_000, 0.3);
        let passed = run(&mut NoiseSuppressor::new(), &voice);
        let before = analysis::rms_dbfs(&voice[24_000..]);
        let after = analysis::rms_dbfs(&passed[24_000..]);
        assert!(after > before - 6.0, "a voiced signal must mostly pass: {before} -> {after}");
    }
}
