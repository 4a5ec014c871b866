//! The capture thread: microphone to Opus frames for the async side.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;

use super::acoustic::{AcousticProcessor, AcousticSettings, BLOCK_SAMPLES};
use super::backend::{open_input, AudioInput, EchoSimInput};
use super::codec::{EncoderSettings, VoiceEncoder};
use super::config::{AudioConfig, InputChoice, TransmitMode};
use super::denoise::NoiseSuppressor;
use super::duplex::CaptureLink;
use super::far_end::FarEndReader;
use super::frame_queue::{frame_queue, FrameReceiver, FrameSender, Pushed};
use super::meter::{VoiceDetector, FLOOR_DBFS};
use super::mixer::clamped_volume;
use super::resample::Resampler;
use super::{locked, AudioError, FRAME_DURATION, FRAME_SAMPLES, SAMPLE_RATE};

/// Frames the async side may fall behind (1 s) before the oldest are dropped.
const QUEUE_FRAMES: usize = 50;
const THREAD_NAME: &str = "cromulent-capture";

/// One 20 ms Opus frame, ready to be sent as an RTP payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    pub payload: Bytes,
    /// Samples at 48 kHz the frame covers (always [`FRAME_SAMPLES`]): the RTP timestamp
    /// advance.
    pub samples: u32,
    /// Whether the gate was open. Closed-gate frames carry encoded silence and are still
    /// sent, so the RTP clock runs on without gaps (see [`super::codec`]).
    pub voice: bool,
    /// The first voice frame after a closed gate: the RTP marker bit.
    pub talkspurt_start: bool,
    /// The frame's loudness before encoding in -dBov, RFC 6464's scale: 0 is full scale,
    /// 127 silence.
    pub audio_level: u8,
}

impl EncodedFrame {
    pub fn duration(&self) -> Duration {
        FRAME_DURATION
    }
}

/// The receiving end of the capture thread's frames, for the task that writes RTP.
#[derive(Debug)]
pub struct CaptureFrames {
    receiver: FrameReceiver<EncodedFrame>,
}

impl CaptureFrames {
    /// The next frame; `None` once capture has stopped.
    pub async fn recv(&mut self) -> Option<EncodedFrame> {
        self.receiver.recv().await
    }

    /// The next frame from a non-async thread (tests, benches); `None` once stopped.
    pub fn blocking_recv(&mut self) -> Option<EncodedFrame> {
        self.receiver.blocking_recv()
    }

    /// Frames dropped before the last one received, because the async side fell behind
    /// (the oldest go first, so the frames missing since the previous one received were
    /// right before this one). Each still took its 20 ms of the capture clock.
    pub fn dropped_before_last(&self) -> u64 {
        self.receiver.dropped_before_last()
    }
}

/// Switches and meters shared between the [`Capture`] handle and its thread.
#[derive(Debug, Default)]
struct Controls {
    stop: AtomicBool,
    transmit: AtomicBool,
    muted: AtomicBool,
    voice_activation: AtomicBool,
    noise_suppression: AtomicBool,
    echo_cancellation: AtomicBool,
    gain_control: AtomicBool,
    high_pass: AtomicBool,
    /// Input volume: a factor on the microphone's samples before any processing.
    input_gain_bits: AtomicU32,
    vad_threshold_bits: AtomicU32,
    level_bits: AtomicU32,
    voice_active: AtomicBool,
    gate_open: AtomicBool,
    dropped_frames: AtomicU64,
    /// An input to switch to; the capture thread opens it, since device streams stay on
    /// the thread that opened them.
    switch_to: Mutex<Option<InputChoice>>,
    /// What the thread reads from now (after a switch, or a fallback to the default device).
    device: Mutex<String>,
    /// Why the last switch failed (the previous input stays), until the next switch.
    switch_error: Mutex<Option<String>>,
}

/// How often the capture thread looks whether its input changed under it (a fallback).
const LABEL_CHECK_FRAMES: u32 = 25;

/// A running microphone pipeline. Dropping it stops the thread.
#[derive(Debug)]
pub struct Capture {
    controls: Arc<Controls>,
    thread: Option<JoinHandle<Result<(), AudioError>>>,
}

