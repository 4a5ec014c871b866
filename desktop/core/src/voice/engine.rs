//! The engine for one voice room at a time: starts and stops the audio pipelines and the
//! transport, decides when the microphone transmits (push-to-talk mode, mute wins), tells
//! the server (`ptt_state`, `set_mute`, `set_deafen`) and keeps a state snapshot for the UI.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use cromulent_protocol::gateway::{ClientFrame, ControlFrame, Event, ServerFrame};
use cromulent_protocol::Id;

use super::audio::{start_duplex, AudioConfig, AudioError, Capture, InputChoice, OutputChoice, Playback};
use super::call::{CallParts, Transports};
use super::connection::ConnectionConfig;
use super::controls::{Controls, PttMode};
use super::mic_test::MicTest;
use super::remote::PlaybackSlot;
use super::removal::{self, InCall, Removal};
use super::state::{PeerView, VoiceState};
use super::transmit::{forward_frames, Transmission, Uplinks};
use super::transport::Signal;

/// Why a voice operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VoiceError {
    /// The microphone or speaker pipeline would not start or ended badly.
    #[error("audio: {0}")]
    Audio(#[from] AudioError),
    /// `join` needs a tokio runtime for the transports.
    #[error("the voice engine must be used inside a tokio runtime")]
    NoRuntime,
    /// The mic test shares the devices with a call, so it waits until the call ends (the
    /// call's own meter shows the level meanwhile).
    #[error("the mic test cannot run during a call")]
    InCall,
}

/// How the engine starts its audio and network parts.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub audio: AudioConfig,
    /// How every peer connection binds its sockets, the SFU's as well as the mesh's (the
    /// field kept the name it had before the SFU).
    pub mesh: ConnectionConfig,
    /// The mode to start in; from then on the controls hold it ([`VoiceEngine::set_mode`]).
    pub mode: PttMode,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { audio: AudioConfig::default(), mesh: ConnectionConfig::default(), mode: PttMode::Key }
    }
}

/// The voice engine handle. Cheap to clone; every clone drives the same engine.
#[derive(Clone)]
pub struct VoiceEngine {
    inner: Arc<Inner>,
}

struct Inner {
    signal: Signal,
    config: Mutex<EngineConfig>,
    controls: Mutex<Controls>,
    call: Mutex<Option<Call>>,
    mic_test: Mutex<Option<MicTest>>,
    /// The playback pipeline, shared with the transports' track readers.
    playback: Arc<PlaybackSlot>,
    transmitting: Arc<AtomicBool>,
    capture_epoch: Arc<Mutex<Option<Instant>>>,
}

/// One joined voice room: the running pipelines and the transports.
struct Call {
    channel_id: Id,
    capture: Capture,
    transports: Arc<Transports>,
    forward: tokio::task::JoinHandle<()>,
}

impl VoiceEngine {
    /// An idle engine; `signal` sends frames to the gateway.
    pub fn new(config: EngineConfig, signal: Signal) -> Self {
        let controls = Controls { mode: config.mode, ..Controls::default() };
        Self {
            inner: Arc::new(Inner {
                signal,
                config: Mutex::new(config),
                controls: Mutex::new(controls),
                call: Mutex::new(None),
                mic_test: Mutex::new(None),
                playback: Arc::new(PlaybackSlot::default()),
                transmitting: Arc::new(AtomicBool::new(false)),
                capture_epoch: Arc::new(Mutex::new(None)),
            }),
        }
    }

