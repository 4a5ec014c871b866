// The search box's little language: words, plus `from:` (a user), `in:` (a channel),
// `has:` (link or attachment), `before:` and `after:` (a date, YYYY-MM-DD) filters,
// turned into the parameters of GET /api/search. Filters are resolved here against the
// users and channels the client knows; one that names nothing is reported, not dropped,
// so a typo never widens a search silently.

import type { Id } from '../generated/Id';
import type { SearchHas } from '../generated/SearchHas';
import type { SearchQuery } from '../generated/SearchQuery';

export type Named = { id: Id; name: string };

export type ParsedSearch = { ok: true; query: SearchQuery } | { ok: false; error: string };

const HAS: Record<string, SearchHas> = { link: 'link', links: 'link', attachment: 'attachment', file: 'attachment', files: 'attachment' };

/** Midnight UTC at the start of a `YYYY-MM-DD` day, or null. */
function day(text: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return null;
  const ms = Date.parse(`${text}T00:00:00Z`);
  return Number.isNaN(ms) ? null : ms;
}

const DAY_MS = 24 * 3600 * 1000;

/**
 * Parses what was typed. `users` match by username (or display name), `channels` by name
 * (with or without `#`), both without case.
 */
export function parseSearch(text: string, users: Named[], channels: Named[]): ParsedSearch {
  const words: string[] = [];
  const query: SearchQuery = { q: '' };
  for (const token of text.trim().split(/\s+/).filter(Boolean)) {
    const m = /^(from|in|has|before|after):(.*)$/i.exec(token);
    if (!m || m[2] === '') {
      words.push(token);
      continue;
    }
    const key = m[1].toLowerCase();
    const value = m[2];
    if (key === 'from') {
      const name = value.replace(/^@/, '').toLowerCase();
      const user = users.find((u) => u.name.toLowerCase() === name);
      if (!user) return { ok: false, error: `No user called “${value}”.` };
      query.author_id = user.id;
    } else if (key === 'in') {
      const name = value.replace(/^#/, '').toLowerCase();
      const channel = channels.find((c) => c.name.toLowerCase() === name);
      if (!channel) return { ok: false, error: `No channel called “${value}”.` };
      query.channel_id = channel.id;
    } else if (key === 'has') {
      const has = HAS[value.toLowerCase()];
      if (!has) return { ok: false, error: 'has: takes link or attachment.' };
      query.has = has;
    } else {
      const at = day(value);
      if (at === null) return { ok: false, error: `${key}: takes a date like 2026-01-31.` };
      // before: a day means before it starts; after: a day means after it ends.
      if (key === 'before') query.before = at;
      else query.after = at + DAY_MS - 1;
    }
  }
  query.q = words.join(' ');
  if (!/[\p{L}\p{N}]/u.test(query.q)) return { ok: false, error: 'Type a word to search for.' };
  return { ok: true, query };
}
