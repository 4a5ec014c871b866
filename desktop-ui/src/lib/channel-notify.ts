// What a user's notification setting for a channel means on this side: which badges the
// sidebar shows and which desktop notifications fire. The server applies the same
// setting to the inbox (no notification is stored for a silenced channel).

import type { ChannelListEntry } from '../generated/ChannelListEntry';

type Setting = Pick<ChannelListEntry, 'notification_level' | 'muted_until'>;

/** Muted right now (a mute ends by itself at `muted_until`). */
export function isMuted(ch: Setting, now: number = Date.now()): boolean {
  return ch.muted_until !== null && ch.muted_until > now;
}

/** Nothing reaches the user from this channel: level `nothing`, or muted. */
export function isSilenced(ch: Setting, now: number = Date.now()): boolean {
  return ch.notification_level === 'nothing' || isMuted(ch, now);
}

/** A desktop notification for every message by others (level `all`, not muted). */
export function notifiesEveryMessage(ch: Setting, now: number = Date.now()): boolean {
  return ch.notification_level === 'all' && !isMuted(ch, now);
}

/** Choices for "mute for", in seconds. */
export const MUTE_CHOICES: readonly { label: string; secs: number }[] = [
  { label: '15 minutes', secs: 15 * 60 },
  { label: '1 hour', secs: 3600 },
  { label: '8 hours', secs: 8 * 3600 },
  { label: '24 hours', secs: 24 * 3600 },
  { label: '1 week', secs: 7 * 24 * 3600 },
];
