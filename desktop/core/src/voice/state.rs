//! The engine's state as the UI draws it: the voice panel and one row per remote peer.

use cromulent_protocol::Id;

use super::audio::PeerStats;
use super::controls::{Controls, PttMode};
use super::link::PeerStatus;
use super::removal::Removal;

/// A remote participant as the UI shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerView {
    pub session_id: Id,
    pub user_id: Id,
    /// The WebRTC connection state, in the browser's words (`connecting`, `connected`, …).
    pub connection: String,
    /// Their decoded audio carries voice right now.
    pub speaking: bool,
    /// They announced transmission (`ptt_state`), whether or not audio arrived yet.
    pub transmitting: bool,
    pub volume: f32,
    pub packets_received: u64,
    pub packets_sent: u64,
    /// Packets the jitter buffer had to conceal (lost or late).
    pub concealed: u64,
    /// The jitter buffer's target delay right now, in milliseconds of audio.
    pub buffer_target_ms: u32,
    /// Audio waiting in the jitter buffer right now, in milliseconds.
    pub buffered_ms: u32,
}

impl PeerView {
    /// A peer from the transport's status, the person's controls and the playback side.
    pub(super) fn new(
        status: PeerStatus,
        controls: &Controls,
        speaking: bool,
        stats: Option<PeerStats>,
    ) -> Self {
        PeerView {
            session_id: status.session_id,
            user_id: status.user_id,
            connection: status.state,
            speaking,
            transmitting: controls.remote_ptt.get(&status.session_id).copied().unwrap_or(false),
            volume: controls.volumes.get(&status.user_id).copied().unwrap_or(1.0),
            packets_received: status.packets_received,
            packets_sent: status.packets_sent,
            concealed: stats.map_or(0, |s| s.jitter.concealed),
            buffer_target_ms: stats.map_or(0, |s| s.target_depth as u32 * 20),
            buffered_ms: stats.map_or(0, |s| s.depth as u32 * 20),
        }
    }
}

/// Everything the UI needs to draw the voice panel.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VoiceState {
    pub channel_id: Option<Id>,
    pub self_session_id: Option<Id>,
    pub mode: PttMode,
    pub ptt_held: bool,
    pub muted: bool,
    pub deafened: bool,
    /// Our microphone is going out right now.
    pub transmitting: bool,
    /// Microphone level in dBFS (for a meter), in a call or a mic test.
    pub input_level_dbfs: f32,
    /// The microphone in use (a device id, as listed), in a call or a mic test: after an
    /// unplugged device fell back, the default one's.
    pub input_device: Option<String>,
    /// The speaker in use, likewise.
    pub output_device: Option<String>,
    /// Why the last device switch did not happen (the previous device stays in use).
    pub device_error: Option<String>,
    /// The mic test runs.
    pub mic_test: bool,
    pub peers: Vec<PeerView>,
    /// The last voice error the server reported (e.g. joining a room one may not), or
    /// that signaling got stuck on our side.
    pub error: Option<String>,
    /// Why the last call ended without the user leaving (until the next join).
    pub removed: Option<Removal>,
}
