// What the client knows: the ready snapshot, kept current by gateway events. Pure
// state transitions only; talking to the server is the controller's job (app.svelte.ts).

import type { ChannelListEntry } from '../generated/ChannelListEntry';
import type { Attachment } from '../generated/Attachment';
import type { ControlFrame } from '../generated/ControlFrame';
import type { EventFrame } from '../generated/EventFrame';
import type { FeatureFlags } from '../generated/FeatureFlags';
import type { Group } from '../generated/Group';
import type { Id } from '../generated/Id';
import type { Message } from '../generated/Message';
import type { Notification } from '../generated/Notification';
import type { Pin } from '../generated/Pin';
import type { Reaction } from '../generated/Reaction';
import type { OwnUser } from '../generated/OwnUser';
import type { PresenceStatus } from '../generated/PresenceStatus';
import type { ServerLimits } from '../generated/ServerLimits';
import type { User } from '../generated/User';
import type { VoiceParticipant } from '../generated/VoiceParticipant';
import { isSilenced } from '../lib/channel-notify';
import { compareIds, maxId } from '../lib/ids';

export type ReadyFrame = Extract<ControlFrame, { type: 'ready' }>;

/** A message the server has not confirmed yet: shown greyed, or red with "retry". */
export interface PendingMessage {
  nonce: string;
  channelId: Id;
  body: string;
  failed: boolean;
  error?: string;
  /** The message it answers, and whether that message's author is notified. */
  replyTo?: { id: Id; notify: boolean };
  /** Files already uploaded, sent by id with the message. */
  attachments: Attachment[];
}

export interface ChannelHistory {
  /** Oldest first. */
  items: Message[];
  /** More history exists before `items[0]`. */
  hasMore: boolean;
  loading: boolean;
  /** The read marker when the channel was opened: the "new messages" divider sits after it. */
  dividerAfter: Id | null;
}

/** The message the composer of a channel answers, and whether its author is notified. */
export interface ReplyDraft {
  message: Message;
  notify: boolean;
}

/** Counts one reaction in or out; an emoji nobody uses any more leaves the list. */
export function countReaction(reactions: Reaction[], emoji: string, mine: boolean, added: boolean): Reaction[] {
  const at = reactions.findIndex((r) => r.emoji === emoji);
  if (at < 0) return added ? [...reactions, { emoji, count: 1, me: mine }] : reactions;
  const old = reactions[at];
  const next = { emoji, count: Math.max(0, old.count + (added ? 1 : -1)), me: mine ? added : old.me };
  return next.count === 0 ? reactions.filter((_, i) => i !== at) : reactions.map((r, i) => (i === at ? next : r));
}

const EMPTY_HISTORY: ChannelHistory = Object.freeze({ items: [], hasMore: true, loading: true, dividerAfter: null }) as ChannelHistory;

export class ChatState {
  me = $state<OwnUser | null>(null);
  users = $state<Record<Id, User>>({});
  channels = $state<ChannelListEntry[]>([]);
  presences = $state<Record<Id, PresenceStatus>>({});
  voiceRooms = $state<Record<Id, VoiceParticipant[]>>({});
  flags = $state<FeatureFlags | null>(null);
  /** This server's settings-made limits, known once `ready` arrived. */
  limits = $state<ServerLimits | null>(null);
  groups = $state<Group[]>([]);
  /**
   * Member ids of the channels whose members panel was opened, kept current by
   * member_join / member_leave. Raw state: replaced whole on change, never proxied,
   * so a 10,000-member list costs one array.
   */
  members = $state.raw<Record<Id, Id[]>>({});
  histories = $state<Record<Id, ChannelHistory>>({});
  pending = $state<PendingMessage[]>([]);
  /** channel → user → expiry (ms since epoch). */
  typing = $state<Record<Id, Record<Id, number>>>({});
  notifications = $state<Notification[]>([]);
  /** Who takes part in each direct message (the reader included), by channel. */
  dmParticipants = $state<Record<Id, Id[]>>({});
  /** Calls ringing the reader, by direct message: who calls and until when (ms). */
  ringing = $state<Record<Id, { from: Id; expiresAt: number }>>({});
  /** Who declined the reader's call, by direct message, until dismissed. */
  declined = $state<Record<Id, Id[]>>({});
  /** Users the reader blocked: their messages are folded away. */
  blocked = $state<Id[]>([]);
  activeChannelId = $state<Id | null>(null);
  /** Per channel: the message being answered in its composer. */
  replies = $state<Record<Id, ReplyDraft>>({});
  /** Per channel whose pins were loaded: its pins, newest first. */
  pins = $state<Record<Id, Pin[]>>({});
  /** A message to bring into view and highlight (a jump to a reply's original). */
  jumpTarget = $state<{ channelId: Id; messageId: Id; seq: number } | null>(null);
  /** The reader is looking at the active channel (tab visible and focused). */
  attentive = $state(true);

