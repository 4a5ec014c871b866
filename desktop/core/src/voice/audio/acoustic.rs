//! Acoustic processing of the microphone: echo cancellation, gain control, high-pass.
//!
//! WebRTC's audio processing module, through `sonora`, its port to Rust: AEC3 (with its
//! own render-to-capture delay estimator, so no fixed delay is assumed), AGC2's adaptive
//! digital gain and the high-pass filter. Pure Rust, so the build needs no C++ toolchain
//! and no system library, unlike bindings to the C++ module. Its noise suppressor stays
//! off: RNNoise ([`super::denoise`]) is the pipeline's one suppressor, and two in series
//! would eat into speech twice.
//!
//! The module works in 10 ms blocks; a 20 ms capture frame is processed as two.

use sonora::config::{AdaptiveDigital, EchoCanceller, GainController2, HighPassFilter};
use sonora::{AudioProcessing, Config, StreamConfig};

use super::{FRAME_SAMPLES, SAMPLE_RATE};

/// Samples in one 10 ms block at [`SAMPLE_RATE`], the module's unit of work.
pub const BLOCK_SAMPLES: usize = FRAME_SAMPLES / 2;

/// Which stages run; each is switchable per user while capture runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AcousticSettings {
    pub echo_cancellation: bool,
    pub gain_control: bool,
    pub high_pass: bool,
}

impl AcousticSettings {
    fn any(self) -> bool {
        self.echo_cancellation || self.gain_control || self.high_pass
    }

