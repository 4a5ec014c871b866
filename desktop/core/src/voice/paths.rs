//! Which path plays each remote participant. While a room moves between mesh and SFU both
//! may carry someone's audio, and exactly one may reach the speaker: the old path until
//! the new one delivers that participant's first packet, the new one from then on. A path
//! that takes over starts a fresh jitter buffer (its packets are numbered by another
//! sender), and the engine hears of each takeover so it can close the old connection.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};

use cromulent_protocol::voice::RoomMode;
use cromulent_protocol::Id;

use super::audio::PeerSink;
use super::engine::lock;
use super::remote::PlaybackSlot;
use super::transport::{InboundStream, RemoteAudio};

/// What carries a remote participant's audio to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Path {
    Mesh,
    Sfu,
}

impl From<RoomMode> for Path {
    fn from(mode: RoomMode) -> Self {
        match mode {
            RoomMode::Mesh => Path::Mesh,
            RoomMode::Sfu => Path::Sfu,
        }
    }
}

/// What to do with one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Play {
    /// Not this path's turn, or a stale stream: drop it.
    No,
    /// Into the participant's jitter buffer.
    Yes,
    /// This stream takes over the participant: into a new jitter buffer.
    Fresh,
}

/// The verdict on one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    pub play: Play,
    /// This packet moved the participant to the room's new path.
    pub moved: bool,
}

/// The per-packet rule, and the switch bookkeeping it needs.
#[derive(Debug)]
pub struct Selector {
    /// The path the room is on, or moving to.
    mode: Path,
    /// While the room moves: the path still playing those who have not moved yet.
    leaving: Option<Path>,
    /// Participants heard on `mode` since the move began.
    moved: HashSet<Id>,
    /// The newest stream of each participant on each path; older ones are stale.
    newest: HashMap<(Id, Path), u64>,
    /// The stream filling each participant's jitter buffer now.
    playing: HashMap<Id, u64>,
    next_stream: u64,
}

impl Selector {
    pub fn new(mode: Path) -> Self {
        Self {
            mode,
            leaving: None,
            moved: HashSet::new(),
            newest: HashMap::new(),
            playing: HashMap::new(),
            next_stream: 0,
        }
    }

    /// The room's path as `voice_joined` says, with no move under way.
    pub fn set_mode(&mut self, mode: Path) {
        self.mode = mode;
        self.finish();
    }

    /// A new track of `session` on `path`; returns its stream token.
    pub fn register(&mut self, session: Id, path: Path) -> u64 {
        self.next_stream += 1;
        self.newest.insert((session, path), self.next_stream);
        self.next_stream
    }

    /// A packet of `session`'s stream `stream` arrived on `path`.
    pub fn admit(&mut self, session: Id, path: Path, stream: u64) -> Admission {
        let no = Admission { play: Play::No, moved: false };
        if self.newest.get(&(session, path)) != Some(&stream) {
            return no;
        }
        let allowed = path == self.mode || (self.leaving == Some(path) && !self.moved.contains(&session));
        if !allowed {
            return no;
        }
        let moved = path == self.mode && self.leaving.is_some() && self.moved.insert(session);
        let play = if self.playing.insert(session, stream) == Some(stream) { Play::Yes } else { Play::Fresh };
        Admission { play, moved }
    }

    /// The room starts moving to `to`; the path it was on keeps playing each participant
    /// until `to` delivers them.
    pub fn begin(&mut self, to: Path) {
        if to == self.mode {
            return;
        }
        self.leaving = Some(self.mode);
        self.mode = to;
        self.moved.clear();
    }

    /// The path playing `session` now: the room's, unless a move is under way and they
    /// have not been heard on the new path yet.
    pub fn playing_on(&self, session: Id) -> Path {
        match self.leaving {
            Some(old) if !self.moved.contains(&session) => old,
            _ => self.mode,
        }
    }

    /// Whether every one of `sessions` has been heard on the new path.
    pub fn all_moved(&self, mut sessions: impl Iterator<Item = Id>) -> bool {
        sessions.all(|s| self.moved.contains(&s))
    }

    /// The move is over: only the room's path plays from now on.
    pub fn finish(&mut self) {
        self.leaving = None;
        self.moved.clear();
    }

    /// `session` left the room.
    pub fn forget(&mut self, session: Id) {
        self.newest.retain(|(s, _), _| *s != session);
        self.playing.remove(&session);
        self.moved.remove(&session);
    }
}

/// Told when a packet moved a participant to the room's new path.
pub trait OnMoved: Send + Sync + 'static {
    fn moved(&self, session: Id, to: Path);
}

/// One path's [`RemoteAudio`]: its streams go through the [`Selector`] to playback.
pub struct PathAudio {
    pub path: Path,
    pub selector: Arc<Mutex<Selector>>,
    pub playback: Arc<PlaybackSlot>,
    /// Weak, since the one told owns the transports that own this.
    pub on_moved: Weak<dyn OnMoved>,
}

impl RemoteAudio for PathAudio {
    fn open(&self, session_id: Id, user_id: Id) -> Box<dyn InboundStream> {
        let stream = lock(&self.selector).register(session_id, self.path);
        Box::new(PathStream {
            session_id,
            user_id,
            stream,
            path: self.path,
            selector: self.selector.clone(),
            playback: self.playback.clone(),
            on_moved: self.on_moved.clone(),
            sink: None,
        })
    }
}