impl Capture {
    /// Opens the input and starts the capture thread. Frames come out of the returned
    /// [`CaptureFrames`] every 20 ms, as long as the [`Capture`] lives. Without a link to
    /// playback the echo canceller has no reference: [`super::start_duplex`] links them.
    pub fn start(config: &AudioConfig) -> Result<(Capture, CaptureFrames), AudioError> {
        Self::start_linked(config, CaptureLink::default())
    }

    pub(crate) fn start_linked(
        config: &AudioConfig,
        link: CaptureLink,
    ) -> Result<(Capture, CaptureFrames), AudioError> {
        let controls = Arc::new(Controls::default());
        controls.noise_suppression.store(config.noise_suppression, Ordering::Relaxed);
        controls.echo_cancellation.store(config.echo_cancellation, Ordering::Relaxed);
        controls.gain_control.store(config.gain_control, Ordering::Relaxed);
        controls.high_pass.store(config.high_pass, Ordering::Relaxed);
        controls
            .voice_activation
            .store(config.transmit_mode == TransmitMode::VoiceActivation, Ordering::Relaxed);
        controls.level_bits.store(FLOOR_DBFS.to_bits(), Ordering::Relaxed);
        controls.input_gain_bits.store(clamped_volume(config.input_volume).to_bits(), Ordering::Relaxed);
        controls.vad_threshold_bits.store(config.vad_threshold_dbfs.to_bits(), Ordering::Relaxed);
        let (sender, receiver) = frame_queue(QUEUE_FRAMES);
        let (ready_sender, ready) = mpsc::sync_channel(1);
        let thread_controls = Arc::clone(&controls);
        let config = config.clone();
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || {
                let CaptureLink { far_end, room } = link;
                let opened = open_input(&config.input).and_then(|input| {
                    let input: Box<dyn AudioInput> = match room {
                        Some(microphone) => Box::new(EchoSimInput::new(input, microphone)),
                        None => input,
                    };
                    let processor = CaptureProcessor::new(&config)?;
                    Ok((input, processor))
                });
                match opened {
                    Ok((input, processor)) => {
                        // The receiver only goes away if `start` itself is gone.
                        let _ = ready_sender.send(Ok(input.label()));
                        let ends = Ends { far_end, frames: &sender };
                        run(input, processor, &thread_controls, ends)
                    }
                    Err(error) => {
                        let _ = ready_sender.send(Err(error));
                        Ok(())
                    }
                }
            })
            .map_err(|source| AudioError::Thread { name: THREAD_NAME, source })?;
        let device = ready.recv().map_err(|_| AudioError::ThreadGone { name: THREAD_NAME })??;
        *locked(&controls.device) = device;
        Ok((Capture { controls, thread: Some(thread) }, CaptureFrames { receiver }))
    }

    /// What capture reads from now, after any switch or fallback: a device's id (as in
    /// [`super::DeviceInfo::id`]), a WAV path or "silence".
    pub fn input_device(&self) -> String {
        locked(&self.controls.device).clone()
    }

    /// Switches the input while capture runs: frames go on without a gap in their
    /// sequence, and the new input's rate is resampled like the first one's. When it
    /// cannot be opened, the current input stays and [`Capture::switch_error`] says why.
    /// (A simulated room's echo is heard through the input opened at start only.)
    pub fn switch_input(&self, input: InputChoice) {
        *locked(&self.controls.switch_error) = None;
        *locked(&self.controls.switch_to) = Some(input);
    }

    /// Why the last [`Capture::switch_input`] failed, if it did.
    pub fn switch_error(&self) -> Option<String> {
        locked(&self.controls.switch_error).clone()
    }

    /// Input volume as a factor (1.0 as the device gives it, 0.0 silent, up to 4.0).
    pub fn set_input_gain(&self, gain: f32) {
        self.controls.input_gain_bits.store(clamped_volume(gain).to_bits(), Ordering::Relaxed);
    }

    /// The level above which a frame counts as voice, in dBFS.
    pub fn set_vad_threshold(&self, threshold_dbfs: f32) {
        self.controls.vad_threshold_bits.store(threshold_dbfs.to_bits(), Ordering::Relaxed);
    }

    /// Push-to-talk: opens (true) or closes the gate. Mute still wins.
    pub fn set_transmit(&self, transmit: bool) {
        self.controls.transmit.store(transmit, Ordering::Relaxed);
    }

    /// Mute closes the gate whatever push-to-talk or voice activation say.
    pub fn set_muted(&self, muted: bool) {
        self.controls.muted.store(muted, Ordering::Relaxed);
    }

    /// Voice activation: detected voice opens the gate too.
    pub fn set_voice_activation(&self, enabled: bool) {
        self.controls.voice_activation.store(enabled, Ordering::Relaxed);
    }

    pub fn set_noise_suppression(&self, enabled: bool) {
        self.controls.noise_suppression.store(enabled, Ordering::Relaxed);
    }

    /// Echo cancellation: on with speakers, off with a headset.
    pub fn set_echo_cancellation(&self, enabled: bool) {
        self.controls.echo_cancellation.store(enabled, Ordering::Relaxed);
    }

    pub fn set_gain_control(&self, enabled: bool) {
        self.controls.gain_control.store(enabled, Ordering::Relaxed);
    }

    pub fn set_high_pass(&self, enabled: bool) {
        self.controls.high_pass.store(enabled, Ordering::Relaxed);
    }

    /// Microphone level of the last frame after noise suppression, in dBFS.
    pub fn level_dbfs(&self) -> f32 {
        f32::from_bits(self.controls.level_bits.load(Ordering::Relaxed))
    }

    /// Whether voice is detected (with hangover), gate open or not.
    pub fn voice_active(&self) -> bool {
        self.controls.voice_active.load(Ordering::Relaxed)
    }

    /// Whether the last frame went out as voice.
    pub fn transmitting(&self) -> bool {
        self.controls.gate_open.load(Ordering::Relaxed)
    }

    /// Frames dropped (the oldest first) because the async side did not keep up.
    pub fn dropped_frames(&self) -> u64 {
        self.controls.dropped_frames.load(Ordering::Relaxed)
    }

    /// Stops the thread and reports how it ended.
    pub fn stop(mut self) -> Result<(), AudioError> {
        self.join()
    }

    fn join(&mut self) -> Result<(), AudioError> {
        self.controls.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| AudioError::ThreadGone { name: THREAD_NAME })?,
            None => Ok(()),
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Err(error) = self.join() {
            tracing::warn!(%error, "capture ended with an error");
        }
    }
}

