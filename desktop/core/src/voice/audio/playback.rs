//! The playback thread: remote peers' Opus packets to one mixed output.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::backend::{open_output, AudioOutput, EchoSimOutput};
use super::codec::{Playout, VoiceDecoder};
use super::config::{AudioConfig, OutputChoice};
use super::duplex::PlaybackLink;
use super::far_end::FarEndWriter;
use super::jitter::{JitterBuffer, JitterStats};
use super::meter::{VoiceDetector, FLOOR_DBFS};
use super::mixer::{add_scaled, clamped_volume, soft_clip};
use super::resample::Resampler;
use super::{locked, AudioError, FRAME_SAMPLES, SAMPLE_RATE};

const THREAD_NAME: &str = "cromulent-playback";
/// The mixer's step: half an Opus frame. A peer's next frame is decoded on whichever
/// 10 ms tick first needs it, so a packet waits at most 10 ms for its turn, not 20.
const TICK_SAMPLES: usize = FRAME_SAMPLES / 2;
const TICK: Duration = Duration::from_millis(10);
/// How often the playback thread looks whether its output changed under it (a fallback).
const LABEL_CHECK_TICKS: u32 = 50;

/// What one peer shares between its [`PeerSink`], the [`Playback`] handle and the thread.
#[derive(Debug)]
struct PeerShared {
    /// Locked for one insert (async side) or one pop (playback thread) at a time: short
    /// sections, and never inside a device callback.
    buffer: Mutex<JitterBuffer>,
    volume_bits: AtomicU32,
    speaking: AtomicBool,
    level_bits: AtomicU32,
}

impl PeerShared {
    fn new() -> Self {
        Self {
            buffer: Mutex::new(JitterBuffer::new()),
            volume_bits: AtomicU32::new(1.0_f32.to_bits()),
            speaking: AtomicBool::new(false),
            level_bits: AtomicU32::new(FLOOR_DBFS.to_bits()),
        }
    }

    fn buffer(&self) -> MutexGuard<'_, JitterBuffer> {
        // A panic while holding this lock leaves a consistent buffer (every method
        // finishes its bookkeeping before it can panic), so a poisoned lock is still usable.
        locked(&self.buffer)
    }
}

/// Where the async side puts one remote peer's RTP packets. Cheap to clone; pushing never
/// blocks on the audio thread for more than an insert.
#[derive(Debug, Clone)]
pub struct PeerSink {
    shared: Arc<PeerShared>,
    epoch: Instant,
}

impl PeerSink {
    /// Queues an RTP packet: its sequence number, timestamp (48 kHz) and Opus payload.
    /// Reordered, duplicate and late packets are handled by the jitter buffer.
    pub fn push(&self, sequence: u16, timestamp: u32, payload: &[u8]) {
        let now = self.epoch.elapsed();
        self.shared.buffer().push(sequence, timestamp, payload, now);
    }
}

/// A peer's stream health, for diagnostics and tests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerStats {
    pub jitter: JitterStats,
    pub depth: usize,
    pub target_depth: usize,
    pub jitter_ms: f32,
    pub level_dbfs: f32,
}

enum Command {
    Add(String, Arc<PeerShared>),
    Remove(String),
    /// Open this output on the playback thread and play there from the next tick.
    SwitchOutput(OutputChoice),
}

/// Switches and readings shared between the [`Playback`] handle and its thread.
#[derive(Debug)]
struct Shared {
    stop: AtomicBool,
    deafened: AtomicBool,
    /// Output volume: a factor on the whole mix (1.0 as mixed, 0.0 silent, up to 4.0).
    volume_bits: AtomicU32,
    /// What the thread plays into now (after a switch, or a fallback to the default device).
    device: Mutex<String>,
    /// Why the last switch failed (the previous output stays), until the next switch.
    switch_error: Mutex<Option<String>>,
}