struct PathStream {
    session_id: Id,
    user_id: Id,
    stream: u64,
    path: Path,
    selector: Arc<Mutex<Selector>>,
    playback: Arc<PlaybackSlot>,
    on_moved: Weak<dyn OnMoved>,
    sink: Option<PeerSink>,
}

impl InboundStream for PathStream {
    fn push(&mut self, sequence: u16, timestamp: u32, payload: &[u8]) {
        let admission = lock(&self.selector).admit(self.session_id, self.path, self.stream);
        if admission.moved {
            if let Some(told) = self.on_moved.upgrade() {
                told.moved(self.session_id, self.path);
            }
        }
        match admission.play {
            Play::No => return,
            Play::Fresh => self.sink = self.playback.sink(self.session_id, self.user_id),
            Play::Yes if self.sink.is_none() => self.sink = self.playback.sink(self.session_id, self.user_id),
            Play::Yes => {}
        }
        if let Some(sink) = &self.sink {
            sink.push(sequence, timestamp, payload);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const X: Id = Id(7);
    const Y: Id = Id(8);

    fn played(selector: &mut Selector, session: Id, path: Path, stream: u64) -> Play {
        selector.admit(session, path, stream).play
    }

    #[test]
    fn outside_a_move_only_the_rooms_path_plays() {
        let mut selector = Selector::new(Path::Mesh);
        let mesh = selector.register(X, Path::Mesh);
        let sfu = selector.register(X, Path::Sfu);
        assert_eq!(
            played(&mut selector, X, Path::Mesh, mesh),
            Play::Fresh,
            "the first packet opens a buffer"
        );
        assert_eq!(played(&mut selector, X, Path::Mesh, mesh), Play::Yes);
        assert_eq!(
            played(&mut selector, X, Path::Sfu, sfu),
            Play::No,
            "a stray SFU track is never heard in a mesh"
        );
    }

    #[test]
    fn moving_to_the_sfu_keeps_the_mesh_until_the_sfu_delivers_then_only_the_sfu() {
        let mut selector = Selector::new(Path::Mesh);
        let (x_mesh, y_mesh) = (selector.register(X, Path::Mesh), selector.register(Y, Path::Mesh));
        selector.admit(X, Path::Mesh, x_mesh);
        selector.begin(Path::Sfu);
        assert_eq!(
            played(&mut selector, X, Path::Mesh, x_mesh),
            Play::Yes,
            "the mesh plays on during the move"
        );
        let x_sfu = selector.register(X, Path::Sfu);
        let first = selector.admit(X, Path::Sfu, x_sfu);
        assert_eq!(
            first,
            Admission { play: Play::Fresh, moved: true },
            "the SFU's first packet takes X over"
        );
        assert_eq!(
            played(&mut selector, X, Path::Mesh, x_mesh),
            Play::No,
            "from then on X is not heard twice"
        );
        assert_eq!(selector.admit(X, Path::Sfu, x_sfu), Admission { play: Play::Yes, moved: false });
        assert!(!selector.all_moved([X, Y].into_iter()), "Y has not been heard on the SFU yet");
        assert_eq!(played(&mut selector, Y, Path::Mesh, y_mesh), Play::Fresh, "Y still plays over the mesh");
        selector.finish();
        assert_eq!(
            played(&mut selector, Y, Path::Mesh, y_mesh),
            Play::No,
            "after the move the mesh is silent"
        );
    }

    #[test]
    fn moving_back_to_the_mesh_silences_each_sfu_track_once_its_peer_delivers() {
        let mut selector = Selector::new(Path::Sfu);
        let x_sfu = selector.register(X, Path::Sfu);
        selector.admit(X, Path::Sfu, x_sfu);
        selector.begin(Path::Mesh);
        assert_eq!(played(&mut selector, X, Path::Sfu, x_sfu), Play::Yes);
        let x_mesh = selector.register(X, Path::Mesh);
        assert_eq!(selector.admit(X, Path::Mesh, x_mesh), Admission { play: Play::Fresh, moved: true });
        assert_eq!(played(&mut selector, X, Path::Sfu, x_sfu), Play::No, "the SFU track of X is silenced");
        assert!(selector.all_moved([X].into_iter()));
    }

    #[test]
    fn a_move_reversed_midway_brings_back_whoever_had_moved() {
        let mut selector = Selector::new(Path::Mesh);
        let x_mesh = selector.register(X, Path::Mesh);
        selector.begin(Path::Sfu);
        let x_sfu = selector.register(X, Path::Sfu);
        selector.admit(X, Path::Sfu, x_sfu);
        selector.begin(Path::Mesh);
        assert_eq!(
            played(&mut selector, X, Path::Sfu, x_sfu),
            Play::Yes,
            "X stays on the SFU until the mesh delivers"
        );
        assert_eq!(selector.admit(X, Path::Mesh, x_mesh), Admission { play: Play::Fresh, moved: true });
    }

    #[test]
    fn only_the_newest_stream_of_a_path_plays() {
        let mut selector = Selector::new(Path::Sfu);
        let old = selector.register(X, Path::Sfu);
        let new = selector.register(X, Path::Sfu);
        assert_eq!(played(&mut selector, X, Path::Sfu, old), Play::No, "a replaced track is stale");
        assert_eq!(played(&mut selector, X, Path::Sfu, new), Play::Fresh);
        selector.forget(X);
        assert_eq!(played(&mut selector, X, Path::Sfu, new), Play::No, "who left is not heard");
    }
}
