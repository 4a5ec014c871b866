//! The lock-free sample ring between a cpal input callback and the capture thread, which
//! keeps the newest audio: when the capture thread falls behind, the callback overwrites
//! the oldest samples instead of refusing the newest (STYLE.md, real-time audio). Stale
//! audio is worth nothing in a call, and dropping the newest would keep the backlog (and
//! its delay) while throwing away what was just said. `rtrb` cannot do this: its producer
//! may not move the consumer's read position.
//!
//! Samples are stored as `AtomicU32` bits, so a slot overwritten while the reader copies it
//! is a race the reader detects, not undefined behaviour: the writer announces how far it
//! is about to write (`claimed`) before touching a slot, the reader looks at that
//! announcement after copying and discards what may have been overwritten meanwhile (the
//! sequence-lock pattern). Both ends move whole frames only, so a drop never shifts the
//! channels.

use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// A ring holding `frames` frames of `channels` interleaved samples.
pub(crate) fn sample_ring(frames: usize, channels: usize) -> (RingWriter, RingReader) {
    let channels = channels.max(1);
    let slots = (0..frames.max(1) * channels).map(|_| AtomicU32::new(0)).collect();
    let shared = Arc::new(Shared { slots, channels, claimed: AtomicU64::new(0), written: AtomicU64::new(0) });
    (RingWriter { shared: Arc::clone(&shared), written: 0 }, RingReader { shared, read: 0, dropped: 0 })
}

/// Positions count samples since the ring was made; they never wrap (2^64 samples at
/// 384 kHz take a million years), so comparing them needs no modular arithmetic.
struct Shared {
    slots: Box<[AtomicU32]>,
    channels: usize,
    /// Where the write in progress will end; slots below `claimed - capacity` may change.
    claimed: AtomicU64,
    /// Where the last finished write ended: everything below is readable.
    written: AtomicU64,
}

impl Shared {
    fn capacity(&self) -> u64 {
        self.slots.len() as u64
    }

    fn slot(&self, position: u64) -> &AtomicU32 {
        &self.slots[(position % self.capacity()) as usize]
    }
}

/// The callback's end: never waits, never allocates, never fails.
pub(crate) struct RingWriter {
    shared: Arc<Shared>,
    written: u64,
}

impl RingWriter {
    /// Appends the whole frames of `data`, converted; a trailing partial frame is ignored
    /// (cpal never delivers one). Of a block larger than the ring only its end is kept.
    pub(crate) fn write<T: Copy>(&mut self, data: &[T], convert: impl Fn(T) -> f32) {
        let shared = &*self.shared;
        let len = data.len() / shared.channels * shared.channels;
        let end = self.written + len as u64;
        // Whole frames: the capacity is a multiple of the channel count.
        let skipped = len.saturating_sub(shared.slots.len());
        shared.claimed.store(end, Ordering::Relaxed);
        // Orders the claim before every slot store below, for a reader that sees any of them.
        fence(Ordering::Release);
        for (offset, &sample) in data[..len].iter().enumerate().skip(skipped) {
            shared.slot(self.written + offset as u64).store(convert(sample).to_bits(), Ordering::Relaxed);
        }
        shared.written.store(end, Ordering::Release);
        self.written = end;
    }
}

/// The audio thread's end.
pub(crate) struct RingReader {
    shared: Arc<Shared>,
    read: u64,
    dropped: u64,
}

impl RingReader {
    /// How many samples the ring holds at most.
    pub(crate) fn capacity(&self) -> usize {
        self.shared.slots.len()
    }

    /// Copies the oldest samples still in the ring into the front of `out` (whole frames,
    /// as many as fit) and returns how many it copied; 0 when nothing new is there.
    pub(crate) fn read(&mut self, out: &mut [f32]) -> usize {
        // A second handle, so `self` stays free to move; the reader is not a callback.
        let shared = Arc::clone(&self.shared);
        let capacity = shared.capacity();
        let written = shared.written.load(Ordering::Acquire);
        // After skipping past an oversized write still in progress, `read` may be ahead.
        let waiting = written.saturating_sub(self.read);
        if waiting > capacity {
            self.skip_to(written - capacity);
        }
        let wanted = out.len() / shared.channels * shared.channels;
        let count = written.saturating_sub(self.read).min(wanted as u64) as usize;
        for (offset, sample) in out[..count].iter_mut().enumerate() {
            *sample = f32::from_bits(shared.slot(self.read + offset as u64).load(Ordering::Relaxed));
        }
        // Pairs with the writer's fence: a claim behind any slot value copied above is seen.
        fence(Ordering::Acquire);
        let claimed = shared.claimed.load(Ordering::Relaxed);
        let intact_from = claimed.saturating_sub(capacity).max(self.read);
        let end = self.read + count as u64;
        if intact_from >= end {
            self.skip_to(intact_from);
            return 0;
        }
        let torn = (intact_from - self.read) as usize;
        out.copy_within(torn..count, 0);
        self.dropped += torn as u64;
        self.read = end;
        count - torn
    }

