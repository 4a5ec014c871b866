// The controller between screens and the Backend: session lifecycle, the gateway,
// history paging, sending with retry, read markers. Screens call these methods and
// read `chat`; they never touch the Backend themselves.

import { BackendError, type Backend, type Gateway, type GatewayStatus } from '../backend/index';
import type { Attachment } from '../generated/Attachment';
import type { ClientFrame } from '../generated/ClientFrame';
import type { Id } from '../generated/Id';
import type { OwnUser } from '../generated/OwnUser';
import type { ServerFrame } from '../generated/ServerFrame';
import type { UpdateNotificationSettingsRequest } from '../generated/UpdateNotificationSettingsRequest';
import { MEMBER_PAGE_MAX, MESSAGE_PAGE_DEFAULT, MESSAGE_PAGE_MAX } from '../generated/constants';
import { newNonce } from '../lib/ids';
import { LinkPreviewMemo } from '../lib/link-preview';
import { VoiceEngine, type MediaDeps } from '../voice/engine.svelte';
import { ChatState } from './chat.svelte';
import { UploadQueue } from './uploads.svelte';
import { SearchState } from './search.svelte';

export const PAGE_SIZE = MESSAGE_PAGE_DEFAULT;
const TYPING_EVERY_MS = 3000;
/** Pages forward a jump to an old message loads at most before giving up. */
const JUMP_MAX_PAGES = 50;

export type SessionState = 'unknown' | 'signed_out' | 'signed_in';

/** Receives what the chat state does not handle: voice answers and signaling. */
export type FrameListener = (frame: ServerFrame) => void;

export class AppController {
  readonly chat = new ChatState();
  session = $state<SessionState>('unknown');
  status = $state<GatewayStatus>('connecting');
  /** Why the user was signed out, shown once on the login screen (empty: nothing to say). */
  notice = $state('');
  private gateway: Gateway | null = null;
  private lastTypingSent = Number.NEGATIVE_INFINITY;
  private presence: 'online' | 'idle' = 'online';
  private readonly listeners = new Set<FrameListener>();

  readonly voice: VoiceEngine;
  /** Link previews shown under messages, one request per address. */
  readonly linkPreviews: LinkPreviewMemo;
  /** Files in the composers, uploading or ready to go with the next message. */
  readonly uploads: UploadQueue;
  /** The search box and its results. */
  readonly search: SearchState;

  constructor(
    readonly backend: Backend,
    media: MediaDeps = NO_MEDIA,
    private readonly nonce: () => string = newNonce,
  ) {
    this.voice = new VoiceEngine((frame) => this.send(frame), media);
    this.linkPreviews = new LinkPreviewMemo(backend);
    this.uploads = new UploadQueue({
      upload: (channelId, file, opts) => backend.uploadAttachment(channelId, file, opts),
      maxBytes: () => this.chat.limits?.attachment_max_bytes ?? null,
    });
    this.search = new SearchState(backend, this.chat);
  }

  async boot(): Promise<void> {
    try {
      const me = await this.backend.me();
      if (me) this.signedIn(me);
      else this.session = 'signed_out';
    } catch {
      this.session = 'signed_out';
    }
  }

  async logIn(email: string, password: string): Promise<void> {
    const me = await this.backend.logIn({ email, password });
    this.signedIn(me);
  }

  /** Deletes the signed-in account and signs out, leaving `notice` for the login screen. */
  async deleteAccount(password: string, deleteMessages: boolean): Promise<void> {
    await this.backend.deleteAccount({ password, delete_messages: deleteMessages });
    this.signedOut();
    this.notice = 'Your account was deleted.';
  }

  async logOut(): Promise<void> {
    try {
      await this.backend.logOut();
    } finally {
      this.signedOut();
    }
  }

