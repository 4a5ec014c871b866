//! The hub: every gateway session on this node, and the routing of bus messages to them.
//!
//! All state sits behind one std mutex held only for short, non-async sections. Each
//! session keeps its replay buffer here, so events are numbered and kept whether or not
//! a connection is attached; delivery to a connection never waits (`try_send`), and a
//! connection whose queue is full is closed as a slow consumer and may resume.

mod voice;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::{close_code, Presence, PresenceStatus};
use cromulent_protocol::voice::VoiceRoom;
use cromulent_protocol::Id;
use tokio::sync::{mpsc, watch, Notify};

use crate::bus::{Audience, BusMessage, Envelope, VoiceChange};
use crate::gateway::nodes::NodeBook;
use crate::gateway::presence::PresenceBook;
use crate::gateway::replay::ReplayBuffer;
use crate::ids::IdGenerator;
use crate::voice::rooms::VoiceRooms;
use crate::voice::route::{RoomRoute, RoutePolicy};
use crate::voice::sfu::Sfu;

/// What a connection's writer sends.
#[derive(Debug)]
pub enum Outbound {
    /// A serialized event without its `seq`; the writer adds it.
    Event(u64, Arc<str>),
    /// A serialized control frame.
    Control(String),
}

/// The hub's end of one connection.
#[derive(Debug, Clone)]
pub struct Link {
    pub id: u64,
    pub tx: mpsc::Sender<Outbound>,
    /// Set to a close code to end the connection.
    pub close: watch::Sender<Option<u16>>,
}

impl Link {
    fn shut(&self, code: u16) {
        let _ = self.close.send(Some(code));
    }
}

#[derive(Debug)]
struct Slot {
    user_id: Id,
    login_id: Id,
    is_admin: bool,
    status: PresenceStatus,
    replay: ReplayBuffer,
    link: Option<Link>,
    detached_at: Option<Instant>,
    /// False once detached past the heartbeat timeout: no longer counts as present.
    present: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct HubLimits {
    pub replay_events: usize,
    pub replay_bytes: usize,
    /// A detached session stops counting as present and leaves voice after this.
    pub heartbeat_timeout: Duration,
    /// A detached session can be resumed for this long.
    pub resume_window: Duration,
    /// Another node not heard for this long is taken for dead.
    pub node_timeout: Duration,
}

#[derive(Debug, Default)]
struct HubState {
    sessions: HashMap<Id, Slot>,
    by_user: HashMap<Id, HashSet<Id>>,
    presence: PresenceBook,
    voice: VoiceRooms,
    nodes: NodeBook,
}

/// What attaching yields: the events to send first (with their seq), and what to
/// publish on the bus.
pub type Attached = (Vec<(u64, Arc<str>)>, Vec<BusMessage>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResumeError {
    #[error("unknown or expired session")]
    Unknown,
    #[error("events were dropped since then")]
    Gap,
}

/// Who a session belongs to, for registration.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    pub user_id: Id,
    pub login_id: Id,
    pub is_admin: bool,
}

/// The voice media this node serves: its SFU and the settings that pick a room's mode.
#[derive(Debug, Clone)]
pub struct HubVoice {
    pub sfu: Sfu,
    pub policy: RoutePolicy,
    /// Names a new SFU peer when this node takes over a room whose node died.
    pub ids: Arc<IdGenerator>,
}

#[derive(Debug)]
pub struct Hub {
    node: u16,
    limits: HubLimits,
    voice: HubVoice,
    state: Mutex<HubState>,
    /// Woken after each voice room change this node applies, for a join waiting to
    /// see itself in the room.
    voice_applied: Notify,
}

impl Hub {
    pub fn new(node: u16, limits: HubLimits, voice: HubVoice) -> Self {
        Self { node, limits, voice, state: Mutex::new(HubState::default()), voice_applied: Notify::new() }
    }

    pub fn node(&self) -> u16 {
        self.node
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().expect("hub lock is never poisoned")
    }

