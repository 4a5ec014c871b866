// Stand-ins for the browser's media and RTCPeerConnection that keep the signaling state
// machine a real one enforces (an offer cannot be applied over a pending one of ours,
// an answer needs an offer), and a toy SDP the tests write by hand: an offer from the
// SFU is `sfu-offer tracks=a,b`, meaning one receiving m-line for participants a and b;
// a participant missing from a later offer has their m-line stopped.

import type { ClientFrame } from '../src/generated/ClientFrame';
import { VoiceEngine, type MediaDeps } from '../src/voice/engine.svelte';

export class FakeTrack {
  kind = 'audio';
  enabled = true;
  readyState = 'live';
  constructor(readonly id = 'mic') {}
  stop() {
    this.readyState = 'ended';
  }
}

export class FakeSender {
  track: FakeTrack | null;
  constructor(track: FakeTrack | null) {
    this.track = track;
  }
  async replaceTrack(t: FakeTrack | null) {
    this.track = t;
  }
}

/** Stats entries as `getStats` gives them (a Map has the same forEach). */
function report(entries: object[]): Map<string, object> {
  return new Map(entries.map((e, i) => [String(i), e]));
}

export class FakeReceiver {
  packets = 0;
  constructor(readonly track: FakeTrack) {}
  async getStats() {
    return report([{ type: 'inbound-rtp', kind: 'audio', packetsReceived: this.packets, trackIdentifier: this.track.id, totalAudioEnergy: this.packets / 100 }]);
  }
}

export class FakeTransceiver {
  currentDirection: string | null = null;
  constructor(
    public direction: string,
    readonly sender: FakeSender,
    readonly receiver: FakeReceiver,
    /** For receiving m-lines: the participant the toy SDP named. */
    readonly streamId: string | null = null,
  ) {}
}

