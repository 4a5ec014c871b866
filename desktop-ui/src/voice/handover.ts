// Moving a room between the mesh and the forwarding unit without a gap, and without
// anyone heard twice. Both transports run side by side and we send on both; each
// participant is heard through exactly one of them: the old one until the new one's
// stream of that participant delivers its first packet, the new one from then on.
// Into the SFU, the mesh peer of a participant closes as soon as they moved; out of it,
// their SFU track is only silenced, since the one connection carries everyone. 2 s
// after the new transport is fully connected the old one closes for whoever is left.

import type { Id } from '../generated/Id';
import type { Transport } from './transport';

/** How long the old path may still play once the new one is connected. */
export const HANDOVER_DEADLINE_MS = 2000;
/** How often the new path's streams are checked for their first packet. */
const POLL_MS = 100;

export interface HandoverHost {
  /** The other participants in the room now. */
  others(): Id[];
  /** A participant moved: mute the path they left and unmute the one they are on. */
  moved(sessionId: Id): void;
  /** The old transport is closed; every stream of the new one is heard. */
  finished(): void;
}

export class Handover {
  private readonly movedIds = new Set<Id>();
  private poll: ReturnType<typeof setInterval> | null;
  private deadline: ReturnType<typeof setTimeout> | null = null;
  private polling = false;
  private done = false;

  constructor(
    readonly from: Transport,
    readonly to: Transport,
    private readonly host: HandoverHost,
  ) {
    this.poll = setInterval(() => void this.tick(), POLL_MS);
  }

  /** Whether `transport` is the path `sessionId` is heard through now. */
  audible(transport: Transport, sessionId: Id): boolean {
    if (this.done) return transport === this.to;
    if (transport === this.to) return this.movedIds.has(sessionId);
    return !this.movedIds.has(sessionId);
  }

  /** A transport started playing a participant. */
  started(transport: Transport, sessionId: Id): void {
    // Not heard through the old path at all: the new one is the only one there is.
    if (transport === this.to && !this.from.remotes.has(sessionId)) this.move(sessionId);
  }

  /** Connection states changed: the deadline starts once the new side is connected. */
  changed(): void {
    if (this.done || this.deadline || !this.to.connected(this.host.others())) return;
    this.deadline = setTimeout(() => this.finish(), HANDOVER_DEADLINE_MS);
  }

  /** Ends the move now: the old transport closes. */
  finish(): void {
    if (this.done) return;
    this.stopTimers();
    this.done = true;
    this.from.close();
    this.host.finished();
  }

  /** Stops watching without touching either transport (leaving the room closes both). */
  cancel(): void {
    this.stopTimers();
    this.done = true;
  }

  private move(sessionId: Id): void {
    if (this.done || this.movedIds.has(sessionId)) return;
    this.movedIds.add(sessionId);
    if (this.to.mode === 'sfu') this.from.drop(sessionId);
    this.host.moved(sessionId);
  }

  private async tick(): Promise<void> {
    if (this.polling || this.done) return;
    this.polling = true;
    try {
      for (const id of [...this.to.remotes.keys()]) {
        if (this.movedIds.has(id)) continue;
        if ((await this.to.packetsFrom(id).catch(() => 0)) > 0) this.move(id);
      }
    } finally {
      this.polling = false;
    }
  }

  private stopTimers(): void {
    if (this.poll) clearInterval(this.poll);
    if (this.deadline) clearTimeout(this.deadline);
    this.poll = null;
    this.deadline = null;
  }
}