/// Where the capture thread's data comes from besides the input, and where frames go.
struct Ends<'a> {
    far_end: Option<FarEndReader>,
    frames: &'a FrameSender<EncodedFrame>,
}

fn run(
    mut input: Box<dyn AudioInput>,
    mut processor: CaptureProcessor,
    controls: &Controls,
    mut ends: Ends<'_>,
) -> Result<(), AudioError> {
    let mut far_block = [0.0_f32; BLOCK_SAMPLES];
    let mut resampler = Resampler::new(input.sample_rate(), SAMPLE_RATE);
    let mut raw = vec![0.0_f32; 8192];
    let mut pending: Vec<f32> = Vec::with_capacity(4 * FRAME_SAMPLES);
    let mut frame = [0.0_f32; FRAME_SAMPLES];
    let mut frames_since_label_check = 0;
    while !controls.stop.load(Ordering::Relaxed) {
        if let Some(choice) = locked(&controls.switch_to).take() {
            switch_input(&mut input, &choice, controls);
        }
        let count = input.read(&mut raw)?;
        if input.sample_rate() != resampler.input_rate() {
            // The device was replaced by one with another rate.
            resampler = Resampler::new(input.sample_rate(), SAMPLE_RATE);
        }
        resampler.process(&raw[..count], &mut pending);
        while pending.len() >= FRAME_SAMPLES {
            frame.copy_from_slice(&pending[..FRAME_SAMPLES]);
            pending.drain(..FRAME_SAMPLES);
            let gain = f32::from_bits(controls.input_gain_bits.load(Ordering::Relaxed));
            if gain != 1.0 {
                frame.iter_mut().for_each(|sample| *sample *= gain);
            }
            frames_since_label_check += 1;
            if frames_since_label_check >= LABEL_CHECK_FRAMES {
                frames_since_label_check = 0;
                *locked(&controls.device) = input.label();
            }
            // Everything played so far goes to the canceller before the frame that may
            // hold its echo (taken out even while cancellation is off, so a switch
            // back on starts from the present).
            if let Some(far_end) = &mut ends.far_end {
                while far_end.next_block(&mut far_block) {
                    processor.far_end(&far_block);
                }
            }
            let gate = GateInputs {
                transmit: controls.transmit.load(Ordering::Relaxed),
                muted: controls.muted.load(Ordering::Relaxed),
                voice_activation: controls.voice_activation.load(Ordering::Relaxed),
                noise_suppression: controls.noise_suppression.load(Ordering::Relaxed),
                vad_threshold_dbfs: f32::from_bits(controls.vad_threshold_bits.load(Ordering::Relaxed)),
                acoustic: AcousticSettings {
                    echo_cancellation: controls.echo_cancellation.load(Ordering::Relaxed),
                    gain_control: controls.gain_control.load(Ordering::Relaxed),
                    high_pass: controls.high_pass.load(Ordering::Relaxed),
                },
            };
            let encoded = processor.process(&mut frame, gate)?;
            controls.level_bits.store(processor.level_dbfs().to_bits(), Ordering::Relaxed);
            controls.voice_active.store(processor.voice_active(), Ordering::Relaxed);
            controls.gate_open.store(encoded.voice, Ordering::Relaxed);
            match ends.frames.push(encoded) {
                Pushed::Queued => {}
                Pushed::DroppedOldest => {
                    controls.dropped_frames.fetch_add(1, Ordering::Relaxed);
                }
                // Nobody listens any more: capture has no purpose left.
                Pushed::ReceiverGone => return Ok(()),
            }
        }
    }
    Ok(())
}

