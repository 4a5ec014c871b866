//! One peer connection's offer/answer steps, the same for a mesh peer and for the SFU:
//! offers (with or without an ICE restart), answers, rollback, and remote candidates that
//! wait for the remote description.

use std::sync::Arc;

use rtc::peer_connection::configuration::RTCOfferOptions;
use webrtc::peer_connection::{PeerConnection, RTCIceCandidateInit, RTCSessionDescription};

use super::connection::negotiated_opus_pt;
use super::link::PeerTx;
use super::signal::CandidateJson;

/// A peer connection, our sender on it, and what its signaling has reached.
pub struct Negotiated {
    pub pc: Arc<dyn PeerConnection>,
    pub tx: Arc<PeerTx>,
    /// Remote candidates that arrived before the remote description.
    queued: Vec<RTCIceCandidateInit>,
    remote_set: bool,
}

type Result<T> = std::result::Result<T, webrtc::error::Error>;

impl Negotiated {
    pub fn new(pc: Arc<dyn PeerConnection>, tx: Arc<PeerTx>) -> Self {
        Self { pc, tx, queued: Vec::new(), remote_set: false }
    }

    /// A remote description has been applied at least once.
    pub fn remote_set(&self) -> bool {
        self.remote_set
    }

    /// Creates and applies a local offer; returns the SDP to send.
    pub async fn offer(&mut self, ice_restart: bool) -> Result<String> {
        if ice_restart {
            self.pc.restart_ice().await?;
        }
        let offer = self.pc.create_offer(Some(RTCOfferOptions { ice_restart })).await?;
        self.pc.set_local_description(offer.clone()).await?;
        Ok(self.pc.local_description().await.map(|d| d.sdp).unwrap_or(offer.sdp))
    }

    /// Applies the remote side's offer; [`Negotiated::answer`] follows.
    pub async fn apply_offer(&mut self, sdp: String) -> Result<()> {
        self.pc.set_remote_description(RTCSessionDescription::offer(sdp)?).await?;
        self.remote_applied().await;
        Ok(())
    }

    /// Creates and applies our answer to the offer just applied; returns the SDP to send.
    pub async fn answer(&mut self) -> Result<String> {
        let answer = self.pc.create_answer(None).await?;
        self.pc.set_local_description(answer.clone()).await?;
        self.learn_payload_type().await;
        Ok(self.pc.local_description().await.map(|d| d.sdp).unwrap_or(answer.sdp))
    }

    /// Applies the answer to our offer.
    pub async fn apply_answer(&mut self, sdp: String) -> Result<()> {
        self.pc.set_remote_description(RTCSessionDescription::answer(sdp)?).await?;
        self.remote_applied().await;
        self.learn_payload_type().await;
        Ok(())
    }

    /// Our offer is out and unanswered.
    pub async fn offer_pending(&self) -> bool {
        self.pc.pending_local_description().await.is_some()
    }

    /// Takes back our unanswered offer (RFC 9429 §5.7), to answer the remote side's.
    pub async fn rollback(&mut self) -> Result<()> {
        self.pc.set_local_description(RTCSessionDescription::rollback(None)?).await
    }

    /// A trickled remote candidate: applied now, or once the remote description is.
    pub async fn remote_candidate(&mut self, candidate: CandidateJson) {
        if self.remote_set {
            if let Err(e) = self.pc.add_ice_candidate(candidate.into_init()).await {
                tracing::debug!(error = %e, "remote candidate not usable");
            }
        } else {
            self.queued.push(candidate.into_init());
        }
    }

    /// One of our candidates as the gateway relays it, labelled with our description.
    pub async fn local_candidate(&self, candidate: RTCIceCandidateInit) -> serde_json::Value {
        let local = self.pc.local_description().await.map(|d| d.sdp);
        CandidateJson::from_local(candidate, local.as_deref()).to_value()
    }

    pub async fn close(&self) {
        if let Err(e) = self.pc.close().await {
            tracing::debug!(error = %e, "close");
        }
    }

    async fn remote_applied(&mut self) {
        self.remote_set = true;
        for candidate in std::mem::take(&mut self.queued) {
            if let Err(e) = self.pc.add_ice_candidate(candidate).await {
                tracing::debug!(error = %e, "queued candidate not usable");
            }
        }
    }

    async fn learn_payload_type(&self) {
        if let Some(pt) = negotiated_opus_pt(self.pc.as_ref()).await {
            self.tx.set_payload_type(pt);
        }
    }
}
