//! The settings that change a running pipeline, with WAV backends: switching the input
//! and the output mid-stream, a switch that cannot happen, input and output volume, and
//! the engine's mic test.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cromulent_client::voice::audio::codec::{Playout, VoiceDecoder};
use cromulent_client::voice::audio::{
    analysis, AudioConfig, Capture, CaptureFrames, InputChoice, OutputChoice, Playback, FRAME_SAMPLES,
};
use cromulent_client::voice::{EngineConfig, VoiceEngine};

use crate::Scratch;

const RATE: u32 = 48_000;

/// A 440 Hz (or other) tone file of `seconds` in `dir`.
fn tone(dir: &Scratch, name: &str, frequency: f64, seconds: f64) -> PathBuf {
    let path = dir.path(name);
    analysis::write_wav(&path, RATE, &analysis::sine(frequency, RATE, seconds, 0.5)).expect("tone file");
    path
}

/// The tone as sent: no processing that could change it.
fn plain(input: InputChoice, output: OutputChoice) -> AudioConfig {
    AudioConfig {
        input,
        output,
        noise_suppression: false,
        echo_cancellation: false,
        gain_control: false,
        high_pass: false,
        ..AudioConfig::default()
    }
}

/// Decodes `count` frames from capture with the gate held open.
fn decode(frames: &mut CaptureFrames, decoder: &mut VoiceDecoder, count: usize) -> Vec<f32> {
    let mut heard = Vec::with_capacity(count * FRAME_SAMPLES);
    let mut frame = [0.0_f32; FRAME_SAMPLES];
    for _ in 0..count {
        let encoded = frames.blocking_recv().expect("capture keeps delivering frames");
        decoder.decode(&Playout::Packet(encoded.payload.to_vec()), &mut frame);
        heard.extend_from_slice(&frame);
    }
    heard
}

#[test]
fn the_input_switches_mid_stream_without_a_gap_and_a_missing_one_leaves_it_as_it_was() {
    let _one_at_a_time = crate::REAL_TIME.blocking_lock();
    let dir = Scratch::new("input");
    let low = tone(&dir, "low.wav", 440.0, 4.0);
    let high = tone(&dir, "high.wav", 880.0, 4.0);
    let (capture, mut frames) =
        Capture::start(&plain(InputChoice::Wav(low.clone()), OutputChoice::Null)).expect("WAV input opens");
    capture.set_transmit(true);
    let mut decoder = VoiceDecoder::new().expect("decoder");
    let before = decode(&mut frames, &mut decoder, 40);
    assert_eq!(capture.input_device(), low.display().to_string());

    capture.switch_input(InputChoice::Wav(dir.path("missing.wav")));
    let still = decode(&mut frames, &mut decoder, 25);
    let error = capture.switch_error().expect("a switch to a missing file reports why");
    assert!(error.contains("missing.wav"), "the error names the input: {error}");
    assert_eq!(capture.input_device(), low.display().to_string(), "the input in use stays");

    capture.switch_input(InputChoice::Wav(high.clone()));
    let after = decode(&mut frames, &mut decoder, 60);
    assert_eq!(capture.switch_error(), None, "a new switch clears the old error");
    assert_eq!(capture.input_device(), high.display().to_string());
    capture.stop().expect("capture ends cleanly");

    let frequency = |samples: &[f32]| analysis::dominant_frequency(samples, RATE, 100.0, 4000.0);
    let last = |samples: &[f32], seconds: f64| {
        samples[samples.len() - (seconds * f64::from(RATE)) as usize..].to_vec()
    };
    assert!((frequency(&last(&before, 0.4)) - 440.0).abs() <= 3.0, "the first input is heard");
    assert!(
        (frequency(&last(&still, 0.3)) - 440.0).abs() <= 3.0,
        "after the failed switch the first input goes on"
    );
    assert!(
        (frequency(&last(&after, 0.8)) - 880.0).abs() <= 3.0,
        "after the switch the second input is heard"
    );
    // One continuous stream: the switch costs at most a frame or two of the new file's
    // start, never a dropout of the stream.
    let gap = analysis::longest_gap(&after, RATE, -30.0);
    assert!(gap <= Duration::from_millis(40), "no dropout at the switch: {gap:?}");
}