  applyReady(frame: ReadyFrame): void {
    this.me = frame.user;
    const users: Record<Id, User> = {};
    for (const u of frame.users) users[u.id] = u;
    users[frame.user.id] = { ...frame.user };
    this.users = users;
    this.channels = frame.channels;
    const presences: Record<Id, PresenceStatus> = {};
    for (const p of frame.presences) presences[p.user_id] = p.status;
    this.presences = presences;
    const rooms: Record<Id, VoiceParticipant[]> = {};
    for (const room of frame.voice_rooms) rooms[room.channel_id] = room.participants;
    this.voiceRooms = rooms;
    this.flags = frame.feature_flags;
    this.limits = frame.limits;
  }

  channel(id: Id | null): ChannelListEntry | undefined {
    return id ? this.channels.find((c) => c.id === id) : undefined;
  }

  /** A channel's loaded history; read-only and empty until `ensureHistory` made one. */
  history(id: Id): ChannelHistory {
    return this.histories[id] ?? EMPTY_HISTORY;
  }

  /** The channel's history, created on first use (never call this inside `$derived`). */
  ensureHistory(id: Id): ChannelHistory {
    if (!this.histories[id]) this.histories[id] = { items: [], hasMore: true, loading: false, dividerAfter: null };
    return this.histories[id];
  }

  displayName(userId: Id): string {
    const u = this.users[userId];
    return u ? u.display_name || u.username : 'unknown';
  }

  /** A direct message's name: the other participants' names. */
  dmName(channelId: Id): string {
    const others = (this.dmParticipants[channelId] ?? []).filter((id) => id !== this.me?.id);
    return others.length ? others.map((id) => this.displayName(id)).join(', ') : 'Direct message';
  }

  /** How a channel reads in text: `#name`, or a direct message's people. */
  channelLabel(channelId: Id): string {
    const ch = this.channel(channelId);
    if (!ch) return 'a channel';
    return ch.kind === 'dm' ? this.dmName(channelId) : `#${ch.name}`;
  }

  /** Calls ringing now: not expired, and their room not empty (the caller is still there). */
  ringingNow(now: number): { channelId: Id; from: Id }[] {
    return Object.entries(this.ringing)
      .filter(([channelId, ring]) => ring.expiresAt > now && (this.voiceRooms[channelId] ?? []).length > 0)
      .map(([channelId, ring]) => ({ channelId, from: ring.from }));
  }

  stopRinging(channelId: Id): void {
    delete this.ringing[channelId];
  }

  isBlocked(userId: Id): boolean {
    return this.blocked.includes(userId);
  }

  /** Does this message mention the signed-in user (directly, by group, @here, @everyone)? */
  mentionsMe(message: Message): boolean {
    const me = this.me?.id;
    if (!me) return false;
    return message.mentions.some((m) => {
      switch (m.type) {
        case 'user':
          return m.user_id === me;
        case 'group':
          return this.groups.some((g) => g.id === m.group_id && g.member_ids.includes(me));
        default:
          return true;
      }
    });
  }

  isPinned(channelId: Id, messageId: Id): boolean {
    return this.pins[channelId]?.some((p) => p.message.id === messageId) ?? false;
  }

  /** Merges a page of history (any order) into a channel, keeping it sorted and unique. */
  mergeMessages(channelId: Id, page: Message[], reachedStart: boolean): void {
    const h = this.ensureHistory(channelId);
    const byId = new Map(h.items.map((m) => [m.id, m]));
    for (const m of page) byId.set(m.id, m);
    h.items = [...byId.values()].sort((a, b) => compareIds(a.id, b.id));
    if (reachedStart) h.hasMore = false;
  }

  addPending(p: PendingMessage): void {
    this.pending.push(p);
  }

  settlePending(nonce: string, message?: Message): void {
    this.pending = this.pending.filter((p) => p.nonce !== nonce);
    if (message) this.insertMessage(message);
  }

  failPending(nonce: string, error: string): void {
    const p = this.pending.find((x) => x.nonce === nonce);
    if (p) {
      p.failed = true;
      p.error = error;
    }
  }

  private insertMessage(message: Message): boolean {
    const h = this.histories[message.channel_id];
    if (!h) return true;
    if (h.items.some((m) => m.id === message.id)) return false;
    h.items.push(message);
    h.items.sort((a, b) => compareIds(a.id, b.id));
    return true;
  }