    /// Samples the writer overwrote before they were read.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    fn skip_to(&mut self, position: u64) {
        self.dropped += position - self.read;
        self.read = position;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(reader: &mut RingReader, room: usize) -> Vec<f32> {
        let mut out = vec![0.0; room];
        let count = reader.read(&mut out);
        out.truncate(count);
        out
    }

    #[test]
    fn samples_come_out_in_order_when_the_reader_keeps_up() {
        let (mut writer, mut reader) = sample_ring(4, 2);
        writer.write(&[1_i16, 2, 3, 4], f32::from);
        assert_eq!(values(&mut reader, 16), [1.0, 2.0, 3.0, 4.0], "what was written is read, once");
        writer.write(&[5_i16, 6], f32::from);
        assert_eq!(values(&mut reader, 16), [5.0, 6.0], "the next read continues where the last stopped");
        assert_eq!(values(&mut reader, 16), Vec::<f32>::new(), "nothing new means nothing read");
        assert_eq!(reader.dropped(), 0, "a reader that keeps up loses nothing");
    }

    #[test]
    fn a_full_ring_drops_the_oldest_frames_and_counts_them() {
        let (mut writer, mut reader) = sample_ring(3, 2);
        for frame in 0..5 {
            writer.write(&[frame * 10, frame * 10 + 1], |sample| sample as f32);
        }
        assert_eq!(
            values(&mut reader, 16),
            [20.0, 21.0, 30.0, 31.0, 40.0, 41.0],
            "the newest three frames survive a reader that fell behind"
        );
        assert_eq!(reader.dropped(), 4, "the two oldest frames (four samples) are counted as dropped");
    }

    #[test]
    fn reads_and_oversized_writes_keep_whole_frames() {
        let (mut writer, mut reader) = sample_ring(2, 2);
        writer.write(&[1_u8, 2, 3], f32::from);
        assert_eq!(values(&mut reader, 3), [1.0, 2.0], "a partial frame is neither written nor read");
        writer.write(&[3_u8, 4, 5, 6, 7, 8], f32::from);
        assert_eq!(
            values(&mut reader, 16),
            [5.0, 6.0, 7.0, 8.0],
            "a block larger than the ring keeps its newest frames"
        );
        assert_eq!(reader.dropped(), 2, "the frame that did not fit counts as dropped");
    }

    /// A writer thread racing a slow reader: whatever is read is in order, frames stay
    /// whole, and every sample is either read or counted as dropped.
    #[test]
    fn a_racing_writer_never_hands_out_torn_or_shifted_frames() {
        const FRAMES: u32 = 400_000;
        let (mut writer, mut reader) = sample_ring(64, 2);
        let producer = std::thread::spawn(move || {
            let mut frame = 0_u32;
            let mut block = Vec::with_capacity(2 * 37);
            while frame < FRAMES {
                block.clear();
                for f in frame..(frame + 1 + frame % 37).min(FRAMES) {
                    block.extend([f, f]);
                }
                frame += (block.len() / 2) as u32;
                writer.write(&block, |sample| sample as f32);
            }
        });
        let mut next = 0_u32;
        let mut read = 0_u64;
        let mut reads = 0_u64;
        let mut out = [0.0_f32; 50];
        loop {
            let finished = producer.is_finished();
            let count = reader.read(&mut out);
            for frame in out[..count].chunks_exact(2) {
                assert_eq!(frame[0], frame[1], "both channels of a frame come from the same write");
                let value = frame[0] as u32;
                assert!(value >= next, "frames come out in order: {value} after {}", next);
                next = value + 1;
            }
            read += count as u64;
            if finished && count == 0 {
                break;
            }
            reads += 1;
            if reads % 64 == 0 {
                // Fall behind now and then, as a capture thread does under load.
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        producer.join().expect("the writer thread does not panic");
        assert!(reader.dropped() > 0, "the reader fell behind, so the writer overwrote frames");
        assert_eq!(next, FRAMES, "the last frame written is the last frame read");
        assert_eq!(
            read + reader.dropped(),
            u64::from(FRAMES) * 2,
            "every sample is read or counted as dropped"
        );
    }
}
