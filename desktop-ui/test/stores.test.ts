import { describe, expect, it } from 'vitest';
import type { Backend, GatewayHandlers } from '../src/backend/index';
import { BackendError } from '../src/backend/index';
import type { ChannelListEntry } from '../src/generated/ChannelListEntry';
import type { Message } from '../src/generated/Message';
import { compareIds } from '../src/lib/ids';
import { AppController } from '../src/stores/app.svelte';
import { ChatState, type ReadyFrame } from '../src/stores/chat.svelte';

const me = {
  id: '10',
  username: 'alice',
  display_name: null,
  avatar_url: null,
  role: 'member' as const,
  created_at: 0,
  email: 'a@example.com',
  email_confirmed: true,
  voice_mode: 'ptt' as const,
  vad_threshold_db: -40,
};

function channel(id: string, name: string, extra: Partial<ChannelListEntry> = {}): ChannelListEntry {
  return {
    id,
    name,
    kind: 'text',
    topic: null,
    is_default: true,
    is_private: false,
    write_permission: 'everyone',
    voice_mode: null,
    created_at: 0,
    is_member: true,
    last_message_id: null,
    last_read_message_id: null,
    unread_count: 0,
    mention_count: 0,
    notification_level: 'mentions',
    muted_until: null,
    ...extra,
  };
}

function msg(id: string, channelId: string, authorId: string, extra: Partial<Message> = {}): Message {
  return { id, channel_id: channelId, author_id: authorId, body: `m${id}`, nonce: null, mentions: [], created_at: Number(id), edited_at: null, ...extra };
}

function readyFrame(): ReadyFrame {
  return {
    type: 'ready',
    session_id: 's',
    user: me,
    users: [{ id: '11', username: 'bob', display_name: null, avatar_url: null, role: 'member', created_at: 0 }],
    channels: [channel('1', 'general'), channel('2', 'random')],
    presences: [],
    voice_rooms: [],
    feature_flags: { voice: true, registration: 'open', member_invites: false, link_previews: false, email_confirmation: false, turn: false },
  };
}

describe('compareIds', () => {
  it('orders 64-bit ids numerically without precision loss', () => {
    expect(compareIds('9', '10')).toBeLessThan(0);
    expect(compareIds('119219512271699969', '119219512271699968')).toBeGreaterThan(0);
    expect(compareIds('5', '5')).toBe(0);
  });
});

describe('ChatState', () => {
  it('counts unread and mentions for channels not being read, and clears on read state', () => {
    const chat = new ChatState();
    chat.applyReady(readyFrame());
    chat.activeChannelId = '2';
    chat.applyEvent({ seq: 1, type: 'message_create', message: msg('100', '1', '11') });
    chat.applyEvent({ seq: 2, type: 'message_create', message: msg('101', '1', '11', { mentions: [{ type: 'user', user_id: '10' }] }) });
    chat.applyEvent({ seq: 3, type: 'message_create', message: msg('102', '2', '11') });
    const general = chat.channel('1')!;
    expect([general.unread_count, general.mention_count]).toEqual([2, 1]);
    expect(chat.channel('2')!.unread_count).toBe(0); // being read
    chat.applyEvent({ seq: 4, type: 'read_state_update', read_state: { channel_id: '1', last_read_message_id: '101' } });
    expect([general.unread_count, general.mention_count]).toEqual([0, 0]);
  });

  it('does not count own messages or a hidden tab’s… own messages', () => {
    const chat = new ChatState();
    chat.applyReady(readyFrame());
    chat.applyEvent({ seq: 1, type: 'message_create', message: msg('100', '1', '10') });
    expect(chat.channel('1')!.unread_count).toBe(0);
    expect(chat.channel('1')!.last_read_message_id).toBe('100');
  });

  it('counts group, @here and @everyone mentions', () => {
    const chat = new ChatState();
    chat.applyReady(readyFrame());
    chat.groups = [{ id: 'g', name: 'ops', colour: '#000000', member_ids: ['10'] }];
    expect(chat.mentionsMe(msg('1', '1', '11', { mentions: [{ type: 'group', group_id: 'g' }] }))).toBe(true);
    expect(chat.mentionsMe(msg('1', '1', '11', { mentions: [{ type: 'here' }] }))).toBe(true);
    expect(chat.mentionsMe(msg('1', '1', '11', { mentions: [{ type: 'user', user_id: '11' }] }))).toBe(false);
  });

  it('applies edits and deletes to loaded history and keeps it sorted and unique', () => {
    const chat = new ChatState();
    chat.applyReady(readyFrame());
    chat.mergeMessages('1', [msg('30', '1', '11'), msg('10', '1', '11'), msg('20', '1', '11')], false);
    chat.mergeMessages('1', [msg('20', '1', '11')], true);
    expect(chat.history('1').items.map((m) => m.id)).toEqual(['10', '20', '30']);
    expect(chat.history('1').hasMore).toBe(false);
    chat.applyEvent({ seq: 1, type: 'message_update', message: msg('20', '1', '11', { body: 'new', edited_at: 5 }) });
    expect(chat.history('1').items[1].body).toBe('new');
    chat.applyEvent({ seq: 2, type: 'message_delete', channel_id: '1', message_id: '20' });
    expect(chat.history('1').items.map((m) => m.id)).toEqual(['10', '30']);
  });

  it('tracks typing until it expires, and stops when the typist sends', () => {
    const chat = new ChatState();
    chat.applyReady(readyFrame());
    chat.applyEvent({ seq: 1, type: 'typing_start', channel_id: '1', user_id: '11', expires_at: 2000 });
    expect(chat.typingIn('1', 1000)).toEqual(['11']);
    expect(chat.typingIn('1', 3000)).toEqual([]);
    chat.applyEvent({ seq: 2, type: 'message_create', message: msg('5', '1', '11') });
    expect(chat.typingIn('1', 1000)).toEqual([]);
  });

  it('keeps voice rooms and speaking flags current', () => {
    const chat = new ChatState();
    chat.applyReady(readyFrame());
    const p = { session_id: 'p1', user_id: '11', muted: false, deafened: false, speaking: false, joined_at: 0 };
    chat.applyEvent({ seq: 1, type: 'voice_state_update', channel_id: 'v', participant: p, left: false });
    chat.applyEvent({ seq: 2, type: 'ptt_state', session_id: 'p1', user_id: '11', active: true });
    expect(chat.voiceRooms['v'][0].speaking).toBe(true);
    chat.applyEvent({ seq: 3, type: 'voice_state_update', channel_id: 'v', participant: p, left: true });
    expect(chat.voiceRooms['v']).toHaveLength(0);
  });
});

