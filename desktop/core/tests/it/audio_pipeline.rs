//! The audio pipeline end to end with WAV backends: a tone file is captured, encoded,
//! carried over a lossy in-process "network" into playback, and the output file is
//! checked for the tone.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cromulent_client::voice::audio::{
    analysis, AudioConfig, Capture, InputChoice, OutputChoice, PeerStats, Playback, FRAME_SAMPLES,
};

use crate::Scratch;

/// Seconds of tone in the input file.
const TONE_SECONDS: f64 = 1.5;
/// Samples (at 48 kHz) the jitter buffer gets to learn a stream's jitter: 200 ms.
const SETTLE_SAMPLES: usize = 9_600;
/// Frames carried from capture to playback: the tone plus a little after it.
const FRAMES: usize = 90;

/// One at a time with every other real-time test of this binary ([`crate::REAL_TIME`]).
fn one_real_time_test() -> tokio::sync::MutexGuard<'static, ()> {
    crate::REAL_TIME.blocking_lock()
}

struct Run {
    transmit: bool,
    muted: bool,
    /// Drop every tenth packet: 10 % loss, deterministic.
    drop_every_tenth: bool,
    /// Deliver packet 4k+1 after 4k+2: reordering on the way.
    reorder: bool,
    deafened: bool,
    volume: f32,
}

impl Default for Run {
    fn default() -> Self {
        Run {
            transmit: true,
            muted: false,
            drop_every_tenth: false,
            reorder: false,
            deafened: false,
            volume: 1.0,
        }
    }
}

/// What came out of one run.
struct Heard {
    /// The output file's samples at 48 kHz.
    played: Vec<f32>,
    stats: PeerStats,
    /// Whether playback showed the peer as speaking in the middle of the tone.
    speaking_mid_tone: bool,
}

/// Captures `input` (a WAV file), sends the frames through the sink of a playback writing
/// `output`, and returns what was heard.
fn carry(input: &Path, output: &Path, run: &Run) -> Heard {
    let config = AudioConfig {
        input: InputChoice::Wav(input.to_owned()),
        output: OutputChoice::Wav(output.to_owned()),
        // This test is about transport, so it sends the tone as is: a pure tone is the kind
        // of stationary sound RNNoise removes, and the acoustic chain (echo cancellation,
        // gain control, high-pass; tested on its own) would only add work to a capture
        // thread that must keep real time on a loaded machine in a debug build.
        noise_suppression: false,
        echo_cancellation: false,
        gain_control: false,
        high_pass: false,
        ..AudioConfig::default()
    };
    let playback = Playback::start(&config).expect("WAV output opens");
    let sink = playback.add_peer("peer");
    let (capture, mut frames) = Capture::start(&config).expect("WAV input opens");
    capture.set_transmit(run.transmit);
    capture.set_muted(run.muted);
    playback.set_deafened(run.deafened);
    assert!(playback.set_volume("peer", run.volume), "the peer exists");
    let mut speaking_mid_tone = false;
    let mut held = None;
    for index in 0..FRAMES {
        let frame = frames.blocking_recv().expect("capture delivers a frame every 20 ms");
        if index == FRAMES / 2 {
            speaking_mid_tone = playback.speaking("peer");
        }
        assert_eq!(frame.samples as usize, FRAME_SAMPLES, "frames are 20 ms at 48 kHz");
        let sequence = index as u16;
        let timestamp = (index * FRAME_SAMPLES) as u32;
        if run.drop_every_tenth && index % 10 == 5 {
            continue;
        }
        if run.reorder && index % 4 == 1 {
            held = Some((sequence, timestamp, frame.payload));
            continue;
        }
        sink.push(sequence, timestamp, &frame.payload);
        if let Some((sequence, timestamp, payload)) = held.take() {
            sink.push(sequence, timestamp, &payload);
        }
    }
    capture.stop().expect("capture ends cleanly");
    // Let the jitter buffer drain before closing the file.
    std::thread::sleep(Duration::from_millis(200));
    let stats = playback.peer_stats("peer").expect("the peer was added");
    playback.finish().expect("WAV output is finalized");
    let (rate, samples) = analysis::read_wav(output).expect("the output WAV is readable");
    assert_eq!(rate, 48_000, "WAV output is 48 kHz");
    Heard { played: samples, stats, speaking_mid_tone }
}

