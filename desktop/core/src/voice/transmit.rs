//! Capture → transports: our encoded frames out (to each transport of the call: two while
//! a room moves between mesh and SFU), and `ptt_state` whenever transmission starts or
//! stops.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cromulent_protocol::gateway::ClientFrame;

use super::audio::{frame_queue, CaptureFrames, FrameReceiver, FrameSender};
use super::engine::lock;
use super::paths::Path;
use super::rtp::{OutgoingFrame, FRAME_DURATION, SAMPLES_PER_FRAME};
use super::transport::Signal;

/// Frames queued between capture and the transport (1 s); when the transport falls behind
/// the oldest are dropped, since a late frame is worth nothing.
pub(super) const OUTGOING_QUEUE: usize = 50;

/// The frame queue of each running transport.
#[derive(Default)]
pub(super) struct Uplinks {
    queues: Mutex<Vec<(Path, FrameSender<OutgoingFrame>)>>,
}

impl Uplinks {
    /// A queue for the transport on `path`, replacing the one it had.
    pub(super) fn open(&self, path: Path) -> FrameReceiver<OutgoingFrame> {
        let (sender, receiver) = frame_queue(OUTGOING_QUEUE);
        let mut queues = lock(&self.queues);
        queues.retain(|(p, _)| *p != path);
        queues.push((path, sender));
        receiver
    }

    /// The transport on `path` takes no more frames (its sending task ends).
    pub(super) fn close(&self, path: Path) {
        lock(&self.queues).retain(|(p, _)| *p != path);
    }

    fn push(&self, frame: OutgoingFrame) {
        // Dropping the oldest when full (the transport is stuck) is the queue's policy;
        // a transport that is gone just takes no more.
        for (_, queue) in lock(&self.queues).iter() {
            queue.push(frame.clone());
        }
    }
}

/// What the forwarding task shares with the engine.
pub(super) struct Transmission {
    pub(super) signal: Signal,
    /// Our microphone is going out right now.
    pub(super) transmitting: Arc<AtomicBool>,
    /// When the capture clock started, as [`earliest_start`] estimates it.
    pub(super) epoch: Arc<Mutex<Option<Instant>>>,
}

/// Capture → transports. Frames with the gate closed are not sent at all (as the browser
/// detaches its track), but they keep the frame clock running, so RTP timestamps jump
/// over the pause. Announces each change of transmission with `ptt_state`.
pub(super) async fn forward_frames(mut frames: CaptureFrames, out: Arc<Uplinks>, transmission: Transmission) {
    let Transmission { signal, transmitting, epoch } = transmission;
    let mut clock = FrameClock::default();
    let mut announced = false;
    *lock(&epoch) = None;
    while let Some(frame) = frames.recv().await {
        let index = clock.index(frames.dropped_before_last());
        {
            let mut epoch = lock(&epoch);
            *epoch = earliest_start(*epoch, Instant::now(), index);
        }
        if frame.voice != announced {
            announced = frame.voice;
            transmitting.store(announced, Ordering::Relaxed);
            signal(ClientFrame::PttState { active: announced });
        }
        if frame.voice {
            let outgoing = OutgoingFrame {
                index,
                talk_spurt_start: frame.talkspurt_start,
                payload: frame.payload,
                audio_level: frame.audio_level,
            };
            out.push(outgoing);
        }
        clock.advance(frame.samples);
    }
}

/// Numbers frames on the capture clock: 20 ms ticks since capture began, counting the
/// frames capture had to drop, so the receiver hears a gap where they were rather than
/// the audio after them arriving early.
#[derive(Debug, Default)]
struct FrameClock {
    next: u64,
    dropped_seen: u64,
}

impl FrameClock {
    /// The index of the frame just received, `dropped_before` frames having been
    /// dropped before it since capture began.
    fn index(&mut self, dropped_before: u64) -> u64 {
        self.next += dropped_before.saturating_sub(self.dropped_seen);
        self.dropped_seen = self.dropped_seen.max(dropped_before);
        self.next
    }

    /// Moves past the frame just numbered, which covered `samples` at 48 kHz.
    fn advance(&mut self, samples: u32) {
        self.next += u64::from(samples / SAMPLES_PER_FRAME).max(1);
    }
}

/// The capture clock's start, given the previous estimate and the arrival of frame
/// `index` at `now`: each frame is due 20 ms after the previous one, and the least delayed
/// arrival gives the best estimate.
fn earliest_start(estimate: Option<Instant>, now: Instant, index: u64) -> Option<Instant> {
    let due = FRAME_DURATION * (index + 1) as u32;
    match now.checked_sub(due) {
        Some(start) => Some(estimate.map_or(start, |e| e.min(start))),
        None => estimate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn frames_dropped_by_capture_keep_their_place_on_the_clock() {
        let mut clock = FrameClock::default();
        assert_eq!(clock.index(0), 0, "the first frame starts the clock");
        clock.advance(SAMPLES_PER_FRAME);
        assert_eq!(clock.index(0), 1, "each frame is one tick after the previous one");
        clock.advance(SAMPLES_PER_FRAME);
        assert_eq!(clock.index(3), 5, "three frames dropped before this one leave a three-tick gap");
        clock.advance(SAMPLES_PER_FRAME);
        assert_eq!(clock.index(3), 6, "a gap is counted once");
    }

    #[test]
    fn the_least_delayed_frame_sets_the_capture_epoch() {
        let origin = Instant::now();
        let at = |ms: u64| origin + Duration::from_millis(1000 + ms);
        let first = earliest_start(None, at(25), 0);
        assert_eq!(first, Some(at(5)), "frame 0 is due 20 ms after the start");
        let later = earliest_start(first, at(70), 1);
        assert_eq!(later, first, "a frame that arrived later than due does not move the start later");
        let earlier = earliest_start(later, at(41), 1);
        assert_eq!(earlier, Some(at(1)), "a frame that arrived sooner moves the estimate earlier");
    }
}
