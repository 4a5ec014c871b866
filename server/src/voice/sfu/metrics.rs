//! The SFU's counters and each participant's link quality, in Prometheus' text format.
//! Receiver reports give round-trip time and loss both ways; the RFC 6464 audio level
//! tells who speaks without decoding a packet.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use cromulent_protocol::Id;

#[derive(Debug, Default)]
pub struct SfuMetrics {
    packets_received: AtomicU64,
    packets_forwarded: AtomicU64,
    bytes_forwarded: AtomicU64,
    packets_over_cap: AtomicU64,
    participants: Mutex<BTreeMap<Id, Link>>,
}

/// What the SFU knows of one participant's connection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Link {
    pub channel_id: Id,
    pub rtt: Option<Duration>,
    /// Fraction of the participant's packets lost on the way to the SFU.
    pub loss_in: Option<f32>,
    /// Fraction of the SFU's packets lost on the way to the participant.
    pub loss_out: Option<f32>,
    /// Last audio level the participant's packets carried, in dBov (0 loudest, -127 silent).
    pub audio_level: Option<i8>,
    pub speaking: bool,
}

impl SfuMetrics {
    pub fn received(&self) {
        self.packets_received.fetch_add(1, Ordering::Relaxed);
    }

    pub fn forwarded(&self, packets: u64, bytes: u64) {
        self.packets_forwarded.fetch_add(packets, Ordering::Relaxed);
        self.bytes_forwarded.fetch_add(bytes, Ordering::Relaxed);
    }

    pub fn over_cap(&self) {
        self.packets_over_cap.fetch_add(1, Ordering::Relaxed);
    }

    pub fn packets_forwarded(&self) -> u64 {
        self.packets_forwarded.load(Ordering::Relaxed)
    }

    pub fn update(&self, session_id: Id, change: impl FnOnce(&mut Link)) {
        let mut participants = self.participants.lock().unwrap_or_else(|e| e.into_inner());
        change(participants.entry(session_id).or_default());
    }

    pub fn forget(&self, session_id: Id) {
        self.participants.lock().unwrap_or_else(|e| e.into_inner()).remove(&session_id);
    }

    pub fn link(&self, session_id: Id) -> Option<Link> {
        self.participants.lock().unwrap_or_else(|e| e.into_inner()).get(&session_id).cloned()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: &AtomicU64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        };
        counter(
            &mut out,
            "cromulent_sfu_packets_received_total",
            "Media packets received by the SFU.",
            &self.packets_received,
        );
        counter(
            &mut out,
            "cromulent_sfu_packets_forwarded_total",
            "Media packets the SFU sent to listeners.",
            &self.packets_forwarded,
        );
        counter(
            &mut out,
            "cromulent_sfu_bytes_forwarded_total",
            "Media payload bytes sent to listeners.",
            &self.bytes_forwarded,
        );
        counter(
            &mut out,
            "cromulent_sfu_packets_over_cap_total",
            "Media packets dropped for passing a participant's packet rate or bitrate cap.",
            &self.packets_over_cap,
        );
        let participants = self.participants.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let _ = writeln!(out, "# HELP cromulent_sfu_participants Participants connected to the SFU.");
        let _ = writeln!(
            out,
            "# TYPE cromulent_sfu_participants gauge\ncromulent_sfu_participants {}",
            participants.len()
        );
        let gauge = |out: &mut String, name: &str, help: &str, value: &dyn Fn(&Link) -> Option<f64>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (session, link) in &participants {
                if let Some(v) = value(link) {
                    let _ = writeln!(
                        out,
                        "{name}{{session_id=\"{session}\",channel_id=\"{}\"}} {v}",
                        link.channel_id
                    );
                }
            }
        };
        gauge(
            &mut out,
            "cromulent_sfu_participant_rtt_seconds",
            "Round-trip time from receiver reports.",
            &|l| l.rtt.map(|d| d.as_secs_f64()),
        );
        gauge(&mut out, "cromulent_sfu_participant_loss_in_ratio", "Loss on the way to the SFU.", &|l| {
            l.loss_in.map(f64::from)
        });
        gauge(
            &mut out,
            "cromulent_sfu_participant_loss_out_ratio",
            "Loss on the way to the participant.",
            &|l| l.loss_out.map(f64::from),
        );
        gauge(
            &mut out,
            "cromulent_sfu_participant_audio_level_dbov",
            "Last audio level (RFC 6464), in dBov.",
            &|l| l.audio_level.map(f64::from),
        );
        gauge(
            &mut out,
            "cromulent_sfu_participant_speaking",
            "1 while the participant's packets say it speaks.",
            &|l| Some(if l.speaking { 1.0 } else { 0.0 }),
        );
        out
    }
}
