//! Time-ordered 64-bit ids, unique across nodes: 41 bits of milliseconds since the
//! Cromulent epoch, 10 bits of node id, 12 bits of sequence.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use cromulent_protocol::Id;

/// 2026-01-01T00:00:00Z: keeps the timestamp part small for decades.
const EPOCH_MS: i64 = 1_767_225_600_000;
const NODE_BITS: u32 = 10;
const SEQUENCE_BITS: u32 = 12;
const SEQUENCE_MASK: i64 = (1 << SEQUENCE_BITS) - 1;

pub fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).expect("the clock is after 1970");
    i64::try_from(since.as_millis()).expect("milliseconds fit in i64 until the year 292 million")
}

/// Hands out ids that only ever grow on this node, even if the wall clock steps back.
#[derive(Debug)]
pub struct IdGenerator {
    node: i64,
    last: Mutex<(i64, i64)>,
}

impl IdGenerator {
    pub fn new(node_id: u16) -> Self {
        assert!(node_id < (1 << NODE_BITS), "node id is validated by the config parser");
        Self { node: i64::from(node_id), last: Mutex::new((0, 0)) }
    }

    pub fn next(&self) -> Id {
        let mut last = self.last.lock().expect("id generator lock is never poisoned");
        let (last_ms, last_seq) = *last;
        // A clock that steps back keeps the last timestamp, so ids still grow.
        let mut ms = (now_ms() - EPOCH_MS).max(last_ms);
        let mut seq = if ms == last_ms { last_seq + 1 } else { 0 };
        if seq > SEQUENCE_MASK {
            // 4096 ids in one millisecond: borrow the next millisecond.
            ms += 1;
            seq = 0;
        }
        *last = (ms, seq);
        Id((ms << (NODE_BITS + SEQUENCE_BITS)) | (self.node << SEQUENCE_BITS) | seq)
    }

    /// The smallest id that could have been made at `unix_ms`, for time-based cursors.
    pub fn floor_for(unix_ms: i64) -> Id {
        Id((unix_ms - EPOCH_MS).max(0) << (NODE_BITS + SEQUENCE_BITS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_strictly_increase_even_in_a_burst() {
        let ids = IdGenerator::new(3);
        let mut prev = ids.next();
        for _ in 0..20_000 {
            let next = ids.next();
            assert!(next > prev, "ids must grow so they work as cursors");
            prev = next;
        }
    }

    #[test]
    fn nodes_never_collide_in_the_same_millisecond() {
        let a = IdGenerator::new(1).next();
        let b = IdGenerator::new(2).next();
        assert_ne!(a, b, "the node bits keep ids from two nodes apart");
        assert_eq!((a.0 >> SEQUENCE_BITS) & 0x3ff, 1);
    }

    #[test]
    fn ids_are_positive_and_near_now() {
        let id = IdGenerator::new(0).next();
        assert!(id.0 > 0);
        assert!(id >= IdGenerator::floor_for(now_ms() - 1000));
    }
}
