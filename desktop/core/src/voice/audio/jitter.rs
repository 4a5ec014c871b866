//! Per-peer adaptive jitter buffer: puts packets back in order, waits as long as the
//! network's jitter needs and no longer, and tells the decoder how to fill each 20 ms slot.
//!
//! Time is passed in by the caller (`now` since any fixed start), so the logic is tested
//! without clocks.

use std::collections::BTreeMap;
use std::time::Duration;

use super::codec::Playout;

/// Frames the buffer may hold back at most (200 ms): beyond that a conversation suffers
/// more from delay than from the odd concealed packet.
pub const MAX_DEPTH: usize = 10;
/// Packets kept at most; anything older is dropped (a peer flooding us).
const CAPACITY: usize = 4 * MAX_DEPTH;
/// Frame length in RTP timestamp units (48 kHz) and milliseconds.
const FRAME_TICKS: f64 = 960.0;
const FRAME_MS: f64 = 20.0;
/// A pause longer than this starts a new talkspurt: the jitter estimate must not treat it
/// as delay.
const IDLE_GAP: Duration = Duration::from_millis(500);
/// Empty slots concealed before the buffer says the peer went quiet.
const CONCEAL_BEFORE_SILENCE: u32 = 5;
/// Slots of excess depth tolerated before one frame is skipped to cut delay: long enough
/// that a device taking audio in bursts does not trigger it (each skip is an audible
/// jump), short enough that a scheduling hiccup's extra delay is gone within a second.
const EXCESS_PATIENCE: u32 = 25;
/// A sequence number this far ahead of playout means the stream restarted.
const RESYNC_DISTANCE: u64 = 500;
/// Extra delay budget (ms) a late packet adds; it decays as packets arrive on time.
const LATE_PENALTY_MS: f64 = 20.0;
/// Slots over which the shortest wait of a played packet is taken before the playout may
/// move earlier (0.5 s): long enough to see the network's worst moments of that span.
const SPARE_WINDOW: u32 = 25;
/// Headroom (ms) kept however calm the network: a thread woken a little late must not
/// find its packet missing.
const MIN_HEADROOM_MS: f64 = 2.0;

/// Counters for one peer's stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub received: u64,
    /// Arrived after their slot was played (or concealed) and were dropped.
    pub late: u64,
    pub duplicates: u64,
    /// Slots filled from the next packet's FEC data.
    pub recovered: u64,
    /// Slots filled by packet loss concealment.
    pub concealed: u64,
    /// Packets skipped to shrink the buffer, or dropped because it overflowed.
    pub discarded: u64,
}

#[derive(Debug, Clone)]
struct Stored {
    payload: Vec<u8>,
    arrived: Duration,
}

/// Orders packets by RTP sequence number and plays them out one 20 ms slot at a time.
#[derive(Debug, Clone, Default)]
pub struct JitterBuffer {
    packets: BTreeMap<u64, Stored>,
    /// Highest extended sequence number seen, for unwrapping 16-bit sequence numbers.
    highest: Option<u64>,
    /// The slot to play next; `None` until the first playout.
    next: Option<u64>,
    playing: bool,
    empty_slots: u32,
    excess_slots: u32,
    /// RFC 3550 interarrival jitter estimate in milliseconds.
    jitter_ms: f64,
    late_penalty_ms: f64,
    previous: Option<Arrival>,
    /// Played out a concealment because the slot's packet was not there yet: if it comes
    /// now, the playout was too early for the network.
    stalled: bool,
    /// The shortest time a played packet waited in the buffer, this window and the last
    /// complete one (`None` until a window completes after a start or a shift).
    window_wait_ms: f64,
    window_slots: u32,
    spare_wait_ms: Option<f64>,
    stats: JitterStats,
}

#[derive(Debug, Clone, Copy)]
struct Arrival {
    at: Duration,
    timestamp: u32,
}

