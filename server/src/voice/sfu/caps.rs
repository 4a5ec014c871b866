//! Per-participant send caps: a participant past its packet rate or bitrate has the
//! excess dropped at the SFU instead of multiplied to every listener.

use std::time::Instant;

/// The limits every participant gets (VOICE_SFU_MAX_PACKETS_PER_SEC, VOICE_SFU_MAX_KBPS).
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    packets_per_sec: f64,
    bytes_per_sec: f64,
}

impl Caps {
    pub fn new(packets_per_sec: u32, kbps: u32) -> Self {
        Self {
            packets_per_sec: f64::from(packets_per_sec.max(1)),
            bytes_per_sec: f64::from(kbps.max(1)) * 125.0,
        }
    }

    pub fn bucket(&self, now: Instant) -> Bucket {
        Bucket { caps: *self, packets: self.packets_per_sec, bytes: self.bytes_per_sec, at: now }
    }
}

/// Token buckets holding up to one second of allowance, so a short burst (a reconnect
/// flushing a few frames) passes and a sustained excess does not.
#[derive(Debug, Clone)]
pub struct Bucket {
    caps: Caps,
    packets: f64,
    bytes: f64,
    at: Instant,
}

impl Bucket {
    /// Whether a packet of `len` payload bytes may pass now; spends the allowance if so.
    pub fn admit(&mut self, now: Instant, len: usize) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.packets = (self.packets + elapsed * self.caps.packets_per_sec).min(self.caps.packets_per_sec);
        self.bytes = (self.bytes + elapsed * self.caps.bytes_per_sec).min(self.caps.bytes_per_sec);
        let len = len as f64;
        if self.packets < 1.0 || self.bytes < len {
            return false;
        }
        self.packets -= 1.0;
        self.bytes -= len;
        true
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_steady_stream_under_the_caps_passes_whole() {
        let start = Instant::now();
        let mut bucket = Caps::new(100, 64).bucket(start);
        // Opus at 20 ms, 120 bytes a frame: 50 packets/s, 48 kbit/s.
        let passed = (0..500).filter(|i| bucket.admit(start + Duration::from_millis(20 * i), 120)).count();
        assert_eq!(passed, 500);
    }

    #[test]
    fn a_flood_is_held_to_the_packet_rate() {
        let start = Instant::now();
        let mut bucket = Caps::new(100, 10_000).bucket(start);
        // 1000 packets/s for 5 s: one second of burst plus 100/s afterwards.
        let passed = (0..5000).filter(|i| bucket.admit(start + Duration::from_millis(*i), 50)).count();
        assert!((590..=610).contains(&passed), "{passed} packets passed");
    }

    #[test]
    fn oversized_frames_are_held_to_the_bitrate() {
        let start = Instant::now();
        let mut bucket = Caps::new(1000, 64).bucket(start);
        // 50 packets/s of 1000 bytes = 400 kbit/s against 64 kbit/s (8000 bytes/s).
        let passed = (0..250).filter(|i| bucket.admit(start + Duration::from_millis(20 * i), 1000)).count();
        assert!(passed <= 8 + 5 * 8 + 1, "{passed} packets passed");
        assert!(passed >= 40, "{passed} packets passed");
    }
}
