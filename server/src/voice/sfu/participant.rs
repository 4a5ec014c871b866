//! One participant's connection with the SFU: its [`Rtc`], the track it sends, and one
//! outgoing track per other participant, kept in step with the room through offers the
//! server makes whenever the room's set of senders changes.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cromulent_protocol::Id;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::{Candidate, Rtc, RtcError};

use super::caps::Bucket;

/// How often receiver reports and link statistics are gathered.
const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// An offer of ours unanswered for this long is given up and made again: a client that
/// lost it (a reconnect, a crash of its signaling) would otherwise never hear anyone
/// who joins after.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    #[error("the SDP does not parse: {0}")]
    BadSdp(String),
    #[error("the session cannot take this description: {0}")]
    Rejected(#[source] RtcError),
    #[error("an answer with no offer of ours pending")]
    NoPendingOffer,
    #[error("an offer crossing ours; the participant answers ours first")]
    Crossing,
}

/// The state of the m-line that carries one other participant's audio to this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrackState {
    /// Wanted, not yet in an offer.
    ToOpen,
    Negotiating(Mid),
    Open(Mid),
    /// Its sender left: stop the m-line in the next offer.
    ToStop(Mid),
    NegotiatingStop(Mid),
}

#[derive(Debug)]
struct TrackOut {
    /// The participant whose audio this track carries.
    origin: Id,
    state: TrackState,
}

/// Whose connection it is, and which of the room's SFU peers it negotiated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Who {
    pub session_id: Id,
    pub user_id: Id,
    pub channel_id: Id,
    pub sfu_session_id: Id,
}

pub struct Participant {
    pub who: Who,
    pub rtc: Rtc,
    /// The m-line the participant sends its microphone on.
    pub inbound: Option<Mid>,
    tracks: Vec<TrackOut>,
    /// Our offer waiting for its answer, and when it was sent.
    pending: Option<(SdpPendingOffer, Instant)>,
    /// When `rtc` next wants time to pass.
    pub next_timeout: Instant,
    pub bucket: Bucket,
}

impl Participant {
    /// A participant from its first offer; returns it with the answer.
    pub fn accept(
        who: Who,
        advertised: SocketAddr,
        offer: &str,
        bucket: Bucket,
        now: Instant,
    ) -> Result<(Self, String), SignalError> {
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| SignalError::BadSdp(e.to_string()))?;
        let mut rtc = Rtc::builder()
            // The server has a public address and answers checks; it never probes.
            .set_ice_lite(true)
            .clear_codecs()
            .enable_opus(true)
            .set_stats_interval(Some(STATS_INTERVAL))
            // Forward each frame as it arrives: the listener's jitter buffer orders them,
            // and holding back after a loss would stall everyone's audio.
            .set_reordering_size_audio(0)
            .build(now);
        let candidate = Candidate::host(advertised, "udp").map_err(|e| SignalError::BadSdp(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc.sdp_api().accept_offer(offer).map_err(SignalError::Rejected)?;
        let participant =
            Self { who, rtc, inbound: None, tracks: Vec::new(), pending: None, next_timeout: now, bucket };
        Ok((participant, answer.to_sdp_string()))
    }

    /// A later offer from the participant (an ICE restart). While an offer of ours
    /// waits for its answer, the participant's is ignored: clients are the polite side
    /// of a crossing, roll theirs back, answer ours and offer again afterwards.
    pub fn accept_offer(&mut self, offer: &str) -> Result<String, SignalError> {
        if self.pending.is_some() {
            return Err(SignalError::Crossing);
        }
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| SignalError::BadSdp(e.to_string()))?;
        let answer = self.rtc.sdp_api().accept_offer(offer).map_err(SignalError::Rejected)?;
        Ok(answer.to_sdp_string())
    }

