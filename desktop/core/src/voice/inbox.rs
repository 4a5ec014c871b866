//! The inputs of a signaling actor (the mesh's and the SFU connection's), each bounded,
//! and what happens when one is full.
//!
//! | input | from | bound | when full |
//! |---|---|---|---|
//! | signaling | the gateway, through the transport's `handle` | [`SIGNALING_QUEUE`] | refused loudly (below) |
//! | connection events | webrtc-rs callbacks: local candidates, states | [`PEER_EVENT_QUEUE`] | refused loudly |
//! | leave | the transport's `leave`, or dropping its handle | one signal | cannot fill; acted on first |
//! | our audio | the engine, a [`crate::voice::audio::frame_queue`] | 1 s of frames | the oldest frame is dropped |
//!
//! Signaling is not made to wait for the actor (backpressure), because neither producer
//! may wait: `handle` runs on the gateway reader, which carries chat and presence too (and
//! the server counts a connection that leaves its frames unread as a slow consumer and
//! closes it); connection events come from a connection's driver, which the actor itself
//! awaits in every SDP step, so a callback waiting for the actor could deadlock both. Nor
//! is it dropped like audio: a lost offer, answer or candidate breaks that connection
//! without anyone noticing. So each bound lies far above what a room produces — joining
//! costs an offer, an answer and a few candidates per peer, and the server lets each peer
//! send at most 600 signaling messages a minute — and reaching it means the actor is
//! stuck, not busy. The message is then refused loudly: an error in the log and a count
//! the engine reports in its state (`VoiceState::error`, on which the `cromulent` command
//! ends its call), never a queue without end and never a silent loss.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

/// Gateway frames waiting for the actor.
pub(crate) const SIGNALING_QUEUE: usize = 1024;
/// Connection events waiting for the actor.
pub(crate) const PEER_EVENT_QUEUE: usize = 1024;

/// A bounded queue to the actor with a sender that never waits.
pub(crate) fn inbox<T>(
    queue: &'static str,
    capacity: usize,
    lost: &Arc<AtomicU64>,
) -> (Inbox<T>, mpsc::Receiver<T>) {
    let (sender, receiver) = mpsc::channel(capacity);
    (Inbox { sender, queue, lost: Arc::clone(lost) }, receiver)
}

/// The sending end of one of the actor's inputs.
pub(crate) struct Inbox<T> {
    sender: mpsc::Sender<T>,
    queue: &'static str,
    /// Messages refused by any of the call's actor inputs, shared with the engine.
    lost: Arc<AtomicU64>,
}

impl<T> Clone for Inbox<T> {
    fn clone(&self) -> Self {
        Self { sender: self.sender.clone(), queue: self.queue, lost: Arc::clone(&self.lost) }
    }
}

impl<T> Inbox<T> {
    /// Queues a message for the actor without waiting; a full queue refuses it loudly.
    pub(crate) fn send(&self, message: T) {
        match self.sender.try_send(message) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let lost = self.lost.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::error!(
                    queue = self.queue,
                    lost,
                    "voice signaling is stuck: message refused, the room must be joined again"
                );
            }
            // The actor has ended: there is nothing left to negotiate.
            Err(TrySendError::Closed(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_inbox_refuses_and_counts_and_keeps_what_it_queued() {
        let lost = Arc::new(AtomicU64::new(0));
        let (inbox, mut receiver) = inbox("test", 2, &lost);
        for message in 1..=4 {
            inbox.send(message);
        }
        assert_eq!(lost.load(Ordering::Relaxed), 2, "each refused message is counted for the engine");
        assert_eq!(receiver.try_recv().ok(), Some(1), "signaling keeps its order: the first message is kept");
        assert_eq!(receiver.try_recv().ok(), Some(2));
        assert!(receiver.try_recv().is_err(), "refused messages were not queued after all");
    }

    #[test]
    fn an_ended_actor_is_not_a_loss() {
        let lost = Arc::new(AtomicU64::new(0));
        let (inbox, receiver) = inbox("test", 1, &lost);
        let clone = inbox.clone();
        drop(receiver);
        clone.send(1);
        assert_eq!(lost.load(Ordering::Relaxed), 0, "after leaving, late messages have no one to miss them");
    }
}
