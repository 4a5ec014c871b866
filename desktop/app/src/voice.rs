//! Voice from the app's side: the native engine (`cromulent_client::voice`) driven by
//! the UI (join, leave, mute, deafen, in-window push-to-talk) and by the global key
//! source alike, with one state the UI and the tray show.
//!
//! Joining starts the engine's microphone, speaker and peer connections. When audio
//! cannot start (no sound device), the app still joins the room for signaling — others
//! see it there and its push-to-talk — and says why in the state's `error`; the gate is
//! then [`transmits`] here, as the engine would decide it: mute always wins.

use std::sync::Mutex;

use cromulent_client::voice::{EngineConfig, PttMode, VoiceEngine};
use cromulent_protocol::gateway::{ClientFrame, ControlFrame, ServerFrame};
use cromulent_protocol::Id;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime};

/// What the UI and the tray show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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
}

pub struct VoiceLink {
    state: Mutex<VoiceSnapshot>,
    engine: VoiceEngine,
}

/// Mute always wins; deafened implies muted.
pub fn transmits(s: &VoiceSnapshot) -> bool {
    s.channel_id.is_some() && s.ptt_held && !s.muted && !s.deafened
}

impl VoiceLink {
    /// The engine's frames go out on the gateway like the UI's, in order with them.
    pub fn new<R: Runtime>(app: &AppHandle<R>) -> Self {
        let app = app.clone();
        let signal =
            std::sync::Arc::new(move |frame: ClientFrame| app.state::<crate::link::Link>().send_raw(frame));
        Self { state: Mutex::default(), engine: VoiceEngine::new(EngineConfig::default(), signal) }
    }

    /// A user's volume in the native mixer: the UI's 0..1 slider, as a factor.
    pub fn set_volume(&self, user_id: Id, volume: f32) {
        self.engine.set_volume(user_id, volume.clamp(0.0, 4.0));
    }

    /// "ptt" (the key) or "vad" (voice activity, detected by the engine); anything else
    /// is refused.
    pub fn set_mode(&self, mode: &str) -> Result<(), String> {
        let mode = match mode {
            "ptt" => PttMode::Key,
            "vad" => PttMode::VoiceActivity,
            other => return Err(format!("unknown voice mode {other:?}")),
        };
        self.engine.set_mode(mode);
        Ok(())
    }

    pub fn snapshot(&self) -> VoiceSnapshot {
        let mut s = self.state.lock().expect("voice state lock is never poisoned").clone();
        if s.native_audio {
            s.transmitting = self.engine.snapshot().transmitting;
        }
        s
    }

    /// Applies a change; returns the frames that tell the server about it. Without
    /// native audio the gate is decided here and announced with `ptt_state`.
    fn apply(&self, change: impl FnOnce(&mut VoiceSnapshot) -> Vec<ClientFrame>) -> Vec<ClientFrame> {
        let mut s = self.state.lock().expect("voice state lock is never poisoned");
        let mut frames = change(&mut s);
        let on = transmits(&s);
        if !s.native_audio && on != s.transmitting {
            s.transmitting = on;
            frames.push(ClientFrame::PttState { active: on });
        }
        frames
    }
}

fn publish<R: Runtime>(app: &AppHandle<R>, frames: Vec<ClientFrame>) {
    let link = app.state::<crate::link::Link>();
    for frame in frames {
        link.send_raw(frame);
    }
    let snapshot = app.state::<VoiceLink>().snapshot();
    crate::tray::show_voice(app, snapshot.muted, snapshot.deafened);
    let _ = app.emit("voice://state", &snapshot);
}

/// A voice op from the UI. Returns the frame when it is not a voice op.
pub fn from_ui<R: Runtime>(app: &AppHandle<R>, frame: ClientFrame) -> Option<ClientFrame> {
    let voice = app.state::<VoiceLink>();
    let frames = match frame {
        ClientFrame::VoiceJoin { channel_id } => {
            voice.apply(|s| {
                s.channel_id = Some(channel_id);
                s.native_audio = false;
                s.transmitting = false;
                s.error = None;
                vec![]
            });
            let app = app.clone();
            tauri::async_runtime::spawn(async move { join(&app, channel_id).await });
            vec![]
        }
        ClientFrame::VoiceLeave => {
            let native = voice.snapshot().native_audio;
            let frames = voice.apply(|s| {
                s.channel_id = None;
                s.native_audio = false;
                // Leaving ends transmission on the server's side too: no ptt_state needed.
                s.transmitting = false;
                vec![]
            });
            if native {
                if let Err(e) = voice.engine.leave() {
                    tracing::warn!(error = %e, "voice pipelines did not stop cleanly");
                }
                frames
            } else {
                vec![ClientFrame::VoiceLeave]
            }
        }
        ClientFrame::SetMute { muted } => {
            // The engine tells the server; its gate closes at once.
            voice.engine.set_muted(muted);
            voice.apply(|s| {
                s.muted = muted;
                if !muted {
                    s.deafened = false;
                }
                vec![]
            })
        }
        ClientFrame::SetDeafen { deafened } => {
            voice.engine.set_deafened(deafened);
            voice.apply(|s| {
                s.deafened = deafened;
                vec![]
            })
        }
        // The window's engine reports its own gate; for the app it is the in-window key.
        ClientFrame::PttState { active } => {
            ptt(app, active);
            return None;
        }
        other => return Some(other),
    };
    publish(app, frames);
    None
}

