//! Echo cancellation on a simulated room: ERLE over time, CPU of the capture path with
//! echo cancellation and gain control, and the latency the acoustic stage adds.
//!
//! The far end talks (a voiced synthetic signal); the speaker's sound reaches the
//! microphone 60 ms later at -6 dB, over a -60 dBFS noise floor. Each 20 ms frame is
//! handled as the capture thread does: the played 10 ms blocks go to the canceller first,
//! then the microphone frame. Prints a table; `docs/BENCHMARKS.md` has a run.
//!
//! CPU is the thread's own time on a core (Linux `schedstat`), so other work on a shared
//! machine does not inflate it; elsewhere it falls back to wall-clock time.
//!
//! Run: `cargo bench -p cromulent-client --bench echo_cancellation`

use std::time::{Duration, Instant};

use cromulent_client::voice::audio::acoustic::{AcousticProcessor, AcousticSettings, BLOCK_SAMPLES};
use cromulent_client::voice::audio::{
    analysis, AudioConfig, CaptureProcessor, GateInputs, FRAME_SAMPLES, SAMPLE_RATE,
};

const SECONDS: usize = 10;
const DELAY_SAMPLES: usize = SAMPLE_RATE as usize * 60 / 1000;
const PATH_GAIN: f32 = 0.5;
/// ERLE is reported per window of this many frames (500 ms).
const WINDOW_FRAMES: usize = 25;

fn main() {
    let total = SAMPLE_RATE as usize * SECONDS;
    let far = analysis::voice_like(total, SAMPLE_RATE, 0.3);
    let floor = analysis::white_noise(total, 0.001, 7);
    let microphone: Vec<f32> = (0..total)
        .map(|n| floor[n] + n.checked_sub(DELAY_SAMPLES).map_or(0.0, |from| far[from] * PATH_GAIN))
        .collect();

    println!("ERLE = 10 log10(echo power in / power out), per 500 ms window; path 60 ms, -6 dB");
    let aec_only = AcousticSettings { echo_cancellation: true, gain_control: false, high_pass: true };
    let all_on = AcousticSettings { gain_control: true, ..aec_only };
    let (windows_aec, _) = run_acoustic(aec_only, &far, &microphone);
    let (windows_all, cost_all) = run_acoustic(all_on, &far, &microphone);
    println!("{:>8} {:>14} {:>18}", "time s", "ERLE AEC+HPF", "ERLE AEC+HPF+AGC");
    for (index, (aec, all)) in windows_aec.iter().zip(&windows_all).enumerate() {
        let end = (index + 1) as f64 * WINDOW_FRAMES as f64 * 0.02;
        println!("{end:>8.1} {aec:>11.1} dB {all:>15.1} dB");
    }
    let converged = |windows: &[f64]| {
        let after: Vec<f64> = windows.iter().copied().skip(4).collect();
        let mean = after.iter().sum::<f64>() / after.len() as f64;
        let min = after.iter().copied().fold(f64::INFINITY, f64::min);
        (mean, min)
    };
    let (mean, min) = converged(&windows_aec);
    println!("after 2 s, AEC+HPF: mean ERLE {mean:.1} dB, worst window {min:.1} dB");
    let (mean, min) = converged(&windows_all);
    println!("after 2 s, AEC+HPF+AGC: mean ERLE {mean:.1} dB, worst window {min:.1} dB");

    let audio = Duration::from_secs(SECONDS as u64);
    println!(
        "CPU, acoustic stage (AEC3 + AGC2 + high-pass, far end included): {:.2} % of one core ({:.0} µs per 20 ms frame)",
        100.0 * cost_all.as_secs_f64() / audio.as_secs_f64(),
        cost_all.as_secs_f64() * 1e6 / (total / FRAME_SAMPLES) as f64
    );
    let whole = run_capture(&far, &microphone);
    println!(
        "CPU, whole capture path (acoustic + RNNoise + VAD + Opus): {:.2} % of one core ({:.0} µs per frame)",
        100.0 * whole.as_secs_f64() / audio.as_secs_f64(),
        whole.as_secs_f64() * 1e6 / (total / FRAME_SAMPLES) as f64
    );
    let lag = added_latency();
    println!(
        "latency added by the acoustic stage: {lag} samples = {:.2} ms (frames are processed in place, no buffering)",
        lag as f64 * 1000.0 / f64::from(SAMPLE_RATE)
    );
}

