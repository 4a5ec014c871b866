//! Per-connection command budgets in fixed windows.

use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Budget {
    limit: u32,
    window: Duration,
    started: Instant,
    used: u32,
}

impl Budget {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self { limit, window, started: Instant::now(), used: 0 }
    }

    /// Spends one command; false when the window's budget is gone.
    pub fn spend(&mut self) -> bool {
        if self.started.elapsed() >= self.window {
            self.started = Instant::now();
            self.used = 0;
        }
        self.used += 1;
        self.used <= self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_runs_out_and_refills() {
        let mut b = Budget::new(3, Duration::from_millis(30));
        assert!(b.spend() && b.spend() && b.spend());
        assert!(!b.spend(), "the fourth command in the window is over budget");
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.spend(), "a new window refills the budget");
    }
}
