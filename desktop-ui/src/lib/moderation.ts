// What the two moderation UIs (the Admin screen's card and the profile popover) offer.
// The server decides for real; these only keep the UIs from offering what could not work.
import type { User } from '../generated/User';

/** How long a timeout may last. */
export const TIMEOUT_DURATIONS = [
  { label: '10 minutes', secs: 600 },
  { label: '1 hour', secs: 3600 },
  { label: '1 day', secs: 86_400 },
  { label: '1 week', secs: 7 * 86_400 },
];

/** How far back a ban deletes the banned user's messages. */
export const BAN_DELETE_WINDOWS = [
  { label: 'Keep their messages', hours: 0 },
  { label: 'Delete the last hour', hours: 1 },
  { label: 'Delete the last 24 hours', hours: 24 },
  { label: 'Delete the last 7 days', hours: 168 },
];

/** Whether `me` may time out or ban `user`: admins and moderators act on others who are
 * not admins, moderators on members only, and nobody on a deleted account. */
export function mayModerate(me: User | null | undefined, user: User): boolean {
  if (!me || (me.role !== 'admin' && me.role !== 'moderator')) return false;
  if (me.id === user.id || user.deleted_at || user.role === 'admin') return false;
  return me.role === 'admin' || user.role === 'member';
}