/// Starts native audio for the room; without it, joins for signaling only.
async fn join<R: Runtime>(app: &AppHandle<R>, channel_id: Id) {
    let voice = app.state::<VoiceLink>();
    let frames = match voice.engine.join(channel_id).await {
        Ok(()) => voice.apply(|s| {
            s.native_audio = s.channel_id == Some(channel_id);
            vec![]
        }),
        Err(e) => {
            tracing::warn!(error = %e, "no native audio; joining the voice room for signaling only");
            voice.apply(|s| {
                s.error = Some(format!("No audio: {e}"));
                vec![ClientFrame::VoiceJoin { channel_id }]
            })
        }
    };
    // The engine decides from the key state it was given before the join finished.
    if voice.snapshot().ptt_held {
        voice.engine.ptt_down();
    }
    publish(app, frames);
    if voice.snapshot().native_audio {
        tauri::async_runtime::spawn(follow_engine(app.clone(), channel_id));
    }
}

/// The engine opens the microphone on its own threads; the UI hears about it here.
async fn follow_engine<R: Runtime>(app: AppHandle<R>, channel_id: Id) {
    let mut shown = None;
    loop {
        let snapshot = app.state::<VoiceLink>().snapshot();
        if snapshot.channel_id != Some(channel_id) || !snapshot.native_audio {
            return;
        }
        if shown != Some(snapshot.transmitting) {
            shown = Some(snapshot.transmitting);
            let _ = app.emit("voice://state", &snapshot);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

pub fn set_mute<R: Runtime>(app: &AppHandle<R>, muted: bool) {
    let _ = from_ui(app, ClientFrame::SetMute { muted });
}

pub fn set_deafen<R: Runtime>(app: &AppHandle<R>, deafened: bool) {
    let _ = from_ui(app, ClientFrame::SetDeafen { deafened });
}

/// The push-to-talk key went down or up (global source or the window). Returns false
/// when nothing changed.
pub fn ptt<R: Runtime>(app: &AppHandle<R>, held: bool) -> bool {
    let voice = app.state::<VoiceLink>();
    if voice.snapshot().ptt_held == held {
        return false;
    }
    if held {
        voice.engine.ptt_down();
    } else {
        voice.engine.ptt_up();
    }
    let frames = voice.apply(|s| {
        s.ptt_held = held;
        vec![]
    });
    publish(app, frames);
    true
}

/// Feeds the engine and keeps the room membership true to the server: a refused join,
/// the server taking this session out of its room (the engine has hung up; `error` says
/// why), or a new gateway session (which is in no room until the UI joins again).
pub fn observe<R: Runtime>(app: &AppHandle<R>, frame: &ServerFrame) {
    let voice = app.state::<VoiceLink>();
    let removed = voice.engine.handle(frame);
    let lost = removed.is_some()
        || match frame {
            ServerFrame::Control(ControlFrame::Error { op, .. }) => op == "voice_join",
            ServerFrame::Control(ControlFrame::Ready { .. }) => true,
            _ => false,
        };
    if lost {
        let _ = voice.engine.leave();
        let frames = voice.apply(|s| {
            s.channel_id = None;
            s.native_audio = false;
            s.transmitting = false;
            if let Some(removal) = removed {
                s.error = Some(removal.to_string());
            }
            vec![]
        });
        publish(app, frames);
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

    fn link() -> VoiceLink {
        let signal = std::sync::Arc::new(|_: ClientFrame| {});
        VoiceLink { state: Mutex::default(), engine: VoiceEngine::new(EngineConfig::default(), signal) }
    }

    #[test]
    fn without_native_audio_ptt_state_is_sent_only_when_the_gate_flips() {
        let link = link();
        let frames = link.apply(|s| {
            s.channel_id = Some(Id(7));
            vec![]
        });
        assert!(frames.is_empty(), "joining alone does not transmit");
        let frames = link.apply(|s| {
            s.ptt_held = true;
            vec![]
        });
        assert_eq!(frames, vec![ClientFrame::PttState { active: true }]);
        let frames = link.apply(|s| {
            s.ptt_held = true;
            vec![]
        });
        assert!(frames.is_empty(), "a repeated press changes nothing");
        let frames = link.apply(|s| {
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
        let link = link();
        assert!(link.set_mode("ptt").is_ok());
        assert!(link.set_mode("vad").is_ok());
        assert!(link.set_mode("always").is_err(), "an open microphone is not a mode the UI offers");
    }

    #[test]
    fn with_native_audio_the_engine_announces_transmission() {
        let link = link();
        let frames = link.apply(|s| {
            s.channel_id = Some(Id(7));
            s.native_audio = true;
            s.ptt_held = true;
            vec![]
        });
        assert!(frames.is_empty(), "the engine sends ptt_state when its microphone really opens");
    }
}
