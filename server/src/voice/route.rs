//! How each voice room carries its audio: a mesh while it is small, the SFU once it
//! grows past `VOICE_SFU_ABOVE` (or always one of them, by setting).

use cromulent_protocol::voice::RoomMode;
use cromulent_protocol::Id;
use serde::{Deserialize, Serialize};

use super::sfu::SfuPlace;
use crate::config::{VoiceConfig, VoiceModeSetting};

/// A room's mode, in `sfu` mode the SFU peer that serves it, and the mode an admin
/// pinned the room to (which the size does not change).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRoute {
    pub mode: RoomMode,
    pub sfu: Option<SfuPlace>,
    #[serde(default)]
    pub pinned: Option<RoomMode>,
}

impl RoomRoute {
    pub const MESH: RoomRoute = RoomRoute { mode: RoomMode::Mesh, sfu: None, pinned: None };

    /// The route with `mode` and `pinned`: the current SFU peer is kept while the room
    /// stays on the SFU, a new one (hosted on `node`) made when it moves there.
    pub fn moved(
        &self,
        mode: RoomMode,
        pinned: Option<RoomMode>,
        new_sfu_id: impl FnOnce() -> Id,
        node: u16,
    ) -> Self {
        let sfu = match (mode, self.sfu) {
            (RoomMode::Mesh, _) => None,
            (RoomMode::Sfu, Some(place)) => Some(place),
            (RoomMode::Sfu, None) => Some(SfuPlace { sfu_session_id: new_sfu_id(), node }),
        };
        Self { mode, sfu, pinned }
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

    /// The mode a room in `current` mode should have once it holds `size` participants:
    /// its pin if an admin set one, else the setting's. Between the two thresholds a
    /// room keeps its mode, so a room hovering at the threshold does not flap between
    /// the two on every join and leave.
    pub fn mode_for(&self, pinned: Option<RoomMode>, current: RoomMode, size: usize) -> RoomMode {
        if let Some(pinned) = pinned {
            return pinned;
        }
        match self.setting {
            VoiceModeSetting::Mesh => RoomMode::Mesh,
            VoiceModeSetting::Sfu => RoomMode::Sfu,
            VoiceModeSetting::Auto if size > self.sfu_above => RoomMode::Sfu,
            VoiceModeSetting::Auto if size < self.sfu_above => RoomMode::Mesh,
            VoiceModeSetting::Auto => current,
        }
    }
}

/// After an admin pinned or unpinned `channel`'s mode: a room in progress moves now
/// (the node changing it hosts the SFU when the room moves there); an empty one picks
/// the pin up at its next join.
pub async fn repin(state: &crate::state::AppState, channel: &cromulent_protocol::channel::Channel) {
    let hub = &state.gateway.hub;
    let (room, current) = hub.voice_room_route(channel.id);
    if room.participants.is_empty() {
        return;
    }
    let mode = hub.voice_policy().mode_for(channel.voice_mode, current.mode, room.participants.len());
    let route = current.moved(mode, channel.voice_mode, || state.ids.next(), hub.node());
    if route != current {
        let message = crate::bus::BusMessage::VoiceRoute { channel_id: channel.id, route };
        state.bus.publish(message).await;
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
            mode = policy.mode_for(None, mode, size);
            seen.push(mode);
        }
        use RoomMode::{Mesh as M, Sfu as S};
        assert_eq!(seen, vec![M, M, M, M, S, S, S, S, M, M, M]);
    }

    #[test]
    fn fixed_settings_ignore_the_size() {
        let mesh = RoutePolicy { setting: VoiceModeSetting::Mesh, ..auto(4) };
        let sfu = RoutePolicy { setting: VoiceModeSetting::Sfu, ..auto(4) };
        assert_eq!(mesh.mode_for(None, RoomMode::Sfu, 50), RoomMode::Mesh);
        assert_eq!(sfu.mode_for(None, RoomMode::Mesh, 1), RoomMode::Sfu);
    }

    #[test]
    fn a_pin_wins_over_setting_and_size() {
        let policy = auto(4);
        assert_eq!(policy.mode_for(Some(RoomMode::Sfu), RoomMode::Mesh, 2), RoomMode::Sfu);
        assert_eq!(policy.mode_for(Some(RoomMode::Mesh), RoomMode::Sfu, 40), RoomMode::Mesh);
        let sfu = RoutePolicy { setting: VoiceModeSetting::Sfu, ..policy };
        assert_eq!(sfu.mode_for(Some(RoomMode::Mesh), RoomMode::Mesh, 9), RoomMode::Mesh);
    }

    #[test]
    fn a_room_keeps_its_sfu_peer_while_it_stays_on_the_sfu() {
        let on_sfu = RoomRoute::MESH.moved(RoomMode::Sfu, None, || Id(7), 2);
        assert_eq!(on_sfu.sfu, Some(SfuPlace { sfu_session_id: Id(7), node: 2 }));
        let pinned = on_sfu.moved(RoomMode::Sfu, Some(RoomMode::Sfu), || Id(8), 3);
        assert_eq!(pinned.sfu, on_sfu.sfu, "pinning a room already on the SFU keeps its peer");
        assert_eq!(pinned.moved(RoomMode::Mesh, None, || Id(9), 3), RoomRoute::MESH);
    }
}