    /// Opens the microphone and speaker, readies the transports and asks the server to
    /// join; `voice_joined` then says whether the room is a mesh or goes through the SFU.
    /// Joining another room leaves the current one first.
    pub async fn join(&self, channel_id: Id) -> Result<(), VoiceError> {
        if self.channel_id() == Some(channel_id) {
            return Ok(());
        }
        self.leave()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| VoiceError::NoRuntime)?;
        // The call takes the devices over from a mic test.
        self.stop_mic_test()?;
        let config = lock(&self.inner.config).clone();
        // Both pipelines start their own threads; opening devices may block a moment.
        let (capture, frames, playback) = {
            let audio = config.audio.clone();
            tokio::task::spawn_blocking(move || -> Result<_, AudioError> {
                // Linked, so the echo canceller hears what the speaker plays.
                let (playback, capture, frames) = start_duplex(&audio)?;
                Ok((capture, frames, playback))
            })
            .await
            .map_err(|_| VoiceError::Audio(AudioError::ThreadGone { name: "voice join" }))??
        };
        *lock(&self.inner.playback.playback) = Some(playback);

        let uplinks = Arc::new(Uplinks::default());
        let transports = Transports::start(CallParts {
            channel_id,
            config: config.mesh.clone(),
            signal: self.inner.signal.clone(),
            playback: self.inner.playback.clone(),
            uplinks: uplinks.clone(),
        });
        let transmission = Transmission {
            signal: self.inner.signal.clone(),
            transmitting: self.inner.transmitting.clone(),
            epoch: self.inner.capture_epoch.clone(),
        };
        let forward = runtime.spawn(forward_frames(frames, uplinks, transmission));
        *lock(&self.inner.call) = Some(Call { channel_id, capture, transports, forward });
        {
            let mut controls = lock(&self.inner.controls);
            controls.error = None;
            controls.removed = None;
        }
        self.apply_gate();
        (self.inner.signal)(ClientFrame::VoiceJoin { channel_id });
        Ok(())
    }

    /// Leaves the room: tells the server, closes every peer connection, stops capture and
    /// playback (finalizing a WAV output). Leaving while not in a room does nothing.
    pub fn leave(&self) -> Result<(), VoiceError> {
        let Some(call) = lock(&self.inner.call).take() else { return Ok(()) };
        (self.inner.signal)(ClientFrame::VoiceLeave);
        self.hang_up(call)
    }

    /// The local half of leaving: peer connections, capture, playback, room state.
    fn hang_up(&self, call: Call) -> Result<(), VoiceError> {
        call.transports.leave();
        call.forward.abort();
        let captured = call.capture.stop();
        let played = match lock(&self.inner.playback.playback).take() {
            Some(playback) => playback.finish(),
            None => Ok(()),
        };
        self.inner.transmitting.store(false, Ordering::Relaxed);
        {
            let mut controls = lock(&self.inner.controls);
            controls.self_session_id = None;
            controls.remote_ptt.clear();
            controls.ptt_held = false;
        }
        captured?;
        played?;
        Ok(())
    }

    /// When the capture clock of the current call started, estimated from when its frames
    /// arrived (each is due 20 ms after the previous one): the time origin of a WAV input,
    /// for latency measurements.
    pub fn capture_epoch(&self) -> Option<Instant> {
        *lock(&self.inner.capture_epoch)
    }

    /// Our microphone is going out right now ([`VoiceState::transmitting`], without
    /// building the rest of the state).
    pub fn transmitting(&self) -> bool {
        self.inner.transmitting.load(Ordering::Relaxed)
    }

    pub fn channel_id(&self) -> Option<Id> {
        lock(&self.inner.call).as_ref().map(|c| c.channel_id)
    }

    /// Feeds a frame from the gateway. Frames that are not about voice are ignored.
    ///
    /// When the frame says the server took this session out of its room (see
    /// [`removal`]), the call is ended here, without a `voice_leave` the server would
    /// refuse, and the reason is returned (and kept in [`VoiceState::removed`]).
    pub fn handle(&self, frame: &ServerFrame) -> Option<Removal> {
        if let ServerFrame::Event(e) = frame {
            if let Some(removal) = self.removal(&e.event) {
                self.removed(removal);
                return Some(removal);
            }
        }
        match frame {
            ServerFrame::Control(ControlFrame::VoiceJoined { self_session_id, .. }) => {
                lock(&self.inner.controls).self_session_id = Some(*self_session_id);
            }
            ServerFrame::Control(ControlFrame::Error { op, message, .. }) if op.starts_with("voice") => {
                lock(&self.inner.controls).error = Some(message.clone());
            }
            ServerFrame::Event(e) => match &e.event {
                Event::PeerJoined { participant, .. } => {
                    self.inner.playback.name(participant.session_id, participant.user_id);
                }
                Event::PttState { session_id, active, .. } => {
                    lock(&self.inner.controls).remote_ptt.insert(*session_id, *active);
                }
                Event::PeerLeft { session_id, .. } => {
                    lock(&self.inner.controls).remote_ptt.remove(session_id);
                    self.inner.playback.remove(*session_id);
                }
                _ => {}
            },
            _ => {}
        }
        if let Some(call) = lock(&self.inner.call).as_ref() {
            call.transports.handle(frame);
        }
        None
    }

    fn removal(&self, event: &Event) -> Option<Removal> {
        let channel_id = self.channel_id()?;
        let self_session_id = lock(&self.inner.controls).self_session_id;
        removal::removal(InCall { channel_id, self_session_id }, event)
    }

    /// Ends the call the server already ended, keeping the reason for the UI.
    fn removed(&self, removal: Removal) {
        let call = lock(&self.inner.call).take();
        lock(&self.inner.controls).removed = Some(removal);
        tracing::info!(channel_id = %removal.channel_id(), %removal, "the server ended the call");
        if let Some(call) = call {
            if let Err(error) = self.hang_up(call) {
                tracing::warn!(%error, "voice pipelines did not stop cleanly");
            }
        }
    }

    pub fn ptt_down(&self) {
        lock(&self.inner.controls).ptt_held = true;
        self.apply_gate();
    }

    pub fn ptt_up(&self) {
        lock(&self.inner.controls).ptt_held = false;
        self.apply_gate();
    }

    pub fn set_mode(&self, mode: PttMode) {
        lock(&self.inner.controls).mode = mode;
        self.apply_gate();
    }

    /// Mute closes the microphone whatever the mode says; unmuting also undeafens.
    pub fn set_muted(&self, muted: bool) {
        let undeafen = {
            let mut controls = lock(&self.inner.controls);
            controls.muted = muted;
            !muted && controls.deafened
        };
        if undeafen {
            self.set_deafened(false);
        }
        (self.inner.signal)(ClientFrame::SetMute { muted });
        self.apply_gate();
    }

    /// Deafen silences every peer and closes the microphone; undeafening leaves mute as it was.
    pub fn set_deafened(&self, deafened: bool) {
        lock(&self.inner.controls).deafened = deafened;
        if let Some(playback) = lock(&self.inner.playback.playback).as_ref() {
            playback.set_deafened(deafened);
        }
        (self.inner.signal)(ClientFrame::SetDeafen { deafened });
        self.apply_gate();
    }

    /// A user's volume as a factor (1.0 as sent, 0.0 silent, up to 4.0), for all their sessions.
    pub fn set_volume(&self, user_id: Id, volume: f32) {
        lock(&self.inner.controls).volumes.insert(user_id, volume);
        self.inner.playback.set_volume(user_id, volume);
    }

    pub fn set_noise_suppression(&self, enabled: bool) {
        lock(&self.inner.config).audio.noise_suppression = enabled;
        self.with_capture(|capture| capture.set_noise_suppression(enabled));
    }

    /// Echo cancellation, on by default; off suits a headset.
    pub fn set_echo_cancellation(&self, enabled: bool) {
        lock(&self.inner.config).audio.echo_cancellation = enabled;
        self.with_capture(|capture| capture.set_echo_cancellation(enabled));
    }

    pub fn set_gain_control(&self, enabled: bool) {
        lock(&self.inner.config).audio.gain_control = enabled;
        self.with_capture(|capture| capture.set_gain_control(enabled));
    }

    pub fn set_high_pass(&self, enabled: bool) {
        lock(&self.inner.config).audio.high_pass = enabled;
        self.with_capture(|capture| capture.set_high_pass(enabled));
    }

    /// Input volume as a factor on the microphone (1.0 as the device gives it, up to 4.0).
    pub fn set_input_volume(&self, volume: f32) {
        lock(&self.inner.config).audio.input_volume = volume;
        self.with_capture(|capture| capture.set_input_gain(volume));
    }

    /// Output volume as a factor on everything played (1.0 as mixed, up to 4.0).
    pub fn set_output_volume(&self, volume: f32) {
        lock(&self.inner.config).audio.output_volume = volume;
        self.with_playback(|playback| playback.set_output_volume(volume));
    }

    /// The level above which the microphone counts as voice (voice activation and the
    /// speaking indicator), in dBFS.
    pub fn set_vad_threshold(&self, threshold_dbfs: f32) {
        lock(&self.inner.config).audio.vad_threshold_dbfs = threshold_dbfs;
        self.with_capture(|capture| capture.set_vad_threshold(threshold_dbfs));
    }

    /// The microphone and speaker, applied at once to a call or mic test in progress (no
    /// need to leave the room) and to every later one. A device that cannot be opened
    /// leaves the current one in use and says so in [`VoiceState::device_error`]; one that
    /// disappears later falls back to the default device, which
    /// [`VoiceState::input_device`] and [`VoiceState::output_device`] then name.
    pub fn set_devices(&self, input: InputChoice, output: OutputChoice) {
        let changed = {
            let mut config = lock(&self.inner.config);
            let changed = (config.audio.input != input, config.audio.output != output);
            config.audio.input = input.clone();
            config.audio.output = output.clone();
            changed
        };
        if changed.0 {
            self.with_capture(|capture| capture.switch_input(input.clone()));
        }
        if changed.1 {
            self.with_playback(|playback| playback.switch_output(output.clone()));
        }
    }

    /// Starts the mic test: the microphone, processed as in a call, played back on the
    /// speaker, with its level in [`VoiceState::input_level_dbfs`]. Refused during a call.
    pub async fn start_mic_test(&self) -> Result<(), VoiceError> {
        if self.channel_id().is_some() {
            return Err(VoiceError::InCall);
        }
        if lock(&self.inner.mic_test).is_some() {
            return Ok(());
        }
        let audio = lock(&self.inner.config).audio.clone();
        // Opening devices may block a moment.
        let test = tokio::task::spawn_blocking(move || MicTest::start(&audio))
            .await
            .map_err(|_| VoiceError::Audio(AudioError::ThreadGone { name: "mic test" }))??;
        if self.channel_id().is_some() {
            // A join came first while the devices opened: the call has them.
            test.stop()?;
            return Err(VoiceError::InCall);
        }
        let replaced = lock(&self.inner.mic_test).replace(test);
        if let Some(replaced) = replaced {
            replaced.stop()?;
        }
        Ok(())
    }

    /// Ends the mic test; nothing happens when none runs.
    pub fn stop_mic_test(&self) -> Result<(), VoiceError> {
        let test = lock(&self.inner.mic_test).take();
        if let Some(test) = test {
            test.stop()?;
        }
        Ok(())
    }

    /// Runs `apply` on the microphone pipeline of the call or mic test in progress.
    fn with_capture(&self, apply: impl Fn(&Capture)) {
        if let Some(call) = lock(&self.inner.call).as_ref() {
            apply(&call.capture);
        }
        if let Some(test) = lock(&self.inner.mic_test).as_ref() {
            apply(&test.capture);
        }
    }

    /// Runs `apply` on the speaker pipeline of the call or mic test in progress.
    fn with_playback(&self, apply: impl Fn(&Playback)) {
        if let Some(playback) = lock(&self.inner.playback.playback).as_ref() {
            apply(playback);
        }
        if let Some(test) = lock(&self.inner.mic_test).as_ref() {
            apply(&test.playback);
        }
    }

    /// The devices in use and the level, from the call or else the mic test.
    fn audio_view(&self, call: Option<&Call>) -> AudioView {
        let test = lock(&self.inner.mic_test);
        let capture = call.map(|c| &c.capture).or(test.as_ref().map(|t| &t.capture));
        let playback = lock(&self.inner.playback.playback);
        let playback = playback.as_ref().or(test.as_ref().map(|t| &t.playback));
        let device_error = capture
            .and_then(Capture::switch_error)
            .map(|e| format!("the microphone could not be switched: {e}"))
            .or_else(|| {
                playback
                    .and_then(Playback::switch_error)
                    .map(|e| format!("the speaker could not be switched: {e}"))
            });
        AudioView {
            input_level_dbfs: capture.map_or(f32::NEG_INFINITY, Capture::level_dbfs),
            input_device: capture.map(Capture::input_device),
            output_device: playback.map(Playback::output_device),
            device_error,
            mic_test: test.is_some(),
        }
    }

    /// The state for the UI, read fresh.
    pub fn snapshot(&self) -> VoiceState {
        let controls = lock(&self.inner.controls);
        let call = lock(&self.inner.call);
        let peers = call.as_ref().map(|c| c.transports.peers()).unwrap_or_default();
        let peers = peers
            .into_iter()
            .map(|status| {
                let (speaking, stats) = self.inner.playback.peer_audio(status.session_id);
                PeerView::new(status, &controls, speaking, stats)
            })
            .collect();
        let lost_signaling = call.as_ref().map_or(0, |c| c.transports.lost_signaling());
        let error = controls.error.clone().or_else(|| {
            (lost_signaling > 0).then(|| {
                format!("voice signaling got stuck ({lost_signaling} messages lost); join the room again")
            })
        });
        let audio = self.audio_view(call.as_ref());
        VoiceState {
            channel_id: call.as_ref().map(|c| c.channel_id),
            self_session_id: controls.self_session_id,
            mode: controls.mode,
            ptt_held: controls.ptt_held,
            muted: controls.muted,
            deafened: controls.deafened,
            transmitting: self.transmitting(),
            input_level_dbfs: audio.input_level_dbfs,
            input_device: audio.input_device,
            output_device: audio.output_device,
            device_error: audio.device_error,
            mic_test: audio.mic_test,
            peers,
            error,
            removed: controls.removed,
        }
    }

    /// Sets the capture gate from the controls ([`Controls::gate`] decides).
    fn apply_gate(&self) {
        let gate = lock(&self.inner.controls).gate();
        if let Some(call) = lock(&self.inner.call).as_ref() {
            call.capture.set_muted(gate.blocked);
            call.capture.set_transmit(gate.transmit);
            call.capture.set_voice_activation(gate.voice_activation);
        }
    }
}

/// The audio part of [`VoiceState`].
struct AudioView {
    input_level_dbfs: f32,
    input_device: Option<String>,
    output_device: Option<String>,
    device_error: Option<String>,
    mic_test: bool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(call) = self.call.get_mut().ok().and_then(Option::take) {
            call.forward.abort();
            call.transports.leave();
        }
    }
}

/// The engine's locks guard plain state that stays consistent even if a holder panicked.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The desktop app keeps one handle in its state and calls it from any thread.
    fn shareable<T: Send + Sync + Clone + 'static>(value: T) -> T {
        value
    }

    #[test]
    fn an_idle_engine_reports_an_empty_room_and_leaving_is_harmless() {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = sent.clone();
        let engine =
            shareable(VoiceEngine::new(EngineConfig::default(), Arc::new(move |f| lock(&log).push(f))));
        engine.set_muted(true);
        engine.ptt_down();
        let state = engine.snapshot();
        assert!(state.muted && state.ptt_held && !state.transmitting);
        assert_eq!(state.channel_id, None);
        engine.leave().expect("leaving while idle does nothing");
        assert_eq!(*lock(&sent), vec![ClientFrame::SetMute { muted: true }]);
    }
}