/// Opens `choice` on the capture thread and puts it in place of `input`; a failure
/// leaves `input` as it was and is kept for [`Capture::switch_error`].
fn switch_input(input: &mut Box<dyn AudioInput>, choice: &InputChoice, controls: &Controls) {
    match open_input(choice) {
        Ok(opened) => {
            tracing::info!(from = %input.label(), to = %opened.label(), "switched audio input");
            *locked(&controls.device) = opened.label();
            *input = opened;
        }
        Err(error) => {
            tracing::warn!(%error, ?choice, "audio input switch failed, keeping the current input");
            *locked(&controls.switch_error) = Some(error.to_string());
        }
    }
}

/// The switches that decide one frame's fate.
#[derive(Debug, Clone, Copy)]
pub struct GateInputs {
    pub transmit: bool,
    pub muted: bool,
    pub voice_activation: bool,
    pub noise_suppression: bool,
    pub vad_threshold_dbfs: f32,
    pub acoustic: AcousticSettings,
}

impl Default for GateInputs {
    fn default() -> Self {
        Self {
            transmit: false,
            muted: false,
            voice_activation: false,
            noise_suppression: false,
            vad_threshold_dbfs: AudioConfig::default().vad_threshold_dbfs,
            acoustic: AcousticSettings::default(),
        }
    }
}

impl GateInputs {
    /// Mute wins over everything; otherwise push-to-talk or detected voice opens.
    pub fn open(self, voice_active: bool) -> bool {
        !self.muted && (self.transmit || (self.voice_activation && voice_active))
    }
}

/// The per-frame work of capture — echo cancellation, gain control, high-pass, noise
/// suppression, metering, gate, Opus — apart from the thread, so benchmarks measure
/// exactly what runs every 20 ms.
pub struct CaptureProcessor {
    acoustic: AcousticProcessor,
    suppressor: NoiseSuppressor,
    detector: VoiceDetector,
    encoder: VoiceEncoder,
    silence: [f32; FRAME_SAMPLES],
    was_open: bool,
}

