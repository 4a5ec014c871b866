import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ClientFrame } from '../src/generated/ClientFrame';
import { shouldTransmit, VoiceEngine, type MediaDeps } from '../src/voice/engine.svelte';
import { loadPrefs } from '../src/voice/prefs';

class FakeTrack {
  kind = 'audio';
  enabled = true;
  stop() {}
}

class FakePeer {
  remoteDescription: unknown = null;
  localDescription: { type: string; sdp: string } | null = null;
  connectionState = 'new';
  added: unknown[] = [];
  senders: { track: FakeTrack | null; replaceTrack: (t: FakeTrack | null) => Promise<void> }[] = [];
  onicecandidate: unknown = null;
  ontrack: unknown = null;
  onconnectionstatechange: unknown = null;
  addTrack(track: FakeTrack) {
    const sender = { track: track as FakeTrack | null, replaceTrack: async (t: FakeTrack | null) => void (sender.track = t) };
    this.senders.push(sender);
    return sender;
  }
  getSenders() {
    return this.senders;
  }
  async setRemoteDescription(d: unknown) {
    this.remoteDescription = d;
  }
  async setLocalDescription(d: { type: string; sdp: string }) {
    this.localDescription = d;
  }
  async createOffer() {
    return { type: 'offer', sdp: 'offer-sdp' };
  }
  async createAnswer() {
    return { type: 'answer', sdp: 'answer-sdp' };
  }
  async addIceCandidate(c: unknown) {
    this.added.push(c);
  }
  close() {}
}

function engine(level: (() => number) | null = null) {
  const frames: ClientFrame[] = [];
  const peers: FakePeer[] = [];
  const configs: RTCConfiguration[] = [];
  const track = new FakeTrack();
  const media: MediaDeps = {
    getUserMedia: async () => ({ getAudioTracks: () => [track], getTracks: () => [track] }) as unknown as MediaStream,
    createPeer: (config) => {
      configs.push(config);
      const p = new FakePeer();
      peers.push(p);
      return p as unknown as RTCPeerConnection;
    },
    play: () => ({ setVolume() {}, setMuted() {}, setOutput() {}, stop() {} }),
    meter: () => level,
    chime() {},
  };
  const voice = new VoiceEngine((f) => frames.push(f), media);
  return { voice, frames, peers, track, configs };
}

describe('shouldTransmit', () => {
  it('lets mute and deafen win over a held key', () => {
    const base = { mode: 'ptt' as const, pttHeld: true, vadOpen: false, muted: false, deafened: false };
    expect(shouldTransmit(base)).toBe(true);
    expect(shouldTransmit({ ...base, muted: true })).toBe(false);
    expect(shouldTransmit({ ...base, deafened: true })).toBe(false);
    expect(shouldTransmit({ ...base, pttHeld: false })).toBe(false);
    expect(shouldTransmit({ ...base, mode: 'vad', pttHeld: false, vadOpen: true })).toBe(true);
  });
});

describe('VoiceEngine', () => {
  it('joins, and gates the microphone with push-to-talk', async () => {
    const { voice, frames, track } = engine();
    await voice.join('v1');
    expect(frames[0]).toEqual({ type: 'voice_join', channel_id: 'v1' });
    expect(track.enabled).toBe(false);
    voice.pttDown();
    expect(track.enabled).toBe(true);
    expect(frames.at(-1)).toEqual({ type: 'ptt_state', active: true });
    voice.setMuted(true);
    expect(track.enabled).toBe(false);
    expect(frames.at(-1)).toEqual({ type: 'ptt_state', active: false });
    voice.pttUp();
    voice.pttDown();
    expect(track.enabled).toBe(false); // still muted: mute wins
  });

  it('offers to a peer that joins, and detaches the track while silent', async () => {
    const { voice, frames, peers } = engine();
    await voice.join('v1');
    await voice.onFrame({ type: 'voice_joined', room: { channel_id: 'v1', participants: [] }, ice_servers: [{ urls: ['stun:x'] }], ice_transport_policy: 'all', self_session_id: 'me', mode: 'mesh' });
    await voice.onFrame({ seq: 1, type: 'peer_joined', channel_id: 'v1', participant: { session_id: 'p2', user_id: 'u2', muted: false, deafened: false, speaking: false, joined_at: 0 } });
    expect(frames.at(-1)).toEqual({ type: 'sdp_offer', to: 'p2', sdp: 'offer-sdp' });
    await Promise.resolve();
    expect(peers[0].senders[0].track).toBeNull();
    voice.pttDown();
    await Promise.resolve();
    expect(peers[0].senders[0].track).not.toBeNull();
  });

  it('uses the ICE servers and the relay-only policy the server hands out', async () => {
    const { voice, configs } = engine();
    await voice.join('v1');
    await voice.onFrame({ type: 'voice_joined', room: { channel_id: 'v1', participants: [] }, ice_servers: [{ urls: ['turn:t'], username: 'u', credential: 'c' }], ice_transport_policy: 'relay', self_session_id: 'me', mode: 'mesh' });
    await voice.onFrame({ seq: 1, type: 'peer_joined', channel_id: 'v1', participant: { session_id: 'p2', user_id: 'u2', muted: false, deafened: false, speaking: false, joined_at: 0 } });
    expect(configs[0]).toEqual({ iceServers: [{ urls: ['turn:t'], username: 'u', credential: 'c' }], iceTransportPolicy: 'relay' });
  });

  it('queues ICE candidates that arrive before the offer, then applies them', async () => {
    const { voice, frames, peers } = engine();
    await voice.join('v1');
    await voice.onFrame({ seq: 1, type: 'ice_candidate', from: 'p3', from_user_id: 'u3', candidate: { candidate: 'c1' } });
    expect(voice.queuedFor('p3')).toBe(1);
    await voice.onFrame({ seq: 2, type: 'sdp_offer', from: 'p3', from_user_id: 'u3', sdp: 'remote' });
    expect(voice.queuedFor('p3')).toBe(0);
    expect(peers[0].added).toEqual([{ candidate: 'c1' }]);
    expect(frames.at(-1)).toEqual({ type: 'sdp_answer', to: 'p3', sdp: 'answer-sdp' });
  });

  it('deafening mutes, and leaving closes everything', async () => {
    const { voice, frames } = engine();
    await voice.join('v1');
    voice.setDeafened(true);
    voice.pttDown();
    expect(voice.transmitting).toBe(false);
    voice.leave();
    expect(frames.at(-1)).toEqual({ type: 'voice_leave' });
    expect(voice.channelId).toBeNull();
  });
});

