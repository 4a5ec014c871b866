//! The client's picture of the server: built from a `ready` snapshot, kept current by
//! applying events in order.

use std::collections::{BTreeMap, HashMap, VecDeque};

use cromulent_protocol::channel::ChannelListEntry;
use cromulent_protocol::feature_flag::FeatureFlags;
use cromulent_protocol::gateway::{Event, PresenceStatus, ReadySnapshot};
use cromulent_protocol::message::{Mention, Message, Reaction};
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
    /// groups, voice signaling) leave it unchanged; each is named below, with no
    /// catch-all, so a new event does not compile until someone decides what it changes.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::MessageCreate { message } => self.message_created(message),
            Event::MessageUpdate { message } => {
                if let Some(old) = self.cached_mut(message.channel_id, message.id) {
                    // An event's reactions cannot say which are ours; the cached ones can.
                    let reactions = std::mem::take(&mut old.reactions);
                    *old = Message { reactions, ..message.clone() };
                }
            }
            Event::MessageDelete { channel_id, message_id } => {
                if let Some(list) = self.messages.get_mut(channel_id) {
                    list.retain(|m| m.id != *message_id);
                    for reply in list.iter_mut() {
                        if let Some(reference) = reply.reply_to.as_mut().filter(|r| r.id == *message_id) {
                            reference.deleted = true;
                            reference.excerpt.clear();
                        }
                    }
                }
            }
            Event::ReactionAdd { channel_id, message_id, user_id, emoji }
            | Event::ReactionRemove { channel_id, message_id, user_id, emoji } => {
                let added = matches!(event, Event::ReactionAdd { .. });
                let mine = *user_id == self.user.user.id;
                if let Some(message) = self.cached_mut(*channel_id, *message_id) {
                    count_reaction(&mut message.reactions, emoji, mine, added);
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
                    notification_level: Default::default(),
                    muted_until: None,
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
            Event::MemberJoin { channel_id, user_id } | Event::MemberLeave { channel_id, user_id } => {
                // Only the user's own membership is part of the channel list.
                if *user_id == self.user.user.id {
                    if let Some(entry) = self.channels.get_mut(channel_id) {
                        entry.is_member = matches!(event, Event::MemberJoin { .. });
                    }
                }
            }
            Event::NotificationSettingsUpdate { settings } => {
                if let Some(entry) = self.channels.get_mut(&settings.channel_id) {
                    entry.notification_level = settings.level;
                    entry.muted_until = settings.muted_until;
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
            // Shown as they happen (typing, the inbox), not kept: a UI follows them
            // through `Change::Event`.
            Event::TypingStart { .. }
            | Event::PinsUpdate { .. }
            | Event::NotificationCreate { .. }
            | Event::NotificationsRead { .. } => {}
            // A ring is shown while it lasts, as it happens; the call itself is the room's.
            Event::CallRing { .. } | Event::CallDeclined { .. } => {}
            // Groups are not tracked here (see `mentions`).
            Event::GroupUpdate { .. } | Event::GroupDelete { .. } => {}
            // Voice signaling and speaking state belong to the voice engine's call.
            Event::PeerJoined { .. }
            | Event::VoiceModeChanged { .. }
            | Event::PeerLeft { .. }
            | Event::SdpOffer { .. }
            | Event::SdpAnswer { .. }
            | Event::IceCandidate { .. }
            | Event::PttState { .. } => {}
        }
    }

    fn message_created(&mut self, message: &Message) {
        let list = self.messages.entry(message.channel_id).or_default();
        if list.iter().any(|m| m.id == message.id) {
            return; // a replay, or a REST page that raced the event: already accounted for
        }
        list.push_back(message.clone());
        if list.len() > RECENT_MESSAGES {
            list.pop_front();
        }
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
    }

    fn cached_mut(&mut self, channel_id: Id, message_id: Id) -> Option<&mut Message> {
        self.messages.get_mut(&channel_id)?.iter_mut().find(|m| m.id == message_id)
    }
}

/// Counts one reaction in or out of a message's list; an emoji nobody reacts with any
/// more leaves the list, a new one joins at the end (the server's order of first use).
pub fn count_reaction(reactions: &mut Vec<Reaction>, emoji: &str, mine: bool, added: bool) {
    match reactions.iter().position(|r| r.emoji == emoji) {
        Some(at) => {
            let reaction = &mut reactions[at];
            if added {
                reaction.count += 1;
            } else {
                reaction.count = reaction.count.saturating_sub(1);
            }
            if mine {
                reaction.me = added;
            }
            if reaction.count == 0 {
                reactions.remove(at);
            }
        }
        None if added => reactions.push(Reaction { emoji: emoji.to_owned(), count: 1, me: mine }),
        None => {}
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

#[cfg(test)]
mod tests {
    use cromulent_protocol::channel::{ChannelNotificationSettings, NotificationLevel, ReadState};
    use cromulent_protocol::voice::VoiceParticipant;
    use serde_json::json;

    use super::*;

    fn user(id: i64, name: &str) -> serde_json::Value {
        json!({"id": id.to_string(), "username": name, "display_name": null, "avatar_url": null,
               "role": "member", "created_at": 0})
    }

    fn ready() -> SessionState {
        let mut me = user(1, "ada");
        me.as_object_mut().expect("object").extend([
            ("email".to_owned(), json!("ada@example.test")),
            ("email_confirmed".to_owned(), json!(true)),
            ("voice_mode".to_owned(), json!("ptt")),
            ("vad_threshold_db".to_owned(), json!(-40.0)),
        ]);
        let snapshot: ReadySnapshot = serde_json::from_value(json!({
            "user": me,
            "users": [user(1, "ada"), user(2, "bob")],
            "channels": [{"id": "10", "name": "general", "kind": "text", "topic": null, "is_default": true,
                          "is_private": false, "write_permission": "everyone", "created_at": 0,
                          "is_member": true, "last_message_id": null, "last_read_message_id": null,
                          "unread_count": 0, "mention_count": 0}],
            "presences": [],
            "voice_rooms": [],
            "feature_flags": {"voice": true, "registration": "open", "member_invites": false,
                              "link_previews": false, "email_confirmation": false, "turn": true},
        }))
        .expect("a well-formed snapshot");
        SessionState::from_ready(&snapshot)
    }

    fn message(id: i64, author: i64, mentions: Vec<Mention>) -> Message {
        Message {
            id: Id(id),
            channel_id: Id(10),
            author_id: Id(author),
            body: format!("m{id}"),
            nonce: None,
            mentions,
            created_at: 0,
            edited_at: None,
            reply_to: None,
            reactions: vec![],
            attachments: vec![],
        }
    }

    #[test]
    fn unread_and_mentions_follow_messages_and_the_read_marker() {
        let mut state = ready();
        state.apply(&Event::MessageCreate { message: message(100, 2, vec![]) });
        state.apply(&Event::MessageCreate {
            message: message(101, 2, vec![Mention::User { user_id: Id(1) }]),
        });
        state.apply(&Event::MessageCreate { message: message(102, 1, vec![]) });
        state.apply(&Event::MessageCreate { message: message(101, 2, vec![]) });
        let general = &state.channels[&Id(10)];
        assert_eq!(general.unread_count, 2, "others' messages count; one's own and replays do not");
        assert_eq!(state.messages[&Id(10)].len(), 3, "a replayed message is cached once");
        assert_eq!(general.mention_count, 1, "the direct mention counts");

        let read = ReadState { channel_id: Id(10), last_read_message_id: Some(Id(100)) };
        state.apply(&Event::ReadStateUpdate { read_state: read });
        let general = &state.channels[&Id(10)];
        assert_eq!(general.unread_count, 1, "only bob's message after the marker is unread");
        assert_eq!(general.mention_count, 1, "and it is the one that mentions ada");
    }

    #[test]
    fn notification_settings_from_another_device_update_the_channel() {
        let mut state = ready();
        let settings = ChannelNotificationSettings {
            channel_id: Id(10),
            level: NotificationLevel::Nothing,
            muted_until: Some(5_000),
        };
        state.apply(&Event::NotificationSettingsUpdate { settings });
        let general = &state.channels[&Id(10)];
        assert_eq!(
            (general.notification_level, general.muted_until),
            (NotificationLevel::Nothing, Some(5_000)),
            "the level and mute chosen elsewhere are this device's too"
        );
    }

    #[test]
    fn only_the_users_own_membership_changes_the_channel_list() {
        let mut state = ready();
        state.apply(&Event::MemberLeave { channel_id: Id(10), user_id: Id(2) });
        assert!(state.channels[&Id(10)].is_member, "bob leaving does not take ada out");
        state.apply(&Event::MemberLeave { channel_id: Id(10), user_id: Id(1) });
        assert!(!state.channels[&Id(10)].is_member, "ada leaving does");
        state.apply(&Event::MemberJoin { channel_id: Id(10), user_id: Id(1) });
        assert!(state.channels[&Id(10)].is_member, "and joining again makes her a member");
    }

    #[test]
    fn voice_rooms_track_joins_changes_and_leaves() {
        let mut state = ready();
        let mut bob = VoiceParticipant {
            session_id: Id(7),
            user_id: Id(2),
            muted: false,
            deafened: false,
            speaking: false,
            joined_at: 0,
        };
        let update = |p: &VoiceParticipant, left| Event::VoiceStateUpdate {
            channel_id: Id(20),
            participant: p.clone(),
            left,
        };
        state.apply(&update(&bob, false));
        bob.muted = true;
        state.apply(&update(&bob, false));
        let room = &state.voice_rooms[&Id(20)];
        assert_eq!(
            room.participants,
            vec![bob.clone()],
            "a change replaces the participant, never duplicates"
        );
        state.apply(&update(&bob, true));
        assert!(!state.voice_rooms.contains_key(&Id(20)), "an empty room is gone");
    }
}