  applyEvent(frame: EventFrame): void {
    switch (frame.type) {
      case 'message_create': {
        const m = frame.message;
        if (m.nonce) this.pending = this.pending.filter((p) => p.nonce !== m.nonce);
        this.insertMessage(m);
        this.clearTyping(m.channel_id, m.author_id);
        const ch = this.channel(m.channel_id);
        if (ch) {
          ch.last_message_id = maxId(ch.last_message_id, m.id);
          const mine = m.author_id === this.me?.id;
          const seen = this.attentive && this.activeChannelId === m.channel_id;
          if (mine) {
            ch.last_read_message_id = maxId(ch.last_read_message_id, m.id);
          } else if (!seen) {
            ch.unread_count += 1;
            // A silenced channel stores no notification, so the server counts no mention.
            // In a direct message at level `all` every message is a notification.
            const notifies = this.mentionsMe(m) || (ch.kind === 'dm' && ch.notification_level === 'all');
            if (notifies && !isSilenced(ch)) ch.mention_count += 1;
          }
        }
        return;
      }
      case 'message_update': {
        const h = this.histories[frame.message.channel_id];
        if (!h) return;
        const i = h.items.findIndex((m) => m.id === frame.message.id);
        // An event's reactions cannot say which are ours (`me`); the loaded ones can.
        if (i >= 0) h.items[i] = { ...frame.message, reactions: h.items[i].reactions };
        return;
      }
      case 'message_delete': {
        const h = this.histories[frame.channel_id];
        if (h) {
          h.items = h.items.filter((m) => m.id !== frame.message_id);
          for (const m of h.items) {
            if (m.reply_to?.id === frame.message_id) m.reply_to = { ...m.reply_to, deleted: true, excerpt: '' };
          }
        }
        const reply = this.replies[frame.channel_id];
        if (reply?.message.id === frame.message_id) delete this.replies[frame.channel_id];
        return;
      }
      case 'reaction_add':
      case 'reaction_remove': {
        const m = this.histories[frame.channel_id]?.items.find((x) => x.id === frame.message_id);
        if (m) m.reactions = countReaction(m.reactions, frame.emoji, frame.user_id === this.me?.id, frame.type === 'reaction_add');
        return;
      }
      case 'pins_update': {
        const list = this.pins[frame.channel_id];
        if (!list) return;
        if (!frame.pinned) {
          this.pins[frame.channel_id] = list.filter((p) => p.message.id !== frame.message_id);
          return;
        }
        const m = this.histories[frame.channel_id]?.items.find((x) => x.id === frame.message_id);
        if (m && !list.some((p) => p.message.id === m.id)) {
          this.pins[frame.channel_id] = [{ message: m, pinned_by: frame.user_id, pinned_at: Date.now() }, ...list];
        } else if (!m) {
          // Not loaded here: the panel fetches the list again.
          delete this.pins[frame.channel_id];
        }
        return;
      }
      case 'read_state_update': {
        const rs = frame.read_state;
        const ch = this.channel(rs.channel_id);
        if (!ch) return;
        ch.last_read_message_id = rs.last_read_message_id;
        if (!ch.last_message_id || (rs.last_read_message_id && compareIds(rs.last_read_message_id, ch.last_message_id) >= 0)) {
          ch.unread_count = 0;
          ch.mention_count = 0;
        }
        return;
      }
      case 'channel_create':
      case 'channel_update': {
        const existing = this.channel(frame.channel.id);
        if (existing) {
          Object.assign(existing, frame.channel);
        } else {
          // A direct message appears to its participants, who are its members and hear
          // of every message there unless they choose otherwise.
          const dm = frame.channel.kind === 'dm';
          this.channels.push({
            ...frame.channel,
            is_member: dm,
            last_message_id: null,
            last_read_message_id: null,
            unread_count: 0,
            mention_count: 0,
            notification_level: dm ? 'all' : 'mentions',
            muted_until: null,
          });
        }
        return;
      }
      case 'channel_delete':
        this.channels = this.channels.filter((c) => c.id !== frame.channel_id);
        delete this.histories[frame.channel_id];
        return;
      case 'member_join':
      case 'member_leave': {
        const ch = this.channel(frame.channel_id);
        if (ch && frame.user_id === this.me?.id) ch.is_member = frame.type === 'member_join';
        this.changeMembers(frame.channel_id, frame.user_id, frame.type === 'member_join');
        return;
      }
      case 'notification_create':
        if (!this.notifications.some((n) => n.id === frame.notification.id)) {
          this.notifications.unshift(frame.notification);
        }
        return;
      case 'presence_update':
        this.presences[frame.user_id] = frame.status;
        return;
      case 'typing_start': {
        if (frame.user_id === this.me?.id) return;
        const ch = (this.typing[frame.channel_id] ??= {});
        ch[frame.user_id] = frame.expires_at;
        return;
      }
      case 'user_update':
        if (!this.users[frame.user.id]) {
          // A new account: registering joins every default channel, which the server
          // does not announce channel by channel.
          for (const c of this.channels) if (c.is_default) this.changeMembers(c.id, frame.user.id, true);
        }
        this.users[frame.user.id] = frame.user;
        if (this.me && this.me.id === frame.user.id) Object.assign(this.me, frame.user);
        return;
      case 'group_update': {
        const i = this.groups.findIndex((g) => g.id === frame.group.id);
        if (i >= 0) this.groups[i] = frame.group;
        else this.groups.push(frame.group);
        return;
      }
      case 'group_delete':
        this.groups = this.groups.filter((g) => g.id !== frame.group_id);
        return;
      case 'feature_flags_update':
        this.flags = frame.feature_flags;
        return;
      case 'call_ring':
        if (frame.from_user_id !== this.me?.id) {
          this.ringing[frame.channel_id] = { from: frame.from_user_id, expiresAt: frame.expires_at };
        }
        return;
      case 'call_declined':
        if (frame.user_id === this.me?.id) {
          // Declined on this or another of the reader's devices: stop ringing everywhere.
          this.stopRinging(frame.channel_id);
        } else {
          const list = this.declined[frame.channel_id] ?? [];
          if (!list.includes(frame.user_id)) this.declined[frame.channel_id] = [...list, frame.user_id];
        }
        return;
      case 'voice_state_update': {
        // Read back through the state: `??=` yields the plain array it stored, and a push
        // into that one is not seen (the first join into a room nobody was in got lost).
        this.voiceRooms[frame.channel_id] ??= [];
        const list = this.voiceRooms[frame.channel_id];
        const i = list.findIndex((p) => p.session_id === frame.participant.session_id);
        if (frame.left) {
          if (i >= 0) list.splice(i, 1);
          // The caller hung up before anyone answered: the ring ends with the call.
          if (list.length === 0) this.stopRinging(frame.channel_id);
        } else if (i >= 0) {
          list[i] = frame.participant;
        } else {
          list.push(frame.participant);
        }
        // Answered on another of the reader's devices.
        if (!frame.left && frame.participant.user_id === this.me?.id) this.stopRinging(frame.channel_id);
        return;
      }
      case 'ptt_state': {
        for (const list of Object.values(this.voiceRooms)) {
          const p = list.find((x) => x.session_id === frame.session_id);
          if (p) p.speaking = frame.active;
        }
        return;
      }
      case 'notification_settings_update': {
        // Chosen on another device (or echoed back to this one): badges follow at once.
        const ch = this.channel(frame.settings.channel_id);
        if (ch) {
          ch.notification_level = frame.settings.level;
          ch.muted_until = frame.settings.muted_until;
        }
        return;
      }
      case 'notifications_read':
        // Not followed yet: the inbox shows another device's read marks once it reloads.
        return;
      case 'peer_joined':
      case 'voice_mode_changed':
      case 'peer_left':
      case 'sdp_offer':
      case 'sdp_answer':
      case 'ice_candidate':
        // Voice signaling goes to the voice engine.
        return;
      default:
        // Every event is handled above: a new one fails to compile here until it is.
        // Events from a newer server never get this far (the gateway skips them).
        return unhandled(frame);
    }
  }

