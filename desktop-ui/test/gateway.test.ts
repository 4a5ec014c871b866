import { describe, expect, it } from 'vitest';
import { backoffMs, GatewayConnection, type SocketLike } from '../src/backend/gateway';
import type { GatewayStatus } from '../src/backend/index';
import type { ServerFrame } from '../src/generated/ServerFrame';

class FakeSocket implements SocketLike {
  readyState = 1;
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  sent: Record<string, unknown>[] = [];
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
  }
  push(frame: object) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code: number) {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
}

function harness() {
  const sockets: FakeSocket[] = [];
  const timers: { fn: () => void; ms: number; cleared: boolean }[] = [];
  const frames: ServerFrame[] = [];
  const statuses: GatewayStatus[] = [];
  let resyncs = 0;
  let signedOut = 0;
  const gw = new GatewayConnection(
    {
      url: 'ws://test/api/gateway',
      openSocket: () => {
        const s = new FakeSocket();
        sockets.push(s);
        return s;
      },
      setTimeout: (fn, ms) => {
        const t = { fn, ms, cleared: false };
        timers.push(t);
        return t;
      },
      clearTimeout: (t) => {
        (t as { cleared: boolean }).cleared = true;
      },
      random: () => 0.5,
    },
    {
      frame: (f) => frames.push(f),
      status: (s) => statuses.push(s),
      resync: () => resyncs++,
      signedOut: () => signedOut++,
    },
  );
  const fire = (pred: (t: { ms: number }) => boolean) => {
    const t = timers.find((x) => !x.cleared && pred(x));
    if (!t) throw new Error('no such timer');
    t.cleared = true;
    t.fn();
  };
  return { gw, sockets, timers, frames, statuses, fire, counts: () => ({ resyncs, signedOut }) };
}

const hello = (id = 's1') => ({ type: 'hello', heartbeat_interval_ms: 1000, session_id: id, protocol_version: 1 });
const ready = (id = 's1') => ({
  type: 'ready',
  session_id: id,
  user: {},
  users: [],
  channels: [],
  presences: [],
  voice_rooms: [],
  feature_flags: {},
});

describe('GatewayConnection', () => {
  it('identifies with the cookie (no token) after hello', () => {
    const h = harness();
    h.sockets[0].push(hello());
    expect(h.sockets[0].sent[0]).toEqual({ type: 'identify', token: null, protocol_version: 1 });
  });

  it('resumes with the last seq after a drop, and skips replayed duplicates', () => {
    const h = harness();
    const s = h.sockets[0];
    s.push(hello());
    s.push(ready());
    s.push({ seq: 1, type: 'presence_update', user_id: 'u', status: 'online' });
    s.push({ seq: 2, type: 'presence_update', user_id: 'u', status: 'idle' });
    s.drop(1006);
    expect(h.statuses.at(-1)).toBe('reconnecting');
    h.fire(() => true); // the reconnect timer
    const s2 = h.sockets[1];
    s2.push(hello('s2'));
    expect(s2.sent[0]).toEqual({ type: 'resume', token: null, session_id: 's1', last_seq: 2 });
    s2.push({ seq: 2, type: 'presence_update', user_id: 'u', status: 'idle' });
    s2.push({ seq: 3, type: 'presence_update', user_id: 'u', status: 'online' });
    s2.push({ type: 'resumed', last_seq: 3 });
    const seqs = h.frames.filter((f) => 'seq' in f).map((f) => (f as { seq: number }).seq);
    expect(seqs).toEqual([1, 2, 3]);
    expect(h.statuses.at(-1)).toBe('ready');
    expect(h.counts().resyncs).toBe(0);
  });

  it('skips an event type from a newer server, counting its seq, and stays connected', () => {
    const h = harness();
    const s = h.sockets[0];
    s.push(hello());
    s.push(ready());
    s.push({ seq: 1, type: 'poll_create', poll: { question: 'lunch?' } });
    s.push({ seq: 2, type: 'presence_update', user_id: 'u', status: 'idle' });
    const events = h.frames.filter((f) => 'seq' in f).map((f) => f.type);
    expect(events, 'the unknown event never reaches the stores').toEqual(['presence_update']);
    expect(h.gw.state.lastSeq, 'but it counts as seen, so a resume does not replay it').toBe(2);
    expect(h.statuses.at(-1), 'and the connection stays up').toBe('ready');
  });

  it('identifies afresh and asks for a refetch on invalid_session', () => {
    const h = harness();
    h.sockets[0].push(hello());
    h.sockets[0].push(ready());
    h.sockets[0].drop(1006);
    h.fire(() => true);
    const s2 = h.sockets[1];
    s2.push(hello('s2'));
    s2.push({ type: 'invalid_session' });
    expect(s2.sent[1]).toEqual({ type: 'identify', token: null, protocol_version: 1 });
    s2.push(ready('s3'));
    expect(h.counts().resyncs).toBe(1);
    expect(h.gw.state).toEqual({ sessionId: 's3', lastSeq: 0 });
  });

  it('sends heartbeats and reconnects when one goes unanswered', () => {
    const h = harness();
    const s = h.sockets[0];
    s.push(hello());
    s.push(ready());
    h.fire((t) => t.ms === 1000);
    expect(s.sent.at(-1)).toEqual({ type: 'heartbeat' });
    s.push({ type: 'heartbeat_ack' });
    h.fire((t) => t.ms === 1000);
    h.fire((t) => t.ms === 1000); // no ack this time
    expect(h.statuses.at(-1)).toBe('reconnecting');
  });

  it('goes to the login screen when the session was revoked, without reconnecting', () => {
    const h = harness();
    h.sockets[0].push(hello());
    h.sockets[0].drop(4009);
    expect(h.counts().signedOut).toBe(1);
    expect(h.timers.filter((t) => !t.cleared)).toHaveLength(0);
  });

  it('waits at least 5 s before retrying a server that says it is busy or full', () => {
    for (const code of [4008, 4012, 4014]) {
      const h = harness();
      h.sockets[0].push(hello());
      h.sockets[0].drop(code);
      const pending = h.timers.filter((t) => !t.cleared);
      expect(pending.map((t) => t.ms), `close ${code}`).toEqual([5000]);
      h.fire((t) => t.ms === 5000);
      expect(h.sockets, 'it does come back').toHaveLength(2);
    }
    const h = harness();
    h.sockets[0].drop(1006);
    expect(h.timers.filter((t) => !t.cleared)[0].ms, 'a plain drop keeps the short backoff').toBeLessThan(5000);
  });

  it('queues ops until the session is ready', () => {
    const h = harness();
    h.gw.send({ type: 'typing_start', channel_id: 'c' });
    expect(h.sockets[0].sent).toHaveLength(0);
    h.sockets[0].push(hello());
    h.sockets[0].push(ready());
    expect(h.sockets[0].sent.at(-1)).toEqual({ type: 'typing_start', channel_id: 'c' });
  });
});

describe('backoffMs', () => {
  it('grows, is capped at 30 s, and is jittered within the upper half', () => {
    expect(backoffMs(0, () => 0)).toBe(250);
    expect(backoffMs(0, () => 1)).toBe(500);
    expect(backoffMs(3, () => 0.5)).toBe(3000);
    expect(backoffMs(20, () => 1)).toBe(30000);
  });
});
