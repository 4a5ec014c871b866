//! What the engine and a media transport exchange: the mesh (one peer connection per
//! remote participant) or the SFU connection (one to the server, carrying everyone). The
//! engine hands the transport its [`Wiring`]: a [`Signal`] for the gateway, our encoded
//! frames ([`crate::voice::rtp::OutgoingFrame`]s through a frame queue) and a
//! [`RemoteAudio`] that opens one [`InboundStream`] per remote track; jitter buffers,
//! mixing and the microphone gate stay on the engine's side, whatever carries the packets.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use cromulent_protocol::gateway::ClientFrame;
use cromulent_protocol::Id;

use super::audio::FrameReceiver;
use super::rtp::OutgoingFrame;

/// Sends a frame to the gateway; the engine decides how (a live connection, a test queue).
pub type Signal = Arc<dyn Fn(ClientFrame) + Send + Sync>;

/// Where remote audio goes: one stream per remote participant's track.
pub trait RemoteAudio: Send + Sync + 'static {
    fn open(&self, session_id: Id, user_id: Id) -> Box<dyn InboundStream>;
}

/// The receiving end of one remote track: RTP payloads in arrival order.
pub trait InboundStream: Send + 'static {
    fn push(&mut self, sequence: u16, timestamp: u32, payload: &[u8]);
}

/// What a transport is started with.
pub struct Wiring {
    pub signal: Signal,
    pub remote_audio: Arc<dyn RemoteAudio>,
    /// Our encoded frames, only those with the microphone gate open.
    pub audio: FrameReceiver<OutgoingFrame>,
    /// Signaling messages refused because an actor was stuck, counted for the engine
    /// across every transport of the call.
    pub lost: Arc<AtomicU64>,
}
