//! A real-time clock for backends without a device clock (WAV files, silence, null).

use std::time::{Duration, Instant};

/// Keeps a sample stream at its nominal rate by sleeping until each sample's due time.
#[derive(Debug)]
pub(crate) struct Pacer {
    start: Instant,
    rate: u32,
}

impl Pacer {
    pub(crate) fn new(rate: u32) -> Self {
        Self { start: Instant::now(), rate }
    }

    /// Samples due by now since the start.
    pub(crate) fn due(&self) -> u64 {
        let elapsed = self.start.elapsed();
        (elapsed.as_secs_f64() * f64::from(self.rate)) as u64
    }

    /// Sleeps until sample number `position` is due.
    pub(crate) fn wait_until(&self, position: u64) {
        let at = self.start + Duration::from_secs_f64(position as f64 / f64::from(self.rate));
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
    }
}
