//! Voice from the app's side: the native engine (`cromulent_client::voice`) driven by
//! the UI (join, leave, mute, deafen, in-window push-to-talk) and by the global key
//! source alike, with one state, a [`watch`] channel that the tray and the UI observe.
//!
//! Joining starts the engine's microphone, speaker and peer connections. When audio
//! cannot start (no sound device), the app still joins the room for signaling — others
//! see it there and its push-to-talk — and says why in the state's `error`; the gate is
//! then [`transmits`] here, as the engine would decide it: mute always wins.

use std::collections::BTreeMap;
use std::sync::Arc;

use cromulent_client::voice::sound::SoundSettings;
use cromulent_client::voice::{EngineConfig, PttMode, VoiceEngine, VoiceError};
use cromulent_protocol::gateway::{ClientFrame, ControlFrame, ServerFrame};
use cromulent_protocol::user::VoiceMode;
use cromulent_protocol::Id;
use serde::Serialize;
use tokio::sync::{mpsc, watch};

/// What the UI and the tray show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export_to = "bridge/", rename = "NativeVoiceState"))]
pub struct VoiceSnapshot {
    pub channel_id: Option<Id>,
    pub muted: bool,
    pub deafened: bool,
    /// The push-to-talk key is held (globally or in the window).
    pub ptt_held: bool,
    /// The microphone is open.
    pub transmitting: bool,
    /// Audio runs natively for this room (false: signaling only, see `error`).
    pub native_audio: bool,
    pub error: Option<String>,
    /// Each peer connection's state in the browser's words (`connecting`, `connected`,
    /// `disconnected`, `failed`), by the remote session id (the SFU's in an SFU room),
    /// for the voice bar's status.
    pub connections: BTreeMap<Id, String>,
}

/// What the sound settings card shows while it is open: the microphone's level (in a
/// call or the mic test) and the devices actually in use, which differ from the chosen
/// ones after a fallback.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export_to = "bridge/"))]
pub struct SoundStatus {
    /// dBFS of the last 20 ms; `null` while no microphone is open.
    pub level_dbfs: Option<f32>,
    pub input_device: Option<String>,
    pub output_device: Option<String>,
    /// Why the last device switch did not happen.
    pub device_error: Option<String>,
    pub mic_test: bool,
}

/// Mute always wins; deafened implies muted.
pub fn transmits(s: &VoiceSnapshot) -> bool {
    s.channel_id.is_some() && s.ptt_held && !s.muted && !s.deafened
}

/// How often the state asks the engine whether its microphone is open, while native
/// audio runs: the engine decides on its own threads and does not report.
const ENGINE_POLL: std::time::Duration = std::time::Duration::from_millis(100);

pub struct VoiceLink {
    state: watch::Sender<VoiceSnapshot>,
    engine: VoiceEngine,
    /// The gateway's outgoing queue, shared with the UI's frames so they stay in order.
    outbox: mpsc::UnboundedSender<ClientFrame>,
}

impl VoiceLink {
    /// The engine's frames go out on `outbox`, in order with the UI's.
    pub fn new(outbox: mpsc::UnboundedSender<ClientFrame>) -> Arc<Self> {
        let signal_to = outbox.clone();
        let signal = Arc::new(move |frame: ClientFrame| {
            let _ = signal_to.send(frame);
        });
        Arc::new(Self {
            state: watch::Sender::new(VoiceSnapshot::default()),
            engine: VoiceEngine::new(EngineConfig::default(), signal),
            outbox,
        })
    }

    /// Follows every change of the state (the tray, the UI).
    pub fn subscribe(&self) -> watch::Receiver<VoiceSnapshot> {
        self.state.subscribe()
    }

    /// A user's volume in the native mixer: the UI's 0..1 slider, as a factor.
    pub fn set_volume(&self, user_id: Id, volume: f32) {
        self.engine.set_volume(user_id, volume.clamp(0.0, 4.0));
    }

    /// Push-to-talk (the key) or voice activity, detected by the engine.
    pub fn set_mode(&self, mode: VoiceMode) {
        self.engine.set_mode(match mode {
            VoiceMode::Ptt => PttMode::Key,
            VoiceMode::Vad => PttMode::VoiceActivity,
        });
    }

    /// Hands the sound settings to the engine: at once for a call or mic test in
    /// progress, and for every later one.
    pub fn apply_sound(&self, settings: &SoundSettings) {
        settings.apply(&self.engine);
    }

    /// Starts (true) or ends the mic test; starting is refused during a call.
    pub async fn mic_test(&self, on: bool) -> Result<(), VoiceError> {
        if on {
            self.engine.start_mic_test().await
        } else {
            self.engine.stop_mic_test()
        }
    }

