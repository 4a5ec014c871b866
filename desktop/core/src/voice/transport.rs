//! What the engine and a media transport exchange: the mesh today (one peer connection per
//! remote participant), a selective forwarding connection next (one to the server). The
//! engine hands the transport a [`Signal`] for the gateway, our encoded frames
//! ([`crate::voice::rtp::OutgoingFrame`]s through a frame queue) and a [`RemoteAudio`] that
//! opens one [`InboundStream`] per remote track; jitter buffers, mixing and the microphone
//! gate stay on the engine's side, whatever carries the packets.

use std::sync::Arc;

use cromulent_protocol::gateway::ClientFrame;
use cromulent_protocol::Id;

/// Sends a frame to the gateway; the engine decides how (a live connection, a test queue).
pub type Signal = Arc<dyn Fn(ClientFrame) + Send + Sync>;

/// Where remote audio goes: one stream per remote peer's track.
pub trait RemoteAudio: Send + Sync + 'static {
    fn open(&self, session_id: Id, user_id: Id) -> Box<dyn InboundStream>;
}

/// The receiving end of one remote track: RTP payloads in arrival order.
pub trait InboundStream: Send + 'static {
    fn push(&mut self, sequence: u16, timestamp: u32, payload: &[u8]);
}
