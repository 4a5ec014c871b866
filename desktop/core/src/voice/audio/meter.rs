//! Level metering in dBFS and voice activity detection with hangover.

/// The quietest level reported, for digital silence.
pub const FLOOR_DBFS: f32 = -100.0;
/// Frames voice stays "active" after the level drops (15 × 20 ms), so the gate does not
/// chop the ends of words and the speaking indicator does not flicker between syllables.
pub const HANGOVER_FRAMES: u32 = 15;

/// RMS level of samples in dBFS (a full-scale sine reads about -3 dBFS).
pub fn rms_dbfs(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return FLOOR_DBFS;
    }
    let energy: f32 = samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32;
    if energy <= 0.0 {
        return FLOOR_DBFS;
    }
    (10.0 * energy.log10()).max(FLOOR_DBFS)
}

/// Decides frame by frame whether someone is speaking.
#[derive(Debug, Clone)]
pub struct VoiceDetector {
    threshold_dbfs: f32,
    hangover: u32,
    level_dbfs: f32,
}

impl VoiceDetector {
    pub fn new(threshold_dbfs: f32) -> Self {
        Self { threshold_dbfs, hangover: 0, level_dbfs: FLOOR_DBFS }
    }

    /// Measures one frame; returns whether voice is active after it.
    pub fn update(&mut self, frame: &[f32]) -> bool {
        self.level_dbfs = rms_dbfs(frame);
        if self.level_dbfs >= self.threshold_dbfs {
            self.hangover = HANGOVER_FRAMES;
        } else {
            self.hangover = self.hangover.saturating_sub(1);
        }
        self.active()
    }

    pub fn active(&self) -> bool {
        self.hangover > 0
    }

    /// Moves the threshold while it runs (the settings' slider); the hangover carries on.
    pub fn set_threshold(&mut self, threshold_dbfs: f32) {
        self.threshold_dbfs = threshold_dbfs;
    }

    /// Level of the last frame.
    pub fn level_dbfs(&self) -> f32 {
        self.level_dbfs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voice_stays_active_through_the_hangover_then_ends() {
        let loud = [0.1_f32; 960];
        let quiet = [0.0_f32; 960];
        let mut detector = VoiceDetector::new(-50.0);
        assert!(!detector.update(&quiet), "silence is not voice");
        assert!(detector.update(&loud), "a -20 dBFS frame is voice");
        for frame in 1..HANGOVER_FRAMES {
            assert!(detector.update(&quiet), "hangover keeps voice active at quiet frame {frame}");
        }
        assert!(!detector.update(&quiet), "after the hangover silence ends voice");
        assert!((rms_dbfs(&loud) + 20.0).abs() < 0.01, "0.1 constant is -20 dBFS");
    }
}
