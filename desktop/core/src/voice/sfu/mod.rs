//! The SFU connection: in a room the server's selective forwarding unit carries, one
//! WebRTC peer connection to the server instead of one per participant. We send our
//! microphone once (one sendonly media section) and receive everyone else's on the same
//! connection, one track each, named by the sender's session id ([`tracks`]).
//!
//! Signaling reuses the mesh's ops addressed to the SFU's peer id (`sfu_session_id` from
//! `voice_joined` or `voice_mode_changed`): we offer first, trickle our candidates, answer
//! the server's offers whenever its set of tracks changes (as the polite side, [`polite`])
//! and restart ICE when the connection fails. Everything runs in one actor ([`actor`])
//! whose inputs are bounded as `voice::inbox` writes down; our audio goes out on
//! a task of its own, so a slow SDP step never delays a frame.

mod actor;
mod handler;
pub mod polite;
pub mod tracks;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use cromulent_protocol::gateway::{ControlFrame, Event, ServerFrame};
use cromulent_protocol::Id;
use tokio::sync::oneshot;

use crate::voice::audio::FrameReceiver;
use crate::voice::connection::{ConnectionConfig, IceSetup};
use crate::voice::inbox::{inbox, Inbox, PEER_EVENT_QUEUE, SIGNALING_QUEUE};
use crate::voice::link::{PeerShared, PeerStatus, PeerTx};
use crate::voice::roster::Roster;
use crate::voice::rtp::OutgoingFrame;
use crate::voice::transport::Wiring;
use actor::{Actor, ActorInputs};
use tracks::TrackTable;

/// Whom the connection is with and how to reach it.
pub struct SfuSetup {
    /// The SFU's peer id in the room.
    pub sfu_session_id: Id,
    /// Ours: the stream id of our track, and a stream id never to play.
    pub self_session_id: Id,
    pub ice: IceSetup,
    /// Names each track's user.
    pub roster: Arc<Roster>,
}

/// What the handle, the actor and the connection's callbacks share.
#[derive(Clone)]
struct SfuShared {
    /// The connection's state and our packets to the SFU.
    link: Arc<PeerShared>,
    tracks: Arc<TrackTable>,
}

/// Handle to the running SFU connection. Dropping it stops signaling and closes it.
pub struct Sfu {
    sfu_session_id: Id,
    signaling: Inbox<Box<ServerFrame>>,
    leave: Mutex<Option<oneshot::Sender<()>>>,
    shared: SfuShared,
}

impl Sfu {
    /// Opens the connection and offers, on the current tokio runtime.
    pub fn start(config: ConnectionConfig, setup: SfuSetup, wiring: Wiring) -> Self {
        let Wiring { signal, remote_audio, audio, lost } = wiring;
        let (signaling, signaling_rx) = inbox("SFU signaling", SIGNALING_QUEUE, &lost);
        let (events, events_rx) = inbox("SFU connection events", PEER_EVENT_QUEUE, &lost);
        let (leave, leave_rx) = oneshot::channel();
        let sfu_session_id = setup.sfu_session_id;
        let shared = SfuShared {
            link: Arc::new(PeerShared::new(sfu_session_id, Id(0))),
            tracks: Arc::new(TrackTable::default()),
        };
        let tx = Arc::new(PeerTx::new(shared.link.clone(), setup.self_session_id.to_string()));
        tokio::spawn(send_audio(audio, tx.clone()));
        let actor = Actor { config, setup, signal, remote_audio, shared: shared.clone(), tx, events };
        tokio::spawn(actor.run(ActorInputs { signaling: signaling_rx, events: events_rx, leave: leave_rx }));
        Self { sfu_session_id, signaling, leave: Mutex::new(Some(leave)), shared }
    }

    /// The SFU's peer id.
    pub fn session_id(&self) -> Id {
        self.sfu_session_id
    }

    /// Feeds a gateway frame; only signaling from the SFU and refusals of our offers are
    /// kept, the rest ignored.
    pub fn handle(&self, frame: &ServerFrame) {
        let ours = match frame {
            ServerFrame::Event(e) => match &e.event {
                Event::SdpOffer { from, .. }
                | Event::SdpAnswer { from, .. }
                | Event::IceCandidate { from, .. } => *from == self.sfu_session_id,
                _ => false,
            },
            ServerFrame::Control(ControlFrame::Error { op, .. }) => op == "sdp_offer",
            _ => false,
        };
        if ours {
            self.signaling.send(Box::new(frame.clone()));
        }
    }

    /// Closes the connection (after `voice_leave`, or when the room left the SFU).
    pub fn leave(&self) {
        if let Some(leave) = self.leave.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take() {
            // The actor may have ended already; then there is nothing to close.
            let _ = leave.send(());
        }
    }

    /// The connection is up.
    pub fn connected(&self) -> bool {
        self.shared.link.state() == "connected"
    }

    /// The room's other participants (`(session, user)`) as the UI shows them.
    pub fn peers(&self, others: &[(Id, Id)]) -> Vec<PeerStatus> {
        others
            .iter()
            .map(|(session, user)| self.shared.tracks.status(*session, *user, &self.shared.link))
            .collect()
    }

    /// Packets we sent to the SFU.
    pub fn packets_sent(&self) -> u64 {
        self.shared.link.packets_sent.load(Ordering::Relaxed)
    }

    /// `session` left the room.
    pub fn forget(&self, session: Id) {
        self.shared.tracks.forget(session);
    }
}

/// Our frames to the SFU, until the engine stops sending them.
async fn send_audio(mut audio: FrameReceiver<OutgoingFrame>, tx: Arc<PeerTx>) {
    while let Some(frame) = audio.recv().await {
        tx.send(&frame).await;
    }
}
