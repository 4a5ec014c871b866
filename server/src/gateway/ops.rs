//! What a client may ask of the gateway once identified: typing, presence, voice.
//! Each refusal is a typed `error` frame, with the code the HTTP API gives for the same
//! refusal; the connection stays open.

use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::{close_code, ClientFrame, ControlFrame, PresenceStatus};
use cromulent_protocol::voice::{RoomMode, VoiceParticipant};
use cromulent_protocol::{ErrorCode, Id};

use super::hub::{Link, Outbound};
use super::rate_limit::Budget;
use crate::access;
use crate::announce;
use crate::auth::Caller;
use crate::bus::{Audience, BusMessage, Envelope, VoiceChange};
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store::notifications::Scope;
use crate::store::{self, Failure};
use crate::voice::route::RoomRoute;
use crate::voice::sfu::{SfuSignal, Signal};

/// How long a typing indicator shows without renewal.
const TYPING_TTL_MS: i64 = 8_000;
/// How long `voice_join` and `voice_leave` wait for the change to come back from the bus
/// (NATS when clustered; a round trip takes milliseconds).
const VOICE_SETTLES_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

pub struct OpContext {
    state: AppState,
    session_id: Id,
    caller: Caller,
    link: Link,
    signaling: Budget,
}

/// A refused op: answered with an `error` frame.
struct Refusal(ErrorCode, String);

impl From<access::Denied> for Refusal {
    fn from(denied: access::Denied) -> Self {
        Refusal(denied.code(), denied.to_string())
    }
}

impl From<Failure> for Refusal {
    fn from(failure: Failure) -> Self {
        Refusal(failure.code(), failure.to_string())
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Self {
        Failure::from(e).into()
    }
}

impl From<access::Error> for Refusal {
    fn from(e: access::Error) -> Self {
        match e {
            access::Error::Denied(denied) => denied.into(),
            access::Error::Store(e) => e.into(),
        }
    }
}

fn refuse(code: ErrorCode, message: &str) -> Refusal {
    Refusal(code, message.to_owned())
}

impl OpContext {
    pub fn new(state: AppState, session_id: Id, caller: Caller, link: Link) -> Self {
        let config = state.gateway.config;
        Self {
            signaling: Budget::new(config.signaling_limit, config.rate_window),
            state,
            session_id,
            caller,
            link,
        }
    }

    /// Ends the connection with a close code.
    pub fn shut(&self, code: u16) {
        let _ = self.link.close.send(Some(code));
    }

    fn reply(&self, frame: &ControlFrame) -> Result<(), u16> {
        let text = serde_json::to_string(frame).expect("control frames always serialize");
        self.link.tx.try_send(Outbound::Control(text)).map_err(|_| close_code::SLOW_CONSUMER)
    }

    /// Runs one op; `Err(code)` closes the connection.
    pub async fn handle(&mut self, frame: ClientFrame) -> Result<(), u16> {
        let op = op_name(&frame);
        let result = match frame {
            ClientFrame::Heartbeat => return self.reply(&ControlFrame::HeartbeatAck),
            ClientFrame::Identify { .. } | ClientFrame::Resume { .. } => {
                return Err(close_code::ALREADY_AUTHENTICATED)
            }
            ClientFrame::TypingStart { channel_id } => self.typing(channel_id).await,
            ClientFrame::SetPresence { status } => self.presence(status).await,
            ClientFrame::VoiceJoin { channel_id } => self.voice_join(channel_id).await,
            ClientFrame::VoiceLeave => self.voice_leave().await,
            ClientFrame::SdpOffer { to, sdp } => self.relay(to, Signal::Offer { sdp }).await,
            ClientFrame::SdpAnswer { to, sdp } => self.relay(to, Signal::Answer { sdp }).await,
            ClientFrame::IceCandidate { to, candidate } => {
                self.relay(to, Signal::Candidate { candidate }).await
            }
            ClientFrame::PttState { active } => self.update_voice(|p| p.speaking = active && !p.muted).await,
            ClientFrame::SetMute { muted } => {
                self.update_voice(|p| {
                    p.muted = muted || p.deafened;
                    p.speaking &= !p.muted;
                })
                .await
            }
            ClientFrame::CallDecline { channel_id } => self.call_decline(channel_id).await,
            ClientFrame::SetDeafen { deafened } => {
                self.update_voice(|p| {
                    p.deafened = deafened;
                    p.muted |= deafened;
                    p.speaking &= !p.muted;
                })
                .await
            }
        };
        match result {
            Ok(()) => Ok(()),
            Err(Refusal(code, message)) => self.reply(&ControlFrame::Error { op: op.into(), code, message }),
        }
    }

