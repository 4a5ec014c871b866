// Mentions in the client: where the text says `@name` (by the server's rules, which the
// shared vectors in shared-protocol/tests/vectors/mentions.json pin), what the server
// resolved it to (`Message.mentions`), and the composer's autocomplete.

import type { Group } from '../generated/Group';
import type { Id } from '../generated/Id';
import type { Mention } from '../generated/Mention';
import type { User } from '../generated/User';
import { GROUP_NAME_MAX_CHARS, USERNAME_MAX_CHARS } from '../generated/constants';

/** A character a username or group name may hold (the server's `is_name_char`). */
const NAME_CLASS = '[\\p{Alphabetic}\\p{N}_.-]';
const NAME_CHAR = new RegExp(NAME_CLASS, 'u');
const NAME_RUN = new RegExp(`^${NAME_CLASS}*`, 'u');
const LONGEST_NAME = Math.max(USERNAME_MAX_CHARS, GROUP_NAME_MAX_CHARS);
const TYPED_QUERY = new RegExp(`(^|\\s)@(${NAME_CLASS}{0,${LONGEST_NAME}})$`, 'u');

/**
 * The name of the mention whose `@` is at `pos`, as written, or null when that `@` does
 * not start one: it follows a name character (`ann@example.com`) or a `/` (a URL
 * path), names nobody, or names something longer than any name can be. A trailing `.`
 * ends the sentence, not the name. Code and `\@` are the caller's to skip.
 */
export function mentionAt(source: string, pos: number): string | null {
  if (source[pos] !== '@') return null;
  const prev = charBefore(source, pos);
  if (NAME_CHAR.test(prev) || prev === '/') return null;
  const name = (NAME_RUN.exec(source.slice(pos + 1))?.[0] ?? '').replace(/\.+$/, '');
  if (!name || [...name].length > LONGEST_NAME) return null;
  return name;
}

/** The whole character (code point) that ends right before `pos`, or '' at the start. */
function charBefore(source: string, pos: number): string {
  if (pos === 0) return '';
  const last = source.charCodeAt(pos - 1);
  const isLowSurrogate = last >= 0xdc00 && last <= 0xdfff;
  return String.fromCodePoint(source.codePointAt(isLowSurrogate && pos >= 2 ? pos - 2 : pos - 1) ?? 0);
}

/** What a written `@name` stands for: the reader (directly, by group, @here, @everyone), someone else, or nothing the server resolved. */
export type MentionTarget = 'self' | 'other' | null;

export interface MentionContext {
  me: Id | null;
  users: Record<Id, User>;
  groups: Group[];
}

/**
 * Resolves lower-cased names against what the server found in the message: only names
 * it turned into mentions count, users before groups as the server looks them up.
 */
export function mentionResolver(mentions: Mention[], ctx: MentionContext): (name: string) => MentionTarget {
  return (name) => {
    if (name === 'here' || name === 'everyone') return mentions.some((m) => m.type === name) ? 'self' : null;
    for (const m of mentions) {
      if (m.type === 'user' && ctx.users[m.user_id]?.username.toLowerCase() === name) return m.user_id === ctx.me ? 'self' : 'other';
    }
    for (const m of mentions) {
      if (m.type !== 'group') continue;
      const group = ctx.groups.find((g) => g.id === m.group_id);
      if (group?.name.toLowerCase() === name) return ctx.me !== null && group.member_ids.includes(ctx.me) ? 'self' : 'other';
    }
    return null;
  };
}

export interface MentionCandidate {
  /** What gets inserted after `@`, and what the query matches. */
  name: string;
  /** A user's display name, which the query matches too. */
  displayName?: string;
  /** Shown beside the name; never matched. */
  label: string;
  kind: 'user' | 'group' | 'special';
}

/** Everyone and everything the composer can mention, the writer included. */
export function mentionCandidates(users: User[], groups: Group[]): MentionCandidate[] {
  return [
    ...users.map((u) => ({ name: u.username, displayName: u.display_name ?? undefined, label: u.display_name || u.username, kind: 'user' as const })),
    ...groups.map((g) => ({ name: g.name, label: `${g.name} (group)`, kind: 'group' as const })),
    { name: 'here', label: 'Everyone online here', kind: 'special' as const },
    { name: 'everyone', label: 'Everyone in the channel', kind: 'special' as const },
  ];
}

/** The `@query` right before the caret, if the caret is in one. */
export function mentionQuery(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  const m = TYPED_QUERY.exec(before);
  if (!m) return null;
  return { start: caret - m[2].length - 1, query: m[2] };
}

/** Candidates whose name (or display name) starts with, else contains, the query. */
export function matchMentions(query: string, candidates: MentionCandidate[], limit = 8): MentionCandidate[] {
  const q = query.toLowerCase();
  const scored = candidates
    .map((c) => {
      const name = c.name.toLowerCase();
      const display = (c.displayName ?? '').toLowerCase();
      const score = name.startsWith(q) ? 0 : display.startsWith(q) ? 1 : name.includes(q) || display.includes(q) ? 2 : -1;
      return { c, score };
    })
    .filter((x) => x.score >= 0);
  scored.sort((a, b) => a.score - b.score || a.c.name.localeCompare(b.c.name));
  return scored.slice(0, limit).map((x) => x.c);
}

/** Replaces the `@query` at `start` with the chosen name and a space; returns text and caret. */
export function insertMention(text: string, start: number, caret: number, name: string): { text: string; caret: number } {
  const inserted = `@${name} `;
  return { text: text.slice(0, start) + inserted + text.slice(caret), caret: start + inserted.length };
}
