//! How each voice room carries its audio: a mesh while it is small, the SFU once it
//! grows past `VOICE_SFU_ABOVE` (or always one of them, by setting).

use cromulent_protocol::voice::RoomMode;
use cromulent_protocol::Id;
use serde::{Deserialize, Serialize};

use super::sfu::SfuPlace;
use crate::config::{VoiceConfig, VoiceModeSetting};

/// A room's mode, and in `sfu` mode the SFU peer that serves it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRoute {
    pub mode: RoomMode,
    pub sfu: Option<SfuPlace>,
}

impl RoomRoute {
    pub const MESH: RoomRoute = RoomRoute { mode: RoomMode::Mesh, sfu: None };

    pub fn sfu(sfu_session_id: Id, node: u16) -> Self {
        Self { mode: RoomMode::Sfu, sfu: Some(SfuPlace { sfu_session_id, node }) }
    }

    pub fn sfu_session_id(&self) -> Option<Id> {
        self.sfu.map(|place| place.sfu_session_id)
    }
}

/// The settings that pick a room's mode.
#[derive(Debug, Clone, Copy)]
pub struct RoutePolicy {
    pub setting: VoiceModeSetting,
    pub sfu_above: usize,
    pub room_max: usize,
}

impl RoutePolicy {
    pub fn from_config(config: &VoiceConfig) -> Self {
        Self {
            setting: config.voice_mode,
            sfu_above: config.voice_sfu_above,
            room_max: config.voice_room_max,
        }
    }

    /// The mode a room in `current` mode should have once it holds `size` participants.
    /// Between the two thresholds a room keeps its mode, so a room hovering at the
    /// threshold does not flap between the two on every join and leave.
    pub fn mode_for(&self, current: RoomMode, size: usize) -> RoomMode {
        match self.setting {
            VoiceModeSetting::Mesh => RoomMode::Mesh,
            VoiceModeSetting::Sfu => RoomMode::Sfu,
            VoiceModeSetting::Auto if size > self.sfu_above => RoomMode::Sfu,
            VoiceModeSetting::Auto if size < self.sfu_above => RoomMode::Mesh,
            VoiceModeSetting::Auto => current,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(above: usize) -> RoutePolicy {
        RoutePolicy { setting: VoiceModeSetting::Auto, sfu_above: above, room_max: 99 }
    }

    #[test]
    fn auto_moves_up_past_the_threshold_and_down_below_it() {
        let policy = auto(4);
        let mut mode = RoomMode::Mesh;
        let mut seen = Vec::new();
        for size in [1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1] {
            mode = policy.mode_for(mode, size);
            seen.push(mode);
        }
        use RoomMode::{Mesh as M, Sfu as S};
        assert_eq!(seen, vec![M, M, M, M, S, S, S, S, M, M, M]);
    }

    #[test]
    fn fixed_settings_ignore_the_size() {
        let mesh = RoutePolicy { setting: VoiceModeSetting::Mesh, ..auto(4) };
        let sfu = RoutePolicy { setting: VoiceModeSetting::Sfu, ..auto(4) };
        assert_eq!(mesh.mode_for(RoomMode::Sfu, 50), RoomMode::Mesh);
        assert_eq!(sfu.mode_for(RoomMode::Mesh, 1), RoomMode::Sfu);
    }
}
