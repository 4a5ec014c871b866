// The gateway connection: hello → identify/resume → events, heartbeats, and
// reconnecting with jittered backoff. Kept free of browser globals (the socket and
// timers are passed in) so tests drive it with fakes.

import type { ClientFrame } from '../generated/ClientFrame';
import type { ServerFrame } from '../generated/ServerFrame';
import { CLOSE_CODE, EVENT_TYPES, PROTOCOL_VERSION } from '../generated/constants';
import type { Gateway, GatewayHandlers } from './index';

/** The part of `WebSocket` the gateway uses. */
export interface SocketLike {
  readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface GatewayDeps {
  url: string;
  openSocket(url: string): SocketLike;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  random(): number;
}

const OPEN = 1;

// Close codes that end the session for good.
const SIGNED_OUT = new Set<number>([
  CLOSE_CODE.AUTHENTICATION_FAILED,
  CLOSE_CODE.SESSION_REVOKED,
  CLOSE_CODE.ACCOUNT_DELETED,
]);
const GIVE_UP = new Set<number>([CLOSE_CODE.UNSUPPORTED_VERSION]);
// The server is busy (rate limited, full, too many sessions for this user): wait at
// least BUSY_PAUSE_MS before trying again, so a full server is not hammered.
const BUSY = new Set<number>([CLOSE_CODE.RATE_LIMITED, CLOSE_CODE.SERVER_FULL, CLOSE_CODE.TOO_MANY_SESSIONS]);
const BUSY_PAUSE_MS = 5_000;
// The client's own code for a link it gave up on, and the code it then acts on.
const CLIENT_HEARTBEAT_CLOSE = 4000;

const KNOWN_EVENTS: ReadonlySet<string> = new Set(EVENT_TYPES);

/**
 * An event frame whose `type` this build does not know: a newer server added it. Its
 * `seq` counts as seen; the frame itself is skipped rather than handed on half-typed.
 */
export function isUnknownEvent(frame: object): frame is { seq: number; type: string } {
  return 'seq' in frame && 'type' in frame && typeof frame.type === 'string' && !KNOWN_EVENTS.has(frame.type);
}

/** Delay before reconnect attempt `attempt` (0-based): exponential, capped, jittered. */
export function backoffMs(attempt: number, random: () => number): number {
  const ceiling = Math.min(30_000, 500 * 2 ** Math.min(attempt, 10));
  // Full jitter in the upper half: spread reconnect storms, never hammer at once.
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export class GatewayConnection implements Gateway {
  private socket: SocketLike | null = null;
  private sessionId: string | null = null;
  private lastSeq = 0;
  private attempt = 0;
  private everReady = false;
  private closed = false;
  private heartbeatTimer: unknown = null;
  private reconnectTimer: unknown = null;
  private awaitingAck = false;
  private readonly outbox: ClientFrame[] = [];
  private authenticated = false;

  constructor(
    private readonly deps: GatewayDeps,
    private readonly handlers: GatewayHandlers,
  ) {
    this.open();
  }

  /** Sends now when the session is up, else as soon as it is (typing, voice ops). */
  send(frame: ClientFrame): void {
    if (this.socket && this.socket.readyState === OPEN && this.authenticated) {
      this.socket.send(JSON.stringify(frame));
    } else if (this.outbox.length < 100) {
      this.outbox.push(frame);
    }
  }

  close(): void {
    this.closed = true;
    this.stopTimers();
    this.socket?.close(CLOSE_CODE.NORMAL, 'client closed');
    this.socket = null;
    this.handlers.status('closed');
  }

  /** For tests and diagnostics. */
  get state(): { sessionId: string | null; lastSeq: number } {
    return { sessionId: this.sessionId, lastSeq: this.lastSeq };
  }

  private open(): void {
    this.authenticated = false;
    this.handlers.status(this.everReady ? 'reconnecting' : 'connecting');
    const socket = this.deps.openSocket(this.deps.url);
    this.socket = socket;
    socket.onmessage = (ev) => {
      if (this.socket !== socket || typeof ev.data !== 'string') return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(ev.data) as ServerFrame;
      } catch {
        return;
      }
      this.receive(frame);
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.dropped(ev.code);
    };
    socket.onerror = () => {
      // A close event always follows; reconnecting is decided there.
    };
  }

  private receive(frame: ServerFrame): void {
    if ('seq' in frame) {
      if (frame.seq <= this.lastSeq) return; // a replayed duplicate
      this.lastSeq = frame.seq;
      if (isUnknownEvent(frame)) {
        console.info(`gateway: skipping event ${frame.seq} of a type this client does not know: ${frame.type}`);
        return;
      }
      this.handlers.frame(frame);
      return;
    }
    switch (frame.type) {
      case 'hello':
        this.startHeartbeat(frame.heartbeat_interval_ms);
        if (this.sessionId) {
          this.raw({ type: 'resume', token: null, session_id: this.sessionId, last_seq: this.lastSeq });
        } else {
          this.identify();
        }
        return;
      case 'ready': {
        const fresh = this.everReady;
        this.sessionId = frame.session_id;
        this.lastSeq = 0;
        this.up();
        this.handlers.frame(frame);
        // A new session after an old one: whatever happened in between is unknown.
        if (fresh) this.handlers.resync();
        return;
      }
      case 'resumed':
        this.up();
        this.handlers.frame(frame);
        return;
      case 'invalid_session':
        this.sessionId = null;
        this.lastSeq = 0;
        this.identify();
        return;
      case 'heartbeat_ack':
        this.awaitingAck = false;
        return;
      default:
        this.handlers.frame(frame);
    }
  }

  private identify(): void {
    // No token: the server authenticates the browser by its session cookie.
    this.raw({ type: 'identify', token: null, protocol_version: PROTOCOL_VERSION });
  }

  private up(): void {
    this.everReady = true;
    this.authenticated = true;
    this.attempt = 0;
    this.handlers.status('ready');
    const queued = this.outbox.splice(0);
    for (const frame of queued) this.send(frame);
  }

  private raw(frame: ClientFrame): void {
    if (this.socket?.readyState === OPEN) this.socket.send(JSON.stringify(frame));
  }

  private startHeartbeat(intervalMs: number): void {
    if (this.heartbeatTimer !== null) this.deps.clearTimeout(this.heartbeatTimer);
    this.awaitingAck = false;
    const beat = () => {
      if (this.awaitingAck) {
        // The last beat went unanswered: the link is dead even if TCP has not noticed.
        this.socket?.close(CLIENT_HEARTBEAT_CLOSE, 'heartbeat not acknowledged');
        this.dropped(CLOSE_CODE.HEARTBEAT_TIMEOUT);
        return;
      }
      this.awaitingAck = true;
      this.raw({ type: 'heartbeat' });
      this.heartbeatTimer = this.deps.setTimeout(beat, intervalMs);
    };
    this.heartbeatTimer = this.deps.setTimeout(beat, intervalMs);
  }

  private stopTimers(): void {
    if (this.heartbeatTimer !== null) this.deps.clearTimeout(this.heartbeatTimer);
    if (this.reconnectTimer !== null) this.deps.clearTimeout(this.reconnectTimer);
    this.heartbeatTimer = null;
    this.reconnectTimer = null;
  }

  private dropped(code: number): void {
    this.socket = null;
    this.authenticated = false;
    this.stopTimers();
    if (this.closed) return;
    if (SIGNED_OUT.has(code)) {
      this.closed = true;
      this.handlers.status('closed');
      this.handlers.signedOut();
      return;
    }
    if (GIVE_UP.has(code)) {
      this.closed = true;
      this.handlers.status('closed');
      return;
    }
    this.handlers.status('reconnecting');
    const backoff = backoffMs(this.attempt++, this.deps.random);
    const delay = BUSY.has(code) ? Math.max(backoff, BUSY_PAUSE_MS) : backoff;
    this.reconnectTimer = this.deps.setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.closed) this.open();
    }, delay);
  }
}
