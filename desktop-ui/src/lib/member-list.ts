// The members panel's rows: a channel's members grouped by presence (online, idle,
// offline), each group under a header and sorted by name, and which of those rows to
// put in the DOM. Every row has the same height, so the window is arithmetic and a
// 10,000-member channel renders only the few dozen rows in view.

import type { Group } from '../generated/Group';
import type { Id } from '../generated/Id';
import type { PresenceStatus } from '../generated/PresenceStatus';
import type { User } from '../generated/User';

export type MemberRow =
  | { kind: 'header'; status: PresenceStatus; count: number }
  | { kind: 'member'; userId: Id; status: PresenceStatus };

export const PRESENCE_ORDER: readonly PresenceStatus[] = ['online', 'idle', 'offline'];

const collator = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });

function nameOf(users: Record<Id, User>, id: Id): string {
  const u = users[id];
  return u ? u.display_name || u.username : '';
}

/**
 * Members sorted by shown name (ties by id), once per member list or profile change;
 * grouping them by presence is then a linear pass, cheap enough for every presence event.
 */
export function sortByName(memberIds: readonly Id[], users: Record<Id, User>): Id[] {
  return memberIds
    .map((id) => ({ id, name: nameOf(users, id) }))
    .sort((a, b) => collator.compare(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((m) => m.id);
}

/** Header and member rows; a group nobody is in is left out. */
export function presenceRows(sorted: readonly Id[], presences: Record<Id, PresenceStatus>): MemberRow[] {
  const buckets: Record<PresenceStatus, Id[]> = { online: [], idle: [], offline: [] };
  for (const id of sorted) buckets[presences[id] ?? 'offline'].push(id);
  const rows: MemberRow[] = [];
  for (const status of PRESENCE_ORDER) {
    const ids = buckets[status];
    if (ids.length === 0) continue;
    rows.push({ kind: 'header', status, count: ids.length });
    for (const userId of ids) rows.push({ kind: 'member', userId, status });
  }
  return rows;
}

/** Each user's groups, for the chips beside their name. */
export function groupsByUser(groups: readonly Group[]): Map<Id, Group[]> {
  const byUser = new Map<Id, Group[]>();
  for (const g of groups) {
    for (const id of g.member_ids) {
      const list = byUser.get(id);
      if (list) list.push(g);
      else byUser.set(id, [g]);
    }
  }
  return byUser;
}

/** The rows `[first, last)` to render for a scroll position, with `overscan` rows of margin. */
export function fixedWindow(scrollTop: number, viewportHeight: number, count: number, rowHeight: number, overscan: number): { first: number; last: number } {
  if (count === 0) return { first: 0, last: 0 };
  const top = Math.max(0, scrollTop);
  const visibleFirst = Math.min(count - 1, Math.floor(top / rowHeight));
  const visibleLast = Math.min(count, Math.ceil((top + Math.max(0, viewportHeight)) / rowHeight));
  return { first: Math.max(0, visibleFirst - overscan), last: Math.min(count, Math.max(visibleLast, visibleFirst + 1) + overscan) };
}

const PANEL_KEY = 'cromulent.membersPanel';

/** Whether the members panel is open, remembered in this browser (open unless closed once). */
export function loadMembersPanelOpen(storage: Pick<Storage, 'getItem'> | undefined = globalThis.localStorage): boolean {
  return storage?.getItem(PANEL_KEY) !== 'closed';
}

export function saveMembersPanelOpen(open: boolean, storage: Pick<Storage, 'setItem'> | undefined = globalThis.localStorage): void {
  storage?.setItem(PANEL_KEY, open ? 'open' : 'closed');
}