    pub fn sound_status(&self) -> SoundStatus {
        let state = self.engine.snapshot();
        let open = state.input_device.is_some();
        SoundStatus {
            level_dbfs: (open && state.input_level_dbfs.is_finite()).then_some(state.input_level_dbfs),
            input_device: state.input_device,
            output_device: state.output_device,
            device_error: state.device_error,
            mic_test: state.mic_test,
        }
    }

    pub fn snapshot(&self) -> VoiceSnapshot {
        let mut s = self.state.borrow().clone();
        if s.native_audio {
            s.transmitting = self.engine.transmitting();
        }
        s
    }

    /// Applies a change and tells the server: the frames `change` returns, and without
    /// native audio `ptt_state` when the gate flips (the engine announces its own).
    fn apply(&self, change: impl FnOnce(&mut VoiceSnapshot) -> Vec<ClientFrame>) {
        let frames = self.change(change);
        self.send(frames);
    }

    /// The state change itself; returns the frames that tell the server about it.
    fn change(&self, change: impl FnOnce(&mut VoiceSnapshot) -> Vec<ClientFrame>) -> Vec<ClientFrame> {
        let mut frames = Vec::new();
        self.state.send_if_modified(|s| {
            let before = s.clone();
            frames = change(s);
            let on = transmits(s);
            if !s.native_audio && on != s.transmitting {
                s.transmitting = on;
                frames.push(ClientFrame::PttState { active: on });
            }
            *s != before
        });
        frames
    }

    fn send(&self, frames: Vec<ClientFrame>) {
        for frame in frames {
            let _ = self.outbox.send(frame);
        }
    }

    /// A frame from the UI: voice ops change the voice state; anything else is handed
    /// back to go out as it is.
    pub fn from_ui(self: &Arc<Self>, frame: ClientFrame) -> Option<ClientFrame> {
        match frame {
            ClientFrame::VoiceJoin { channel_id } => {
                self.apply(|s| {
                    s.channel_id = Some(channel_id);
                    s.native_audio = false;
                    s.transmitting = false;
                    s.error = None;
                    vec![]
                });
                let voice = Arc::clone(self);
                tauri::async_runtime::spawn(async move { voice.join(channel_id).await });
            }
            ClientFrame::VoiceLeave => {
                let native = self.state.borrow().native_audio;
                let frames = self.change(|s| {
                    s.channel_id = None;
                    s.native_audio = false;
                    s.connections.clear();
                    // Leaving ends transmission on the server's side too: no ptt_state needed.
                    s.transmitting = false;
                    vec![]
                });
                if native {
                    if let Err(e) = self.engine.leave() {
                        tracing::warn!(error = %e, "voice pipelines did not stop cleanly");
                    }
                    self.send(frames);
                } else {
                    self.send(vec![ClientFrame::VoiceLeave]);
                }
            }
            ClientFrame::SetMute { muted } => self.set_mute(muted),
            ClientFrame::SetDeafen { deafened } => self.set_deafen(deafened),
            // The window's engine reports its own gate; for the app it is the in-window key.
            ClientFrame::PttState { active } => {
                self.ptt(active);
            }
            other => return Some(other),
        }
        None
    }

    pub fn set_mute(&self, muted: bool) {
        // The engine tells the server; its gate closes at once.
        self.engine.set_muted(muted);
        self.apply(|s| {
            s.muted = muted;
            if !muted {
                s.deafened = false;
            }
            vec![]
        });
    }

    pub fn set_deafen(&self, deafened: bool) {
        self.engine.set_deafened(deafened);
        self.apply(|s| {
            s.deafened = deafened;
            vec![]
        });
    }

    /// The push-to-talk key went down or up (global source or the window). Returns false
    /// when nothing changed.
    pub fn ptt(&self, held: bool) -> bool {
        if self.state.borrow().ptt_held == held {
            return false;
        }
        if held {
            self.engine.ptt_down();
        } else {
            self.engine.ptt_up();
        }
        self.apply(|s| {
            s.ptt_held = held;
            vec![]
        });
        true
    }

    /// Starts native audio for the room; without it, joins for signaling only.
    async fn join(self: Arc<Self>, channel_id: Id) {
        let frames = match self.engine.join(channel_id).await {
            Ok(()) => self.change(|s| {
                s.native_audio = s.channel_id == Some(channel_id);
                vec![]
            }),
            Err(e) => {
                tracing::warn!(error = %e, "no native audio; joining the voice room for signaling only");
                self.change(|s| {
                    s.error = Some(format!("No audio: {e}"));
                    vec![ClientFrame::VoiceJoin { channel_id }]
                })
            }
        };
        // The engine decides from the key state it was given before the join finished.
        if self.state.borrow().ptt_held {
            self.engine.ptt_down();
        }
        self.send(frames);
        if self.state.borrow().native_audio {
            tauri::async_runtime::spawn(self.follow_engine(channel_id));
        }
    }

