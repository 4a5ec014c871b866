//! The peers as the audio fan-out and status queries see them, while the actor changes
//! the set.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use cromulent_protocol::Id;

use super::peer::{PeerShared, PeerTx};

/// A peer as the UI sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerStatus {
    pub session_id: Id,
    pub user_id: Id,
    pub state: String,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub last_packet: Option<Instant>,
}

/// A peer's sending half and its status.
type PeerEntry = (Arc<PeerTx>, Arc<PeerShared>);

/// Every peer's sending half and status, written by the actor only.
#[derive(Default)]
pub(super) struct PeerTable {
    peers: RwLock<HashMap<Id, PeerEntry>>,
}

impl PeerTable {
    pub(super) fn insert(&self, tx: Arc<PeerTx>, shared: Arc<PeerShared>) {
        if let Ok(mut peers) = self.peers.write() {
            peers.insert(shared.session_id, (tx, shared));
        }
    }

    pub(super) fn remove(&self, session_id: Id) {
        if let Ok(mut peers) = self.peers.write() {
            peers.remove(&session_id);
        }
    }

    /// The sending halves right now; `None` once a writer panicked (the mesh is broken).
    pub(super) fn senders(&self) -> Option<Vec<Arc<PeerTx>>> {
        let peers = self.peers.read().ok()?;
        Some(peers.values().map(|(tx, _)| Arc::clone(tx)).collect())
    }

    /// Every peer's status, ordered by session id.
    pub(super) fn statuses(&self) -> Vec<PeerStatus> {
        let Ok(peers) = self.peers.read() else { return Vec::new() };
        let mut out: Vec<PeerStatus> = peers.values().map(|(_, shared)| status_of(shared)).collect();
        out.sort_by_key(|p| p.session_id.0);
        out
    }
}

fn status_of(shared: &PeerShared) -> PeerStatus {
    PeerStatus {
        session_id: shared.session_id,
        user_id: shared.user_id,
        state: shared.state.lock().map(|s| s.clone()).unwrap_or_default(),
        packets_received: shared.packets_received.load(Ordering::Relaxed),
        packets_sent: shared.packets_sent.load(Ordering::Relaxed),
        last_packet: shared.last_packet.lock().ok().and_then(|l| *l),
    }
}
