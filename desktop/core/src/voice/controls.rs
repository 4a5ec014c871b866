//! What the person set (mode, push-to-talk, mute, deafen, volumes) and what the server
//! said about the room, and the one rule that turns them into the microphone gate.

use std::collections::HashMap;

use cromulent_protocol::Id;

use super::removal::Removal;

/// When the microphone transmits. Mute and deafen always win.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PttMode {
    /// Open microphone.
    Always,
    /// Listen only.
    Never,
    /// While push-to-talk is held ([`super::VoiceEngine::ptt_down`] / [`super::VoiceEngine::ptt_up`]).
    #[default]
    Key,
    /// While voice is detected on the microphone.
    VoiceActivity,
}

#[derive(Debug, Default)]
pub(super) struct Controls {
    pub(super) mode: PttMode,
    pub(super) ptt_held: bool,
    pub(super) muted: bool,
    pub(super) deafened: bool,
    pub(super) volumes: HashMap<Id, f32>,
    pub(super) self_session_id: Option<Id>,
    /// Remote sessions that announced transmission.
    pub(super) remote_ptt: HashMap<Id, bool>,
    pub(super) error: Option<String>,
    pub(super) removed: Option<Removal>,
}

/// The capture pipeline's switches, as [`Controls::gate`] sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct GateSwitches {
    /// Closes the gate whatever the other two say.
    pub(super) blocked: bool,
    /// Opens it now.
    pub(super) transmit: bool,
    /// Lets detected voice open it.
    pub(super) voice_activation: bool,
}

impl Controls {
    /// The one place that decides whether the microphone may transmit.
    pub(super) fn gate(&self) -> GateSwitches {
        let (transmit, voice_activation) = match self.mode {
            PttMode::Always => (true, false),
            PttMode::Never => (false, false),
            PttMode::Key => (self.ptt_held, false),
            PttMode::VoiceActivity => (false, true),
        };
        GateSwitches { blocked: self.muted || self.deafened, transmit, voice_activation }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(mode: PttMode, ptt_held: bool) -> GateSwitches {
        Controls { mode, ptt_held, ..Controls::default() }.gate()
    }

    #[test]
    fn each_mode_opens_the_gate_its_own_way() {
        let open = GateSwitches { blocked: false, transmit: true, voice_activation: false };
        let closed = GateSwitches { blocked: false, transmit: false, voice_activation: false };
        assert_eq!(gate(PttMode::Always, false), open, "an open microphone transmits without the key");
        assert_eq!(gate(PttMode::Never, true), closed, "listen-only ignores the key");
        assert_eq!(gate(PttMode::Key, true), open, "push-to-talk transmits while the key is held");
        assert_eq!(gate(PttMode::Key, false), closed, "and not otherwise");
        assert_eq!(
            gate(PttMode::VoiceActivity, true),
            GateSwitches { blocked: false, transmit: false, voice_activation: true },
            "voice activity leaves the decision to the detector, key or not"
        );
    }

    #[test]
    fn mute_and_deafen_block_every_mode() {
        for mode in [PttMode::Always, PttMode::Key, PttMode::VoiceActivity] {
            let muted = Controls { mode, ptt_held: true, muted: true, ..Controls::default() };
            assert!(muted.gate().blocked, "mute wins over {mode:?}");
            let deafened = Controls { mode, ptt_held: true, deafened: true, ..Controls::default() };
            assert!(deafened.gate().blocked, "deafen closes the microphone in {mode:?} too");
        }
    }
}
