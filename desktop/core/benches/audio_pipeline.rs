//! CPU cost of one voice stream, per 20 ms frame: what the capture thread does for the own
//! microphone (noise suppression + Opus encode), what the playback thread does for each
//! remote peer (jitter buffer + Opus decode + mix), and noise suppression alone.
//! Dividing a frame's time by 20 ms gives the share of one core; `docs/BENCHMARKS.md`
//! turns that into the number of peers a 2-core machine can mix.
//!
//! Run: `cargo bench -p cromulent-client --bench audio_pipeline`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use cromulent_client::voice::audio::codec::{EncoderSettings, VoiceDecoder, VoiceEncoder};
use cromulent_client::voice::audio::denoise::NoiseSuppressor;
use cromulent_client::voice::audio::jitter::JitterBuffer;
use cromulent_client::voice::audio::mixer::{add_scaled, soft_clip};
use cromulent_client::voice::audio::resample::Resampler;
use cromulent_client::voice::audio::{
    analysis, AudioConfig, CaptureProcessor, GateInputs, FRAME_SAMPLES, SAMPLE_RATE,
};

/// Two seconds of a voiced signal with a little noise, cut into 20 ms frames.
fn voice_frames() -> Vec<[f32; FRAME_SAMPLES]> {
    let mut signal = analysis::voice_like(2 * SAMPLE_RATE as usize, SAMPLE_RATE, 0.3);
    let noise = analysis::white_noise(signal.len(), 0.01, 11);
    for (sample, noise) in signal.iter_mut().zip(noise) {
        *sample += noise;
    }
    signal
        .chunks_exact(FRAME_SAMPLES)
        .map(|chunk| {
            let mut frame = [0.0; FRAME_SAMPLES];
            frame.copy_from_slice(chunk);
            frame
        })
        .collect()
}

fn capture_frame(c: &mut Criterion) {
    let frames = voice_frames();
    let mut processor = CaptureProcessor::new(&AudioConfig::default()).expect("encoder");
    let gate = GateInputs { transmit: true, noise_suppression: true, ..GateInputs::default() };
    let mut index = 0;
    c.bench_function("capture: noise suppression + VAD + Opus encode, one 20 ms frame", |b| {
        b.iter(|| {
            let mut frame = frames[index % frames.len()];
            index += 1;
            black_box(processor.process(&mut frame, gate).expect("encode"))
        })
    });
}

fn noise_suppression_frame(c: &mut Criterion) {
    let frames = voice_frames();
    let mut suppressor = NoiseSuppressor::new();
    let mut index = 0;
    c.bench_function("noise suppression alone, one 20 ms frame", |b| {
        b.iter(|| {
            let mut frame = frames[index % frames.len()];
            index += 1;
            suppressor.process(&mut frame);
            black_box(frame[0])
        })
    });
}

fn resample_frame(c: &mut Criterion) {
    let input = analysis::voice_like(44_100 * 2, 44_100, 0.3);
    let mut resampler = Resampler::new(44_100, SAMPLE_RATE);
    let mut out = Vec::with_capacity(4 * FRAME_SAMPLES);
    let mut offset = 0;
    c.bench_function("resample 44.1 -> 48 kHz, 20 ms", |b| {
        b.iter(|| {
            out.clear();
            let chunk = &input[offset..offset + 882];
            offset = (offset + 882) % (input.len() - 882);
            resampler.process(chunk, &mut out);
            black_box(out.len())
        })
    });
}

fn playback_frame(c: &mut Criterion) {
    let mut encoder =
        VoiceEncoder::new(EncoderSettings { bitrate: 32_000, expected_loss_percent: 10 }).expect("encoder");
    let packets: Vec<Vec<u8>> =
        voice_frames().iter().map(|frame| encoder.encode(frame).expect("encode").to_vec()).collect();
    let mut buffer = JitterBuffer::new();
    let mut decoder = VoiceDecoder::new().expect("decoder");
    let mut decoded = [0.0_f32; FRAME_SAMPLES];
    let mut mix = [0.0_f32; FRAME_SAMPLES];
    let mut sequence: u16 = 0;
    let mut arrival = Duration::ZERO;
    c.bench_function("playback per peer: jitter buffer + Opus decode + mix, one 20 ms frame", |b| {
        b.iter(|| {
            let packet = &packets[usize::from(sequence) % packets.len()];
            buffer.push(sequence, u32::from(sequence) * FRAME_SAMPLES as u32, packet, arrival);
            sequence = sequence.wrapping_add(1);
            arrival += Duration::from_millis(20);
            let playout = buffer.pop();
            decoder.decode(&playout, &mut decoded);
            mix.fill(0.0);
            add_scaled(&mut mix, &decoded, 0.8);
            soft_clip(&mut mix);
            black_box(mix[0])
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(4));
    targets = capture_frame, noise_suppression_frame, resample_frame, playback_frame
}
criterion_main!(benches);
