//! When a move between mesh and SFU is over, so the old path can be closed.
//!
//! The contract (`voice_mode_changed`): to the SFU, each mesh peer closes once the SFU
//! delivers that participant, and the rest at the latest 2 s after the SFU connection is
//! connected; back to a mesh, the SFU connection stays until every mesh peer delivered,
//! or at the latest 2 s after all of them are connected. A participant who does not speak
//! delivers nothing, hence the deadline. If the new path never becomes ready at all (a
//! peer that cannot connect), the old one is closed [`GIVE_UP`] after the move began
//! anyway: the server has stopped planning for it, and keeping it would hold a connection
//! nobody else keeps.

use std::time::{Duration, Instant};

use super::paths::Path;

/// How long the old path plays on once the new one is connected.
pub const OVERLAP: Duration = Duration::from_secs(2);
/// How long a move may wait for the new path to connect at all.
pub const GIVE_UP: Duration = Duration::from_secs(15);

/// A move under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch {
    pub to: Path,
    began: Instant,
    /// When the new path was first seen fully connected.
    ready_since: Option<Instant>,
}

/// What the new path looks like at one look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The SFU connection is connected, or every mesh peer is.
    pub connected: bool,
    /// Every other participant has been heard on the new path.
    pub everyone_moved: bool,
}

impl Switch {
    pub fn new(to: Path, now: Instant) -> Self {
        Self { to, began: now, ready_since: None }
    }

    /// Whether the move is over at `now`, given how far the new path is.
    pub fn done(&mut self, now: Instant, progress: Progress) -> bool {
        if progress.connected && self.ready_since.is_none() {
            self.ready_since = Some(now);
        }
        let overlap_over = self.ready_since.is_some_and(|ready| now.duration_since(ready) >= OVERLAP);
        (progress.connected && progress.everyone_moved)
            || overlap_over
            || now.duration_since(self.began) >= GIVE_UP
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONNECTING: Progress = Progress { connected: false, everyone_moved: false };
    const CONNECTED: Progress = Progress { connected: true, everyone_moved: false };

    #[test]
    fn the_old_path_plays_until_two_seconds_after_the_new_one_connected() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut switch = Switch::new(Path::Sfu, start);
        assert!(!switch.done(at(1_000), CONNECTING), "nothing is closed while the SFU connects");
        assert!(!switch.done(at(1_500), CONNECTED), "connected at 1.5 s: the overlap starts");
        assert!(!switch.done(at(3_400), CONNECTED), "1.9 s into the overlap");
        assert!(switch.done(at(3_500), CONNECTED), "2 s after connecting the old path goes");
    }

    #[test]
    fn the_move_ends_as_soon_as_everyone_was_heard_on_the_new_path() {
        let start = Instant::now();
        let mut switch = Switch::new(Path::Mesh, start);
        let everyone = Progress { connected: true, everyone_moved: true };
        assert!(switch.done(start + Duration::from_millis(300), everyone));
        let mut early = Switch::new(Path::Mesh, start);
        let heard_but_not_connected = Progress { connected: false, everyone_moved: true };
        assert!(
            !early.done(start + Duration::from_millis(300), heard_but_not_connected),
            "back to a mesh, the SFU stays until all mesh peers are connected"
        );
    }

    #[test]
    fn a_path_that_never_connects_is_given_up() {
        let start = Instant::now();
        let mut switch = Switch::new(Path::Mesh, start);
        assert!(!switch.done(start + GIVE_UP - Duration::from_millis(1), CONNECTING));
        assert!(switch.done(start + GIVE_UP, CONNECTING));
    }
}
