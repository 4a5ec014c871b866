import { describe, expect, it } from 'vitest';
import { isMuted, isSilenced, notifiesEveryMessage } from '../src/lib/channel-notify';
import { fixedWindow, groupsByUser, loadMembersPanelOpen, presenceRows, saveMembersPanelOpen, sortByName } from '../src/lib/member-list';
import { ChatState } from '../src/stores/chat.svelte';
import type { User } from '../src/generated/User';

function user(id: string, username: string, display_name: string | null = null): User {
  return { id, username, display_name, avatar_url: null, role: 'member', created_at: 0 };
}

describe('the members panel rows', () => {
  const users = { '1': user('1', 'zed'), '2': user('2', 'amy'), '3': user('3', 'bob', 'Ann'), '4': user('4', 'cat') };

  it('sort by the name people see, then group by presence under counted headers', () => {
    const sorted = sortByName(['1', '2', '3', '4'], users);
    expect(sorted).toEqual(['2', '3', '4', '1']);
    const rows = presenceRows(sorted, { '1': 'online', '3': 'idle', '4': 'online' });
    expect(rows).toEqual([
      { kind: 'header', status: 'online', count: 2 },
      { kind: 'member', userId: '4', status: 'online' },
      { kind: 'member', userId: '1', status: 'online' },
      { kind: 'header', status: 'idle', count: 1 },
      { kind: 'member', userId: '3', status: 'idle' },
      // No presence known: offline.
      { kind: 'header', status: 'offline', count: 1 },
      { kind: 'member', userId: '2', status: 'offline' },
    ]);
  });

  it('leave out a group nobody is in', () => {
    const rows = presenceRows(['1'], { '1': 'online' });
    expect(rows.map((r) => (r.kind === 'header' ? r.status : r.userId))).toEqual(['online', '1']);
  });

  it("list each user's groups", () => {
    const g = (id: string, member_ids: string[]) => ({ id, name: `g${id}`, colour: '#000000', member_ids });
    const byUser = groupsByUser([g('a', ['1', '2']), g('b', ['2'])]);
    expect(byUser.get('2')?.map((x) => x.id)).toEqual(['a', 'b']);
    expect(byUser.get('3')).toBeUndefined();
  });

  it('render only the rows in view, whatever the list length', () => {
    expect(fixedWindow(0, 400, 10_000, 40, 5)).toEqual({ first: 0, last: 15 });
    expect(fixedWindow(40_000, 400, 10_000, 40, 5)).toEqual({ first: 995, last: 1015 });
    expect(fixedWindow(399_600, 400, 10_000, 40, 5)).toEqual({ first: 9985, last: 10_000 });
    // Scrolled past the end (the list shrank under the reader): still the last rows.
    expect(fixedWindow(1e9, 400, 10, 40, 2)).toEqual({ first: 7, last: 10 });
    expect(fixedWindow(0, 400, 0, 40, 5)).toEqual({ first: 0, last: 0 });
  });

  it('remember whether the panel is open', () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
    expect(loadMembersPanelOpen(storage)).toBe(true);
    saveMembersPanelOpen(false, storage);
    expect(loadMembersPanelOpen(storage)).toBe(false);
    saveMembersPanelOpen(true, storage);
    expect(loadMembersPanelOpen(storage)).toBe(true);
  });
});

describe('member lists in the chat state', () => {
  it('follow joins, leaves and new accounts once loaded, and ignore channels never loaded', () => {
    const chat = new ChatState();
    chat.channels = [
      { id: '9', name: 'general', kind: 'text', topic: null, is_default: true, is_private: false, write_permission: 'everyone', voice_mode: null, created_at: 0,
        is_member: true, last_message_id: null, last_read_message_id: null, unread_count: 0, mention_count: 0, notification_level: 'mentions', muted_until: null },
    ];
    chat.applyEvent({ seq: 1, type: 'member_join', channel_id: '9', user_id: '1' });
    expect(chat.members['9']).toBeUndefined();
    chat.members = { '9': ['1'] };
    chat.applyEvent({ seq: 2, type: 'member_join', channel_id: '9', user_id: '2' });
    chat.applyEvent({ seq: 3, type: 'member_join', channel_id: '9', user_id: '2' });
    expect(chat.members['9']).toEqual(['1', '2']);
    chat.applyEvent({ seq: 4, type: 'member_leave', channel_id: '9', user_id: '1' });
    expect(chat.members['9']).toEqual(['2']);
    // Registering joins the default channels without a member_join per channel.
    chat.applyEvent({ seq: 5, type: 'user_update', user: user('7', 'newbie') });
    expect(chat.members['9']).toEqual(['2', '7']);
  });
});

describe('notification settings on the client', () => {
  const now = 1_000_000;
  it('silence a channel set to nothing or muted until the mute ends', () => {
    expect(isSilenced({ notification_level: 'mentions', muted_until: null }, now)).toBe(false);
    expect(isSilenced({ notification_level: 'nothing', muted_until: null }, now)).toBe(true);
    expect(isSilenced({ notification_level: 'all', muted_until: now + 1 }, now)).toBe(true);
    expect(isMuted({ notification_level: 'all', muted_until: now }, now)).toBe(false);
    expect(notifiesEveryMessage({ notification_level: 'all', muted_until: null }, now)).toBe(true);
    expect(notifiesEveryMessage({ notification_level: 'all', muted_until: now + 1 }, now)).toBe(false);
    expect(notifiesEveryMessage({ notification_level: 'mentions', muted_until: null }, now)).toBe(false);
  });

  it('count no mention in a silenced channel, as the server does', () => {
    const chat = new ChatState();
    chat.me = { ...user('5', 'me'), email: 'me@example.test', email_confirmed: true, voice_mode: 'ptt', vad_threshold_db: -40 };
    chat.channels = [
      { id: '9', name: 'general', kind: 'text', topic: null, is_default: true, is_private: false, write_permission: 'everyone', voice_mode: null, created_at: 0,
        is_member: true, last_message_id: null, last_read_message_id: null, unread_count: 0, mention_count: 0, notification_level: 'nothing', muted_until: null },
    ];
    const mention = { id: '100', channel_id: '9', author_id: '1', body: '@me', nonce: null, mentions: [{ type: 'user' as const, user_id: '5' }], created_at: 0, edited_at: null, reply_to: null, reactions: [], attachments: [] };
    chat.activeChannelId = null;
    chat.applyEvent({ seq: 1, type: 'message_create', message: mention });
    expect([chat.channels[0].unread_count, chat.channels[0].mention_count]).toEqual([1, 0]);
    chat.channels[0].notification_level = 'mentions';
    chat.applyEvent({ seq: 2, type: 'message_create', message: { ...mention, id: '101' } });
    expect([chat.channels[0].unread_count, chat.channels[0].mention_count]).toEqual([2, 1]);
  });
});