    /// A new session, detached: events for it are numbered and kept from now on.
    pub fn register(&self, session_id: Id, owner: Owner) {
        let mut state = self.lock();
        state.by_user.entry(owner.user_id).or_default().insert(session_id);
        state.sessions.insert(
            session_id,
            Slot {
                user_id: owner.user_id,
                login_id: owner.login_id,
                is_admin: owner.is_admin,
                status: PresenceStatus::Online,
                replay: ReplayBuffer::new(self.limits.replay_events, self.limits.replay_bytes),
                link: None,
                detached_at: Some(Instant::now()),
                present: false,
            },
        );
    }

    /// Attaches a connection and returns the events it must be sent first (those after
    /// `last_seq`), plus bus messages to publish. The caller writes the returned events
    /// before anything from the link's queue, which keeps the order.
    pub fn attach(
        &self,
        session_id: Id,
        user_id: Id,
        last_seq: u64,
        link: Link,
    ) -> Result<Attached, ResumeError> {
        let mut state = self.lock();
        let slot = state
            .sessions
            .get_mut(&session_id)
            .filter(|s| s.user_id == user_id)
            .ok_or(ResumeError::Unknown)?;
        let missed = slot.replay.since(last_seq).ok_or(ResumeError::Gap)?;
        if let Some(old) = slot.link.replace(link) {
            old.shut(close_code::NORMAL);
        }
        slot.detached_at = None;
        slot.present = true;
        let follow = self.refresh_presence(&mut state, user_id);
        Ok((missed, follow))
    }

    /// The connection `link_id` has ended; the session waits to be resumed.
    pub fn detach(&self, session_id: Id, link_id: u64) {
        let mut state = self.lock();
        if let Some(slot) = state.sessions.get_mut(&session_id) {
            if slot.link.as_ref().is_some_and(|l| l.id == link_id) {
                slot.link = None;
                slot.detached_at = Some(Instant::now());
            }
        }
    }

    pub fn set_status(&self, session_id: Id, status: PresenceStatus) -> Vec<BusMessage> {
        let mut state = self.lock();
        let Some(slot) = state.sessions.get_mut(&session_id) else { return Vec::new() };
        slot.status = status;
        let user = slot.user_id;
        self.refresh_presence(&mut state, user)
    }

    /// Ages detached sessions: past the heartbeat timeout they go offline and leave
    /// voice; past the resume window they are forgotten. Returns what to publish.
    pub fn sweep(&self) -> Vec<BusMessage> {
        let mut state = self.lock();
        let now = Instant::now();
        let mut gone_quiet = Vec::new();
        let mut expired = Vec::new();
        for (id, slot) in &mut state.sessions {
            let Some(since) = slot.detached_at else { continue };
            let idle_for = now.duration_since(since);
            if idle_for >= self.limits.resume_window {
                expired.push(*id);
            } else if slot.present && idle_for >= self.limits.heartbeat_timeout {
                slot.present = false;
                gone_quiet.push((*id, slot.user_id));
            }
        }
        let mut follow = Vec::new();
        for (session, user) in gone_quiet {
            follow.extend(self.refresh_presence(&mut state, user));
            follow.extend(self.leave_voice(&state, session));
        }
        for session in expired {
            follow.extend(self.remove(&mut state, session, close_code::NORMAL));
        }
        for node in state.nodes.silent(now, self.limits.node_timeout) {
            tracing::warn!(node, "node not heard from; taking it for dead");
            follow.extend(self.node_gone(&mut state, node));
        }
        follow
    }