impl CaptureProcessor {
    pub fn new(config: &AudioConfig) -> Result<Self, AudioError> {
        let settings =
            EncoderSettings { bitrate: config.bitrate, expected_loss_percent: config.expected_loss_percent };
        let acoustic = AcousticSettings {
            echo_cancellation: config.echo_cancellation,
            gain_control: config.gain_control,
            high_pass: config.high_pass,
        };
        Ok(Self {
            acoustic: AcousticProcessor::new(acoustic),
            suppressor: NoiseSuppressor::new(),
            detector: VoiceDetector::new(config.vad_threshold_dbfs),
            encoder: VoiceEncoder::new(settings)?,
            silence: [0.0; FRAME_SAMPLES],
            was_open: false,
        })
    }

    /// Hands the echo canceller 10 ms of what the speaker played, in order, before the
    /// microphone frames that may hold its echo.
    pub fn far_end(&mut self, block: &[f32; BLOCK_SAMPLES]) {
        self.acoustic.far_end(block);
    }

    /// Processes one 48 kHz frame in place and encodes it (or silence, gate closed).
    pub fn process(
        &mut self,
        frame: &mut [f32; FRAME_SAMPLES],
        gate: GateInputs,
    ) -> Result<EncodedFrame, AudioError> {
        // Echo first, on the raw signal the canceller's model of the room describes;
        // RNNoise after it, so its non-linear gains do not hide the echo path.
        self.acoustic.set(gate.acoustic);
        self.acoustic.process(frame);
        if gate.noise_suppression {
            self.suppressor.process(frame);
        }
        self.detector.set_threshold(gate.vad_threshold_dbfs);
        let voice_active = self.detector.update(frame);
        let open = gate.open(voice_active);
        let payload = if open { self.encoder.encode(frame)? } else { self.encoder.encode(&self.silence)? };
        let encoded = EncodedFrame {
            payload: Bytes::copy_from_slice(payload),
            samples: FRAME_SAMPLES as u32,
            voice: open,
            talkspurt_start: open && !self.was_open,
            audio_level: audio_level(self.detector.level_dbfs()),
        };
        self.was_open = open;
        Ok(encoded)
    }

    pub fn level_dbfs(&self) -> f32 {
        self.detector.level_dbfs()
    }

    pub fn voice_active(&self) -> bool {
        self.detector.active()
    }

    /// The encoder's look-ahead in samples at 48 kHz, for the latency budget.
    pub fn codec_lookahead(&mut self) -> Result<u32, AudioError> {
        self.encoder.lookahead()
    }
}

/// A level in dBFS on RFC 6464's scale (-dBov, 0 to 127); a full-scale signal is 0 and
/// the meter's floor (digital silence) the scale's own, 127.
fn audio_level(dbfs: f32) -> u8 {
    if dbfs <= FLOOR_DBFS {
        return 127;
    }
    // Clamped to the scale first, so the cast cannot truncate.
    (-dbfs).clamp(0.0, 127.0).round() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_onto_rfc_6464s_scale() {
        assert_eq!(audio_level(0.0), 0, "full scale is the loudest level");
        assert_eq!(audio_level(3.0), 0, "a clipping signal still reads as the loudest");
        assert_eq!(audio_level(-20.4), 20, "-20 dBFS is level 20");
        assert_eq!(audio_level(-99.0), 99, "a very quiet frame keeps its level");
        assert_eq!(audio_level(FLOOR_DBFS), 127, "digital silence is the quietest level");
    }

    #[test]
    fn mute_wins_over_push_to_talk_and_voice_activation() {
        let muted = GateInputs { transmit: true, muted: true, voice_activation: true, ..Default::default() };
        assert!(!muted.open(true), "muted must close the gate even with PTT held and voice present");
        let ptt = GateInputs { transmit: true, ..Default::default() };
        assert!(ptt.open(false), "PTT opens the gate without voice");
        let vad = GateInputs { voice_activation: true, ..Default::default() };
        assert!(vad.open(true) && !vad.open(false), "voice activation follows the detector");
        assert!(!GateInputs::default().open(true), "with PTT mode and no key, voice alone does not transmit");
    }
}