/// A 440 Hz tone at 44.1 kHz stereo, so the input is resampled and downmixed on the way.
fn tone_file(dir: &Scratch) -> PathBuf {
    let path = dir.path("tone.wav");
    let mono = analysis::sine(440.0, 44_100, TONE_SECONDS, 0.5);
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&path, spec).expect("tone file is writable");
    for sample in mono {
        let value = (sample * 32_767.0) as i16;
        writer.write_sample(value).expect("write left");
        writer.write_sample(value).expect("write right");
    }
    writer.finalize().expect("tone file is finalized");
    path
}

#[test]
fn a_tone_survives_ten_percent_loss_and_reordering_without_gaps() {
    let _one_at_a_time = one_real_time_test();
    let dir = Scratch::new("loss");
    let input = tone_file(&dir);
    let run = Run { drop_every_tenth: true, reorder: true, ..Run::default() };
    let Heard { played, stats, speaking_mid_tone } = carry(&input, &dir.path("out.wav"), &run);
    let onset = analysis::onset(&played, 48_000, -30.0).expect("the tone must reach the output");
    let start = (onset.as_secs_f64() * 48_000.0) as usize;
    let tone = &played[start..(start + 48_000).min(played.len())];
    let frequency = analysis::dominant_frequency(tone, 48_000, 100.0, 4000.0);
    assert!(
        (frequency - 440.0).abs() <= 3.0,
        "the output's dominant frequency must be 440 Hz, found {frequency}"
    );
    // Purity once the buffer has learned the jitter: in the first frames its depth is
    // still one packet, and whether a reordered packet is concealed there depends on how
    // the test's thread and the playback thread happen to interleave (gaps are checked
    // over the whole output below).
    let settled = start + SETTLE_SAMPLES;
    let steady = &played[settled..(settled + 48_000).min(played.len())];
    let purity = analysis::tone_purity(steady, 48_000, 440.0);
    assert!(purity > 0.9, "concealment must not bury the tone in artifacts, purity {purity}");
    let gap = analysis::longest_gap(&played, 48_000, -30.0);
    assert!(
        gap <= Duration::from_millis(40),
        "lost packets must be concealed, not heard as dropouts: gap {gap:?}"
    );
    assert!(
        stats.jitter.recovered + stats.jitter.concealed >= 5,
        "the 9 lost packets were filled in: {stats:?}"
    );
    assert!(stats.jitter.recovered >= 1, "in-band FEC recovered at least one loss: {stats:?}");
    assert!(speaking_mid_tone, "a peer playing a tone shows as speaking");
}

#[test]
fn a_closed_gate_sends_silence() {
    let _one_at_a_time = one_real_time_test();
    let dir = Scratch::new("gate");
    let input = tone_file(&dir);
    let run = Run { transmit: false, ..Run::default() };
    let heard = carry(&input, &dir.path("out.wav"), &run);
    let level = analysis::rms_dbfs(&heard.played);
    assert!(level < -60.0, "without push-to-talk nothing of the tone may be heard, level {level} dBFS");
    assert!(!heard.speaking_mid_tone, "a peer sending silence does not show as speaking");
}

#[test]
fn mute_wins_over_push_to_talk() {
    let _one_at_a_time = one_real_time_test();
    let dir = Scratch::new("mute");
    let input = tone_file(&dir);
    let run = Run { muted: true, ..Run::default() };
    let heard = carry(&input, &dir.path("out.wav"), &run);
    let level = analysis::rms_dbfs(&heard.played);
    assert!(level < -60.0, "muted with PTT held must send silence, level {level} dBFS");
}

#[test]
fn deafen_silences_the_output_and_volume_scales_a_peer() {
    let _one_at_a_time = one_real_time_test();
    let dir = Scratch::new("deafen");
    let input = tone_file(&dir);
    let deaf = carry(&input, &dir.path("deaf.wav"), &Run { deafened: true, ..Run::default() });
    let level = analysis::rms_dbfs(&deaf.played);
    assert!(level < -60.0, "deafened, nothing may reach the output, level {level} dBFS");
    assert!(deaf.speaking_mid_tone, "deafen does not hide who speaks");

    let quiet = carry(&input, &dir.path("quiet.wav"), &Run { volume: 0.25, ..Run::default() });
    let onset = analysis::onset(&quiet.played, 48_000, -40.0).expect("the quiet tone is still heard");
    let start = (onset.as_secs_f64() * 48_000.0) as usize + 4_800;
    let level = analysis::rms_dbfs(&quiet.played[start..start + 24_000]);
    // The tone is sent at -9 dBFS; a quarter of it is 12 dB lower.
    assert!((level + 21.0).abs() < 2.0, "volume 0.25 plays the tone near -21 dBFS, got {level}");
}
