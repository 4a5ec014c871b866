//! The peers as the audio fan-out and status queries see them, while the actor changes
//! the set.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use cromulent_protocol::Id;

use crate::voice::link::{PeerShared, PeerStatus, PeerTx};

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

    /// Whether a connection to `session_id` exists.
    pub(super) fn contains(&self, session_id: Id) -> bool {
        self.peers.read().is_ok_and(|peers| peers.contains_key(&session_id))
    }

    /// The sending halves right now; `None` once a writer panicked (the mesh is broken).
    pub(super) fn senders(&self) -> Option<Vec<Arc<PeerTx>>> {
        let peers = self.peers.read().ok()?;
        Some(peers.values().map(|(tx, _)| Arc::clone(tx)).collect())
    }

    /// Every peer's status, ordered by session id.
    pub(super) fn statuses(&self) -> Vec<PeerStatus> {
        let Ok(peers) = self.peers.read() else { return Vec::new() };
        let mut out: Vec<PeerStatus> = peers.values().map(|(_, shared)| shared.status()).collect();
        out.sort_by_key(|p| p.session_id.0);
        out
    }
}
