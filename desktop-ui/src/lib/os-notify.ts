// System notifications while the tab is in the background: mentions and direct
// messages (the server made them, so the channel's setting allowed them), and every
// message of a channel whose level is `all`.
import type { Message } from '../generated/Message';
import type { Notification as Inbox } from '../generated/Notification';
import { notifiesEveryMessage } from './channel-notify';
import type { AppController } from '../stores/app.svelte';
import { router } from './router.svelte';

export function osNotificationsAvailable(): boolean {
  return typeof window !== 'undefined' && 'Notification' in window;
}

export async function requestOsNotifications(): Promise<NotificationPermission | 'unsupported'> {
  if (!osNotificationsAvailable()) return 'unsupported';
  return window.Notification.requestPermission();
}

export function notifyMention(app: AppController, n: Inbox): void {
  if (!osNotificationsAvailable() || window.Notification.permission !== 'granted') return;
  if (document.visibilityState === 'visible' && document.hasFocus()) return;
  const who = app.chat.displayName(n.actor_id);
  const title = n.kind === 'direct_message' ? `${who} (direct message)` : `${who} mentioned you in ${app.chat.channelLabel(n.channel_id)}`;
  const shown = new window.Notification(title, {
    body: n.excerpt,
    tag: n.id,
  });
  shown.onclick = () => {
    window.focus();
    router.go(`/channels/${n.channel_id}`);
    void app.markNotificationRead(n.id);
    shown.close();
  };
}

/** A message by someone else in a channel set to `all`; mentions come as `notifyMention`. */
export function notifyMessage(app: AppController, m: Message): void {
  if (!osNotificationsAvailable() || window.Notification.permission !== 'granted') return;
  if (document.visibilityState === 'visible' && document.hasFocus()) return;
  const ch = app.chat.channel(m.channel_id);
  // A direct message's messages are notifications of their own (`notifyMention`).
  if (!ch || ch.kind === 'dm' || m.author_id === app.chat.me?.id || !notifiesEveryMessage(ch) || app.chat.mentionsMe(m)) return;
  const shown = new window.Notification(`${app.chat.displayName(m.author_id)} in #${ch.name}`, { body: m.body.slice(0, 140), tag: m.id });
  shown.onclick = () => {
    window.focus();
    router.go(`/channels/${m.channel_id}`);
    shown.close();
  };
}
