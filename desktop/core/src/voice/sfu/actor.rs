//! The SFU connection's signaling actor: our offer with the microphone (sendonly), the
//! server's offers as participants come and go (answered, with ours rolled back when they
//! cross), trickled candidates both ways and an ICE restart when the connection fails —
//! one at a time, in the order they arrived.

use std::sync::Arc;
use std::time::Duration;

use cromulent_protocol::error::ErrorCode;
use cromulent_protocol::gateway::{ClientFrame, ControlFrame, Event, ServerFrame};
use cromulent_protocol::Id;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use webrtc::peer_connection::RTCPeerConnectionState;

use super::handler::{Handler, LinkEvent};
use super::polite::{OfferKind, Polite};
use super::{SfuSetup, SfuShared};
use crate::voice::connection::{self, ConnectionConfig};
use crate::voice::inbox::Inbox;
use crate::voice::link::PeerTx;
use crate::voice::negotiation::Negotiated;
use crate::voice::signal::CandidateJson;
use crate::voice::transport::{RemoteAudio, Signal};

type Result<T> = std::result::Result<T, webrtc::error::Error>;

/// How often a refused offer is made again before the connection gives up, and the first
/// wait (doubling each time). The server answers `voice_join` before every part of it
/// knows we are in the room, so our first offer can be refused as `not_found` by a few
/// milliseconds; a room that really left the SFU tells us with `voice_mode_changed`.
const OFFER_ATTEMPTS: u32 = 6;
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// What the actor reads.
pub(super) struct ActorInputs {
    pub(super) signaling: mpsc::Receiver<Box<ServerFrame>>,
    pub(super) events: mpsc::Receiver<LinkEvent>,
    pub(super) leave: oneshot::Receiver<()>,
}

pub(super) struct Actor {
    pub(super) config: ConnectionConfig,
    pub(super) setup: SfuSetup,
    pub(super) signal: Signal,
    pub(super) remote_audio: Arc<dyn RemoteAudio>,
    pub(super) shared: SfuShared,
    pub(super) tx: Arc<PeerTx>,
    pub(super) events: Inbox<LinkEvent>,
}

/// The actor once its connection exists.
struct Running {
    signal: Signal,
    sfu: Id,
    link: Negotiated,
    polite: Polite,
    /// The kind of our latest offer, made again if it is refused.
    last_offer: OfferKind,
    /// Refusals since an offer of ours was last answered.
    refusals: u32,
    /// When a refused offer is made again.
    retry_at: Option<Instant>,
}

impl Actor {
    /// Opens the connection, offers, then negotiates until leave; closes the connection.
    pub(super) async fn run(self, inputs: ActorInputs) {
        let ActorInputs { mut signaling, mut events, mut leave } = inputs;
        let sfu = self.setup.sfu_session_id;
        let signal = self.signal.clone();
        let link = match self.open().await {
            Ok(link) => link,
            Err(e) => {
                tracing::error!(error = %e, %sfu, "no connection to the SFU");
                *self.shared.link.state.lock().unwrap_or_else(|p| p.into_inner()) = "failed".to_owned();
                return;
            }
        };
        let mut running = Running {
            signal,
            sfu,
            link,
            polite: Polite::default(),
            last_offer: OfferKind::Plain,
            refusals: 0,
            retry_at: None,
        };
        running.offer(OfferKind::Plain).await;
        loop {
            let retry_at = running.retry_at;
            let retry = async move {
                match retry_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = &mut leave => break,
                frame = signaling.recv() => match frame {
                    Some(frame) => running.on_frame(*frame).await,
                    None => break,
                },
                Some(event) = events.recv() => running.on_event(event).await,
                () = retry => running.retry().await,
            }
        }
        running.link.close().await;
    }

    /// The connection with our microphone as its one sendonly media section.
    async fn open(&self) -> Result<Negotiated> {
        let handler = Handler {
            link: self.shared.link.clone(),
            tx: self.tx.clone(),
            events: self.events.clone(),
            remote_audio: self.remote_audio.clone(),
            roster: self.setup.roster.clone(),
            tracks: self.shared.tracks.clone(),
            self_session_id: self.setup.self_session_id,
        };
        let pc = connection::build(&self.config, &self.setup.ice, Arc::new(handler)).await?;
        let init = RTCRtpTransceiverInit {
            direction: RTCRtpTransceiverDirection::Sendonly,
            streams: vec![self.setup.self_session_id.to_string()],
            send_encodings: Vec::new(),
        };
        pc.add_transceiver_from_track(self.tx.track(), Some(init)).await?;
        Ok(Negotiated::new(pc, self.tx.clone()))
    }
}