    /// Applies one bus message; returns what this node must publish in turn.
    pub fn handle(&self, message: &BusMessage) -> Vec<BusMessage> {
        let mut state = self.lock();
        match message {
            BusMessage::Event(envelope) => {
                self.deliver(&mut state, envelope);
                Vec::new()
            }
            BusMessage::Presence { node, user_id, status } => {
                if *node != self.node {
                    if let Some(announce) = state.presence.set_remote(*node, *user_id, *status) {
                        self.announce_presence(&mut state, *user_id, announce);
                    }
                }
                Vec::new()
            }
            BusMessage::Voice(change) => {
                let follow = self.apply_voice(&mut state, change);
                self.voice_applied.notify_waiters();
                follow
            }
            BusMessage::VoiceAccess { channel_id, access } => {
                self.apply_voice_access(&mut state, *channel_id, access)
            }
            BusMessage::VoiceRoute { channel_id, route } => {
                self.apply_route(&mut state, *channel_id, *route);
                Vec::new()
            }
            BusMessage::NodeAlive { node } => {
                if *node != self.node {
                    state.nodes.heard(*node, Instant::now());
                }
                Vec::new()
            }
            BusMessage::NodeLeft { node } => {
                if *node != self.node && state.nodes.forget(*node) {
                    tracing::info!(node, "node left");
                    return self.node_gone(&mut state, *node);
                }
                Vec::new()
            }
            BusMessage::Sfu { node, signal } => {
                if *node == self.node {
                    self.voice.sfu.signal(signal.clone());
                }
                Vec::new()
            }
            BusMessage::EndLogin { login_id } => self.end_sessions(&mut state, |s| s.login_id == *login_id),
            BusMessage::EndUserLogins { user_id, keep_login } => {
                self.end_sessions(&mut state, |s| s.user_id == *user_id && Some(s.login_id) != *keep_login)
            }
            BusMessage::EndAccount { user_id } => {
                self.end_sessions_with(&mut state, |s| s.user_id == *user_id, close_code::ACCOUNT_DELETED)
            }
            BusMessage::RoleChange { user_id, is_admin } => {
                let sessions: Vec<Id> = state.by_user.get(user_id).into_iter().flatten().copied().collect();
                for id in sessions {
                    if let Some(slot) = state.sessions.get_mut(&id) {
                        slot.is_admin = *is_admin;
                    }
                }
                Vec::new()
            }
        }
    }

    /// Closes and forgets every session `ended` picks: their login is over.
    fn end_sessions(&self, state: &mut HubState, ended: impl Fn(&Slot) -> bool) -> Vec<BusMessage> {
        self.end_sessions_with(state, ended, close_code::SESSION_REVOKED)
    }

    /// Like [`Self::end_sessions`], closing with `code`.
    fn end_sessions_with(
        &self,
        state: &mut HubState,
        ended: impl Fn(&Slot) -> bool,
        code: u16,
    ) -> Vec<BusMessage> {
        let ids: Vec<Id> = state.sessions.iter().filter(|(_, s)| ended(s)).map(|(id, _)| *id).collect();
        ids.into_iter().flat_map(|id| self.remove(state, id, code)).collect()
    }

    fn remove(&self, state: &mut HubState, session_id: Id, code: u16) -> Vec<BusMessage> {
        let mut follow = self.leave_voice(state, session_id);
        let Some(slot) = state.sessions.remove(&session_id) else { return follow };
        if let Some(link) = &slot.link {
            link.shut(code);
        }
        if let Some(set) = state.by_user.get_mut(&slot.user_id) {
            set.remove(&session_id);
            if set.is_empty() {
                state.by_user.remove(&slot.user_id);
            }
        }
        follow.extend(self.refresh_presence(state, slot.user_id));
        follow
    }

    fn refresh_presence(&self, state: &mut HubState, user_id: Id) -> Vec<BusMessage> {
        let statuses: Vec<PresenceStatus> = state
            .by_user
            .get(&user_id)
            .into_iter()
            .flatten()
            .filter_map(|id| state.sessions.get(id))
            .filter(|s| s.present)
            .map(|s| s.status)
            .collect();
        let change = state.presence.set_local(user_id, super::presence::best(statuses));
        if let Some(announce) = change.announce {
            self.announce_presence(state, user_id, announce);
        }
        change
            .report_local
            .map(|status| BusMessage::Presence { node: self.node, user_id, status })
            .into_iter()
            .collect()
    }

    /// A node died or left: its users' presence there ends, and its voice goes too.
    fn node_gone(&self, state: &mut HubState, node: u16) -> Vec<BusMessage> {
        for (user_id, status) in state.presence.forget_node(node) {
            self.announce_presence(state, user_id, status);
        }
        self.voice_node_gone(state, node)
    }

    fn announce_presence(&self, state: &mut HubState, user_id: Id, status: PresenceStatus) {
        let envelope = Envelope {
            audience: Audience::Everyone,
            event: Event::PresenceUpdate { user_id, status },
            skip_user: None,
        };
        self.deliver(state, &envelope);
    }