  /** Adds or removes one member of a channel whose member list is loaded. */
  changeMembers(channelId: Id, userId: Id, joined: boolean): void {
    const list = this.members[channelId];
    if (!list || list.includes(userId) === joined) return;
    this.members = { ...this.members, [channelId]: joined ? [...list, userId] : list.filter((id) => id !== userId) };
  }

  clearTyping(channelId: Id, userId: Id): void {
    const ch = this.typing[channelId];
    if (ch) delete ch[userId];
  }

  /** Who is typing in a channel right now. */
  typingIn(channelId: Id, now: number): Id[] {
    const ch = this.typing[channelId] ?? {};
    return Object.entries(ch)
      .filter(([, expires]) => expires > now)
      .map(([id]) => id);
  }

  /** Marks a channel read locally up to its newest message. */
  markRead(channelId: Id): Id | null {
    const ch = this.channel(channelId);
    if (!ch) return null;
    const h = this.histories[channelId];
    const newest = maxId(ch.last_message_id, h?.items.at(-1)?.id);
    ch.unread_count = 0;
    ch.mention_count = 0;
    if (!newest || (ch.last_read_message_id && compareIds(ch.last_read_message_id, newest) >= 0)) return null;
    ch.last_read_message_id = newest;
    return newest;
  }

  get unreadNotifications(): number {
    return this.notifications.filter((n) => !n.read_at).length;
  }
}

function unhandled(frame: never): void {
  void frame;
}
