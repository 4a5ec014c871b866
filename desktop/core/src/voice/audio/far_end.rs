//! The far-end reference: what playback played, carried to capture for echo cancellation.
//!
//! Playback writes every 10 ms tick it mixes (after deafen, at 48 kHz) into a preallocated
//! `rtrb` ring; capture takes it out in 10 ms blocks before each microphone frame. Neither
//! side locks or allocates. When capture does not keep up, the newest tick is dropped and
//! counted: the canceller's own delay estimator copes with a gap better than with a
//! stall of the speaker.

use rtrb::{Consumer, Producer, RingBuffer};

use super::acoustic::BLOCK_SAMPLES;
use super::SAMPLE_RATE;

/// Half a second of played sound: far more than capture ever lags behind playback.
const CAPACITY: usize = SAMPLE_RATE as usize / 2;

/// A connected writer (for playback) and reader (for capture).
pub(crate) fn far_end() -> (FarEndWriter, FarEndReader) {
    let (producer, consumer) = RingBuffer::new(CAPACITY);
    (FarEndWriter { producer, dropped: 0 }, FarEndReader { consumer })
}

/// Playback's end.
pub(crate) struct FarEndWriter {
    producer: Producer<f32>,
    dropped: u64,
}

impl FarEndWriter {
    /// Passes on what is about to be played.
    pub(crate) fn write(&mut self, played: &[f32]) {
        if self.producer.push_entire_slice(played).is_err() {
            self.dropped += 1;
        }
    }

    /// Ticks dropped because capture had not taken the earlier ones.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Capture's end.
pub(crate) struct FarEndReader {
    consumer: Consumer<f32>,
}

impl FarEndReader {
    /// Fills `block` with the next 10 ms played, if that much has arrived.
    pub(crate) fn next_block(&mut self, block: &mut [f32; BLOCK_SAMPLES]) -> bool {
        self.consumer.pop_entire_slice(block).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_arrive_in_order_and_overflow_drops_the_newest() {
        let (mut writer, mut reader) = far_end();
        let tick: Vec<f32> = (0..BLOCK_SAMPLES).map(|n| n as f32).collect();
        writer.write(&tick);
        let mut block = [0.0_f32; BLOCK_SAMPLES];
        assert!(reader.next_block(&mut block), "a whole tick makes a block");
        assert_eq!(&block[..], &tick[..], "the block is exactly what was played");
        assert!(!reader.next_block(&mut block), "nothing more was played");
        for _ in 0..CAPACITY / BLOCK_SAMPLES + 3 {
            writer.write(&tick);
        }
        assert_eq!(writer.dropped(), 3, "ticks beyond the ring's capacity are counted as dropped");
    }
}