    pub fn accept_answer(&mut self, answer: &str) -> Result<(), SignalError> {
        let answer = SdpAnswer::from_sdp_string(answer).map_err(|e| SignalError::BadSdp(e.to_string()))?;
        let (pending, _) = self.pending.take().ok_or(SignalError::NoPendingOffer)?;
        self.rtc.sdp_api().accept_answer(pending, answer).map_err(SignalError::Rejected)?;
        for track in &mut self.tracks {
            if let TrackState::Negotiating(mid) = track.state {
                track.state = TrackState::Open(mid);
            }
        }
        self.tracks.retain(|t| !matches!(t.state, TrackState::NegotiatingStop(_)));
        Ok(())
    }

    /// A trickled candidate (`RTCIceCandidateInit` JSON). The SFU is ICE-lite and also
    /// learns addresses from the checks it receives, so one it cannot read (an mDNS
    /// name, the end-of-candidates marker) is skipped, not an error.
    pub fn add_candidate(&mut self, init: &serde_json::Value) {
        let Some(line) = init.get("candidate").and_then(|c| c.as_str()).filter(|c| !c.is_empty()) else {
            return;
        };
        if let Ok(candidate) = Candidate::from_sdp_string(line) {
            self.rtc.add_remote_candidate(candidate);
        }
    }

    /// Start receiving `origin`'s audio (in the next offer).
    pub fn want(&mut self, origin: Id) {
        if !self.tracks.iter().any(|t| t.origin == origin) {
            self.tracks.push(TrackOut { origin, state: TrackState::ToOpen });
        }
    }

    /// Stop receiving `origin`'s audio.
    pub fn unwant(&mut self, origin: Id) {
        self.tracks.retain(|t| !(t.origin == origin && t.state == TrackState::ToOpen));
        for track in self.tracks.iter_mut().filter(|t| t.origin == origin) {
            if let TrackState::Open(mid) = track.state {
                track.state = TrackState::ToStop(mid);
            }
        }
    }

    /// The open m-line carrying `origin`'s audio to this participant.
    pub fn track_of(&self, origin: Id) -> Option<Mid> {
        self.tracks.iter().find(|t| t.origin == origin).and_then(|t| match t.state {
            TrackState::Open(mid) => Some(mid),
            _ => None,
        })
    }

    /// An offer bringing the tracks in line with the room, when something changed and
    /// no offer of ours is already waiting for its answer. Each track's stream id is
    /// its sender's session id: that is how clients tell whose audio it is.
    /// An offer unanswered for [`ANSWER_WITHIN`] is dropped (str0m applies nothing
    /// until the answer) and its changes go into the new one.
    pub fn offer_if_needed(&mut self, now: Instant) -> Option<String> {
        match &self.pending {
            Some((_, sent)) if now.duration_since(*sent) >= ANSWER_WITHIN => self.abandon_offer(),
            Some(_) => return None,
            None => {}
        }
        let mut change = self.rtc.sdp_api();
        for track in &mut self.tracks {
            match track.state {
                TrackState::ToOpen => {
                    let stream = track.origin.to_string();
                    let mid = change.add_media(
                        MediaKind::Audio,
                        Direction::SendOnly,
                        Some(stream.clone()),
                        Some(stream),
                        None,
                    );
                    track.state = TrackState::Negotiating(mid);
                }
                TrackState::ToStop(mid) => {
                    change.stop_media(mid);
                    track.state = TrackState::NegotiatingStop(mid);
                }
                _ => {}
            }
        }
        if !change.has_changes() {
            return None;
        }
        let (offer, pending) = change.apply()?;
        self.pending = Some((pending, now));
        Some(offer.to_sdp_string())
    }

    /// Whether an offer of ours has waited past [`ANSWER_WITHIN`].
    pub fn answer_overdue(&self, now: Instant) -> bool {
        self.pending.as_ref().is_some_and(|(_, sent)| now.duration_since(*sent) >= ANSWER_WITHIN)
    }

    fn abandon_offer(&mut self) {
        self.pending = None;
        for track in &mut self.tracks {
            track.state = match track.state {
                TrackState::Negotiating(_) => TrackState::ToOpen,
                TrackState::NegotiatingStop(mid) => TrackState::ToStop(mid),
                other => other,
            };
        }
        tracing::info!(session_id = %self.who.session_id, "an SFU offer went unanswered; offering again");
    }
}