impl JitterBuffer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores a packet that arrived at `now`.
    pub fn push(&mut self, sequence: u16, timestamp: u32, payload: &[u8], now: Duration) {
        self.stats.received += 1;
        let extended = self.extend(sequence);
        self.observe_arrival(timestamp, now);
        if let Some(next) = self.next {
            if extended > next + RESYNC_DISTANCE {
                // The sender restarted (new stream or a long outage): start over.
                self.packets.clear();
                self.next = None;
                self.playing = false;
            } else if extended < next {
                self.stats.late += 1;
                self.penalize_lateness();
                return;
            } else if extended == next && self.stalled {
                // Just late: its slot was concealed without moving on, so it still plays,
                // a frame later than planned. Wait longer from now on.
                self.stalled = false;
                self.penalize_lateness();
            }
        }
        if self.packets.contains_key(&extended) {
            self.stats.duplicates += 1;
            return;
        }
        self.packets.insert(extended, Stored { payload: payload.to_vec(), arrived: now });
        while self.packets.len() > CAPACITY {
            self.packets.pop_first();
            self.stats.discarded += 1;
        }
    }

    /// Decides what fills the next 20 ms slot, without timing the playout (no spare
    /// wait is measured, see [`JitterBuffer::pop_at`]).
    pub fn pop(&mut self) -> Playout {
        self.playout(None)
    }

    /// Decides what fills the slot that starts playing at `now` (the clock of
    /// [`JitterBuffer::push`]), and measures how long its packet waited.
    pub fn pop_at(&mut self, now: Duration) -> Playout {
        self.playout(Some(now))
    }

    /// How much earlier the playout could run and still keep the headroom the network
    /// needs: the shortest wait of a played packet over the last window, minus three
    /// times the jitter and any lateness penalty. Zero until a window was measured.
    pub fn spare(&self) -> Duration {
        let Some(wait_ms) = self.spare_wait_ms else {
            return Duration::ZERO;
        };
        let spare_ms = wait_ms - self.headroom_ms();
        if spare_ms > 0.0 {
            Duration::from_secs_f64(spare_ms / 1000.0)
        } else {
            Duration::ZERO
        }
    }

    /// The caller moved the playout earlier (it dropped part of a frame): the waits
    /// measured so far are stale.
    pub fn playout_shifted(&mut self) {
        self.restart_window();
    }

    fn playout(&mut self, now: Option<Duration>) -> Playout {
        if !self.playing {
            if self.packets.len() < self.target_depth() {
                return Playout::Silence;
            }
            self.playing = true;
            self.empty_slots = 0;
            self.excess_slots = 0;
            self.stalled = false;
            self.restart_window();
            self.next = self.packets.keys().next().copied();
        }
        let Some(next) = self.next else {
            self.playing = false;
            return Playout::Silence;
        };
        self.trim_excess();
        let next = self.next.unwrap_or(next);
        if let Some(stored) = self.packets.remove(&next) {
            self.empty_slots = 0;
            self.stalled = false;
            self.next = Some(next + 1);
            self.measure_wait(now, Some(stored.arrived));
            return Playout::Packet(stored.payload);
        }
        if let Some(following) = self.packets.get(&(next + 1)) {
            // This slot's packet is lost (a later one is here): its FEC copy rides along.
            self.stats.recovered += 1;
            self.empty_slots = 0;
            self.stalled = false;
            self.next = Some(next + 1);
            let (payload, arrived) = (following.payload.clone(), following.arrived);
            self.measure_wait(now, Some(arrived));
            return Playout::Fec(payload);
        }
        if !self.packets.is_empty() {
            // Lost, and the packet after it too: conceal and move on.
            self.stats.concealed += 1;
            self.next = Some(next + 1);
            self.measure_wait(now, None);
            return Playout::Conceal;
        }
        // Nothing queued: the packet is late or the peer paused. Conceal without moving
        // on, so a late packet still plays — the buffer has grown by one slot.
        self.empty_slots += 1;
        if self.empty_slots > CONCEAL_BEFORE_SILENCE {
            self.playing = false;
            self.stalled = false;
            return Playout::Silence;
        }
        self.stalled = true;
        self.stats.concealed += 1;
        // No packet to wait for: nothing spare in this window.
        self.measure_wait(now, Some(now.unwrap_or_default()));
        Playout::Conceal
    }

    /// Frames the buffer aims to hold: enough for three times the measured jitter plus
    /// what recent late packets asked for, between 1 and [`MAX_DEPTH`].
    pub fn target_depth(&self) -> usize {
        let wanted_ms = 3.0 * self.jitter_ms + self.late_penalty_ms;
        let depth = (wanted_ms / FRAME_MS + 0.5).ceil() as usize;
        depth.clamp(1, MAX_DEPTH)
    }

    /// Packets waiting to be played.
    pub fn depth(&self) -> usize {
        self.packets.len()
    }

    /// The current interarrival jitter estimate.
    pub fn jitter(&self) -> Duration {
        Duration::from_secs_f64(self.jitter_ms / 1000.0)
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// What the playout keeps between a packet's arrival and its slot: three times the
    /// measured jitter plus what recent late packets asked for, at least
    /// [`MIN_HEADROOM_MS`].
    fn headroom_ms(&self) -> f64 {
        (3.0 * self.jitter_ms + self.late_penalty_ms).max(MIN_HEADROOM_MS)
    }

    fn penalize_lateness(&mut self) {
        self.late_penalty_ms = (self.late_penalty_ms + LATE_PENALTY_MS).min(MAX_DEPTH as f64 * FRAME_MS);
    }

    fn restart_window(&mut self) {
        self.window_wait_ms = f64::INFINITY;
        self.window_slots = 0;
        self.spare_wait_ms = None;
    }

    /// Counts one played slot towards the window; `arrived` is when the packet played
    /// in it came (`None` for a slot with no packet to time).
    fn measure_wait(&mut self, now: Option<Duration>, arrived: Option<Duration>) {
        let Some(now) = now else {
            return;
        };
        if let Some(arrived) = arrived {
            let wait_ms = now.saturating_sub(arrived).as_secs_f64() * 1000.0;
            self.window_wait_ms = self.window_wait_ms.min(wait_ms);
        }
        self.window_slots += 1;
        if self.window_slots >= SPARE_WINDOW {
            self.spare_wait_ms = self.window_wait_ms.is_finite().then_some(self.window_wait_ms);
            self.window_wait_ms = f64::INFINITY;
            self.window_slots = 0;
        }
    }

    /// Skips one frame when the buffer stayed deeper than needed for a while.
    fn trim_excess(&mut self) {
        let excess = self.packets.len().saturating_sub(self.target_depth() + 1);
        if excess > 0 {
            self.excess_slots += 1;
        } else {
            self.excess_slots = 0;
        }
        // A large excess (a device that started late, a stalled thread) is plain delay:
        // cut it five times faster than the odd extra frame.
        let patience = if excess > 2 { EXCESS_PATIENCE / 5 } else { EXCESS_PATIENCE };
        if self.excess_slots >= patience {
            self.excess_slots = 0;
            if let Some((skipped, _)) = self.packets.pop_first() {
                self.stats.discarded += 1;
                self.next = Some(skipped + 1);
                self.restart_window();
            }
        }
    }

    fn extend(&mut self, sequence: u16) -> u64 {
        // Start high enough that a reordered packet before the first one stays positive.
        let extended = match self.highest {
            None => (1 << 32) + u64::from(sequence),
            Some(highest) => {
                let delta = i64::from(sequence.wrapping_sub(highest as u16) as i16);
                highest.saturating_add_signed(delta)
            }
        };
        self.highest = Some(self.highest.map_or(extended, |highest| highest.max(extended)));
        extended
    }

    fn observe_arrival(&mut self, timestamp: u32, now: Duration) {
        let this = Arrival { at: now, timestamp };
        if let Some(previous) = self.previous {
            let gap = now.saturating_sub(previous.at);
            if gap < IDLE_GAP {
                let arrival_ms = (now.as_secs_f64() - previous.at.as_secs_f64()) * 1000.0;
                let media_ms =
                    f64::from(timestamp.wrapping_sub(previous.timestamp) as i32) / FRAME_TICKS * FRAME_MS;
                // One wild timestamp must not hold the buffer at full depth for long.
                let deviation = (arrival_ms - media_ms).abs().min(MAX_DEPTH as f64 * FRAME_MS);
                self.jitter_ms += (deviation - self.jitter_ms) / 16.0;
            }
        }
        // Late-packet penalties fade over about two seconds of punctual packets.
        self.late_penalty_ms *= 0.99;
        self.previous = Some(this);
    }
}

#[cfg(test)]
mod tests;
