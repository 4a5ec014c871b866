// The controller between screens and the Backend: session lifecycle, the gateway,
// history paging, sending with retry, read markers. Screens call these methods and
// read `chat`; they never touch the Backend themselves.

import { BackendError, type Backend, type Gateway, type GatewayStatus } from '../backend/index';
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

export const PAGE_SIZE = MESSAGE_PAGE_DEFAULT;
const TYPING_EVERY_MS = 3000;

export type SessionState = 'unknown' | 'signed_out' | 'signed_in';

/** Receives what the chat state does not handle: voice answers and signaling. */
export type FrameListener = (frame: ServerFrame) => void;

export class AppController {
  readonly chat = new ChatState();
  session = $state<SessionState>('unknown');
  status = $state<GatewayStatus>('connecting');
  private gateway: Gateway | null = null;
  private lastTypingSent = Number.NEGATIVE_INFINITY;
  private presence: 'online' | 'idle' = 'online';
  private readonly listeners = new Set<FrameListener>();

  readonly voice: VoiceEngine;
  /** Link previews shown under messages, one request per address. */
  readonly linkPreviews: LinkPreviewMemo;

  constructor(
    readonly backend: Backend,
    media: MediaDeps = NO_MEDIA,
    private readonly nonce: () => string = newNonce,
  ) {
    this.voice = new VoiceEngine((frame) => this.send(frame), media);
    this.linkPreviews = new LinkPreviewMemo(backend);
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
    this.chat.notifications = [];
    this.chat.activeChannelId = null;
    this.session = 'signed_out';
  }

  private async loadSide(): Promise<void> {
    const [notifications, groups] = await Promise.allSettled([
      this.backend.listNotifications(),
      this.backend.listGroups(),
    ]);
    if (notifications.status === 'fulfilled') this.chat.notifications = notifications.value;
    if (groups.status === 'fulfilled') this.chat.groups = groups.value;
  }

  receive(frame: ServerFrame): void {
    if ('seq' in frame) {
      this.chat.applyEvent(frame);
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
    await this.ack(id);
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

  /** Sends a message; on failure it stays in `pending` marked failed, for `retry`. */
  async sendMessage(channelId: Id, body: string): Promise<void> {
    const text = body.trim();
    if (!text) return;
    const nonce = this.nonce();
    this.chat.addPending({ nonce, channelId, body: text, failed: false });
    await this.deliver(nonce);
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
      const message = await this.backend.sendMessage(p.channelId, { body: p.body, nonce });
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
      default:
        return e.message;
    }
  }
  return e instanceof Error ? e.message : 'Something went wrong.';
}
