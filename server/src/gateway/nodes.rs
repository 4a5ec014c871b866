//! Which other nodes are alive: each node beats on the bus, and one not heard for a few
//! beats is taken for dead, so the rooms it served move to a node that is still there.

use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct NodeBook {
    last_heard: HashMap<u16, Instant>,
}

impl NodeBook {
    pub fn heard(&mut self, node: u16, now: Instant) {
        self.last_heard.insert(node, now);
    }

    /// Forgets a node that left; whether it was known.
    pub fn forget(&mut self, node: u16) -> bool {
        self.last_heard.remove(&node).is_some()
    }

    /// The nodes silent for `timeout`, forgotten as they are returned.
    pub fn silent(&mut self, now: Instant, timeout: Duration) -> Vec<u16> {
        let silent: Vec<u16> = self
            .last_heard
            .iter()
            .filter(|(_, at)| now.duration_since(**at) >= timeout)
            .map(|(node, _)| *node)
            .collect();
        for node in &silent {
            self.last_heard.remove(node);
        }
        silent
    }

    pub fn is_alive(&self, node: u16) -> bool {
        self.last_heard.contains_key(&node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_dead_once_silent_for_the_timeout_and_alive_again_when_heard() {
        let start = Instant::now();
        let timeout = Duration::from_secs(6);
        let mut book = NodeBook::default();
        book.heard(2, start);
        book.heard(3, start);
        book.heard(3, start + Duration::from_secs(4));
        assert!(book.silent(start + Duration::from_secs(5), timeout).is_empty());
        assert_eq!(book.silent(start + Duration::from_secs(6), timeout), vec![2]);
        assert!(!book.is_alive(2) && book.is_alive(3));
        assert!(book.silent(start + Duration::from_secs(7), timeout).is_empty(), "reported once");
        book.heard(2, start + Duration::from_secs(8));
        assert!(book.is_alive(2), "a node that comes back counts again");
        assert!(book.forget(3) && !book.forget(3));
    }
}
