//! Our encoded frames to every peer, on a task of its own so a slow SDP step in the actor
//! never delays audio.

use std::sync::Arc;

use super::table::PeerTable;
use crate::voice::audio::FrameReceiver;
use crate::voice::rtp::OutgoingFrame;

/// Sends each frame to every peer in the table, until the engine stops sending frames.
pub(super) async fn fan_out(mut audio: FrameReceiver<OutgoingFrame>, table: Arc<PeerTable>) {
    while let Some(frame) = audio.recv().await {
        let Some(peers) = table.senders() else { break };
        for tx in peers {
            tx.send(&frame).await;
        }
    }
}
