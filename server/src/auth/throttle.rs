//! Counting attempts per key (an account, an address, a user) in fixed windows.
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

    /// Takes one attempt from the key's window, or `Err(wait)` when none is left.
    ///
    /// Checking and counting are one step under the lock: were they two, concurrent
    /// requests could all pass the check before any of them was counted.
    pub fn reserve(&self, key: &str) -> Result<(), Duration> {
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
        if entry.1 >= self.limit {
            return Err(self.window.saturating_sub(now.duration_since(entry.0)));
        }
        entry.1 += 1;
        Ok(())
    }

    /// Gives back an attempt that turned out not to count (a login that succeeded), so
    /// people sharing one address are not limited by each other's successes.
    pub fn release(&self, key: &str) {
        let mut windows = self.windows.lock().expect("throttle lock is never poisoned");
        if let Some(entry) = windows.get_mut(key) {
            entry.1 = entry.1.saturating_sub(1);
        }
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
        assert!(t.reserve("a").is_ok() && t.reserve("a").is_ok(), "two attempts fit a limit of two");
        let wait = t.reserve("a").expect_err("the third attempt is over the limit");
        assert!(wait <= Duration::from_millis(50));
        assert!(t.reserve("b").is_ok(), "keys are counted apart");
        std::thread::sleep(Duration::from_millis(60));
        assert!(t.reserve("a").is_ok(), "a new window starts afresh");
    }

    #[test]
    fn concurrent_reservations_never_exceed_the_limit() {
        let t = std::sync::Arc::new(Throttle::new(10, Duration::from_secs(60)));
        let granted: usize = (0..32)
            .map(|_| {
                let t = std::sync::Arc::clone(&t);
                std::thread::spawn(move || t.reserve("victim").is_ok())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| usize::from(h.join().expect("thread")))
            .sum();
        assert_eq!(granted, 10, "32 racing attempts must get exactly the 10 the window allows");
    }

    #[test]
    fn released_and_cleared_attempts_come_back() {
        let t = Throttle::new(1, Duration::from_secs(60));
        t.reserve("a").expect("first attempt");
        t.release("a");
        assert!(t.reserve("a").is_ok(), "a released attempt is free again");
        assert!(t.reserve("a").is_err());
        t.clear("a");
        assert!(t.reserve("a").is_ok(), "clearing forgets every attempt");
    }
}
