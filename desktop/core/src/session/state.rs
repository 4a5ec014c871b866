//! The client's picture of the server: built from a `ready` snapshot, kept current by
//! applying events in order.

use std::collections::{BTreeMap, HashMap, VecDeque};

use cromulent_protocol::channel::ChannelListEntry;
use cromulent_protocol::feature_flag::FeatureFlags;
use cromulent_protocol::gateway::{Event, PresenceStatus, ReadySnapshot};
use cromulent_protocol::message::{Mention, Message};
use cromulent_protocol::user::{OwnUser, User};
use cromulent_protocol::voice::VoiceRoom;
use cromulent_protocol::Id;

/// Messages kept per channel; older ones are paged in over REST when needed.
pub const RECENT_MESSAGES: usize = 200;

/// Everything the UI shows, as of the last applied event.
#[derive(Debug, Clone)]
pub struct SessionState {
    pub user: OwnUser,
    pub users: HashMap<Id, User>,
    /// Visible channels with membership, read marker and unread/mention counts.
    pub channels: BTreeMap<Id, ChannelListEntry>,
    /// The most recent messages per channel, oldest first (only channels someone
    /// looked at or that had traffic since connecting).
    pub messages: HashMap<Id, VecDeque<Message>>,
    pub presences: HashMap<Id, PresenceStatus>,
    /// Voice rooms with at least one participant, by channel.
    pub voice_rooms: HashMap<Id, VoiceRoom>,
    pub feature_flags: FeatureFlags,
}

impl SessionState {
    pub fn from_ready(ready: &ReadySnapshot) -> Self {
        SessionState {
            user: ready.user.clone(),
            users: ready.users.iter().map(|u| (u.id, u.clone())).collect(),
            channels: ready.channels.iter().map(|c| (c.channel.id, c.clone())).collect(),
            messages: HashMap::new(),
            presences: ready.presences.iter().map(|p| (p.user_id, p.status)).collect(),
            voice_rooms: ready.voice_rooms.iter().map(|r| (r.channel_id, r.clone())).collect(),
            feature_flags: ready.feature_flags,
        }
    }

    /// A channel by name (without `#`).
    pub fn channel_named(&self, name: &str) -> Option<&ChannelListEntry> {
        self.channels.values().find(|c| c.channel.name == name)
    }

    /// A user's display name, else username, else the id.
    pub fn user_name(&self, id: Id) -> String {
        match self.users.get(&id) {
            Some(user) => user.display_name.clone().unwrap_or_else(|| user.username.clone()),
            None => id.to_string(),
        }
    }

    /// Puts a page of history (any order) into the cache, keeping ids unique and sorted.
    pub fn merge_messages(&mut self, channel_id: Id, page: Vec<Message>) {
        let list = self.messages.entry(channel_id).or_default();
        let mut all: BTreeMap<Id, Message> = list.drain(..).map(|m| (m.id, m)).collect();
        all.extend(page.into_iter().map(|m| (m.id, m)));
        let skip = all.len().saturating_sub(RECENT_MESSAGES);
        list.extend(all.into_values().skip(skip));
    }

    /// Applies one event. Events the state does not track (typing, notifications,
    /// voice signaling) leave it unchanged.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::MessageCreate { message } => self.message_created(message),
            Event::MessageUpdate { message } => {
                if let Some(old) = self.cached_mut(message.channel_id, message.id) {
                    *old = message.clone();
                }
            }
            Event::MessageDelete { channel_id, message_id } => {
                if let Some(list) = self.messages.get_mut(channel_id) {
                    list.retain(|m| m.id != *message_id);
                }
            }
            Event::ChannelCreate { channel } => {
                self.channels.entry(channel.id).or_insert_with(|| ChannelListEntry {
                    channel: channel.clone(),
                    is_member: false,
                    last_message_id: None,
                    last_read_message_id: None,
                    unread_count: 0,
                    mention_count: 0,
                });
            }
            Event::ChannelUpdate { channel } => match self.channels.get_mut(&channel.id) {
                Some(entry) => entry.channel = channel.clone(),
                None => self.apply(&Event::ChannelCreate { channel: channel.clone() }),
            },
            Event::ChannelDelete { channel_id } => {
                self.channels.remove(channel_id);
                self.messages.remove(channel_id);
                self.voice_rooms.remove(channel_id);
            }
            Event::MemberJoin { channel_id, user_id } | Event::MemberLeave { channel_id, user_id }
                if *user_id == self.user.user.id =>
            {
                if let Some(entry) = self.channels.get_mut(channel_id) {
                    entry.is_member = matches!(event, Event::MemberJoin { .. });
                }
            }
            Event::ReadStateUpdate { read_state } => {
                let cached = self.messages.get(&read_state.channel_id);
                let me = self.user.user.id;
                if let Some(entry) = self.channels.get_mut(&read_state.channel_id) {
                    entry.last_read_message_id = read_state.last_read_message_id;
                    // Counted from the cache: exact when every unread message is cached,
                    // which holds for the usual case of reading up to the newest one.
                    let after =
                        |m: &&Message| Some(m.id) > read_state.last_read_message_id && m.author_id != me;
                    entry.unread_count = cached.map_or(0, |list| list.iter().filter(after).count() as i64);
                    entry.mention_count = cached.map_or(0, |list| {
                        list.iter().filter(after).filter(|m| mentions(m, me)).count() as i64
                    });
                }
            }
            Event::PresenceUpdate { user_id, status } => {
                self.presences.insert(*user_id, *status);
            }
            Event::UserUpdate { user } => {
                if user.id == self.user.user.id {
                    self.user.user = user.clone();
                }
                self.users.insert(user.id, user.clone());
            }
            Event::FeatureFlagsUpdate { feature_flags } => self.feature_flags = *feature_flags,
            Event::VoiceStateUpdate { channel_id, participant, left } => {
                let room = self
                    .voice_rooms
                    .entry(*channel_id)
                    .or_insert_with(|| VoiceRoom { channel_id: *channel_id, participants: Vec::new() });
                room.participants.retain(|p| p.session_id != participant.session_id);
                if !left {
                    room.participants.push(participant.clone());
                }
                if room.participants.is_empty() {
                    self.voice_rooms.remove(channel_id);
                }
            }
            _ => {}
        }
    }

    fn message_created(&mut self, message: &Message) {
        let me = self.user.user.id;
        if let Some(entry) = self.channels.get_mut(&message.channel_id) {
            entry.last_message_id = entry.last_message_id.max(Some(message.id));
            if message.author_id != me {
                entry.unread_count += 1;
                if mentions(message, me) {
                    entry.mention_count += 1;
                }
            }
        }
        let list = self.messages.entry(message.channel_id).or_default();
        if !list.iter().any(|m| m.id == message.id) {
            list.push_back(message.clone());
            if list.len() > RECENT_MESSAGES {
                list.pop_front();
            }
        }
    }

    fn cached_mut(&mut self, channel_id: Id, message_id: Id) -> Option<&mut Message> {
        self.messages.get_mut(&channel_id)?.iter_mut().find(|m| m.id == message_id)
    }
}

/// Whether a message mentions `me` directly or by @here/@everyone (group mentions need
/// group membership, which the client does not track).
fn mentions(message: &Message, me: Id) -> bool {
    message.mentions.iter().any(|m| match m {
        Mention::User { user_id } => *user_id == me,
        Mention::Here | Mention::Everyone => true,
        Mention::Group { .. } => false,
    })
}
