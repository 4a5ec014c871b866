import { describe, expect, it } from 'vitest';
import type { Message } from '../src/generated/Message';
import { ChatState, countReaction } from '../src/stores/chat.svelte';

function msg(id: string, extra: Partial<Message> = {}): Message {
  return { id, channel_id: '1', author_id: '11', body: `m${id}`, nonce: null, mentions: [], created_at: 0, edited_at: null, reply_to: null, reactions: [], attachments: [], ...extra } as Message;
}

function chatWith(...items: Message[]): ChatState {
  const chat = new ChatState();
  chat.me = { id: '10', username: 'alice', display_name: null, avatar_url: null, role: 'member', created_at: 0, email: 'a@x', email_confirmed: true, voice_mode: 'ptt', vad_threshold_db: -40 };
  chat.mergeMessages('1', items, true);
  return chat;
}

describe('reactions', () => {
  it('counts in and out, keeps `me` for the own user only, and drops emoji nobody uses', () => {
    let r = countReaction([], '👍', false, true);
    r = countReaction(r, '👍', true, true);
    r = countReaction(r, '🎉', false, true);
    expect(r).toEqual([{ emoji: '👍', count: 2, me: true }, { emoji: '🎉', count: 1, me: false }]);
    r = countReaction(r, '👍', true, false);
    expect(r[0]).toEqual({ emoji: '👍', count: 1, me: false });
    r = countReaction(r, '🎉', false, false);
    expect(r.map((x) => x.emoji)).toEqual(['👍']);
    expect(countReaction(r, '🚀', false, false)).toBe(r); // taking back what is not there changes nothing
  });

  it('follows reaction events and keeps its own reactions across an edit', () => {
    const chat = chatWith(msg('100'));
    chat.applyEvent({ seq: 1, type: 'reaction_add', channel_id: '1', message_id: '100', user_id: '10', emoji: '👍' });
    chat.applyEvent({ seq: 2, type: 'reaction_add', channel_id: '1', message_id: '100', user_id: '12', emoji: '👍' });
    expect(chat.history('1').items[0].reactions).toEqual([{ emoji: '👍', count: 2, me: true }]);
    // An edit event reports `me: false` for everyone: the loaded reactions stay.
    chat.applyEvent({ seq: 3, type: 'message_update', message: msg('100', { body: 'edited', reactions: [{ emoji: '👍', count: 2, me: false }] }) });
    expect(chat.history('1').items[0]).toMatchObject({ body: 'edited', reactions: [{ emoji: '👍', count: 2, me: true }] });
  });
});

describe('replies and pins', () => {
  it('marks references to a deleted message and cancels a reply to it', () => {
    const original = msg('100');
    const reply = msg('101', { reply_to: { id: '100', author_id: '11', author_name: 'bob', excerpt: 'm100', deleted: false } });
    const chat = chatWith(original, reply);
    chat.replies['1'] = { message: original, notify: true };
    chat.applyEvent({ seq: 1, type: 'message_delete', channel_id: '1', message_id: '100' });
    expect(chat.history('1').items[0].reply_to).toEqual({ id: '100', author_id: '11', author_name: 'bob', excerpt: '', deleted: true });
    expect(chat.replies['1']).toBeUndefined();
  });

  it('adds and removes pins of a loaded list from pins_update', () => {
    const chat = chatWith(msg('100'), msg('101'));
    chat.pins['1'] = [];
    chat.applyEvent({ seq: 1, type: 'pins_update', channel_id: '1', message_id: '101', pinned: true, user_id: '11' });
    expect(chat.isPinned('1', '101')).toBe(true);
    chat.applyEvent({ seq: 2, type: 'pins_update', channel_id: '1', message_id: '101', pinned: false, user_id: '11' });
    expect(chat.isPinned('1', '101')).toBe(false);
    chat.applyEvent({ seq: 3, type: 'pins_update', channel_id: '1', message_id: '999', pinned: true, user_id: '11' });
    expect(chat.pins['1']).toBeUndefined(); // a pin of a message not loaded here: the panel refetches
  });
});
