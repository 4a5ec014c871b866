// Mention autocomplete: what the user is typing after `@`, and who matches it.

export interface MentionCandidate {
  /** What gets inserted after `@`. */
  name: string;
  label: string;
  kind: 'user' | 'group' | 'special';
}

/** The `@query` right before the caret, if the caret is in one. */
export function mentionQuery(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  const m = /(^|\s)@([\w.-]{0,32})$/.exec(before);
  if (!m) return null;
  return { start: caret - m[2].length - 1, query: m[2] };
}

export function matchMentions(query: string, candidates: MentionCandidate[], limit = 8): MentionCandidate[] {
  const q = query.toLowerCase();
  const scored = candidates
    .map((c) => {
      const name = c.name.toLowerCase();
      const label = c.label.toLowerCase();
      const score = name.startsWith(q) ? 0 : label.startsWith(q) ? 1 : name.includes(q) || label.includes(q) ? 2 : -1;
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