    async fn typing(&self, channel_id: Id) -> Result<(), Refusal> {
        let mut conn = self.state.db.pool().acquire().await?;
        let channel = access::visible_channel(&mut conn, &self.caller, channel_id).await?;
        channel.ensure_can_post(&self.caller)?;
        access::ensure_not_timed_out(&mut conn, &self.caller).await?;
        access::ensure_not_blocked(&mut conn, &self.caller, &channel).await?;
        // The connection already held answers this too: a second one from the pool on
        // every typing op would double its load and, with the pool drained, wait forever.
        let audience = access::audience(&mut conn, Scope::of(channel.channel())).await?;
        let event = Event::TypingStart {
            channel_id,
            user_id: self.caller.id(),
            expires_at: now_ms() + TYPING_TTL_MS,
        };
        let envelope = Envelope { audience, event, skip_user: Some(self.caller.id()) };
        self.state.bus.publish(BusMessage::Event(envelope)).await;
        Ok(())
    }

    async fn presence(&self, status: PresenceStatus) -> Result<(), Refusal> {
        if status == PresenceStatus::Offline {
            return Err(refuse(
                ErrorCode::ValidationFailed,
                "offline is decided by the server; close the connection",
            ));
        }
        for message in self.state.gateway.hub.set_status(self.session_id, status) {
            self.state.bus.publish(message).await;
        }
        Ok(())
    }

    async fn voice_join(&self, channel_id: Id) -> Result<(), Refusal> {
        if !self.state.feature_flags().await?.voice {
            return Err(refuse(ErrorCode::FeatureDisabled, "voice is switched off on this server"));
        }
        let mut conn = self.state.db.pool().acquire().await?;
        let channel = access::visible_channel(&mut conn, &self.caller, channel_id).await?;
        channel.ensure_can_join_voice()?;
        access::ensure_not_timed_out(&mut conn, &self.caller).await?;
        // A call in a direct message rings the others; their list is read now, while the
        // connection is at hand.
        let dm_others = if channel.is_dm() {
            let mut people = store::dms::participants(&mut *conn, channel_id).await?;
            people.retain(|id| *id != self.caller.id());
            Some(people)
        } else {
            None
        };
        drop(conn);
        let hub = &self.state.gateway.hub;
        if let Some((current, _)) = hub.voice_of(self.session_id) {
            if current == channel_id {
                return Err(refuse(ErrorCode::Conflict, "already in this voice room"));
            }
        }
        let (mut room, current_route) = hub.voice_room_route(channel_id);
        room.participants.retain(|p| p.user_id != self.caller.id());
        // The first one in a direct message's room starts a call.
        let rings = dm_others.filter(|_| room.participants.is_empty());
        let policy = hub.voice_policy();
        if room.participants.len() >= policy.room_max {
            return Err(Refusal(
                ErrorCode::RoomFull,
                format!("this voice room holds {} people already", policy.room_max),
            ));
        }
        // One room per user: joining here moves them out of wherever else they are,
        // on this connection or another device.
        for leave in hub.voice_leaves_of_user(self.caller.id()) {
            self.state.bus.publish(leave).await;
        }
        let audience = announce::audience_of(&self.state, Scope::of(channel.channel())).await?;
        let me = VoiceParticipant {
            session_id: self.session_id,
            user_id: self.caller.id(),
            muted: false,
            deafened: false,
            speaking: false,
            joined_at: now_ms(),
        };
        room.participants.push(me.clone());
        let ice = crate::voice::ice::for_user(&self.state, self.caller.id()).await?;
        let pinned = channel.channel().voice_mode;
        let route = self.route_after_join(channel_id, current_route, pinned, room.participants.len()).await;
        let joined = ControlFrame::VoiceJoined {
            room,
            ice_servers: ice.ice_servers,
            ice_transport_policy: ice.ice_transport_policy,
            self_session_id: self.session_id,
            mode: route.mode,
            sfu_session_id: route.sfu_session_id(),
        };
        self.reply(&joined).map_err(|_| refuse(ErrorCode::Internal, "connection is closing"))?;
        self.publish_voice(channel_id, me.clone(), false, Some(audience)).await;
        self.settle_voice(Some(channel_id)).await;
        if let Some(user_ids) = rings {
            self.ring(channel_id, user_ids).await;
        }
        // A removal committed after the check above may have reached the hubs before
        // this join did, and found nobody to remove: now that the join is on the bus,
        // check again and leave if the right is gone. The join is already answered, so
        // a failed check is not an error here; signaling checks again anyway.
        if let Ok(false) = self.may_stay(channel_id).await {
            self.publish_voice(channel_id, me, true, None).await;
        }
        Ok(())
    }