    fn module_config(self) -> Config {
        Config {
            high_pass_filter: self.high_pass.then(HighPassFilter::default),
            // AEC3 would force its own high-pass filter on; "off" must mean off.
            echo_canceller: self
                .echo_cancellation
                .then(|| EchoCanceller { enforce_high_pass_filtering: self.high_pass, ..Default::default() }),
            gain_controller2: self.gain_control.then(|| GainController2 {
                // There is no analog microphone volume to steer: digital gain only.
                input_volume_controller: false,
                adaptive_digital: Some(AdaptiveDigital {
                    // Start neutral and let measured speech raise the gain: a loud
                    // microphone must not clip for the first seconds of a call.
                    initial_gain_db: 0.0,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            noise_suppression: None,
            ..Default::default()
        }
    }
}

/// Echo of what playback plays, taken out of what the microphone hears.
pub struct AcousticProcessor {
    module: AudioProcessing,
    settings: AcousticSettings,
    /// The module writes its output beside its input; capture's frame is copied here first.
    input: [f32; BLOCK_SAMPLES],
    /// Where the module writes the far-end block it is handed (unused, but required).
    render_out: [f32; BLOCK_SAMPLES],
}

impl AcousticProcessor {
    pub fn new(settings: AcousticSettings) -> Self {
        let stream = StreamConfig::new(SAMPLE_RATE, 1);
        let module = AudioProcessing::builder()
            .config(settings.module_config())
            .capture_config(stream)
            .render_config(stream)
            .build();
        Self { module, settings, input: [0.0; BLOCK_SAMPLES], render_out: [0.0; BLOCK_SAMPLES] }
    }

    pub fn settings(&self) -> AcousticSettings {
        self.settings
    }

    /// Switches stages on or off. The module reinitializes what changed, which allocates:
    /// this happens when a person flips a setting, never per frame.
    pub fn set(&mut self, settings: AcousticSettings) {
        if settings != self.settings {
            self.settings = settings;
            self.module.apply_config(settings.module_config());
        }
    }

    /// Hands the module one 10 ms block of what the speaker played (the far end's sound),
    /// in the order played. Ignored while echo cancellation is off.
    pub fn far_end(&mut self, block: &[f32; BLOCK_SAMPLES]) {
        if !self.settings.echo_cancellation {
            return;
        }
        // Only a wrong block size or channel count is refused, and both are fixed here.
        let _ = self.module.process_render_f32(&[&block[..]], &mut [&mut self.render_out[..]]);
    }

    /// Processes one 20 ms microphone frame in place.
    pub fn process(&mut self, frame: &mut [f32; FRAME_SAMPLES]) {
        if !self.settings.any() {
            return;
        }
        for block in frame.chunks_exact_mut(BLOCK_SAMPLES) {
            self.input.copy_from_slice(block);
            // As in `far_end`: the block size is the module's own, so this cannot fail.
            let _ = self.module.process_capture_f32(&[&self.input[..]], &mut [block]);
        }
    }

    /// How much the canceller takes off the echo, in dB (its own estimate), once known.
    pub fn erle_db(&self) -> Option<f64> {
        self.module.statistics().echo_return_loss_enhancement
    }

    /// The render-to-capture delay the canceller found, in milliseconds, once known.
    pub fn delay_ms(&self) -> Option<i32> {
        self.module.statistics().delay_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::audio::analysis;

    const ALL_ON: AcousticSettings =
        AcousticSettings { echo_cancellation: true, gain_control: true, high_pass: true };

    fn power(samples: &[f32]) -> f64 {
        samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / samples.len().max(1) as f64
    }

    /// Plays `far` through a room (delay in samples, gain as a factor) into a microphone
    /// that also hears `near`, through a processor with `settings`; returns the output.
    fn through_room(
        settings: AcousticSettings,
        far: &[f32],
        near: &[f32],
        delay: usize,
        gain: f32,
    ) -> Vec<f32> {
        let mut processor = AcousticProcessor::new(settings);
        let mut output = Vec::with_capacity(far.len());
        for (index, chunk) in far.chunks_exact(FRAME_SAMPLES).enumerate() {
            let start = index * FRAME_SAMPLES;
            for block in chunk.chunks_exact(BLOCK_SAMPLES) {
                processor.far_end(block.try_into().expect("10 ms block"));
            }
            let mut frame = [0.0_f32; FRAME_SAMPLES];
            for (offset, slot) in frame.iter_mut().enumerate() {
                let at = start + offset;
                let echo = at.checked_sub(delay).map_or(0.0, |from| far[from] * gain);
                *slot = echo + near.get(at).copied().unwrap_or(0.0);
            }
            processor.process(&mut frame);
            output.extend_from_slice(&frame);
        }
        output
    }

    #[test]
    fn the_echo_of_speech_is_cancelled_after_convergence() {
        let seconds = 6;
        let far = analysis::voice_like(SAMPLE_RATE as usize * seconds, SAMPLE_RATE, 0.3);
        let delay = (SAMPLE_RATE as usize) * 60 / 1000;
        let settings = AcousticSettings { gain_control: false, ..ALL_ON };
        let cancelled = through_room(settings, &far, &[], delay, 0.5);
        let untouched = through_room(AcousticSettings::default(), &far, &[], delay, 0.5);
        // After 2 s of convergence, as the goal says.
        let tail = 3 * SAMPLE_RATE as usize..;
        let erle = 10.0 * (power(&untouched[tail.clone()]) / power(&cancelled[tail]).max(1e-20)).log10();
        assert!(
            erle >= 25.0,
            "a 60 ms, -6 dB echo must be at least 25 dB quieter after 3 s; got {erle:.1} dB"
        );
    }

    #[test]
    fn near_speech_passes_while_the_far_end_talks() {
        let count = SAMPLE_RATE as usize * 6;
        let far = analysis::voice_like(count, SAMPLE_RATE, 0.3);
        let near = analysis::sine(1000.0, SAMPLE_RATE, 6.0, 0.2);
        let settings = AcousticSettings { gain_control: false, ..ALL_ON };
        let output = through_room(settings, &far, &near, 2880, 0.5);
        let tail = &output[3 * SAMPLE_RATE as usize..];
        let kept = analysis::goertzel_power(tail, SAMPLE_RATE, 1000.0)
            / analysis::goertzel_power(&near[3 * SAMPLE_RATE as usize..], SAMPLE_RATE, 1000.0);
        let kept_db = 10.0 * kept.log10();
        eprintln!("near-end tone during double talk: {kept_db:.1} dB");
        assert!(kept_db > -10.0, "the near talker's tone must survive double talk; it lost {kept_db:.1} dB");
    }

    #[test]
    fn gain_control_leaves_a_loud_tone_as_it_is() {
        for settings in [ALL_ON, AcousticSettings { gain_control: true, ..Default::default() }] {
            let tone = analysis::sine(440.0, SAMPLE_RATE, 6.0, 0.5);
            let output = through_room(settings, &vec![0.0; tone.len()], &tone, 0, 0.0);
            let tail = &output[4 * SAMPLE_RATE as usize..];
            let gain_db = 10.0 * (power(tail) / power(&tone[4 * SAMPLE_RATE as usize..])).log10();
            let purity = analysis::tone_purity(tail, SAMPLE_RATE, 440.0);
            eprintln!("{settings:?}: gain {gain_db:.1} dB, purity {purity:.3}");
            assert!(
                gain_db.abs() < 1.0,
                "a -9 dBFS tone is loud enough: no gain added or taken, got {gain_db:.1} dB"
            );
            assert!(
                purity > 0.99,
                "the limiter must not bend a loud tone into harmonics: purity {purity:.3}"
            );
        }
    }

    #[test]
    fn all_stages_off_leaves_the_signal_untouched() {
        let mut processor = AcousticProcessor::new(AcousticSettings::default());
        let tone = analysis::sine(440.0, SAMPLE_RATE, 0.02, 0.5);
        let mut frame: [f32; FRAME_SAMPLES] = tone[..FRAME_SAMPLES].try_into().expect("20 ms");
        processor.process(&mut frame);
        assert_eq!(&frame[..], &tone[..FRAME_SAMPLES], "with every stage off the frame is passed as is");
    }
}
