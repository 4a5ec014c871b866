//! The mesh: one WebRTC peer connection per remote participant, negotiated through the
//! gateway exactly like the browser client (`desktop-ui/src/voice/engine.svelte.ts`), so
//! native and browser participants share a room.
//!
//! - Existing members offer to a newcomer on `peer_joined`; the newcomer answers.
//! - Candidates trickle both ways as `RTCIceCandidateInit` JSON; those that arrive before
//!   the remote description wait in a per-peer queue.
//! - A failed connection restarts ICE from the side that made the first offer.
//! - Browsers hide host addresses behind mDNS names (`<uuid>.local`); webrtc-rs resolves
//!   them by querying mDNS, and where that fails the browser's connectivity checks still
//!   reach us and become peer-reflexive candidates.
//!
//! All signaling runs in one task ([`actor`]), so a peer's offer, answer and candidates are
//! applied in the order they arrived; its inputs are bounded as [`inbox`] writes down.
//! Audio goes out on another task ([`fanout`]), so a slow SDP step never delays frames.
//!
//! The engine sees the mesh only through [`Mesh`] and the traits of
//! [`crate::voice::transport`], so a selective forwarding connection can take its place.

mod actor;
mod config;
mod fanout;
mod inbox;
mod peer;
mod signal;
mod table;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cromulent_protocol::gateway::{ControlFrame, Event, ServerFrame};
use cromulent_protocol::Id;
use tokio::sync::oneshot;

pub use crate::voice::rtp;
pub use crate::voice::rtp::OutgoingFrame;
pub use crate::voice::transport::{InboundStream, RemoteAudio, Signal};
pub use config::{IceTimeouts, MeshConfig};
pub use peer::PeerShared;
pub use signal::CandidateJson;
pub use table::PeerStatus;

use crate::voice::audio::FrameReceiver;
use actor::{Actor, ActorInputs};
use inbox::{inbox, Inbox, PEER_EVENT_QUEUE, SIGNALING_QUEUE};
use table::PeerTable;

#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    #[error("peer connection for {peer}: {source}")]
    Rtc {
        peer: Id,
        #[source]
        source: webrtc::error::Error,
    },
}

/// Handle to the running mesh. Dropping it stops signaling and closes every connection.
pub struct Mesh {
    signaling: Inbox<Box<ServerFrame>>,
    leave: Mutex<Option<oneshot::Sender<()>>>,
    registry: Arc<PeerTable>,
    /// Signaling messages the actor's full inputs refused (see [`inbox`]).
    lost: Arc<AtomicU64>,
}

impl Mesh {
    /// Starts the mesh on the current tokio runtime. `audio` carries our encoded frames.
    pub fn start(
        config: MeshConfig,
        signal: Signal,
        remote_audio: Arc<dyn RemoteAudio>,
        audio: FrameReceiver<OutgoingFrame>,
    ) -> Self {
        let lost = Arc::new(AtomicU64::new(0));
        let (signaling, signaling_rx) = inbox("signaling", SIGNALING_QUEUE, &lost);
        let (peer_events, peer_events_rx) = inbox("peer events", PEER_EVENT_QUEUE, &lost);
        let (leave, leave_rx) = oneshot::channel();
        let registry = Arc::new(PeerTable::default());

        tokio::spawn(fanout::fan_out(audio, registry.clone()));
        let actor = Actor::new(config, signal, remote_audio, peer_events, registry.clone());
        let inputs = ActorInputs { signaling: signaling_rx, peer_events: peer_events_rx, leave: leave_rx };
        tokio::spawn(actor.run(inputs));

        Self { signaling, leave: Mutex::new(Some(leave)), registry, lost }
    }

    /// Feeds a gateway frame; the mesh acts on the voice ones and ignores the rest.
    pub fn handle(&self, frame: &ServerFrame) {
        if is_mesh_frame(frame) {
            self.signaling.send(Box::new(frame.clone()));
        }
    }

    /// Closes every peer connection (after `voice_leave`); signaling still queued is
    /// dropped with them, and the mesh takes no more.
    pub fn leave(&self) {
        if let Some(leave) = self.leave.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take() {
            // The actor may have ended already; then there is nothing to close.
            let _ = leave.send(());
        }
    }

    pub fn peers(&self) -> Vec<PeerStatus> {
        self.registry.statuses()
    }

    /// Signaling messages refused because the mesh was stuck; any at all means some peer
    /// may never connect until the room is joined again.
    pub fn lost_signaling(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

fn is_mesh_frame(frame: &ServerFrame) -> bool {
    match frame {
        ServerFrame::Control(ControlFrame::VoiceJoined { .. }) => true,
        ServerFrame::Event(e) => matches!(
            e.event,
            Event::PeerJoined { .. }
                | Event::PeerLeft { .. }
                | Event::SdpOffer { .. }
                | Event::SdpAnswer { .. }
                | Event::IceCandidate { .. }
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::audio::frame_queue;
    use cromulent_protocol::voice::{IceTransportPolicy, RoomMode, VoiceRoom};
    use std::time::Duration;

    struct NoAudio;

    impl RemoteAudio for NoAudio {
        fn open(&self, _: Id, _: Id) -> Box<dyn InboundStream> {
            unreachable!("no peer connects in these tests")
        }
    }

    /// The actor holds a clone of the signal function for as long as it runs.
    async fn actor_ended(signal: &Signal) -> bool {
        for _ in 0..100 {
            if Arc::strong_count(signal) == 1 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    fn start(signal: &Signal) -> Mesh {
        let (_frames, audio) = frame_queue(1);
        Mesh::start(MeshConfig::loopback(), Arc::clone(signal), Arc::new(NoAudio), audio)
    }

    #[tokio::test]
    async fn leaving_ends_the_actor_and_later_frames_are_not_lost_signaling() {
        let signal: Signal = Arc::new(|_| {});
        let mesh = start(&signal);
        assert!(Arc::strong_count(&signal) > 1, "the running actor holds the signal");
        mesh.leave();
        assert!(actor_ended(&signal).await, "leaving ends the actor instead of leaving it idle forever");
        let late = ServerFrame::Control(ControlFrame::VoiceJoined {
            room: VoiceRoom { channel_id: Id(1), participants: Vec::new() },
            ice_servers: Vec::new(),
            ice_transport_policy: IceTransportPolicy::All,
            self_session_id: Id(2),
            mode: RoomMode::Mesh,
            sfu_session_id: None,
        });
        mesh.handle(&late);
        assert_eq!(mesh.lost_signaling(), 0, "a frame after leaving has nobody to miss it");
    }

    #[tokio::test]
    async fn dropping_the_handle_ends_the_actor() {
        let signal: Signal = Arc::new(|_| {});
        drop(start(&signal));
        assert!(actor_ended(&signal).await, "a dropped mesh must not keep negotiating");
    }
}