    /// The engine opens the microphone and connects on its own threads; the state
    /// follows it here while the room has native audio.
    async fn follow_engine(self: Arc<Self>, channel_id: Id) {
        loop {
            let engine = self.engine.snapshot();
            let connections: BTreeMap<Id, String> =
                engine.peers.into_iter().map(|peer| (peer.session_id, peer.connection)).collect();
            let mut in_room = false;
            self.state.send_if_modified(|s| {
                in_room = s.channel_id == Some(channel_id) && s.native_audio;
                let changed =
                    in_room && (s.transmitting != engine.transmitting || s.connections != connections);
                if changed {
                    s.transmitting = engine.transmitting;
                    s.connections = connections.clone();
                }
                changed
            });
            if !in_room {
                return;
            }
            tokio::time::sleep(ENGINE_POLL).await;
        }
    }

    /// Feeds the engine and keeps the room membership true to the server: a refused
    /// join, the server taking this session out of its room (the engine has hung up;
    /// `error` says why), or a new gateway session (in no room until the UI joins again).
    pub fn observe(&self, frame: &ServerFrame) {
        let removed = self.engine.handle(frame);
        let lost = removed.is_some()
            || match frame {
                ServerFrame::Control(ControlFrame::Error { op, .. }) => op == "voice_join",
                ServerFrame::Control(ControlFrame::Ready { .. }) => true,
                _ => false,
            };
        if lost {
            let _ = self.engine.leave();
            self.apply(|s| {
                s.channel_id = None;
                s.native_audio = false;
                s.transmitting = false;
                s.connections.clear();
                if let Some(removal) = removed {
                    s.error = Some(removal.to_string());
                }
                vec![]
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn talking() -> VoiceSnapshot {
        VoiceSnapshot { channel_id: Some(Id(1)), ptt_held: true, ..Default::default() }
    }

    #[test]
    fn holding_the_key_in_a_room_transmits() {
        assert!(transmits(&talking()));
        assert!(!transmits(&VoiceSnapshot { channel_id: None, ..talking() }), "no room, nobody to talk to");
        assert!(!transmits(&VoiceSnapshot { ptt_held: false, ..talking() }));
    }

    #[test]
    fn mute_and_deafen_always_win() {
        assert!(!transmits(&VoiceSnapshot { muted: true, ..talking() }));
        assert!(!transmits(&VoiceSnapshot { deafened: true, ..talking() }));
    }

    fn link() -> Arc<VoiceLink> {
        VoiceLink::new(mpsc::unbounded_channel().0)
    }

    #[test]
    fn without_native_audio_ptt_state_is_sent_only_when_the_gate_flips() {
        let link = link();
        let frames = link.change(|s| {
            s.channel_id = Some(Id(7));
            vec![]
        });
        assert!(frames.is_empty(), "joining alone does not transmit");
        let frames = link.change(|s| {
            s.ptt_held = true;
            vec![]
        });
        assert_eq!(frames, vec![ClientFrame::PttState { active: true }]);
        let frames = link.change(|s| {
            s.ptt_held = true;
            vec![]
        });
        assert!(frames.is_empty(), "a repeated press changes nothing");
        let frames = link.change(|s| {
            s.muted = true;
            vec![]
        });
        assert_eq!(
            frames,
            vec![ClientFrame::PttState { active: false }],
            "muting while talking stops at once"
        );
    }

    #[test]
    fn only_the_ui_modes_are_accepted() {
        // The command's argument is a VoiceMode: anything else is refused before it runs.
        for mode in ["\"ptt\"", "\"vad\""] {
            let mode: VoiceMode = serde_json::from_str(mode).expect("a mode the UI offers");
            link().set_mode(mode);
        }
        assert!(
            serde_json::from_str::<VoiceMode>("\"always\"").is_err(),
            "an open microphone is not a mode the UI offers"
        );
    }

    #[test]
    fn with_native_audio_the_engine_announces_transmission() {
        let link = link();
        let frames = link.change(|s| {
            s.channel_id = Some(Id(7));
            s.native_audio = true;
            s.ptt_held = true;
            vec![]
        });
        assert!(frames.is_empty(), "the engine sends ptt_state when its microphone really opens");
    }

    #[tokio::test]
    async fn observers_see_each_change_and_no_repeat() {
        let link = link();
        let mut watched = link.subscribe();
        link.set_mute(true);
        assert!(watched.has_changed().expect("the state lives"), "the tray and the UI hear of a mute");
        assert!(watched.borrow_and_update().muted);
        link.set_mute(true);
        assert!(!watched.has_changed().expect("the state lives"), "muting again changes nothing to show");
    }
}
