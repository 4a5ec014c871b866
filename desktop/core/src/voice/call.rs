//! One joined room's transports: the mesh or the SFU connection, as the room's mode says
//! (`voice_joined.mode`), and the move between them without a gap when
//! `voice_mode_changed` comes. During a move both run: we send on both, [`super::paths`]
//! lets each participant be heard on one only, and [`super::switch`] says when the old
//! one closes. Gateway signaling goes to the SFU connection when it comes from the SFU's
//! peer id, to the mesh otherwise.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use cromulent_protocol::gateway::{ControlFrame, Event, ServerFrame};
use cromulent_protocol::voice::RoomMode;
use cromulent_protocol::Id;

use super::connection::{ConnectionConfig, IceSetup};
use super::engine::lock;
use super::link::PeerStatus;
use super::mesh::Mesh;
use super::paths::{OnMoved, Path, PathAudio, Selector};
use super::remote::PlaybackSlot;
use super::roster::Roster;
use super::sfu::{Sfu, SfuSetup};
use super::switch::{Progress, Switch};
use super::transmit::Uplinks;
use super::transport::{Signal, Wiring};

/// How often a move's progress is looked at.
const WATCH_EVERY: Duration = Duration::from_millis(50);

/// What a call's transports are built from.
pub(super) struct CallParts {
    pub(super) channel_id: Id,
    pub(super) config: ConnectionConfig,
    pub(super) signal: Signal,
    pub(super) playback: Arc<PlaybackSlot>,
    pub(super) uplinks: Arc<Uplinks>,
}

pub(super) struct Transports {
    me: Weak<Transports>,
    parts: CallParts,
    selector: Arc<Mutex<Selector>>,
    roster: Arc<Roster>,
    lost: Arc<AtomicU64>,
    closed: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// `voice_joined`, for a mesh started later: it says who we are and how to reach peers.
    joined: Option<Box<ServerFrame>>,
    self_session: Option<Id>,
    ice: IceSetup,
    /// The room's mode (or the one it is moving to); `None` until `voice_joined`.
    mode: Option<RoomMode>,
    mesh: Option<Mesh>,
    sfu: Option<Sfu>,
    switch: Option<Switch>,
}

impl Transports {
    /// Ready for `voice_joined`; watches moves on the current tokio runtime until
    /// [`Transports::leave`].
    pub(super) fn start(parts: CallParts) -> Arc<Self> {
        let transports = Arc::new_cyclic(|me| Transports {
            me: me.clone(),
            parts,
            selector: Arc::new(Mutex::new(Selector::new(Path::Mesh))),
            roster: Arc::new(Roster::default()),
            lost: Arc::new(AtomicU64::new(0)),
            closed: AtomicBool::new(false),
            state: Mutex::new(State::default()),
        });
        tokio::spawn(watch(Arc::downgrade(&transports)));
        transports
    }

    /// Feeds a gateway frame; the voice ones steer the transports.
    pub(super) fn handle(&self, frame: &ServerFrame) {
        match frame {
            ServerFrame::Control(ControlFrame::VoiceJoined { .. }) => self.joined(frame),
            ServerFrame::Control(ControlFrame::Error { op, .. }) if op == "sdp_offer" => {
                // The refusal names no peer: it is the SFU's only when no mesh runs.
                let state = lock(&self.state);
                if let (Some(sfu), None) = (&state.sfu, &state.mesh) {
                    sfu.handle(frame);
                }
            }
            ServerFrame::Event(e) => self.event(frame, &e.event),
            _ => {}
        }
    }

