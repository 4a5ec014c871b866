//! A bounded queue of audio frames that keeps the newest: when the reader falls behind,
//! queueing a frame drops the oldest one and counts it (STYLE.md, real-time audio). A late
//! voice frame is worth nothing, and dropping the newest instead would keep the backlog —
//! and its delay — while throwing away what was just said.
//!
//! It connects threads and tasks on the media path (capture thread → engine → transport),
//! so it is written from plain threads and read from async tasks or plain threads alike. Its
//! lock is held for one push or pop, never across an `.await`, and it is never touched from a
//! device callback.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tokio::sync::Notify;

/// A queue of at most `capacity` frames (at least one).
pub fn frame_queue<T>(capacity: usize) -> (FrameSender<T>, FrameReceiver<T>) {
    let capacity = capacity.max(1);
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            frames: VecDeque::with_capacity(capacity),
            dropped: 0,
            sender_gone: false,
            receiver_gone: false,
        }),
        capacity,
        ready: Notify::new(),
        ready_blocking: Condvar::new(),
    });
    (FrameSender { shared: Arc::clone(&shared) }, FrameReceiver { shared, dropped_before_last: 0 })
}

struct Shared<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    /// Wakes an async reader; stores the wake-up when nobody waits yet.
    ready: Notify,
    /// Wakes a blocking reader.
    ready_blocking: Condvar,
}

struct State<T> {
    frames: VecDeque<T>,
    /// Frames dropped so far, counted with the pops so a reader knows where the gaps are.
    dropped: u64,
    sender_gone: bool,
    receiver_gone: bool,
}

impl<T> Shared<T> {
    fn state(&self) -> MutexGuard<'_, State<T>> {
        // Every section leaves the queue consistent, so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn wake(&self) {
        self.ready.notify_one();
        self.ready_blocking.notify_one();
    }
}

/// What became of a frame handed to [`FrameSender::push`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// Queued; the oldest frame made room for it.
    DroppedOldest,
    /// Nobody reads any more; the frame was discarded.
    ReceiverGone,
}

/// The writing end. Dropping it ends the queue once the reader has taken what is left.
pub struct FrameSender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> FrameSender<T> {
    /// Queues a frame without waiting, dropping the oldest when the queue is full.
    pub fn push(&self, frame: T) -> Pushed {
        let pushed = {
            let mut state = self.shared.state();
            if state.receiver_gone {
                return Pushed::ReceiverGone;
            }
            let pushed = if state.frames.len() >= self.shared.capacity {
                state.frames.pop_front();
                state.dropped += 1;
                Pushed::DroppedOldest
            } else {
                Pushed::Queued
            };
            state.frames.push_back(frame);
            pushed
        };
        self.shared.wake();
        pushed
    }

    /// Frames dropped so far to make room for newer ones.
    pub fn dropped(&self) -> u64 {
        self.shared.state().dropped
    }
}

impl<T> Drop for FrameSender<T> {
    fn drop(&mut self) {
        self.shared.state().sender_gone = true;
        self.shared.wake();
    }
}

/// The reading end.
pub struct FrameReceiver<T> {
    shared: Arc<Shared<T>>,
    dropped_before_last: u64,
}

impl<T> FrameReceiver<T> {
    /// The oldest queued frame, waiting for one; `None` once the sender is gone and the
    /// queue is empty.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            if let Some(next) = self.try_next() {
                return next;
            }
            self.shared.ready.notified().await;
        }
    }

    /// [`FrameReceiver::recv`] for a plain thread.
    pub fn blocking_recv(&mut self) -> Option<T> {
        let mut state = self.shared.state();
        loop {
            if let Some(frame) = state.frames.pop_front() {
                self.dropped_before_last = state.dropped;
                return Some(frame);
            }
            if state.sender_gone {
                return None;
            }
            state = self.shared.ready_blocking.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// How many frames were dropped before the last one received. The queue drops its
    /// oldest, so the frames dropped since the previous one received were the ones right
    /// before it: a reader that numbers frames can leave their gap in the numbering.
    pub fn dropped_before_last(&self) -> u64 {
        self.dropped_before_last
    }

    /// `Some(frame)`, `Some(None)` at the end, `None` when the caller must wait.
    fn try_next(&mut self) -> Option<Option<T>> {
        let mut state = self.shared.state();
        match state.frames.pop_front() {
            Some(frame) => {
                self.dropped_before_last = state.dropped;
                Some(Some(frame))
            }
            None if state.sender_gone => Some(None),
            None => None,
        }
    }
}

impl<T> Drop for FrameReceiver<T> {
    fn drop(&mut self) {
        let mut state = self.shared.state();
        state.receiver_gone = true;
        state.frames.clear();
    }
}

impl<T> std::fmt::Debug for FrameReceiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReceiver").field("capacity", &self.shared.capacity).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_the_oldest_frame_and_counts_it() {
        let (sender, mut receiver) = frame_queue(3);
        for frame in 1..=3 {
            assert_eq!(sender.push(frame), Pushed::Queued, "there is room for the first three");
        }
        assert_eq!(sender.push(4), Pushed::DroppedOldest, "the fourth frame makes room for itself");
        assert_eq!(sender.push(5), Pushed::DroppedOldest);
        assert_eq!(sender.dropped(), 2, "each frame pushed out is counted");
        drop(sender);
        assert_eq!(receiver.blocking_recv(), Some(3), "the oldest surviving frame comes first");
        assert_eq!(receiver.dropped_before_last(), 2, "and the reader learns that two came before it");
        let left: Vec<i32> = std::iter::from_fn(|| receiver.blocking_recv()).collect();
        assert_eq!(left, [4, 5], "the newest frames survive, in order, and the end follows them");
        assert_eq!(receiver.dropped_before_last(), 2, "no gap opened between them");
    }

    #[test]
    fn a_gone_reader_refuses_frames() {
        let (sender, receiver) = frame_queue(2);
        drop(receiver);
        assert_eq!(sender.push(1), Pushed::ReceiverGone, "nobody would ever read the frame");
        assert_eq!(sender.dropped(), 0, "a refused frame is not a dropped one");
    }

    #[tokio::test]
    async fn an_async_reader_wakes_for_each_frame_and_sees_the_end() {
        let (sender, mut receiver) = frame_queue(4);
        let writer = std::thread::spawn(move || {
            for frame in 0..100 {
                sender.push(frame);
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        });
        let mut last = None;
        while let Some(frame) = receiver.recv().await {
            assert!(last.is_none_or(|last| frame > last), "frames arrive in order");
            last = Some(frame);
        }
        writer.join().expect("the writer does not panic");
        assert_eq!(last, Some(99), "the last frame arrives before the end");
    }
}