function fakeBackend(overrides: Partial<Backend> = {}) {
  const sent: { channelId: string; body: string; nonce: string }[] = [];
  let handlers: GatewayHandlers | null = null;
  const backend = {
    serverUrl: '',
    me: async () => me,
    listNotifications: async () => [],
    listGroups: async () => [],
    listMessages: async () => [],
    ack: async (channel_id: string, { message_id }: { message_id: string }) => ({ channel_id, last_read_message_id: message_id }),
    joinChannel: async () => undefined,
    sendMessage: async (channelId: string, { body, nonce }: { body: string; nonce: string }) => {
      sent.push({ channelId, body, nonce });
      return msg('500', channelId, '10', { body, nonce });
    },
    connect: (h: GatewayHandlers) => {
      handlers = h;
      return { send: () => undefined, close: () => undefined };
    },
    ...overrides,
  } as unknown as Backend;
  return { backend, sent, handlers: () => handlers! };
}

describe('AppController', () => {
  it('keeps a failed send visible and retries it with the same nonce', async () => {
    let fail = true;
    const f = fakeBackend();
    const inner = f.backend.sendMessage.bind(f.backend);
    f.backend.sendMessage = async (c, req) => {
      if (fail) {
        f.sent.push({ channelId: c, body: req.body, nonce: req.nonce ?? '' });
        throw new BackendError(0, null, 'cannot reach the server');
      }
      return inner(c, req);
    };
    let counter = 0;
    const app = new AppController(f.backend, undefined, () => `nonce-${++counter}`);
    await app.boot();
    f.handlers().frame(readyFrame());
    await app.sendMessage('1', 'hello');
    expect(app.chat.pending).toHaveLength(1);
    expect(app.chat.pending[0].failed).toBe(true);
    fail = false;
    await app.retry('nonce-1');
    expect(f.sent.map((s) => s.nonce)).toEqual(['nonce-1', 'nonce-1']);
    expect(app.chat.pending).toHaveLength(0);
  });

  it('drops the pending copy when the gateway echoes the nonce first', async () => {
    const f = fakeBackend({ sendMessage: () => new Promise(() => undefined) });
    const app = new AppController(f.backend, undefined, () => 'n-echo');
    await app.boot();
    f.handlers().frame(readyFrame());
    void app.sendMessage('1', 'hi');
    expect(app.chat.pending).toHaveLength(1);
    f.handlers().frame({ seq: 1, type: 'message_create', message: msg('9', '1', '10', { nonce: 'n-echo' }) });
    expect(app.chat.pending).toHaveLength(0);
  });

  it('acks the newest message when a channel is opened and marks it read', async () => {
    const acks: string[] = [];
    const f = fakeBackend({
      listMessages: async () => [msg('42', '1', '11'), msg('41', '1', '11')],
      ack: async (c, { message_id }) => {
        acks.push(message_id);
        return { channel_id: c, last_read_message_id: message_id };
      },
    });
    const app = new AppController(f.backend);
    await app.boot();
    const ready = readyFrame();
    ready.channels[0].unread_count = 2;
    ready.channels[0].last_message_id = '42';
    f.handlers().frame(ready);
    await app.openChannel('1');
    expect(acks).toEqual(['42']);
    expect(app.chat.channel('1')!.unread_count).toBe(0);
    expect(app.chat.history('1').items.map((m) => m.id)).toEqual(['41', '42']);
  });

  it('sends at most one typing op every three seconds', async () => {
    const frames: unknown[] = [];
    const f = fakeBackend({ connect: () => ({ send: (fr) => frames.push(fr), close: () => undefined }) });
    const app = new AppController(f.backend);
    await app.boot();
    app.typing('1', 1000);
    app.typing('1', 2000);
    app.typing('1', 4500);
    expect(frames).toHaveLength(2);
  });

  it('returns to signed-out when the server ends the session', async () => {
    const f = fakeBackend();
    const app = new AppController(f.backend);
    await app.boot();
    expect(app.session).toBe('signed_in');
    f.handlers().signedOut();
    expect(app.session).toBe('signed_out');
  });
});
