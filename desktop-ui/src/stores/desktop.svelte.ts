// The desktop app's settings as the Desktop card shows them: which global push-to-talk
// backend runs and why, its key, the Wayland evdev opt-in and start at login.

import type { DesktopSettings, PttStatus } from '../backend/index';
import { mouseButtonKey } from '../lib/key-label';
import { describeError } from './app.svelte';

/** The part of the voice engine that owns the key used in the window. */
export interface PttKeyOwner {
  prefs: { pttKey: string };
  updatePrefs(change: { pttKey: string }): void;
}

export class DesktopState {
  status = $state<PttStatus | null>(null);
  capturing = $state(false);
  evdevOptIn = $state<boolean | null>(null);
  startAtLogin = $state<boolean | null>(null);
  message = $state('');

  constructor(
    private readonly desktop: DesktopSettings,
    private readonly voice: PttKeyOwner,
  ) {}

  get key(): string {
    return this.status?.key ?? this.voice.prefs.pttKey;
  }

  /** Mouse side buttons only mean something to backends that can report them. */
  get mouseAllowed(): boolean {
    return this.status?.backend === 'global' || this.status?.backend === 'evdev';
  }

  /** evdev is only ever chosen on Wayland; elsewhere the switch would do nothing. */
  get evdevRelevant(): boolean {
    return this.evdevOptIn !== null && this.status !== null && (this.status.backend !== 'global' || this.evdevOptIn);
  }

  /** Loads everything and follows the app; resolves to a function that stops following. */
  async load(): Promise<() => void> {
    const stops = await Promise.all([
      this.desktop.onPttStatus((s) => (this.status = s)),
      this.desktop.onPttKeyCaptured((key) => this.useKey(key)),
    ]);
    await Promise.all([
      this.desktop.pttStatus().then((s) => (this.status = s ?? this.status), () => undefined),
      this.desktop.evdevOptIn().then((on) => (this.evdevOptIn = on), () => undefined),
      this.desktop.startAtLogin().then((on) => (this.startAtLogin = on), () => undefined),
    ]);
    return () => stops.forEach((stop) => stop());
  }

  /**
   * Native capture sees what the webview never gets (a key pressed in another window,
   * side buttons); the window's own events cover backends that cannot capture.
   */
  async startCapture(): Promise<void> {
    this.message = '';
    this.capturing = true;
    await this.desktop.capturePttKey().catch(() => false);
  }

  /** A key pressed in the window; true when it was taken as the key. */
  keydown(code: string): boolean {
    if (!this.capturing) return false;
    this.useKey(code);
    return true;
  }

  /** A mouse button pressed in the window; true when it was taken as the key. */
  mousedown(button: number): boolean {
    const key = this.capturing && this.mouseAllowed ? mouseButtonKey(button) : null;
    if (key) this.useKey(key);
    return key !== null;
  }

  async setEvdevOptIn(on: boolean): Promise<void> {
    try {
      await this.desktop.setEvdevOptIn(on);
      this.evdevOptIn = on;
      this.message = 'Applies the next time the app starts.';
    } catch (err) {
      this.message = describeError(err);
    }
  }

  async setStartAtLogin(on: boolean): Promise<void> {
    try {
      await this.desktop.setStartAtLogin(on);
      this.startAtLogin = on;
    } catch (err) {
      this.message = describeError(err);
    }
  }

  // The engine's key drives in-window push-to-talk; in the app, changing it also hands
  // the key to the global backend (attachNativeVoice), so there is one path for both.
  private useKey(key: string): void {
    this.capturing = false;
    if (key !== this.voice.prefs.pttKey) this.voice.updatePrefs({ pttKey: key });
    if (this.status) this.status = { ...this.status, key };
  }
}
