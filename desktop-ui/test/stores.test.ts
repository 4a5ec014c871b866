import type { SendMessageRequest } from '../src/generated/SendMessageRequest';
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
  return { id, channel_id: channelId, author_id: authorId, body: `m${id}`, nonce: null, mentions: [], created_at: Number(id), edited_at: null, reply_to: null, reactions: [], attachments: [], ...extra } as Message;
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
    limits: { attachment_max_bytes: 8 * 1024 * 1024 },
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

  it('applies notification settings chosen on another device', () => {
    const chat = new ChatState();
    chat.applyReady(readyFrame());
    chat.applyEvent({
      seq: 1,
      type: 'notification_settings_update',
      settings: { channel_id: '1', level: 'nothing', muted_until: 5000 },
    });
    const general = chat.channel('1')!;
    expect([general.notification_level, general.muted_until]).toEqual(['nothing', 5000]);
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

describe('direct messages and calls in ChatState', () => {
  const p = (user_id: string, session_id: string) => ({ session_id, user_id, muted: false, deafened: false, speaking: false, joined_at: 0 });

  it('names a direct message after the others and counts each message as a notification', () => {
    const chat = new ChatState();
    chat.applyReady(readyFrame());
    chat.applyEvent({ seq: 1, type: 'channel_create', channel: { ...channel('9', '@dm-9'), kind: 'dm', is_private: true, is_default: false } });
    const dm = chat.channel('9')!;
    expect(dm.is_member).toBe(true);
    expect(dm.notification_level).toBe('all');
    chat.dmParticipants['9'] = ['10', '11'];
    expect(chat.dmName('9')).toBe('bob');
    expect(chat.channelLabel('9')).toBe('bob');
    expect(chat.channelLabel('1')).toBe('#general');
    chat.applyEvent({ seq: 2, type: 'message_create', message: msg('100', '9', '11') });
    expect([dm.unread_count, dm.mention_count]).toEqual([1, 1]);
    dm.notification_level = 'mentions';
    chat.applyEvent({ seq: 3, type: 'message_create', message: msg('101', '9', '11') });
    expect([dm.unread_count, dm.mention_count]).toEqual([2, 1]);
  });

  it('rings until the caller hangs up, the ring expires, or the reader declines or answers', () => {
    const chat = new ChatState();
    chat.applyReady(readyFrame());
    const now = Date.now();
    chat.applyEvent({ seq: 1, type: 'voice_state_update', channel_id: '9', participant: p('11', 'b1'), left: false });
    chat.applyEvent({ seq: 2, type: 'call_ring', channel_id: '9', from_user_id: '11', expires_at: now + 30_000 });
    expect(chat.ringingNow(now)).toEqual([{ channelId: '9', from: '11' }]);
    expect(chat.ringingNow(now + 30_001)).toEqual([]);
    chat.applyEvent({ seq: 3, type: 'voice_state_update', channel_id: '9', participant: p('11', 'b1'), left: true });
    expect(chat.ringingNow(now)).toEqual([]);

    chat.applyEvent({ seq: 4, type: 'voice_state_update', channel_id: '9', participant: p('11', 'b1'), left: false });
    chat.applyEvent({ seq: 5, type: 'call_ring', channel_id: '9', from_user_id: '11', expires_at: now + 30_000 });
    chat.applyEvent({ seq: 6, type: 'call_declined', channel_id: '9', user_id: '10' });
    expect(chat.ringingNow(now)).toEqual([]);

    chat.applyEvent({ seq: 7, type: 'call_ring', channel_id: '9', from_user_id: '11', expires_at: now + 30_000 });
    chat.applyEvent({ seq: 8, type: 'voice_state_update', channel_id: '9', participant: p('10', 'a2'), left: false });
    expect(chat.ringingNow(now)).toEqual([]);

    chat.applyEvent({ seq: 9, type: 'call_declined', channel_id: '9', user_id: '11' });
    expect(chat.declined['9']).toEqual(['11']);
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
    listBlocks: async () => [],
    listDms: async () => [],
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

  it('sends uploaded files alone, by id, and only once every upload has finished', async () => {
    const requests: SendMessageRequest[] = [];
    let finish: (() => void) | null = null;
    const f = fakeBackend({
      sendMessage: async (channelId, req) => {
        requests.push(req);
        return msg('501', channelId, '10', { body: req.body, nonce: req.nonce });
      },
      uploadAttachment: (_channel, file) =>
        new Promise((resolve) => {
          finish = () => resolve({ id: `a-${file.name}`, filename: file.name, content_type: 'image/png', size: file.size, width: 2, height: 1, url: '/api/attachments/x/k', thumbnail_url: null });
        }),
    });
    const app = new AppController(f.backend, undefined, () => 'n-files');
    await app.boot();
    f.handlers().frame(readyFrame());
    const uploading = app.uploads.add('1', [new File(['x'], 'shot.png', { type: 'image/png' })]);
    await app.sendMessage('1', '');
    expect(requests).toHaveLength(0);
    finish!();
    await uploading;
    await app.sendMessage('1', '  ');
    expect(requests).toEqual([{ body: '', nonce: 'n-files', attachment_ids: ['a-shot.png'] }]);
    expect(app.uploads.forChannel('1')).toEqual([]);
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

  it('signs out with a notice once the account is deleted, and stays signed in when refused', async () => {
    const asked: { password: string; delete_messages?: boolean }[] = [];
    const f = fakeBackend({
      deleteAccount: async (req) => {
        asked.push(req);
        if (req.password !== 'right') throw new BackendError(403, null, 'the server answered 403');
        return { user_id: '10', deleted_messages: 0 };
      },
    });
    const app = new AppController(f.backend);
    await app.boot();
    await expect(app.deleteAccount('wrong', false)).rejects.toThrow();
    expect([app.session, app.notice]).toEqual(['signed_in', '']);
    await app.deleteAccount('right', true);
    expect([app.session, app.notice]).toEqual(['signed_out', 'Your account was deleted.']);
    expect(asked.at(-1)).toEqual({ password: 'right', delete_messages: true });
  });
});
