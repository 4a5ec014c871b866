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
//! - When the room moves back from the SFU, the lower session id of each pair offers
//!   ([`Mesh::connect`]); when it moves to the SFU, the mesh makes no new connections
//!   ([`Mesh::drain`]) and the engine closes each peer once the SFU carries them.
//!
//! All signaling runs in one task ([`actor`]), so a peer's offer, answer and candidates are
//! applied in the order they arrived; its inputs are bounded as
//! `voice::inbox` writes down.
//! Audio goes out on another task ([`fanout`]), so a slow SDP step never delays frames.
//!
//! The engine sees the mesh only through [`Mesh`] and the traits of
//! [`crate::voice::transport`], as it sees the SFU connection ([`crate::voice::sfu`]).

mod actor;
mod fanout;
mod peer;
mod table;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cromulent_protocol::gateway::{ControlFrame, Event, ServerFrame};
use cromulent_protocol::Id;
use tokio::sync::oneshot;

pub use crate::voice::connection::{ConnectionConfig as MeshConfig, IceTimeouts};
pub use crate::voice::link::{PeerShared, PeerStatus};
pub use crate::voice::rtp;
pub use crate::voice::rtp::OutgoingFrame;
pub use crate::voice::signal::CandidateJson;
pub use crate::voice::transport::{InboundStream, RemoteAudio, Signal};

use crate::voice::inbox::{inbox, Inbox, PEER_EVENT_QUEUE, SIGNALING_QUEUE};
use crate::voice::transport::Wiring;
use actor::{Actor, ActorInputs};
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

/// What the actor takes, in one queue so that it applies them in order.
pub(crate) enum MeshInput {
    Frame(Box<ServerFrame>),
    /// The room moved (back) to a mesh: connect to these `(session, user)`s.
    Connect(Vec<(Id, Id)>),
    /// Close the connection to this participant: the SFU carries them now.
    Close(Id),
    /// The room moved to the SFU: keep the connections there are, make no new ones.
    Drain,
}

/// Handle to the running mesh. Dropping it stops signaling and closes every connection.
pub struct Mesh {
    signaling: Inbox<MeshInput>,
    leave: Mutex<Option<oneshot::Sender<()>>>,
    registry: Arc<PeerTable>,
    /// Signaling messages the actor's full inputs refused (see `voice::inbox`).
    lost: Arc<AtomicU64>,
}

impl Mesh {
    /// Starts the mesh on the current tokio runtime.
    pub fn start(config: MeshConfig, wiring: Wiring) -> Self {
        let Wiring { signal, remote_audio, audio, lost } = wiring;
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
            self.signaling.send(MeshInput::Frame(Box::new(frame.clone())));
        }
    }

    /// Connects to the room's other participants (`(session, user)`) after a move back
    /// from the SFU: we offer to those with a greater session id and answer the others.
    /// Lifts [`Mesh::drain`].
    pub fn connect(&self, peers: Vec<(Id, Id)>) {
        self.signaling.send(MeshInput::Connect(peers));
    }

    /// Closes the connection to one participant.
    pub fn close_peer(&self, session_id: Id) {
        self.signaling.send(MeshInput::Close(session_id));
    }

    /// Makes no new connections and answers no new offers: the room moved to the SFU.
    pub fn drain(&self) {
        self.signaling.send(MeshInput::Drain);
    }

    /// Whether a connection to `session_id` exists (in any state).
    pub fn has_peer(&self, session_id: Id) -> bool {
        self.registry.contains(session_id)
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
        let lost = Arc::new(AtomicU64::new(0));
        let wiring = Wiring { signal: Arc::clone(signal), remote_audio: Arc::new(NoAudio), audio, lost };
        Mesh::start(MeshConfig::loopback(), wiring)
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
