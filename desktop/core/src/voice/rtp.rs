//! Our Opus frames as RTP for one remote peer: its own SSRC, sequence numbers that count
//! packets sent, and timestamps that count 48 kHz samples since capture began — so a closed
//! gate shows up at the receiver as a timestamp jump (silence), not as lost packets.

use bytes::Bytes;
use rtc::rtp::{header::Header, packet::Packet};

/// Samples per 20 ms Opus frame at the RTP clock rate Opus always uses (48 kHz).
pub const SAMPLES_PER_FRAME: u32 = 960;
/// The length of one frame.
pub const FRAME_DURATION: std::time::Duration = std::time::Duration::from_millis(20);

/// One encoded 20 ms frame on its way to every peer.
#[derive(Debug, Clone)]
pub struct OutgoingFrame {
    /// 20 ms ticks since capture began; it keeps counting while the gate is closed.
    pub index: u64,
    /// The first frame after the gate opened: RTP's marker bit for audio (RFC 3551 §4.1).
    pub talk_spurt_start: bool,
    pub payload: Bytes,
    /// The frame's loudness in -dBov (0 loudest, 127 silence), for the RFC 6464 extension.
    pub audio_level: u8,
}

/// Per-peer RTP numbering.
#[derive(Debug)]
pub struct Packetizer {
    ssrc: u32,
    next_seq: u16,
    timestamp_base: u32,
    sent_any: bool,
}

impl Packetizer {
    /// Random starting points, as RFC 3550 asks, so streams cannot be guessed or confused.
    pub fn new(ssrc: u32) -> Self {
        Self { ssrc, next_seq: rand::random(), timestamp_base: rand::random(), sent_any: false }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    pub fn packet(&mut self, frame: &OutgoingFrame, payload_type: u8) -> Packet {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        // The RTP timestamp is 32 bits and wraps by design; the truncation is the point.
        let samples = (frame.index as u32).wrapping_mul(SAMPLES_PER_FRAME);
        let marker = frame.talk_spurt_start || !self.sent_any;
        self.sent_any = true;
        Packet {
            header: Header {
                version: 2,
                marker,
                payload_type,
                sequence_number: seq,
                timestamp: self.timestamp_base.wrapping_add(samples),
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload: frame.payload.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(index: u64, start: bool) -> OutgoingFrame {
        OutgoingFrame { index, talk_spurt_start: start, payload: Bytes::from_static(b"x"), audio_level: 30 }
    }

    #[test]
    fn timestamps_follow_the_capture_clock_across_gaps() {
        let mut p = Packetizer::new(7);
        let a = p.packet(&frame(10, true), 111);
        let b = p.packet(&frame(11, false), 111);
        let c = p.packet(&frame(60, true), 111);
        assert_eq!(b.header.timestamp.wrapping_sub(a.header.timestamp), 960);
        assert_eq!(c.header.timestamp.wrapping_sub(b.header.timestamp), 49 * 960);
        assert_eq!(b.header.sequence_number, a.header.sequence_number.wrapping_add(1));
        assert_eq!(c.header.sequence_number, b.header.sequence_number.wrapping_add(1));
        assert!(a.header.marker && !b.header.marker && c.header.marker);
        assert_eq!(c.header.ssrc, 7);
        assert_eq!(c.header.payload_type, 111);
    }

    #[test]
    fn the_first_packet_to_a_peer_is_marked() {
        let mut p = Packetizer::new(1);
        assert!(p.packet(&frame(5, false), 111).header.marker);
        assert!(!p.packet(&frame(6, false), 111).header.marker);
    }
}
