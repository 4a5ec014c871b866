// System notifications for mentions while the tab is in the background.
import type { Notification as Inbox } from '../generated/Notification';
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
  const channel = app.chat.channel(n.channel_id)?.name ?? 'a channel';
  const shown = new window.Notification(`${app.chat.displayName(n.actor_id)} mentioned you in #${channel}`, {
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