/// The running speaker pipeline. Dropping it stops the thread; [`Playback::finish`] also
/// reports whether the output (a WAV file) was written completely.
#[derive(Debug)]
pub struct Playback {
    peers: Mutex<HashMap<String, Arc<PeerShared>>>,
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    epoch: Instant,
    thread: Option<JoinHandle<Result<(), AudioError>>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Add(key, _) => write!(f, "Add({key})"),
            Command::Remove(key) => write!(f, "Remove({key})"),
            Command::SwitchOutput(choice) => write!(f, "SwitchOutput({choice:?})"),
        }
    }
}

impl Playback {
    /// Opens the output and starts the playback thread, which plays silence until peers
    /// are added. Nothing it plays reaches an echo canceller: [`super::start_duplex`]
    /// starts it linked to capture.
    pub fn start(config: &AudioConfig) -> Result<Playback, AudioError> {
        Self::start_linked(config, PlaybackLink::default())
    }

    pub(crate) fn start_linked(config: &AudioConfig, link: PlaybackLink) -> Result<Playback, AudioError> {
        let (commands, receiver) = mpsc::channel();
        let (ready_sender, ready) = mpsc::sync_channel(1);
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            deafened: AtomicBool::new(false),
            volume_bits: AtomicU32::new(clamped_volume(config.output_volume).to_bits()),
            device: Mutex::new(String::new()),
            switch_error: Mutex::new(None),
        });
        // Packets are stamped and slots timed on one clock.
        let epoch = Instant::now();
        let thread_state = ThreadState {
            epoch,
            commands: receiver,
            shared: Arc::clone(&shared),
            vad_threshold_dbfs: config.vad_threshold_dbfs,
            far_end: link.far_end,
        };
        let output_choice = config.output.clone();
        let room = link.room;
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || match open_output(&output_choice) {
                Ok(output) => {
                    let output: Box<dyn AudioOutput> = match room {
                        Some(speaker) => Box::new(EchoSimOutput::new(output, speaker)),
                        None => output,
                    };
                    let _ = ready_sender.send(Ok(output.label()));
                    thread_state.run(output)
                }
                Err(error) => {
                    let _ = ready_sender.send(Err(error));
                    Ok(())
                }
            })
            .map_err(|source| AudioError::Thread { name: THREAD_NAME, source })?;
        let device = ready.recv().map_err(|_| AudioError::ThreadGone { name: THREAD_NAME })??;
        *locked(&shared.device) = device;
        Ok(Playback { peers: Mutex::new(HashMap::new()), commands, shared, epoch, thread: Some(thread) })
    }

    /// What playback opened at start, after any fallback: a device's id (as in
    /// [`super::DeviceInfo::id`]), a WAV path or
    /// "null".
    pub fn output_device(&self) -> String {
        locked(&self.shared.device).clone()
    }

    /// Switches the output while playback runs; peers, their buffers and volumes carry
    /// on. When it cannot be opened, the current output stays and
    /// [`Playback::switch_error`] says why. (A simulated room hears the output opened at
    /// start only.)
    pub fn switch_output(&self, output: OutputChoice) {
        *locked(&self.shared.switch_error) = None;
        let _ = self.commands.send(Command::SwitchOutput(output));
    }

    /// Why the last [`Playback::switch_output`] failed, if it did.
    pub fn switch_error(&self) -> Option<String> {
        locked(&self.shared.switch_error).clone()
    }

    /// Output volume as a factor on the whole mix (1.0 as mixed, 0.0 silent, up to 4.0).
    pub fn set_output_volume(&self, volume: f32) {
        self.shared.volume_bits.store(clamped_volume(volume).to_bits(), Ordering::Relaxed);
    }

    /// Starts mixing a remote peer (replacing one with the same key) and returns where
    /// its packets go.
    pub fn add_peer(&self, key: &str) -> PeerSink {
        let shared = Arc::new(PeerShared::new());
        self.peers().insert(key.to_owned(), Arc::clone(&shared));
        // The thread only stops when this handle is finished or dropped.
        let _ = self.commands.send(Command::Add(key.to_owned(), Arc::clone(&shared)));
        PeerSink { shared, epoch: self.epoch }
    }

    pub fn remove_peer(&self, key: &str) {
        self.peers().remove(key);
        let _ = self.commands.send(Command::Remove(key.to_owned()));
    }

    /// A peer's volume as a factor (1.0 = as sent, 0.0 = silent, up to 4.0). Returns
    /// whether the peer exists.
    pub fn set_volume(&self, key: &str, volume: f32) -> bool {
        let volume = clamped_volume(volume);
        match self.peers().get(key) {
            Some(peer) => {
                peer.volume_bits.store(volume.to_bits(), Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Deafened: nothing reaches the output (peers keep being decoded, so undeafening is
    /// instant and speaking indicators keep working).
    pub fn set_deafened(&self, deafened: bool) {
        self.shared.deafened.store(deafened, Ordering::Relaxed);
    }

    /// Whether the peer's decoded audio currently carries voice.
    pub fn speaking(&self, key: &str) -> bool {
        self.peers().get(key).is_some_and(|peer| peer.speaking.load(Ordering::Relaxed))
    }

    pub fn peer_stats(&self, key: &str) -> Option<PeerStats> {
        let peer = self.peers().get(key).cloned()?;
        let level_dbfs = f32::from_bits(peer.level_bits.load(Ordering::Relaxed));
        let buffer = peer.buffer();
        Some(PeerStats {
            jitter: buffer.stats(),
            depth: buffer.depth(),
            target_depth: buffer.target_depth(),
            jitter_ms: buffer.jitter().as_secs_f32() * 1000.0,
            level_dbfs,
        })
    }

    /// Stops playback and closes the output; for a WAV output this finalizes the file.
    pub fn finish(mut self) -> Result<(), AudioError> {
        self.join()
    }

    fn peers(&self) -> MutexGuard<'_, HashMap<String, Arc<PeerShared>>> {
        locked(&self.peers)
    }

    fn join(&mut self) -> Result<(), AudioError> {
        self.shared.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| AudioError::ThreadGone { name: THREAD_NAME })?,
            None => Ok(()),
        }
    }
}

impl Drop for Playback {
    fn drop(&mut self) {
        if let Err(error) = self.join() {
            tracing::warn!(%error, "playback ended with an error");
        }
    }
}

/// A peer as the playback thread sees it.
struct PeerStream {
    key: String,
    shared: Arc<PeerShared>,
    decoder: VoiceDecoder,
    detector: VoiceDetector,
    /// The peer's current decoded frame and how much of it has been mixed.
    frame: [f32; FRAME_SAMPLES],
    mixed: usize,
    speaking: bool,
}

impl PeerStream {
    /// The peer's next 10 ms, due to play at `now`, decoding a new frame when the current
    /// one is used up.
    fn next_tick(&mut self, now: Duration) -> &[f32] {
        if self.mixed == TICK_SAMPLES && !self.speaking {
            // Packets wait longer than the network needs: drop the quiet second half of
            // this frame, so every later one plays 10 ms sooner. Only between words, where
            // the cut is not heard.
            let mut buffer = self.shared.buffer();
            if buffer.spare() >= TICK {
                buffer.playout_shifted();
                self.mixed = FRAME_SAMPLES;
            }
        }
        if self.mixed >= FRAME_SAMPLES {
            let playout = self.shared.buffer().pop_at(now);
            self.decoder.decode(&playout, &mut self.frame);
            // While the peer is not playing, take only half a frame of silence, so the
            // first packet of a talkspurt starts on the very next tick.
            self.mixed = if playout == Playout::Silence { TICK_SAMPLES } else { 0 };
            let speaking = self.detector.update(&self.frame);
            self.speaking = speaking;
            self.shared.speaking.store(speaking, Ordering::Relaxed);
            self.shared.level_bits.store(self.detector.level_dbfs().to_bits(), Ordering::Relaxed);
        }
        let tick = &self.frame[self.mixed..self.mixed + TICK_SAMPLES];
        self.mixed += TICK_SAMPLES;
        tick
    }
}

struct ThreadState {
    epoch: Instant,
    commands: mpsc::Receiver<Command>,
    shared: Arc<Shared>,
    vad_threshold_dbfs: f32,
    /// Where the mix goes as the echo canceller's reference, when capture is linked.
    far_end: Option<FarEndWriter>,
}

impl ThreadState {
    fn run(mut self, mut output: Box<dyn AudioOutput>) -> Result<(), AudioError> {
        let mut peers: Vec<PeerStream> = Vec::new();
        let mut mix = [0.0_f32; TICK_SAMPLES];
        let mut resampler = Resampler::new(SAMPLE_RATE, output.sample_rate());
        let mut device_samples: Vec<f32> = Vec::with_capacity(8 * FRAME_SAMPLES);
        let mut ticks_since_label_check = 0;
        while !self.shared.stop.load(Ordering::Relaxed) {
            self.apply_commands(&mut peers, &mut output)?;
            ticks_since_label_check += 1;
            if ticks_since_label_check >= LABEL_CHECK_TICKS {
                ticks_since_label_check = 0;
                *locked(&self.shared.device) = output.label();
            }
            // Mix right before the tick is due, not a whole tick ahead: a packet that
            // arrives meanwhile still makes it.
            output.wait_ready();
            let now = self.epoch.elapsed();
            mix.fill(0.0);
            for peer in &mut peers {
                let volume = f32::from_bits(peer.shared.volume_bits.load(Ordering::Relaxed));
                add_scaled(&mut mix, peer.next_tick(now), volume);
            }
            let volume = f32::from_bits(self.shared.volume_bits.load(Ordering::Relaxed));
            if volume != 1.0 {
                mix.iter_mut().for_each(|sample| *sample *= volume);
            }
            soft_clip(&mut mix);
            if self.shared.deafened.load(Ordering::Relaxed) {
                mix.fill(0.0);
            }
            if let Some(far_end) = &mut self.far_end {
                far_end.write(&mix);
            }
            if resampler.output_rate() != output.sample_rate() {
                // The device was replaced by one with another rate.
                resampler = Resampler::new(SAMPLE_RATE, output.sample_rate());
            }
            device_samples.clear();
            resampler.process(&mix, &mut device_samples);
            // Blocks until the device (or the real-time clock of a file) takes the tick.
            output.write(&device_samples)?;
        }
        if let Some(far_end) = &self.far_end {
            if far_end.dropped() > 0 {
                tracing::debug!(ticks = far_end.dropped(), "echo reference ticks capture did not take");
            }
        }
        output.finish()
    }

    fn apply_commands(
        &self,
        peers: &mut Vec<PeerStream>,
        output: &mut Box<dyn AudioOutput>,
    ) -> Result<(), AudioError> {
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Add(key, shared) => {
                    peers.retain(|peer| peer.key != key);
                    let decoder = VoiceDecoder::new()?;
                    let detector = VoiceDetector::new(self.vad_threshold_dbfs);
                    peers.push(PeerStream {
                        key,
                        shared,
                        decoder,
                        detector,
                        frame: [0.0; FRAME_SAMPLES],
                        mixed: FRAME_SAMPLES,
                        speaking: false,
                    });
                }
                Command::Remove(key) => peers.retain(|peer| peer.key != key),
                Command::SwitchOutput(choice) => self.switch_output(output, &choice),
            }
        }
        Ok(())
    }

    /// Opens `choice` here, on the playback thread, and finishes the old output; a
    /// failure leaves the old one playing and is kept for [`Playback::switch_error`].
    fn switch_output(&self, output: &mut Box<dyn AudioOutput>, choice: &OutputChoice) {
        match open_output(choice) {
            Ok(opened) => {
                tracing::info!(from = %output.label(), to = %opened.label(), "switched audio output");
                *locked(&self.shared.device) = opened.label();
                let old = std::mem::replace(output, opened);
                if let Err(error) = old.finish() {
                    tracing::warn!(%error, "the previous audio output did not close cleanly");
                }
            }
            Err(error) => {
                tracing::warn!(%error, ?choice, "audio output switch failed, keeping the current output");
                *locked(&self.shared.switch_error) = Some(error.to_string());
            }
        }
    }
}
