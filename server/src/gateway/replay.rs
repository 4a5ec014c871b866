//! A session's recent events, kept so a client that drops can resume without gaps.

use std::collections::VecDeque;
use std::sync::Arc;

/// Bounded by count and by bytes, whichever is hit first.
#[derive(Debug)]
pub struct ReplayBuffer {
    last_seq: u64,
    events: VecDeque<(u64, Arc<str>)>,
    bytes: usize,
    max_events: usize,
    max_bytes: usize,
}

impl ReplayBuffer {
    pub fn new(max_events: usize, max_bytes: usize) -> Self {
        Self { last_seq: 0, events: VecDeque::new(), bytes: 0, max_events, max_bytes }
    }

    /// Stores an event and returns its sequence number.
    pub fn push(&mut self, payload: Arc<str>) -> u64 {
        self.last_seq += 1;
        self.bytes += payload.len();
        self.events.push_back((self.last_seq, payload));
        while self.events.len() > self.max_events || (self.bytes > self.max_bytes && self.events.len() > 1) {
            if let Some((_, old)) = self.events.pop_front() {
                self.bytes -= old.len();
            }
        }
        self.last_seq
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Every event after `seq`, or `None` when some of them were already dropped (or
    /// `seq` is from the future): the client must start over.
    pub fn since(&self, seq: u64) -> Option<Vec<(u64, Arc<str>)>> {
        if seq > self.last_seq {
            return None;
        }
        if seq == self.last_seq {
            return Some(Vec::new());
        }
        let oldest = self.events.front().map_or(self.last_seq + 1, |(s, _)| *s);
        if oldest > seq + 1 {
            return None;
        }
        Some(self.events.iter().filter(|(s, _)| *s > seq).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_exactly_what_came_after_the_last_seen_event() {
        let mut buf = ReplayBuffer::new(10, 1 << 20);
        for i in 0..5 {
            assert_eq!(buf.push(format!("e{i}").into()), i + 1, "sequence numbers start at 1 without gaps");
        }
        let missed = buf.since(2).expect("within the buffer");
        assert_eq!(missed.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![3, 4, 5]);
        assert_eq!(buf.since(5).expect("nothing missed").len(), 0);
        assert!(buf.since(6).is_none(), "a seq from the future is invalid");
    }

    #[test]
    fn a_gap_past_the_buffer_refuses_resume() {
        let mut buf = ReplayBuffer::new(3, 1 << 20);
        for i in 0..6 {
            buf.push(format!("e{i}").into());
        }
        assert!(buf.since(2).is_none(), "events 3 is gone, so resuming from 2 would lose it");
        assert_eq!(buf.since(3).expect("4..6 are kept").len(), 3);
    }

    #[test]
    fn the_byte_bound_holds() {
        let mut buf = ReplayBuffer::new(1000, 10);
        for _ in 0..10 {
            buf.push("12345".into());
        }
        assert!(buf.bytes <= 10, "memory per session is bounded");
    }
}