#[test]
fn the_output_switches_mid_stream_and_the_volumes_scale_input_and_output() {
    let _one_at_a_time = crate::REAL_TIME.blocking_lock();
    let dir = Scratch::new("output");
    let tone_wav = tone(&dir, "tone.wav", 440.0, 4.0);
    let (first, second) = (dir.path("first.wav"), dir.path("second.wav"));
    let playback = Playback::start(&plain(InputChoice::Silence, OutputChoice::Wav(first.clone())))
        .expect("WAV output opens");
    let sink = playback.add_peer("peer");
    let (capture, mut frames) =
        Capture::start(&plain(InputChoice::Wav(tone_wav), OutputChoice::Null)).expect("WAV input opens");
    capture.set_transmit(true);
    let mut levels = Vec::new();
    for index in 0..150_usize {
        let frame = frames.blocking_recv().expect("capture delivers a frame every 20 ms");
        match index {
            50 => playback.switch_output(OutputChoice::Wav(second.clone())),
            // Half the input volume, then a quarter of the output volume on top.
            90 => capture.set_input_gain(0.5),
            120 => playback.set_output_volume(0.25),
            _ => {}
        }
        if matches!(index, 85 | 115) {
            levels.push(capture.level_dbfs());
        }
        sink.push(index as u16, (index * FRAME_SAMPLES) as u32, &frame.payload);
    }
    capture.stop().expect("capture ends cleanly");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(playback.output_device(), second.display().to_string());
    assert_eq!(playback.switch_error(), None);
    playback.finish().expect("the output is finalized");

    let (_, before) = analysis::read_wav(&first).expect("the first output was finalized at the switch");
    let (_, after) = analysis::read_wav(&second).expect("the second output is readable");
    assert!(analysis::rms_dbfs(&before[before.len() / 2..]) > -15.0, "the tone played on the first output");
    assert!(
        (analysis::dominant_frequency(&after[..RATE as usize], RATE, 100.0, 4000.0) - 440.0).abs() <= 3.0,
        "the tone goes on at once on the second output"
    );
    let (full, half) = (levels[0], levels[1]);
    assert!((full - half - 6.0).abs() < 1.0, "input volume 0.5 is 6 dB quieter: {full} → {half} dBFS");
    // The second output: 40 frames at full input volume, 30 at half, 30 at half × a quarter.
    let second_at = |from_frame: usize, frames: usize| {
        let start = (from_frame - 50) * FRAME_SAMPLES + 4 * FRAME_SAMPLES;
        analysis::rms_dbfs(&after[start..start + frames * FRAME_SAMPLES])
    };
    let (half_in, quarter_out) = (second_at(95, 15), second_at(125, 15));
    assert!(
        (half_in - quarter_out - 12.0).abs() < 2.0,
        "output volume 0.25 is 12 dB quieter: {half_in} → {quarter_out} dBFS"
    );
}

#[test]
fn the_mic_test_plays_the_microphone_back_with_its_level_and_stops_cleanly() {
    let _one_at_a_time = crate::REAL_TIME.blocking_lock();
    let dir = Scratch::new("mic-test");
    let tone_wav = tone(&dir, "tone.wav", 440.0, 3.0);
    let heard = dir.path("heard.wav");
    let config = EngineConfig {
        audio: plain(InputChoice::Wav(tone_wav.clone()), OutputChoice::Wav(heard.clone())),
        ..EngineConfig::default()
    };
    let engine = VoiceEngine::new(config, Arc::new(|_| {}));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(engine.start_mic_test()).expect("the mic test starts");
    std::thread::sleep(Duration::from_millis(1500));
    let during = engine.snapshot();
    engine.stop_mic_test().expect("the mic test stops cleanly");
    let after = engine.snapshot();

    assert!(during.mic_test && !after.mic_test, "the state says whether the test runs");
    assert!(during.input_level_dbfs > -20.0, "the meter shows the tone: {} dBFS", during.input_level_dbfs);
    assert_eq!(during.input_device.as_deref(), Some(tone_wav.display().to_string().as_str()));
    assert_eq!(during.output_device.as_deref(), Some(heard.display().to_string().as_str()));
    assert_eq!(after.input_device, None, "no microphone is open after the test");
    let (_, played) = analysis::read_wav(&heard).expect("the test's output was finalized");
    let onset = analysis::onset(&played, RATE, -30.0).expect("the microphone is heard back");
    let start = (onset.as_secs_f64() * f64::from(RATE)) as usize;
    let tone_heard = &played[start..(start + RATE as usize / 2).min(played.len())];
    let frequency = analysis::dominant_frequency(tone_heard, RATE, 100.0, 4000.0);
    assert!(
        (frequency - 440.0).abs() <= 3.0,
        "the test plays back what the microphone hears: {frequency} Hz"
    );
}