  onFrame(listener: FrameListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  send(frame: ClientFrame): void {
    this.gateway?.send(frame);
  }

  private signedIn(me: OwnUser): void {
    this.chat.me = me;
    this.session = 'signed_in';
    this.gateway?.close();
    this.gateway = this.backend.connect({
      frame: (f) => this.receive(f),
      status: (s) => (this.status = s),
      resync: () => void this.resync(),
      signedOut: () => this.signedOut(),
    });
    void this.loadSide();
  }

  private signedOut(): void {
    this.voice.leave();
    this.gateway?.close();
    this.gateway = null;
    this.chat.me = null;
    this.chat.histories = {};
    this.chat.pending = [];
    this.uploads.clear();
    this.chat.notifications = [];
    this.chat.activeChannelId = null;
    this.session = 'signed_out';
  }

  private async loadSide(): Promise<void> {
    const [notifications, groups, blocks] = await Promise.allSettled([
      this.backend.listNotifications(),
      this.backend.listGroups(),
      this.backend.listBlocks(),
      this.loadDms(),
    ]);
    if (notifications.status === 'fulfilled') this.chat.notifications = notifications.value;
    if (groups.status === 'fulfilled') this.chat.groups = groups.value;
    if (blocks.status === 'fulfilled') this.chat.blocked = blocks.value.map((b) => b.user_id);
  }

  /** Who takes part in each direct message: their names are its name. */
  async loadDms(): Promise<void> {
    const dms = await this.backend.listDms();
    const participants: Record<Id, Id[]> = {};
    for (const dm of dms) participants[dm.channel.id] = dm.participant_ids;
    this.chat.dmParticipants = participants;
  }

  /**
   * Opens (or finds) the direct message with `userIds` and goes to it. The channel
   * usually arrives by the gateway too; it is added here so the route has it at once.
   */
  async openDm(userIds: Id[]): Promise<Id> {
    const dm = await this.backend.openDm({ user_ids: userIds });
    this.chat.dmParticipants[dm.channel.id] = dm.participant_ids;
    if (!this.chat.channel(dm.channel.id)) this.chat.applyEvent({ seq: 0, type: 'channel_create', channel: dm.channel });
    return dm.channel.id;
  }

  /** Starts (or joins) the call of a direct message: the others' clients ring. */
  async call(channelId: Id): Promise<void> {
    delete this.chat.declined[channelId];
    await this.voice.join(channelId);
  }

  /** Answers a ringing call: joins its room and shows its conversation. */
  async answer(channelId: Id): Promise<void> {
    this.chat.stopRinging(channelId);
    await this.voice.join(channelId);
  }

  /** Turns a ringing call down; the caller is told, and the reader's other devices stop. */
  decline(channelId: Id): void {
    this.chat.stopRinging(channelId);
    this.send({ type: 'call_decline', channel_id: channelId });
  }

  async block(userId: Id): Promise<void> {
    await this.backend.blockUser(userId);
    if (!this.chat.blocked.includes(userId)) this.chat.blocked = [...this.chat.blocked, userId];
  }

  async unblock(userId: Id): Promise<void> {
    await this.backend.unblockUser(userId);
    this.chat.blocked = this.chat.blocked.filter((id) => id !== userId);
  }

  receive(frame: ServerFrame): void {
    if ('seq' in frame) {
      this.chat.applyEvent(frame);
      // Someone opened a direct message with this user: learn who is in it.
      if (frame.type === 'channel_create' && frame.channel.kind === 'dm' && !this.chat.dmParticipants[frame.channel.id]) {
        void this.loadDms().catch(() => undefined);
      }
      if (frame.type === 'message_create' && frame.message.channel_id === this.chat.activeChannelId && this.chat.attentive) {
        void this.ack(frame.message.channel_id);
      }
    } else if (frame.type === 'ready') {
      this.chat.applyReady(frame);
      // A fresh session is not in any voice room any more: join again.
      const room = this.voice.channelId;
      if (room) {
        this.voice.leave();
        void this.voice.join(room);
      }
    } else if (frame.type === 'voice_joined') {
      this.chat.voiceRooms[frame.room.channel_id] = frame.room.participants;
    }
    void this.voice.onFrame(frame).catch(() => undefined);
    for (const listener of this.listeners) listener(frame);
  }

  /** After a session could not be resumed: history may have gaps, so reload what is open. */
  async resync(): Promise<void> {
    const open = this.chat.activeChannelId;
    this.chat.histories = {};
    await this.loadSide();
    if (open) await this.loadLatest(open);
  }

  async openChannel(id: Id): Promise<void> {
    this.chat.activeChannelId = id;
    const ch = this.chat.channel(id);
    const h = this.chat.ensureHistory(id);
    // Never read: everything loaded is new, so the divider goes above the first message.
    if (ch && ch.unread_count > 0) h.dividerAfter = ch.last_read_message_id ?? '0';
    else h.dividerAfter = null;
    if (ch && !ch.is_member && ch.kind === 'text') {
      try {
        await this.backend.joinChannel(id);
        ch.is_member = true;
      } catch {
        // Private or closed: the history request below reports it.
      }
    }
    if (h.items.length === 0) await this.loadLatest(id);
    else await this.catchUp(id);
    void this.loadPins(id).catch(() => undefined);
    await this.ack(id);
  }

  /** The channel's pins (for the pins panel and the pin/unpin action). */
  async loadPins(id: Id): Promise<void> {
    this.chat.pins[id] = await this.backend.listPins(id);
  }

  async pin(channelId: Id, messageId: Id, pinned: boolean): Promise<void> {
    if (pinned) await this.backend.pinMessage(channelId, messageId);
    else await this.backend.unpinMessage(channelId, messageId);
  }

  /** Adds the signed-in user's reaction, or takes it back; counts follow the gateway's events. */
  async toggleReaction(messageId: Id, emoji: string, on: boolean): Promise<void> {
    if (on) await this.backend.addReaction(messageId, emoji);
    else await this.backend.removeReaction(messageId, emoji);
  }

  /**
   * Brings a message of a channel into the loaded history and asks the list to show it:
   * a page `around` it, then pages forward until they meet what was loaded, so the
   * history stays one unbroken run of messages.
   */
  async jumpTo(channelId: Id, messageId: Id): Promise<void> {
    const h = this.chat.ensureHistory(channelId);
    if (!h.items.some((m) => m.id === messageId)) {
      const page = await this.backend.listMessages(channelId, { around: messageId, limit: PAGE_SIZE });
      if (!page.some((m) => m.id === messageId)) throw new Error('that message is gone');
      const loaded = new Set(h.items.map((m) => m.id));
      const run = [...page];
      let newest = page[0]?.id;
      for (let pages = 0; newest && !run.some((m) => loaded.has(m.id)) && h.items.length > 0; pages++) {
        if (pages >= JUMP_MAX_PAGES) throw new Error('that message is too far back to load');
        const next = await this.backend.listMessages(channelId, { after: newest, limit: MESSAGE_PAGE_MAX });
        if (next.length === 0) break;
        run.push(...next);
        newest = next[0].id;
      }
      this.chat.mergeMessages(channelId, run, false);
    }
    this.chat.jumpTarget = { channelId, messageId, seq: (this.chat.jumpTarget?.seq ?? 0) + 1 };
  }

  async loadLatest(id: Id): Promise<void> {
    const h = this.chat.ensureHistory(id);
    h.loading = true;
    try {
      const page = await this.backend.listMessages(id, { limit: PAGE_SIZE });
      this.chat.mergeMessages(id, page, page.length < PAGE_SIZE);
    } finally {
      h.loading = false;
    }
  }

  /** Fetches what arrived after the newest loaded message (e.g. while the socket was down). */
  async catchUp(id: Id): Promise<void> {
    const newest = this.chat.history(id).items.at(-1)?.id;
    if (!newest) return;
    try {
      const page = await this.backend.listMessages(id, { after: newest, limit: MESSAGE_PAGE_MAX });
      this.chat.mergeMessages(id, page, false);
    } catch {
      // Live events still arrive; the next open tries again.
    }
  }

  /** Loads a channel's members page by page (they then follow member events). */
  async loadMembers(id: Id): Promise<void> {
    const ids: Id[] = [];
    let after: Id | undefined;
    for (;;) {
      const page = await this.backend.listMembers(id, after ? { after, limit: MEMBER_PAGE_MAX } : { limit: MEMBER_PAGE_MAX });
      ids.push(...page.map((m) => m.user_id));
      if (page.length < MEMBER_PAGE_MAX) break;
      after = page[page.length - 1].user_id;
    }
    this.chat.members = { ...this.chat.members, [id]: ids };
  }

  /** Sets what the signed-in user hears of a channel; the list entry shows it at once. */
  async setNotificationSettings(id: Id, req: UpdateNotificationSettingsRequest): Promise<void> {
    const settings = await this.backend.updateNotificationSettings(id, req);
    const ch = this.chat.channel(id);
    if (ch) {
      ch.notification_level = settings.level;
      ch.muted_until = settings.muted_until;
    }
  }

  async refreshNotifications(): Promise<void> {
    try {
      this.chat.notifications = await this.backend.listNotifications();
    } catch {
      // Keep what the gateway delivered.
    }
  }

  /** Pages back in time; returns how many older messages arrived. */
  async loadOlder(id: Id): Promise<number> {
    const h = this.chat.ensureHistory(id);
    if (h.loading || !h.hasMore) return 0;
    const oldest = h.items[0]?.id;
    h.loading = true;
    try {
      const page = await this.backend.listMessages(id, oldest ? { before: oldest, limit: PAGE_SIZE } : { limit: PAGE_SIZE });
      this.chat.mergeMessages(id, page, page.length < PAGE_SIZE);
      return page.length;
    } finally {
      h.loading = false;
    }
  }

  async ack(id: Id): Promise<void> {
    const upTo = this.chat.markRead(id);
    if (!upTo) return;
    try {
      await this.backend.ack(id, { message_id: upTo });
    } catch {
      // The marker is advisory; the next read moves it again.
    }
  }

  /**
   * Sends a message, with the channel's uploaded files (it may be only files); on
   * failure it stays in `pending` marked failed, for `retry`.
   */
  async sendMessage(channelId: Id, body: string): Promise<void> {
    const text = body.trim();
    if (!text && !this.uploads.ready(channelId)) return;
    if (this.uploads.busy(channelId)) return;
    const attachments: Attachment[] = this.uploads.take(channelId);
    const nonce = this.nonce();
    const reply = this.chat.replies[channelId];
    delete this.chat.replies[channelId];
    const replyTo = reply ? { id: reply.message.id, notify: reply.notify } : undefined;
    this.chat.addPending({ nonce, channelId, body: text, failed: false, replyTo, attachments });
    await this.deliver(nonce);
  }

  /** Starts uploading files into the channel's composer. */
  attach(channelId: Id, files: File[]): void {
    if (files.length > 0) void this.uploads.add(channelId, files);
  }

  /** The file picker (the app's native dialog in the desktop app), then `attach`. */
  async pickFiles(channelId: Id): Promise<void> {
    this.attach(channelId, await this.backend.pickFiles());
  }

  /** Where an attachment's bytes load from (see `Backend.attachmentSrc`). */
  attachmentSrc(url: string): Promise<string> {
    return this.backend.attachmentSrc(url);
  }

  /** Resends a failed message with its original nonce, so it can never appear twice. */
  async retry(nonce: string): Promise<void> {
    const p = this.chat.pending.find((x) => x.nonce === nonce);
    if (!p) return;
    p.failed = false;
    p.error = undefined;
    await this.deliver(nonce);
  }

  discard(nonce: string): void {
    this.chat.settlePending(nonce);
  }

  private async deliver(nonce: string): Promise<void> {
    const p = this.chat.pending.find((x) => x.nonce === nonce);
    if (!p) return;
    try {
      const reply = p.replyTo ? { reply_to: p.replyTo.id, notify_reply_author: p.replyTo.notify } : {};
      const files = p.attachments.length > 0 ? { attachment_ids: p.attachments.map((a) => a.id) } : {};
      const message = await this.backend.sendMessage(p.channelId, { body: p.body, nonce, ...reply, ...files });
      this.chat.settlePending(nonce, message);
    } catch (e) {
      // Typed refusals (a timeout, say) read as the other screens word them.
      this.chat.failPending(nonce, e instanceof Error ? describeError(e) : 'not sent');
    }
  }

  async editMessage(id: Id, body: string): Promise<void> {
    const message = await this.backend.editMessage(id, { body });
    this.chat.applyEvent({ seq: 0, type: 'message_update', message });
  }

  async deleteMessage(channelId: Id, id: Id): Promise<void> {
    await this.backend.deleteMessage(id);
    this.chat.applyEvent({ seq: 0, type: 'message_delete', channel_id: channelId, message_id: id });
  }

  /** Called on each keystroke in the composer; sends at most one typing op per 3 s. */
  typing(channelId: Id, now = Date.now()): void {
    if (now - this.lastTypingSent < TYPING_EVERY_MS) return;
    this.lastTypingSent = now;
    this.send({ type: 'typing_start', channel_id: channelId });
  }

  stoppedTyping(): void {
    this.lastTypingSent = Number.NEGATIVE_INFINITY;
  }

  async markNotificationRead(id: Id): Promise<void> {
    const n = this.chat.notifications.find((x) => x.id === id);
    if (n && !n.read_at) n.read_at = Date.now();
    await this.backend.markNotificationRead(id).catch(() => undefined);
  }

  async markAllNotificationsRead(): Promise<void> {
    const now = Date.now();
    for (const n of this.chat.notifications) n.read_at ??= now;
    await this.backend.markAllNotificationsRead().catch(() => undefined);
  }

  /** Away while the tab is hidden, back when it shows; the server decides offline. */
  setPresence(status: 'online' | 'idle'): void {
    if (status === this.presence) return;
    this.presence = status;
    this.send({ type: 'set_presence', status });
  }

  setAttentive(attentive: boolean): void {
    this.chat.attentive = attentive;
    if (attentive && this.chat.activeChannelId) void this.ack(this.chat.activeChannelId);
  }
}

/** Media for environments without a microphone (tests, old browsers): joining fails politely. */
const NO_MEDIA: MediaDeps = {
  getUserMedia: () => Promise.reject(new Error('no microphone access in this environment')),
  createPeer: () => {
    throw new Error('no WebRTC in this environment');
  },
  play: () => ({ setVolume() {}, setMuted() {}, setOutput() {}, stop() {} }),
  meter: () => null,
  chime() {},
};

/** A short, human message for a failed request. */
export function describeError(e: unknown): string {
  if (e instanceof BackendError) {
    switch (e.code) {
      case 'invalid_credentials':
        return 'Wrong email or password.';
      case 'email_not_confirmed':
        return 'Confirm your email first: follow the link we sent you.';
      case 'invalid_token':
        return 'This link is invalid, used or expired.';
      case 'network':
        return 'Cannot reach the server. Check your connection.';
      case 'rate_limited':
        return 'Too many attempts. Wait a moment and try again.';
      case 'banned':
        return 'This account is banned from this server.';
      case 'timed_out':
        return 'A moderator has timed you out: you cannot write or talk for now.';
      case 'blocked':
        return 'You cannot write here: you and someone in this conversation have blocked one another.';
      default:
        return e.message;
    }
  }
  return e instanceof Error ? e.message : 'Something went wrong.';
}