fn power(samples: &[f32]) -> f64 {
    samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / samples.len().max(1) as f64
}

/// Runs the acoustic stage over the whole recording; ERLE per window, and time spent.
fn run_acoustic(settings: AcousticSettings, far: &[f32], microphone: &[f32]) -> (Vec<f64>, Duration) {
    let mut processor = AcousticProcessor::new(settings);
    let mut spent = Duration::ZERO;
    let mut output = Vec::with_capacity(microphone.len());
    for (far_frame, mic_frame) in far.chunks_exact(FRAME_SAMPLES).zip(microphone.chunks_exact(FRAME_SAMPLES))
    {
        let mut frame: [f32; FRAME_SAMPLES] = mic_frame.try_into().expect("20 ms");
        let started = Clock::now();
        for block in far_frame.chunks_exact(BLOCK_SAMPLES) {
            processor.far_end(block.try_into().expect("10 ms"));
        }
        processor.process(&mut frame);
        spent += started.elapsed();
        output.extend_from_slice(&frame);
    }
    let window = WINDOW_FRAMES * FRAME_SAMPLES;
    let erle = microphone
        .chunks_exact(window)
        .zip(output.chunks_exact(window))
        .map(|(input, output)| 10.0 * (power(input) / power(output).max(1e-20)).log10())
        .collect();
    (erle, spent)
}

/// Time the whole capture processor takes with every stage on, the gate open.
fn run_capture(far: &[f32], microphone: &[f32]) -> Duration {
    let mut processor = CaptureProcessor::new(&AudioConfig::default()).expect("encoder");
    let gate = GateInputs {
        transmit: true,
        noise_suppression: true,
        acoustic: AcousticSettings { echo_cancellation: true, gain_control: true, high_pass: true },
        ..GateInputs::default()
    };
    let mut spent = Duration::ZERO;
    for (far_frame, mic_frame) in far.chunks_exact(FRAME_SAMPLES).zip(microphone.chunks_exact(FRAME_SAMPLES))
    {
        let mut frame: [f32; FRAME_SAMPLES] = mic_frame.try_into().expect("20 ms");
        let started = Clock::now();
        for block in far_frame.chunks_exact(BLOCK_SAMPLES) {
            processor.far_end(block.try_into().expect("10 ms"));
        }
        std::hint::black_box(processor.process(&mut frame, gate).expect("encode"));
        spent += started.elapsed();
    }
    spent
}

/// The lag (in samples) at which the stage's output best matches its input: near-end
/// noise only, every stage on, no far end.
fn added_latency() -> usize {
    let settings = AcousticSettings { echo_cancellation: true, gain_control: true, high_pass: true };
    let mut processor = AcousticProcessor::new(settings);
    let input = analysis::white_noise(SAMPLE_RATE as usize * 2, 0.1, 3);
    let mut output = Vec::with_capacity(input.len());
    for chunk in input.chunks_exact(FRAME_SAMPLES) {
        let mut frame: [f32; FRAME_SAMPLES] = chunk.try_into().expect("20 ms");
        processor.process(&mut frame);
        output.extend_from_slice(&frame);
    }
    // The second second only, after the gain has settled.
    let start = SAMPLE_RATE as usize;
    let span = SAMPLE_RATE as usize / 2;
    (0..FRAME_SAMPLES)
        .max_by(|&a, &b| {
            let correlation = |lag: usize| -> f64 {
                (start..start + span).map(|n| f64::from(input[n]) * f64::from(output[n + lag])).sum()
            };
            correlation(a).total_cmp(&correlation(b))
        })
        .expect("lags to try")
}

/// The calling thread's time on a core, or wall-clock time where that is not readable.
struct Clock {
    cpu: Option<Duration>,
    wall: Instant,
}

impl Clock {
    fn now() -> Self {
        Self { cpu: thread_cpu(), wall: Instant::now() }
    }

    fn elapsed(&self) -> Duration {
        match (self.cpu, thread_cpu()) {
            (Some(start), Some(now)) => now.saturating_sub(start),
            _ => self.wall.elapsed(),
        }
    }
}

/// Nanoseconds this thread has run, the first field of Linux's schedstat.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}
