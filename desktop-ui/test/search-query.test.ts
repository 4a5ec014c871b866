import { describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend/index';
import type { SearchHit } from '../src/generated/SearchHit';
import type { SearchQuery } from '../src/generated/SearchQuery';
import type { User } from '../src/generated/User';
import { parseSearch } from '../src/lib/search-query';
import { ChatState } from '../src/stores/chat.svelte';
import { SearchState } from '../src/stores/search.svelte';

const users = [
  { id: '1', name: 'ann' },
  { id: '2', name: 'Bob' },
];
const channels = [
  { id: '10', name: 'general' },
  { id: '11', name: 'random' },
];

describe('parseSearch', () => {
  it('keeps plain words as the query', () => {
    expect(parseSearch('  deploy  notes ', users, channels)).toEqual({ ok: true, query: { q: 'deploy notes' } });
  });

  it('turns filters into parameters, without case', () => {
    const parsed = parseSearch('from:@bob in:#General has:link report', users, channels);
    expect(parsed).toEqual({ ok: true, query: { q: 'report', author_id: '2', channel_id: '10', has: 'link' } });
    expect(parseSearch('has:attachment x', users, channels)).toEqual({ ok: true, query: { q: 'x', has: 'attachment' } });
  });

  it('reads dates as whole UTC days', () => {
    const parsed = parseSearch('after:2026-01-01 before:2026-02-01 x', users, channels);
    expect(parsed).toEqual({
      ok: true,
      query: { q: 'x', after: Date.UTC(2026, 0, 2) - 1, before: Date.UTC(2026, 1, 1) },
    });
  });

  it('reports a filter naming nothing instead of dropping it', () => {
    expect(parseSearch('from:zed x', users, channels)).toEqual({ ok: false, error: 'No user called “zed”.' });
    expect(parseSearch('in:nowhere x', users, channels)).toMatchObject({ ok: false });
    expect(parseSearch('has:pictures x', users, channels)).toMatchObject({ ok: false });
    expect(parseSearch('before:yesterday x', users, channels)).toMatchObject({ ok: false });
  });

  it('needs a word besides the filters', () => {
    expect(parseSearch('from:ann', users, channels)).toEqual({ ok: false, error: 'Type a word to search for.' });
    expect(parseSearch(' -- ', users, channels)).toMatchObject({ ok: false });
  });

  it('leaves a bare "key:" as a word', () => {
    expect(parseSearch('in: x', users, channels)).toEqual({ ok: true, query: { q: 'in: x' } });
  });
});

describe('SearchState', () => {
  function state(answer: () => Promise<SearchHit[]>) {
    const chat = new ChatState();
    chat.users = { '2': { id: '2', username: 'bob', display_name: 'Bobby', avatar_url: null, role: 'member', created_at: 0 } as User };
    const asked: SearchQuery[] = [];
    const backend = {
      searchMessages: (query: SearchQuery) => {
        asked.push(query);
        return answer();
      },
    } as unknown as Backend;
    return { search: new SearchState(backend, chat), asked };
  }

  it('asks the server with the parsed filters and keeps the hits', async () => {
    const hit = { channel_id: '10', score: 1, snippet: [{ text: 'x', matched: true }] } as SearchHit;
    const { search, asked } = state(async () => [hit]);
    await search.run('from:Bobby x');
    expect(asked).toEqual([{ q: 'x', author_id: '2', limit: 25 }]);
    expect(search.hits).toEqual([hit]);
    expect(search.open).toBe(true);
  });

  it('reports a filter naming nobody without asking the server', async () => {
    const { search, asked } = state(async () => []);
    await search.run('from:zed x');
    expect(asked).toEqual([]);
    expect(search.error).toBe('No user called “zed”.');
  });
});