impl Running {
    async fn on_frame(&mut self, frame: ServerFrame) {
        let result = match frame {
            ServerFrame::Event(e) => match e.event {
                Event::SdpOffer { from, sdp, .. } if from == self.sfu => self.answer(sdp).await,
                Event::SdpAnswer { from, sdp, .. } if from == self.sfu => self.apply_answer(sdp).await,
                Event::IceCandidate { from, candidate, .. } if from == self.sfu => {
                    if let Some(candidate) = CandidateJson::from_value(&candidate) {
                        self.link.remote_candidate(candidate).await;
                    }
                    Ok(())
                }
                _ => Ok(()),
            },
            ServerFrame::Control(ControlFrame::Error { op, code, message, .. }) if op == "sdp_offer" => {
                self.refused(code, &message);
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "SFU signaling step failed");
        }
    }

    async fn on_event(&mut self, event: LinkEvent) {
        match event {
            LinkEvent::LocalCandidate(candidate) => {
                let candidate = self.link.local_candidate(candidate).await;
                (self.signal)(ClientFrame::IceCandidate { to: self.sfu, candidate });
            }
            LinkEvent::State(RTCPeerConnectionState::Failed) => {
                tracing::info!(sfu = %self.sfu, "connection to the SFU failed; restarting ICE");
                self.offer(OfferKind::IceRestart).await;
            }
            LinkEvent::State(_) => {}
        }
    }

    /// Makes the offer now, or once the one out is answered.
    async fn offer(&mut self, kind: OfferKind) {
        if self.polite.want(kind) {
            self.send_offer(kind).await;
        }
    }

    async fn send_offer(&mut self, kind: OfferKind) {
        self.last_offer = kind;
        match self.link.offer(kind == OfferKind::IceRestart).await {
            Ok(sdp) => (self.signal)(ClientFrame::SdpOffer { to: self.sfu, sdp }),
            Err(e) => {
                tracing::warn!(error = %e, ?kind, "no offer for the SFU");
                self.polite.failed();
            }
        }
    }

    /// The server's offer (participants came or went): answered, ours rolled back first
    /// if it was out, and made again afterwards.
    async fn answer(&mut self, sdp: String) -> Result<()> {
        if self.polite.server_offer() && self.link.offer_pending().await {
            self.link.rollback().await?;
        }
        self.link.apply_offer(sdp).await?;
        let answer = self.link.answer().await?;
        (self.signal)(ClientFrame::SdpAnswer { to: self.sfu, sdp: answer });
        self.send_next().await;
        Ok(())
    }

    /// Our offer was refused: nothing is out any more, and unless the refusal is final
    /// (no right to be in the room) it is made again a little later.
    fn refused(&mut self, code: ErrorCode, message: &str) {
        self.polite.failed();
        self.refusals += 1;
        if code == ErrorCode::Forbidden || self.refusals >= OFFER_ATTEMPTS {
            tracing::warn!(?code, %message, refusals = self.refusals, "the SFU refused our offer; giving up");
            self.retry_at = None;
            return;
        }
        let wait = FIRST_RETRY * 2u32.pow(self.refusals - 1);
        tracing::info!(?code, %message, ?wait, "the SFU refused our offer; offering again");
        self.retry_at = Some(Instant::now() + wait);
    }

    /// Makes the refused offer again, taking the refused one back first.
    async fn retry(&mut self) {
        self.retry_at = None;
        if self.link.offer_pending().await {
            if let Err(e) = self.link.rollback().await {
                tracing::warn!(error = %e, "could not take back the refused offer");
            }
        }
        let kind = self.last_offer;
        self.offer(kind).await;
    }

    async fn apply_answer(&mut self, sdp: String) -> Result<()> {
        if !self.polite.answered() {
            tracing::debug!("an answer to an offer we took back; ignored");
            return Ok(());
        }
        self.refusals = 0;
        let applied = self.link.apply_answer(sdp).await;
        self.send_next().await;
        applied
    }

    async fn send_next(&mut self) {
        if let Some(kind) = self.polite.next_offer() {
            self.send_offer(kind).await;
        }
    }
}