    /// Rings the other participants of a direct message whose call the caller started.
    /// Ringing needs no state on the server: it ends by itself at `expires_at`, and
    /// clients stop early when the room empties or the call is joined or declined.
    async fn ring(&self, channel_id: Id, user_ids: Vec<Id>) {
        let ring_ms =
            i64::try_from(self.state.config.voice.dm_call_ring_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        let event = Event::CallRing {
            channel_id,
            from_user_id: self.caller.id(),
            expires_at: now_ms().saturating_add(ring_ms),
        };
        let envelope = Envelope { audience: Audience::Users { user_ids }, event, skip_user: None };
        self.state.bus.publish(BusMessage::Event(envelope)).await;
    }

    /// Declines a call in a direct message the caller takes part in: everyone in it hears
    /// who declined (the caller of the call learns it; the decliner's other sessions stop
    /// ringing).
    async fn call_decline(&self, channel_id: Id) -> Result<(), Refusal> {
        let mut conn = self.state.db.pool().acquire().await?;
        let channel = access::visible_channel(&mut conn, &self.caller, channel_id).await?;
        if !channel.is_dm() {
            return Err(refuse(ErrorCode::ValidationFailed, "only calls in direct messages ring"));
        }
        let user_ids = store::dms::participants(&mut *conn, channel_id).await?;
        drop(conn);
        let event = Event::CallDeclined { channel_id, user_id: self.caller.id() };
        let envelope = Envelope { audience: Audience::Users { user_ids }, event, skip_user: None };
        self.state.bus.publish(BusMessage::Event(envelope)).await;
        Ok(())
    }

    /// The room's route once this join makes it `size` strong; a change is published
    /// before the join, so the members move as the newcomer arrives. The node of the
    /// join that moves a room to the SFU hosts it.
    async fn route_after_join(
        &self,
        channel_id: Id,
        current: RoomRoute,
        pinned: Option<RoomMode>,
        size: usize,
    ) -> RoomRoute {
        let hub = &self.state.gateway.hub;
        let mode = hub.voice_policy().mode_for(pinned, current.mode, size);
        let route = current.moved(mode, pinned, || self.state.ids.next(), hub.node());
        if route != current {
            self.state.bus.publish(BusMessage::VoiceRoute { channel_id, route }).await;
        }
        route
    }

    async fn may_stay(&self, channel_id: Id) -> Result<bool, Refusal> {
        let mut conn = self.state.db.pool().acquire().await?;
        Ok(access::may_stay_in_voice(&mut conn, &self.caller, channel_id).await?)
    }

    async fn voice_leave(&self) -> Result<(), Refusal> {
        let (channel_id, me) = self.my_room()?;
        self.publish_voice(channel_id, me, true, None).await;
        self.settle_voice(None).await;
        Ok(())
    }

    /// Waits for this session's own join or leave to come back from the bus. A client
    /// acts on `voice_joined` at once (an offer to the SFU), or joins again right after
    /// leaving; its next op is read only after this one returns, so it then finds itself
    /// where it asked to be (and the room's route with it).
    async fn settle_voice(&self, channel_id: Option<Id>) {
        let hub = &self.state.gateway.hub;
        if !hub.voice_settled(self.session_id, channel_id, VOICE_SETTLES_WITHIN).await {
            tracing::warn!(?channel_id, session_id = %self.session_id, "own voice change not applied in time");
        }
    }

    fn my_room(&self) -> Result<(Id, VoiceParticipant), Refusal> {
        self.state
            .gateway
            .hub
            .voice_of(self.session_id)
            .ok_or_else(|| refuse(ErrorCode::NotFound, "not in a voice room"))
    }

    async fn update_voice(&mut self, change: impl FnOnce(&mut VoiceParticipant)) -> Result<(), Refusal> {
        if !self.signaling.spend() {
            return Err(refuse(ErrorCode::RateLimited, "too many voice updates"));
        }
        let (channel_id, mut me) = self.my_room()?;
        change(&mut me);
        self.publish_voice(channel_id, me, false, None).await;
        Ok(())
    }

    /// Signaling goes only to the named peer, or the room's SFU, only within the
    /// sender's room, and only while the sender may still be there: rights are
    /// re-checked against the database here too, so a session whose removal the room
    /// never applied cannot negotiate a new connection; it is taken out of the room
    /// instead.
    async fn relay(&mut self, to: Id, signal: Signal) -> Result<(), Refusal> {
        if !self.signaling.spend() {
            return Err(refuse(ErrorCode::RateLimited, "too much signaling"));
        }
        let (channel_id, me) = self.my_room()?;
        let hub = &self.state.gateway.hub;
        let sfu = hub.voice_room_route(channel_id).1.sfu.filter(|place| place.sfu_session_id == to);
        let peer_room = hub.voice_of(to).map(|(c, _)| c);
        if sfu.is_none() && (peer_room != Some(channel_id) || to == self.session_id) {
            return Err(refuse(ErrorCode::NotFound, "that peer is not in your voice room"));
        }
        if !self.may_stay(channel_id).await? {
            self.publish_voice(channel_id, me, true, None).await;
            return Err(refuse(ErrorCode::Forbidden, "you may no longer be in this voice room"));
        }
        let (session_id, user_id) = (self.session_id, self.caller.id());
        let Some(place) = sfu else {
            let event = signal.into_event(session_id, user_id);
            let envelope =
                Envelope { audience: Audience::Sessions { session_ids: vec![to] }, event, skip_user: None };
            self.state.bus.publish(BusMessage::Event(envelope)).await;
            return Ok(());
        };
        signal.check().map_err(|message| refuse(ErrorCode::ValidationFailed, &message))?;
        let signal = SfuSignal { channel_id, sfu_session_id: to, session_id, user_id, signal };
        if place.node == hub.node() {
            hub.sfu().signal(signal);
        } else {
            self.state.bus.publish(BusMessage::Sfu { node: place.node, signal }).await;
        }
        Ok(())
    }

    async fn publish_voice(
        &self,
        channel_id: Id,
        participant: VoiceParticipant,
        left: bool,
        audience: Option<Audience>,
    ) {
        let change =
            VoiceChange { node: self.state.gateway.hub.node(), channel_id, participant, left, audience };
        self.state.bus.publish(BusMessage::Voice(change)).await;
    }
}

fn op_name(frame: &ClientFrame) -> &'static str {
    match frame {
        ClientFrame::Identify { .. } => "identify",
        ClientFrame::CallDecline { .. } => "call_decline",
        ClientFrame::Resume { .. } => "resume",
        ClientFrame::Heartbeat => "heartbeat",
        ClientFrame::TypingStart { .. } => "typing_start",
        ClientFrame::SetPresence { .. } => "set_presence",
        ClientFrame::VoiceJoin { .. } => "voice_join",
        ClientFrame::VoiceLeave => "voice_leave",
        ClientFrame::SdpOffer { .. } => "sdp_offer",
        ClientFrame::SdpAnswer { .. } => "sdp_answer",
        ClientFrame::IceCandidate { .. } => "ice_candidate",
        ClientFrame::PttState { .. } => "ptt_state",
        ClientFrame::SetMute { .. } => "set_mute",
        ClientFrame::SetDeafen { .. } => "set_deafen",
    }
}