describe('VoiceEngine removed by the server', () => {
  const me = (joined_at: number) => ({ session_id: 'me', user_id: 'u1', muted: false, deafened: false, speaking: false, joined_at });

  it('hangs up without a voice_leave when told it left, and says why', async () => {
    const { voice, frames } = engine();
    await voice.join('v1');
    await voice.onFrame({ type: 'voice_joined', room: { channel_id: 'v1', participants: [me(5)] }, ice_servers: [], ice_transport_policy: 'all', self_session_id: 'me', mode: 'mesh' });
    await voice.onFrame({ seq: 1, type: 'voice_state_update', channel_id: 'v1', participant: me(5), left: true });
    expect(voice.channelId).toBeNull();
    expect(voice.error).toBe('You are no longer in this voice room.');
    expect(frames.filter((f) => f.type === 'voice_leave')).toEqual([]);
  });

  it('ignores the leave of an earlier join of the same session', async () => {
    const { voice } = engine();
    await voice.join('v1');
    await voice.onFrame({ type: 'voice_joined', room: { channel_id: 'v1', participants: [me(7)] }, ice_servers: [], ice_transport_policy: 'all', self_session_id: 'me', mode: 'mesh' });
    await voice.onFrame({ seq: 1, type: 'voice_state_update', channel_id: 'v1', participant: me(5), left: true });
    expect(voice.channelId).toBe('v1');
  });

  it('keeps the reason a join was refused', async () => {
    const { voice, frames } = engine();
    await voice.join('v1');
    await voice.onFrame({ type: 'error', op: 'voice_join', code: 'forbidden', message: 'members only' });
    expect(voice.channelId).toBeNull();
    expect(voice.error).toBe('members only');
    expect(frames.filter((f) => f.type === 'voice_leave')).toEqual([]);
  });
});

describe('VoiceEngine recovery and voice activity', () => {
  afterEach(() => vi.useRealTimers());

  it('restarts ICE from the offering side when the connection fails', async () => {
    const { voice, frames, peers } = engine();
    await voice.join('v1');
    await voice.onFrame({ seq: 1, type: 'peer_joined', channel_id: 'v1', participant: { session_id: 'p2', user_id: 'u2', muted: false, deafened: false, speaking: false, joined_at: 0 } });
    const offers = () => frames.filter((f) => f.type === 'sdp_offer').length;
    expect(offers()).toBe(1);
    const pc = peers[0] as unknown as { connectionState: string; onconnectionstatechange: () => void; createOffer: (o?: { iceRestart?: boolean }) => Promise<unknown> };
    let restart: boolean | undefined;
    const original = pc.createOffer.bind(pc);
    pc.createOffer = (o) => {
      restart = o?.iceRestart;
      return original(o);
    };
    pc.connectionState = 'failed';
    pc.onconnectionstatechange();
    await new Promise((r) => setTimeout(r, 0));
    expect(offers()).toBe(2);
    expect(restart).toBe(true);
  });

  it('opens the microphone on voice activity above the threshold, with a short hangover', async () => {
    vi.useFakeTimers();
    let db = -90;
    const { voice, frames, track } = engine(() => db);
    voice.prefs = { ...voice.prefs, mode: 'vad', vadThresholdDb: -45 };
    await voice.join('v1');
    vi.advanceTimersByTime(100);
    expect(track.enabled).toBe(false);
    db = -20;
    vi.advanceTimersByTime(100);
    expect(track.enabled).toBe(true);
    expect(frames.at(-1)).toEqual({ type: 'ptt_state', active: true });
    db = -90;
    vi.advanceTimersByTime(200);
    expect(track.enabled).toBe(true); // hangover: no chopping between words
    vi.advanceTimersByTime(600);
    expect(track.enabled).toBe(false);
    voice.setMuted(true);
    db = -20;
    vi.advanceTimersByTime(200);
    expect(track.enabled).toBe(false); // mute wins over voice activity too
    voice.leave();
  });
});

describe('voice prefs', () => {
  it('fall back to defaults on missing or broken storage', () => {
    expect(loadPrefs({ getItem: () => null }).mode).toBe('ptt');
    expect(loadPrefs({ getItem: () => '{not json' }).pttKey).toBe('F8');
    expect(loadPrefs({ getItem: () => '{"mode":"vad"}' }).mode).toBe('vad');
  });
});