    fn event(&self, frame: &ServerFrame, event: &Event) {
        match event {
            Event::VoiceModeChanged { channel_id, mode, sfu_session_id } => {
                self.mode_changed(*channel_id, *mode, *sfu_session_id);
            }
            Event::PeerJoined { participant, .. } => {
                self.roster.add(participant.session_id, participant.user_id);
                let state = lock(&self.state);
                // In the SFU, or moving there, nobody gets a mesh connection.
                if let (Some(mesh), Some(RoomMode::Mesh)) = (&state.mesh, state.mode) {
                    mesh.handle(frame);
                }
            }
            Event::PeerLeft { session_id, .. } => {
                self.roster.remove(*session_id);
                lock(&self.selector).forget(*session_id);
                let state = lock(&self.state);
                if let Some(sfu) = &state.sfu {
                    sfu.forget(*session_id);
                }
                if let Some(mesh) = &state.mesh {
                    mesh.handle(frame);
                }
            }
            Event::SdpOffer { from, .. }
            | Event::SdpAnswer { from, .. }
            | Event::IceCandidate { from, .. } => {
                let state = lock(&self.state);
                match (&state.sfu, &state.mesh) {
                    (Some(sfu), _) if sfu.session_id() == *from => sfu.handle(frame),
                    (_, Some(mesh)) => mesh.handle(frame),
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn joined(&self, frame: &ServerFrame) {
        let ServerFrame::Control(ControlFrame::VoiceJoined {
            room,
            ice_servers,
            ice_transport_policy,
            self_session_id,
            mode,
            sfu_session_id,
        }) = frame
        else {
            return;
        };
        self.roster.joined(*self_session_id, &room.participants);
        lock(&self.selector).set_mode((*mode).into());
        let mut state = lock(&self.state);
        // A second `voice_joined` starts the room over.
        self.close(&mut state, Path::Mesh);
        self.close(&mut state, Path::Sfu);
        state.switch = None;
        state.joined = Some(Box::new(frame.clone()));
        state.self_session = Some(*self_session_id);
        state.ice = IceSetup::new(ice_servers, *ice_transport_policy);
        state.mode = Some(*mode);
        match (mode, sfu_session_id) {
            (RoomMode::Mesh, _) => self.start_mesh(&mut state),
            (RoomMode::Sfu, Some(sfu)) => self.start_sfu(&mut state, *sfu),
            (RoomMode::Sfu, None) => tracing::error!("voice_joined in sfu mode names no SFU; no audio"),
        }
    }

    /// The room moves: the new transport starts beside the old one, which plays on until
    /// the move is over (see [`Transports::tick`]).
    fn mode_changed(&self, channel_id: Id, mode: RoomMode, sfu_session_id: Option<Id>) {
        if channel_id != self.parts.channel_id {
            return;
        }
        let mut state = lock(&self.state);
        let Some(current) = state.mode else { return };
        let sfu_moved = mode == RoomMode::Sfu && state.sfu.as_ref().map(Sfu::session_id) != sfu_session_id;
        if current == mode && !sfu_moved {
            return;
        }
        match mode {
            RoomMode::Sfu => {
                let Some(sfu) = sfu_session_id else {
                    tracing::error!("voice_mode_changed to sfu names no SFU; staying in the mesh");
                    return;
                };
                if let Some(mesh) = &state.mesh {
                    mesh.drain();
                }
                self.close(&mut state, Path::Sfu);
                self.start_sfu(&mut state, sfu);
            }
            RoomMode::Mesh => {
                if state.mesh.is_none() {
                    self.start_mesh(&mut state);
                }
                if let Some(mesh) = &state.mesh {
                    mesh.connect(self.roster.others());
                }
            }
        }
        tracing::info!(?mode, "the voice room moves");
        state.mode = Some(mode);
        lock(&self.selector).begin(mode.into());
        state.switch = Some(Switch::new(mode.into(), Instant::now()));
    }

    fn wiring(&self, path: Path) -> Wiring {
        let on_moved: Weak<dyn OnMoved> = self.me.clone();
        let remote_audio = PathAudio {
            path,
            selector: self.selector.clone(),
            playback: self.parts.playback.clone(),
            on_moved,
        };
        Wiring {
            signal: self.parts.signal.clone(),
            remote_audio: Arc::new(remote_audio),
            audio: self.parts.uplinks.open(path),
            lost: self.lost.clone(),
        }
    }

    fn start_mesh(&self, state: &mut State) {
        let mesh = Mesh::start(self.parts.config.clone(), self.wiring(Path::Mesh));
        if let Some(joined) = &state.joined {
            mesh.handle(joined);
        }
        state.mesh = Some(mesh);
    }

    fn start_sfu(&self, state: &mut State, sfu_session_id: Id) {
        let Some(self_session_id) = state.self_session else { return };
        let setup =
            SfuSetup { sfu_session_id, self_session_id, ice: state.ice.clone(), roster: self.roster.clone() };
        state.sfu = Some(Sfu::start(self.parts.config.clone(), setup, self.wiring(Path::Sfu)));
    }

    fn close(&self, state: &mut State, path: Path) {
        self.parts.uplinks.close(path);
        match path {
            Path::Mesh => state.mesh.take().iter().for_each(Mesh::leave),
            Path::Sfu => state.sfu.take().iter().for_each(Sfu::leave),
        }
    }

    /// Ends a move once [`Switch::done`] says so, closing the old transport.
    fn tick(&self, now: Instant) {
        let mut state = lock(&self.state);
        let Some(mut switch) = state.switch else { return };
        let others: Vec<Id> = self.roster.others().into_iter().map(|(session, _)| session).collect();
        let connected = match switch.to {
            Path::Sfu => state.sfu.as_ref().is_some_and(Sfu::connected),
            Path::Mesh => state.mesh.as_ref().is_some_and(|mesh| {
                let peers = mesh.peers();
                others.iter().all(|s| peers.iter().any(|p| p.session_id == *s && p.state == "connected"))
            }),
        };
        let mut selector = lock(&self.selector);
        let everyone_moved = selector.all_moved(others.iter().copied());
        if !switch.done(now, Progress { connected, everyone_moved }) {
            state.switch = Some(switch);
            return;
        }
        let old = match switch.to {
            Path::Sfu => Path::Mesh,
            Path::Mesh => Path::Sfu,
        };
        tracing::info!(to = ?switch.to, connected, everyone_moved, "the voice room's move is over; closing the old path");
        selector.finish();
        drop(selector);
        self.close(&mut state, old);
        state.switch = None;
    }

    /// The other participants as the UI shows them, each as the path playing them shows
    /// them (the other path's view while that one has not connected them yet).
    pub(super) fn peers(&self) -> Vec<PeerStatus> {
        let state = lock(&self.state);
        let others = self.roster.others();
        let mesh = state.mesh.as_ref().map(Mesh::peers);
        let sfu = state.sfu.as_ref().map(|sfu| sfu.peers(&others));
        match (mesh, sfu) {
            (Some(mesh), None) => mesh,
            (None, Some(sfu)) => sfu,
            (None, None) => Vec::new(),
            (Some(mesh), Some(sfu)) => {
                let selector = lock(&self.selector);
                sfu.into_iter()
                    .map(|on_sfu| {
                        let on_mesh = mesh.iter().find(|p| p.session_id == on_sfu.session_id);
                        match (selector.playing_on(on_sfu.session_id), on_mesh) {
                            (Path::Mesh, Some(on_mesh)) => on_mesh.clone(),
                            _ => on_sfu,
                        }
                    })
                    .collect()
            }
        }
    }

    /// Signaling refused because an actor was stuck, over every transport of the call.
    pub(super) fn lost_signaling(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Closes every connection; the call is over.
    pub(super) fn leave(&self) {
        self.closed.store(true, Ordering::Relaxed);
        let mut state = lock(&self.state);
        self.close(&mut state, Path::Mesh);
        self.close(&mut state, Path::Sfu);
        state.switch = None;
    }
}

impl OnMoved for Transports {
    /// A participant was heard on the SFU: their mesh connection has done its part.
    fn moved(&self, session: Id, to: Path) {
        if to == Path::Sfu {
            if let Some(mesh) = &lock(&self.state).mesh {
                mesh.close_peer(session);
            }
        }
    }
}

/// Looks at a move's progress until the call ends.
async fn watch(transports: Weak<Transports>) {
    let mut every = tokio::time::interval(WATCH_EVERY);
    loop {
        every.tick().await;
        let Some(transports) = transports.upgrade() else { return };
        if transports.closed.load(Ordering::Relaxed) {
            return;
        }
        transports.tick(Instant::now());
    }
}