export class FakePeer {
  signalingState = 'stable';
  remoteDescription: { type: string; sdp: string } | null = null;
  localDescription: { type: string; sdp: string } | null = null;
  connectionState = 'new';
  closed = false;
  transceivers: FakeTransceiver[] = [];
  added: unknown[] = [];
  offerOptions: ({ iceRestart?: boolean } | undefined)[] = [];
  onicecandidate: ((ev: { candidate: { toJSON(): unknown } | null }) => void) | null = null;
  ontrack: ((ev: unknown) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  private offers = 0;

  constructor(readonly config: RTCConfiguration) {}

  addTrack(track: FakeTrack) {
    const t = new FakeTransceiver('sendrecv', new FakeSender(track), new FakeReceiver(new FakeTrack(`in-${this.transceivers.length}`)));
    this.transceivers.push(t);
    return t.sender;
  }
  addTransceiver(kind: string, init: { direction: string }) {
    const t = new FakeTransceiver(init.direction, new FakeSender(null), new FakeReceiver(new FakeTrack(`${kind}-${this.transceivers.length}`)));
    this.transceivers.push(t);
    return t;
  }
  getTransceivers() {
    return this.transceivers;
  }
  getSenders() {
    return this.transceivers.map((t) => t.sender);
  }
  async createOffer(options?: { iceRestart?: boolean }) {
    this.offerOptions.push(options);
    this.offers += 1;
    return { type: 'offer', sdp: `client-offer-${this.offers}` };
  }
  async createAnswer() {
    if (this.signalingState !== 'have-remote-offer') throw new Error(`createAnswer in ${this.signalingState}`);
    return { type: 'answer', sdp: `answer-to ${this.remoteDescription?.sdp}` };
  }
  async setLocalDescription(d: { type: string; sdp?: string }) {
    if (d.type === 'rollback') {
      if (this.signalingState !== 'have-local-offer') throw new Error(`rollback in ${this.signalingState}`);
      this.signalingState = 'stable';
      this.localDescription = null;
      return;
    }
    if (d.type === 'offer') {
      if (this.signalingState !== 'stable') throw new Error(`local offer in ${this.signalingState}`);
      this.signalingState = 'have-local-offer';
    } else {
      if (this.signalingState !== 'have-remote-offer') throw new Error(`local answer in ${this.signalingState}`);
      this.signalingState = 'stable';
      for (const t of this.transceivers) if (t.direction !== 'stopped') t.currentDirection = t.direction;
    }
    this.localDescription = { type: d.type, sdp: d.sdp ?? '' };
  }
  async setRemoteDescription(d: { type: string; sdp: string }) {
    if (d.type === 'offer') {
      if (this.signalingState !== 'stable') throw new Error(`remote offer in ${this.signalingState}`);
      this.signalingState = 'have-remote-offer';
      this.remoteDescription = d;
      this.applyToySdp(d.sdp);
    } else {
      if (this.signalingState !== 'have-local-offer') throw new Error(`remote answer in ${this.signalingState}`);
      this.signalingState = 'stable';
      this.remoteDescription = d;
    }
  }
  async addIceCandidate(c: unknown) {
    this.added.push(c);
  }
  async getStats() {
    const entries: object[] = [];
    for (const t of this.transceivers) {
      if (t.direction === 'sendonly') entries.push({ type: 'outbound-rtp', kind: 'audio', packetsSent: 7 });
      else entries.push(...(await t.receiver.getStats()).values());
    }
    entries.push({ type: 'codec', mimeType: 'audio/opus' });
    // The pair in use and one that lost the nomination.
    entries.push({ type: 'local-candidate', id: 'L1', candidateType: this.config.iceTransportPolicy === 'relay' ? 'relay' : 'host' });
    entries.push({ type: 'local-candidate', id: 'L2', candidateType: 'srflx' });
    entries.push({ type: 'candidate-pair', state: 'succeeded', nominated: true, localCandidateId: 'L1' });
    entries.push({ type: 'candidate-pair', state: 'succeeded', nominated: false, localCandidateId: 'L2' });
    return report(entries);
  }
  close() {
    this.closed = true;
    this.connectionState = 'closed';
  }

  /** The browser's side of a state change, e.g. `connected` or `failed`. */
  setState(state: string) {
    this.connectionState = state;
    this.onconnectionstatechange?.();
  }
  /** A remote track on a mesh connection, as when the peer's answer or offer lands. */
  deliverMeshTrack(streamId: string) {
    const t = this.transceivers[0];
    this.ontrack?.({ track: t.receiver.track, streams: [{ id: streamId }], transceiver: t });
  }
  /** The receiving transceiver of a participant (toy SDP) or of the mesh's one track. */
  receiverOf(streamId: string): FakeReceiver {
    return (this.transceivers.find((t) => t.streamId === streamId) ?? this.transceivers[0]).receiver;
  }

  private applyToySdp(sdp: string) {
    const named = /tracks=([\w,]*)/.exec(sdp)?.[1];
    if (named === undefined) return;
    const ids = named.split(',').filter(Boolean);
    for (const t of this.transceivers) {
      if (t.streamId && !ids.includes(t.streamId) && t.direction !== 'stopped') {
        t.direction = 'stopped';
        t.currentDirection = 'stopped';
        t.receiver.track.stop();
      }
    }
    for (const id of ids) {
      if (this.transceivers.some((t) => t.streamId === id && t.direction !== 'stopped')) continue;
      const t = new FakeTransceiver('recvonly', new FakeSender(null), new FakeReceiver(new FakeTrack(`track-${id}`)), id);
      this.transceivers.push(t);
      this.ontrack?.({ track: t.receiver.track, streams: [{ id }], transceiver: t });
    }
  }
}

export interface FakeSink {
  sessionId: string;
  volume: number;
  muted: boolean;
  stopped: boolean;
}

export function fakeEngine(level: (() => number) | null = null) {
  const frames: ClientFrame[] = [];
  const peers: FakePeer[] = [];
  const sinks: FakeSink[] = [];
  const track = new FakeTrack();
  const media: MediaDeps = {
    getUserMedia: async () => ({ id: 'local-stream', getAudioTracks: () => [track], getTracks: () => [track] }) as unknown as MediaStream,
    createPeer: (config) => {
      const p = new FakePeer(config);
      peers.push(p);
      return p as unknown as RTCPeerConnection;
    },
    play: (_stream, sessionId) => {
      const sink: FakeSink = { sessionId, volume: 1, muted: false, stopped: false };
      sinks.push(sink);
      return {
        setVolume: (v) => void (sink.volume = v),
        setMuted: (m) => void (sink.muted = m),
        setOutput() {},
        stop: () => void (sink.stopped = true),
      };
    },
    meter: () => level,
    chime() {},
  };
  const voice = new VoiceEngine((f) => frames.push(f), media);
  /** The sinks still playing `sessionId`. */
  const live = (sessionId: string) => sinks.filter((s) => s.sessionId === sessionId && !s.stopped);
  return { voice, frames, peers, sinks, live, track };
}

/** Lets queued promise callbacks (the engine's awaits) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