    fn deliver(&self, state: &mut HubState, envelope: &Envelope) {
        let payload: Arc<str> = match serde_json::to_string(&envelope.event) {
            Ok(json) => json.into(),
            Err(e) => {
                tracing::error!(error = %e, "event not serializable");
                return;
            }
        };
        for id in targets(state, &envelope.audience) {
            let Some(slot) = state.sessions.get_mut(&id) else { continue };
            if envelope.skip_user == Some(slot.user_id) {
                continue;
            }
            let seq = slot.replay.push(payload.clone());
            if let Some(link) = &slot.link {
                if link.tx.try_send(Outbound::Event(seq, payload.clone())).is_err() {
                    // Slow consumer: cut it loose; the replay buffer still holds what
                    // it missed, so it can resume.
                    tracing::info!(session_id = %id, "slow consumer disconnected");
                    link.shut(close_code::SLOW_CONSUMER);
                    slot.link = None;
                    slot.detached_at = Some(Instant::now());
                }
            }
        }
    }

    /// Users with a session anywhere that is not offline (what `@here` reaches).
    pub fn online_users(&self) -> std::collections::BTreeSet<Id> {
        self.lock().presence.all().into_iter().map(|p| p.user_id).collect()
    }

    pub fn presences(&self) -> Vec<Presence> {
        self.lock().presence.all()
    }

    pub fn voice_rooms(&self) -> Vec<VoiceRoom> {
        self.lock().voice.rooms()
    }

    pub fn voice_room(&self, channel_id: Id) -> VoiceRoom {
        self.lock().voice.room(channel_id)
    }

    /// A room and how it carries audio, read together so they agree.
    pub fn voice_room_route(&self, channel_id: Id) -> (VoiceRoom, RoomRoute) {
        let state = self.lock();
        (state.voice.room(channel_id), state.voice.route(channel_id))
    }

    pub fn voice_policy(&self) -> RoutePolicy {
        self.voice.policy
    }

    pub fn sfu(&self) -> &Sfu {
        &self.voice.sfu
    }

    /// The room a session is in and its state there.
    /// Waits until this node's view puts `session_id` in room `channel_id` (`None`: in
    /// no room), at most `within`; false if that did not happen.
    pub async fn voice_settled(&self, session_id: Id, channel_id: Option<Id>, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let applied = self.voice_applied.notified();
            tokio::pin!(applied);
            // Registered before looking, so a change applied in between still wakes us.
            applied.as_mut().enable();
            if self.voice_of(session_id).map(|(c, _)| c) == channel_id {
                return true;
            }
            if tokio::time::timeout_at(deadline, applied).await.is_err() {
                return false;
            }
        }
    }

    pub fn voice_of(&self, session_id: Id) -> Option<(Id, cromulent_protocol::voice::VoiceParticipant)> {
        self.lock().voice.find_session(session_id).map(|(c, p)| (c, p.clone()))
    }

    /// Bus messages that take every session of `user_id` out of its voice room, on any
    /// node: for a join elsewhere (one room per user) or a moderator's timeout.
    pub fn voice_leaves_of_user(&self, user_id: Id) -> Vec<BusMessage> {
        self.lock()
            .voice
            .sessions_of_user(user_id)
            .into_iter()
            .map(|(channel_id, participant)| {
                BusMessage::Voice(VoiceChange {
                    node: self.node,
                    channel_id,
                    participant,
                    left: true,
                    audience: None,
                })
            })
            .collect()
    }

    /// Gateway sessions this node holds, attached or detached.
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }
}

/// The sessions on this node that `audience` reaches.
fn targets(state: &HubState, audience: &Audience) -> Vec<Id> {
    match audience {
        Audience::Sessions { session_ids } => session_ids.clone(),
        Audience::Users { user_ids } => {
            user_ids.iter().flat_map(|u| state.by_user.get(u).into_iter().flatten().copied()).collect()
        }
        Audience::Everyone | Audience::Channel { private_members: None, .. } => {
            state.sessions.keys().copied().collect()
        }
        Audience::Channel { private_members: Some(members), .. } => state
            .sessions
            .iter()
            .filter(|(_, s)| s.is_admin || members.contains(&s.user_id))
            .map(|(id, _)| *id)
            .collect(),
    }
}
