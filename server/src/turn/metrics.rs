//! Counters for the relay, written in Prometheus' text exposition format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use super::ranges::DeniedRange;

/// Why a request or packet was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A username that is not ours, or a password that does not match.
    BadCredentials,
    Expired,
    PeerDenied(DeniedRange),
    UserQuota,
    TotalQuota,
    /// An unauthenticated request past the challenge budget (see `ChallengeBudget`).
    ChallengeRate,
    /// An allocation while the admin's `turn` feature flag is off.
    Disabled,
}

const REASONS: usize = 6 + DeniedRange::ALL.len();

impl Refusal {
    fn index(self) -> usize {
        match self {
            Refusal::BadCredentials => 0,
            Refusal::Expired => 1,
            Refusal::UserQuota => 2,
            Refusal::TotalQuota => 3,
            Refusal::ChallengeRate => 4,
            Refusal::Disabled => 5,
            Refusal::PeerDenied(range) => {
                6 + DeniedRange::ALL.iter().position(|r| *r == range).expect("every range is listed")
            }
        }
    }

    fn labels(index: usize) -> (&'static str, Option<&'static str>) {
        match index {
            0 => ("bad_credentials", None),
            1 => ("expired", None),
            2 => ("user_quota", None),
            3 => ("total_quota", None),
            4 => ("challenge_rate", None),
            5 => ("disabled", None),
            n => ("peer_denied", Some(DeniedRange::ALL[n - 6].label())),
        }
    }
}

#[derive(Debug, Default)]
pub struct TurnMetrics {
    binding_requests: AtomicU64,
    allocations: AtomicU64,
    bytes_to_peers: AtomicU64,
    bytes_from_peers: AtomicU64,
    packets_dropped: AtomicU64,
    refusals: [AtomicU64; REASONS],
}

impl TurnMetrics {
    pub fn binding_request(&self) {
        self.binding_requests.fetch_add(1, Ordering::Relaxed);
    }

    pub fn allocation(&self) {
        self.allocations.fetch_add(1, Ordering::Relaxed);
    }

    pub fn relayed_to_peer(&self, bytes: usize) {
        self.bytes_to_peers.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub fn relayed_from_peer(&self, bytes: usize) {
        self.bytes_from_peers.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// A relayed packet to or from a denied peer, dropped at the relay socket.
    pub fn dropped(&self) {
        self.packets_dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub fn refused(&self, why: Refusal) {
        self.refusals[why.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn refusals(&self, why: Refusal) -> u64 {
        self.refusals[why.index()].load(Ordering::Relaxed)
    }

    /// The exposition, with `live_allocations` as a gauge.
    pub fn render(&self, live_allocations: usize) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        };
        counter(
            "cromulent_turn_binding_requests_total",
            "STUN binding requests answered.",
            self.binding_requests.load(Ordering::Relaxed),
        );
        counter(
            "cromulent_turn_allocations_total",
            "Relay allocations created.",
            self.allocations.load(Ordering::Relaxed),
        );
        counter(
            "cromulent_turn_dropped_packets_total",
            "Relayed packets dropped because the peer address is denied.",
            self.packets_dropped.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP cromulent_turn_allocations_active Relay allocations alive now.\n\
             # TYPE cromulent_turn_allocations_active gauge\n\
             cromulent_turn_allocations_active {live_allocations}"
        );
        let _ = writeln!(
            out,
            "# HELP cromulent_turn_relayed_bytes_total Payload bytes relayed, by direction.\n\
             # TYPE cromulent_turn_relayed_bytes_total counter\n\
             cromulent_turn_relayed_bytes_total{{direction=\"to_peer\"}} {}\n\
             cromulent_turn_relayed_bytes_total{{direction=\"from_peer\"}} {}",
            self.bytes_to_peers.load(Ordering::Relaxed),
            self.bytes_from_peers.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP cromulent_turn_refusals_total Requests and packets refused, by reason.\n\
             # TYPE cromulent_turn_refusals_total counter"
        );
        for (index, value) in self.refusals.iter().enumerate() {
            let value = value.load(Ordering::Relaxed);
            match Refusal::labels(index) {
                (reason, None) => {
                    let _ = writeln!(out, "cromulent_turn_refusals_total{{reason=\"{reason}\"}} {value}");
                }
                (reason, Some(range)) => {
                    let _ = writeln!(
                        out,
                        "cromulent_turn_refusals_total{{reason=\"{reason}\",range=\"{range}\"}} {value}"
                    );
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_lists_every_counter_with_its_value() {
        let metrics = TurnMetrics::default();
        metrics.allocation();
        metrics.relayed_to_peer(100);
        metrics.refused(Refusal::PeerDenied(DeniedRange::Loopback));
        metrics.refused(Refusal::PeerDenied(DeniedRange::Loopback));
        let text = metrics.render(1);
        for line in [
            "cromulent_turn_allocations_total 1",
            "cromulent_turn_allocations_active 1",
            "cromulent_turn_relayed_bytes_total{direction=\"to_peer\"} 100",
            "cromulent_turn_refusals_total{reason=\"peer_denied\",range=\"loopback\"} 2",
            "cromulent_turn_refusals_total{reason=\"bad_credentials\"} 0",
            "# TYPE cromulent_turn_refusals_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
