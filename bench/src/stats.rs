//! Latency samples and their percentiles (nearest rank), kept exact: a run records at
//! most a few million samples, so sorting a `Vec` is cheaper than a histogram's error.

use std::time::Duration;

/// Latencies in microseconds.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    micros: Vec<u64>,
    sorted: bool,
}

/// What a table row shows of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Samples {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        Self { micros: Vec::with_capacity(n), sorted: true }
    }

    pub fn record(&mut self, latency: Duration) {
        self.record_micros(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn record_micros(&mut self, micros: u64) {
        self.micros.push(micros);
        self.sorted = false;
    }

    /// Takes every sample of `other` (from another task) into this set.
    pub fn merge(&mut self, other: Samples) {
        self.micros.extend(other.micros);
        self.sorted = false;
    }

    pub fn len(&self) -> usize {
        self.micros.len()
    }

    pub fn is_empty(&self) -> bool {
        self.micros.is_empty()
    }

    /// The nearest-rank percentile: the smallest sample with at least `p` percent of all
    /// samples at or below it. `None` without samples.
    pub fn percentile(&mut self, p: f64) -> Option<Duration> {
        if self.micros.is_empty() {
            return None;
        }
        if !self.sorted {
            self.micros.sort_unstable();
            self.sorted = true;
        }
        let n = self.micros.len();
        let rank = ((p.clamp(0.0, 100.0) / 100.0) * n as f64).ceil() as usize;
        let index = rank.clamp(1, n) - 1;
        Some(Duration::from_micros(self.micros[index]))
    }

    pub fn summary(&mut self) -> Option<Summary> {
        Some(Summary {
            count: self.micros.len(),
            p50: self.percentile(50.0)?,
            p99: self.percentile(99.0)?,
            max: self.percentile(100.0)?,
        })
    }
}

/// Milliseconds with two decimals, as the tables show latencies.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(values: impl IntoIterator<Item = u64>) -> Samples {
        let mut s = Samples::new();
        for v in values {
            s.record_micros(v);
        }
        s
    }

    #[test]
    fn nearest_rank_percentiles_of_one_to_a_hundred_are_the_values_themselves() {
        // Shuffled input: the percentile must not depend on arrival order.
        let mut s = samples((1..=100).rev());
        assert_eq!(s.percentile(50.0), Some(Duration::from_micros(50)), "50 of 100 samples are <= 50");
        assert_eq!(s.percentile(99.0), Some(Duration::from_micros(99)), "99 of 100 samples are <= 99");
        assert_eq!(s.percentile(100.0), Some(Duration::from_micros(100)), "p100 is the maximum");
        assert_eq!(s.percentile(0.0), Some(Duration::from_micros(1)), "p0 is the minimum");
    }

    #[test]
    fn a_rare_outlier_shows_in_p99_only_when_it_is_more_than_one_percent() {
        let mut few = samples(std::iter::repeat_n(10, 999).chain([10_000]));
        assert_eq!(few.percentile(99.0), Some(Duration::from_micros(10)), "1 in 1000 is below p99");
        let mut many = samples(std::iter::repeat_n(10, 980).chain(std::iter::repeat_n(10_000, 20)));
        assert_eq!(many.percentile(99.0), Some(Duration::from_micros(10_000)), "2% slow samples reach p99");
        assert_eq!(many.percentile(50.0), Some(Duration::from_micros(10)));
    }

    #[test]
    fn merged_sets_answer_as_one_and_empty_sets_have_no_percentile() {
        let mut a = samples([5, 1]);
        a.merge(samples([3, 4, 2]));
        assert_eq!(a.len(), 5);
        assert_eq!(a.percentile(50.0), Some(Duration::from_micros(3)), "median of 1..=5 across both sets");
        let summary = a.summary().expect("five samples");
        assert_eq!(summary.max, Duration::from_micros(5));
        assert_eq!(Samples::new().percentile(50.0), None, "no samples, no percentile");
        assert!(Samples::new().summary().is_none());
    }

    #[test]
    fn milliseconds_are_shown_with_two_decimals() {
        assert_eq!(ms(Duration::from_micros(1_234)), "1.23");
        assert_eq!(ms(Duration::from_secs(2)), "2000.00");
    }
}
