// The desktop app's update prompt: asks the server at start and once a day, shows what
// it offers, installs only when the user says so.

import type { DesktopUpdates, UpdateOffer } from '../backend/index';

/** How often a running app asks again. */
export const CHECK_EVERY_MS = 24 * 60 * 60 * 1000;

export interface Timers {
  setInterval: (fn: () => void, ms: number) => unknown;
  clearInterval: (id: unknown) => void;
}

const realTimers: Timers = {
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (id) => clearInterval(id as ReturnType<typeof setInterval>),
};

export class UpdateState {
  offer = $state<UpdateOffer | null>(null);
  installing = $state(false);
  /** Why the last install did not happen, in the app's words. */
  message = $state('');

  constructor(
    private readonly updates: DesktopUpdates,
    private readonly timers: Timers = realTimers,
  ) {}

  /** Checks now and then once a day; resolves to a function that stops checking. */
  start(): () => void {
    void this.check();
    const timer = this.timers.setInterval(() => void this.check(), CHECK_EVERY_MS);
    return () => this.timers.clearInterval(timer);
  }

  async check(): Promise<void> {
    try {
      const offer = await this.updates.check();
      // A refused install keeps its message until something else is offered.
      if (offer?.version !== this.offer?.version) this.message = '';
      this.offer = offer;
    } catch {
      // Server unreachable or not answering updates: nothing to show; the next check retries.
    }
  }

  /** On success the app restarts into the new version, so nothing follows here. */
  async install(): Promise<void> {
    if (!this.offer || this.installing) return;
    this.installing = true;
    this.message = '';
    try {
      await this.updates.install();
    } catch (e) {
      this.message = e instanceof Error ? e.message : 'The update could not be installed.';
    } finally {
      this.installing = false;
    }
  }

  /** Hides the offer until the next check. */
  later(): void {
    this.offer = null;
    this.message = '';
  }
}
