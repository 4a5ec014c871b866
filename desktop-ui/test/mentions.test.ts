import { describe, expect, it } from 'vitest';
import type { Group } from '../src/generated/Group';
import type { User } from '../src/generated/User';
import { matchMentions, mentionCandidates, mentionQuery, mentionResolver } from '../src/lib/mentions';

const user = (id: string, username: string, display_name: string | null = null): User => ({
  id,
  username,
  display_name,
  avatar_url: null,
  role: 'member',
  created_at: 0,
});
const users = [user('1', 'me'), user('2', 'annie'), user('3', 'bob', 'Annabel Lee'), user('4', 'carol')];
const groups: Group[] = [{ id: '9', name: 'design', colour: '#123456', member_ids: ['1'] }];

describe('mention autocomplete', () => {
  it('matches names, never the descriptions shown beside them', () => {
    const offered = matchMentions('ann', mentionCandidates(users, groups)).map((c) => c.name);
    expect(offered, '"Everyone in the channel" contains "ann" but is a description').not.toContain('everyone');
    expect(offered, 'a username and a display name both count').toEqual(['annie', 'bob']);
    expect(matchMentions('group', mentionCandidates(users, groups)), 'the "(group)" label is not a name').toEqual([]);
    expect(matchMentions('ever', mentionCandidates(users, groups)).map((c) => c.name)).toEqual(['everyone']);
  });

  it('offers the writer too, like anyone else', () => {
    expect(matchMentions('me', mentionCandidates(users, groups)).map((c) => c.name)).toContain('me');
  });

  it('reads the query from the word the caret is in, with the names’ characters', () => {
    expect(mentionQuery('hi @zoë-x', 9)).toEqual({ start: 3, query: 'zoë-x' });
    expect(mentionQuery('mail ann@ex', 11), 'an address is not a mention').toBeNull();
  });
});

describe('mentionResolver', () => {
  const ctx = { me: '1', users: Object.fromEntries(users.map((u) => [u.id, u])), groups };

  it('highlights only what the server resolved', () => {
    const resolve = mentionResolver([{ type: 'user', user_id: '2' }], ctx);
    expect(resolve('annie')).toBe('other');
    expect(resolve('carol'), 'named in the text, but not a mention the server stored').toBeNull();
    expect(resolve('everyone'), 'an @everyone the server did not accept (not allowed here)').toBeNull();
  });

  it('marks the reader’s own mentions: directly, by group, @here and @everyone', () => {
    const resolve = mentionResolver(
      [{ type: 'user', user_id: '1' }, { type: 'group', group_id: '9' }, { type: 'here' }, { type: 'everyone' }],
      ctx,
    );
    expect(['me', 'design', 'here', 'everyone'].map(resolve)).toEqual(['self', 'self', 'self', 'self']);
    const other = mentionResolver([{ type: 'group', group_id: '9' }], { ...ctx, me: '4' });
    expect(other('design'), 'a group the reader is not in').toBe('other');
  });
});
