//! Counting failed attempts per key (an account, an address) in fixed windows.
//!
//! Kept in memory on each node: a cluster of N nodes allows at most N times the limit,
//! which still stops online guessing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Past this many keys, expired windows are swept on the next failure.
const SWEEP_THRESHOLD: usize = 10_000;

#[derive(Debug)]
pub struct Throttle {
    limit: u32,
    window: Duration,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Throttle {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self { limit, window, windows: Mutex::new(HashMap::new()) }
    }

    /// `Err(wait)` when the key has used up its attempts in the current window.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let windows = self.windows.lock().expect("throttle lock is never poisoned");
        match windows.get(key) {
            Some(&(started, count)) if count >= self.limit => {
                let elapsed = started.elapsed();
                if elapsed < self.window {
                    Err(self.window - elapsed)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    pub fn record(&self, key: &str) {
        let mut windows = self.windows.lock().expect("throttle lock is never poisoned");
        let now = Instant::now();
        if windows.len() > SWEEP_THRESHOLD {
            let window = self.window;
            windows.retain(|_, (started, _)| now.duration_since(*started) < window);
        }
        let entry = windows.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }

    /// A success forgets the failures (for per-account counters).
    pub fn clear(&self, key: &str) {
        self.windows.lock().expect("throttle lock is never poisoned").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_blocks_until_the_window_ends() {
        let t = Throttle::new(2, Duration::from_millis(50));
        t.record("a");
        assert!(t.check("a").is_ok(), "one failure is under the limit");
        t.record("a");
        let wait = t.check("a").expect_err("two failures reach the limit");
        assert!(wait <= Duration::from_millis(50));
        assert!(t.check("b").is_ok(), "keys are counted apart");
        std::thread::sleep(Duration::from_millis(60));
        assert!(t.check("a").is_ok(), "a new window starts afresh");
    }

    #[test]
    fn clearing_forgets_failures() {
        let t = Throttle::new(1, Duration::from_secs(60));
        t.record("a");
        assert!(t.check("a").is_err());
        t.clear("a");
        assert!(t.check("a").is_ok());
    }
}
