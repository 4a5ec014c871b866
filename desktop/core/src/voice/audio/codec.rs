//! Opus for voice: 48 kHz mono, 20 ms frames, VOIP tuning, in-band FEC.
//!
//! DTX stays off: the capture thread sends a frame every 20 ms even with the gate closed
//! (encoded silence, a few bytes), so the RTP clock and every receiver's jitter estimate
//! run on without gaps — the same shape a browser's disabled track sends — and FEC always
//! has a previous frame to protect.

use super::{AudioError, FRAME_SAMPLES, SAMPLE_RATE};

/// Largest Opus packet (RFC 6716 §3.4); a 20 ms voice frame is far smaller.
pub const MAX_PACKET: usize = 1275;

/// Encoder settings.
#[derive(Debug, Clone, Copy)]
pub struct EncoderSettings {
    pub bitrate: i32,
    pub expected_loss_percent: u8,
}

/// Encodes 20 ms mono frames.
pub struct VoiceEncoder {
    encoder: opus::Encoder,
    packet: [u8; MAX_PACKET],
}

fn codec_error(context: &'static str) -> impl FnOnce(opus::Error) -> AudioError {
    move |source| AudioError::Codec { context, source }
}

impl VoiceEncoder {
    pub fn new(settings: EncoderSettings) -> Result<Self, AudioError> {
        let mut encoder = opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip)
            .map_err(codec_error("create encoder"))?;
        encoder.set_bitrate(opus::Bitrate::Bits(settings.bitrate)).map_err(codec_error("set bitrate"))?;
        encoder.set_inband_fec(true).map_err(codec_error("enable FEC"))?;
        encoder
            .set_packet_loss_perc(i32::from(settings.expected_loss_percent.min(100)))
            .map_err(codec_error("set expected loss"))?;
        encoder.set_dtx(false).map_err(codec_error("disable DTX"))?;
        Ok(Self { encoder, packet: [0; MAX_PACKET] })
    }

    /// Encodes one frame; the packet borrows the encoder's buffer until the next call.
    pub fn encode(&mut self, frame: &[f32; FRAME_SAMPLES]) -> Result<&[u8], AudioError> {
        let length = self.encoder.encode_float(frame, &mut self.packet).map_err(codec_error("encode"))?;
        Ok(&self.packet[..length])
    }

    /// Samples of algorithmic delay the encoder adds (its look-ahead).
    pub fn lookahead(&mut self) -> Result<u32, AudioError> {
        let samples = self.encoder.get_lookahead().map_err(codec_error("read look-ahead"))?;
        Ok(u32::try_from(samples).unwrap_or(0))
    }
}

/// What to decode for one 20 ms slot of a peer's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// The packet for this slot.
    Packet(Vec<u8>),
    /// This slot's packet is missing but the next one is here: decode its FEC copy.
    Fec(Vec<u8>),
    /// Missing with nothing to recover from: packet loss concealment.
    Conceal,
    /// The peer is not sending: play silence without touching the decoder.
    Silence,
}

/// Decodes one peer's stream, recovering from loss.
pub struct VoiceDecoder {
    decoder: opus::Decoder,
}

impl VoiceDecoder {
    pub fn new() -> Result<Self, AudioError> {
        let decoder =
            opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono).map_err(codec_error("create decoder"))?;
        Ok(Self { decoder })
    }

    /// Fills `frame` with the slot's audio. A packet that does not decode is concealed
    /// instead: one corrupt packet from the network must not end the call.
    pub fn decode(&mut self, playout: &Playout, frame: &mut [f32; FRAME_SAMPLES]) {
        let result = match playout {
            Playout::Packet(packet) => self.decoder.decode_float(packet, frame, false),
            Playout::Fec(next) => self.decoder.decode_float(next, frame, true),
            Playout::Conceal => self.decoder.decode_float(&[], frame, false),
            Playout::Silence => {
                frame.fill(0.0);
                return;
            }
        };
        match result {
            Ok(samples) if samples == FRAME_SAMPLES => {}
            Ok(samples) => frame[samples.min(FRAME_SAMPLES)..].fill(0.0),
            Err(_) => {
                if self.decoder.decode_float(&[], frame, false).is_err() {
                    frame.fill(0.0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::audio::analysis;

    #[test]
    fn look_ahead_fits_the_latency_budget_and_fec_recovers_a_lost_frame() {
        let settings = EncoderSettings { bitrate: 32_000, expected_loss_percent: 10 };
        let mut encoder = VoiceEncoder::new(settings).expect("encoder");
        let lookahead = encoder.lookahead().expect("look-ahead");
        // docs/BENCHMARKS.md budgets 6.5 ms (312 samples) of codec delay.
        assert!(lookahead <= 312, "Opus VOIP look-ahead is at most 6.5 ms, got {lookahead} samples");

        // 440 Hz for five frames, then 880 Hz: concealment would extend the 440 Hz tone
        // into a lost sixth frame, only the FEC copy in the seventh knows it changed.
        let mut signal = analysis::sine(440.0, SAMPLE_RATE, 0.1, 0.5);
        signal.extend(analysis::sine(880.0, SAMPLE_RATE, 0.1, 0.5));
        let packets: Vec<Vec<u8>> = signal
            .chunks_exact(FRAME_SAMPLES)
            .map(|chunk| {
                let frame: &[f32; FRAME_SAMPLES] = chunk.try_into().expect("exact chunk");
                encoder.encode(frame).expect("encode").to_vec()
            })
            .collect();
        let mut decoder = VoiceDecoder::new().expect("decoder");
        let mut frame = [0.0_f32; FRAME_SAMPLES];
        for packet in &packets[..5] {
            decoder.decode(&Playout::Packet(packet.clone()), &mut frame);
        }
        decoder.decode(&Playout::Fec(packets[6].clone()), &mut frame);
        let level = analysis::rms_dbfs(&frame);
        assert!(level > -15.0, "the FEC copy restores the lost frame's level (-9 dBFS), got {level}");
        let frequency = analysis::dominant_frequency(&frame[480..], SAMPLE_RATE, 100.0, 4000.0);
        assert!(
            (frequency - 880.0).abs() <= 20.0,
            "the lost frame's 880 Hz comes back from FEC, found {frequency}"
        );
    }
}
