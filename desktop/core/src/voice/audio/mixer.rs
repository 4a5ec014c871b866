//! Summing peers into one signal without hard clipping.

/// Below this magnitude the mixer is exactly linear.
const KNEE: f32 = 0.8;

/// The loudest a volume factor may be: +12 dB.
pub const MAX_VOLUME: f32 = 4.0;

/// A volume factor as the pipelines take it: within 0..=[`MAX_VOLUME`], and 1.0 (as is)
/// for a value that is not a number.
pub fn clamped_volume(volume: f32) -> f32 {
    if volume.is_finite() {
        volume.clamp(0.0, MAX_VOLUME)
    } else {
        1.0
    }
}

/// Adds `source × volume` into `mix`.
pub fn add_scaled(mix: &mut [f32], source: &[f32], volume: f32) {
    for (out, &sample) in mix.iter_mut().zip(source) {
        *out += sample * volume;
    }
}

/// Bends samples above the knee smoothly towards ±1, so two loud peers at once sound
/// compressed instead of cracking.
pub fn soft_clip(mix: &mut [f32]) {
    let room = 1.0 - KNEE;
    for sample in mix.iter_mut() {
        let magnitude = sample.abs();
        if magnitude > KNEE {
            let bent = KNEE + room * ((magnitude - KNEE) / room).tanh();
            *sample = bent.copysign(*sample);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_mixes_are_untouched_and_loud_ones_stay_below_full_scale() {
        let mut mix = [0.0_f32; 4];
        add_scaled(&mut mix, &[0.2, -0.3, 0.9, -0.9], 1.0);
        add_scaled(&mut mix, &[0.2, -0.3, 0.9, -0.9], 0.5);
        soft_clip(&mut mix);
        assert!((mix[0] - 0.3).abs() < 1e-6, "0.3 is below the knee and must pass unchanged");
        assert!((mix[1] + 0.45).abs() < 1e-6, "the negative side is linear too");
        assert!(mix[2] < 1.0 && mix[2] > 0.9, "1.35 is bent below full scale, got {}", mix[2]);
        assert!((mix[2] + mix[3]).abs() < 1e-6, "clipping is symmetric");
    }
}
