import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ServerFrame } from '../src/generated/ServerFrame';
import { compareIds } from '../src/voice/engine.svelte';
import { HANDOVER_DEADLINE_MS } from '../src/voice/handover';
import { fakeEngine, settle, type FakePeer } from './voice-fakes';

const SFU = '100';
const participant = (session_id: string, user_id: string) => ({ session_id, user_id, muted: false, deafened: false, speaking: false, joined_at: 0 });

/** `voice_joined` for session 5 (user u5) in room v1 with the others given as [session, user]. */
function joined(mode: 'mesh' | 'sfu', others: [string, string][], policy: 'all' | 'relay' = 'all'): ServerFrame {
  return {
    type: 'voice_joined',
    room: { channel_id: 'v1', participants: [participant('5', 'u5'), ...others.map(([s, u]) => participant(s, u))] },
    ice_servers: [{ urls: ['turn:t'], username: 'u', credential: 'c' }],
    ice_transport_policy: policy,
    self_session_id: '5',
    mode,
    sfu_session_id: mode === 'sfu' ? SFU : null,
  };
}

let seq = 0;
const fromSfu = (type: 'sdp_offer' | 'sdp_answer', sdp: string): ServerFrame => ({ seq: ++seq, type, from: SFU, from_user_id: '0', sdp });
const offerFrom = (from: string, sdp: string): ServerFrame => ({ seq: ++seq, type: 'sdp_offer', from, from_user_id: `u${from}`, sdp });
const modeChanged = (mode: 'mesh' | 'sfu', channel_id = 'v1'): ServerFrame => ({ seq: ++seq, type: 'voice_mode_changed', channel_id, mode, sfu_session_id: mode === 'sfu' ? SFU : null });

/** An engine in room v1 through the SFU, its first offer answered. */
async function inSfuRoom(others: [string, string][] = [['7', 'u7'], ['9', 'u9']]) {
  const t = fakeEngine();
  await t.voice.join('v1');
  await t.voice.onFrame(joined('sfu', others));
  await settle();
  await t.voice.onFrame(fromSfu('sdp_answer', 'sfu-answer'));
  return { ...t, sfu: t.peers[0] };
}

describe('SFU mode', () => {
  it('offers one sendonly connection to the SFU with the handed-out ICE settings, and sends nothing while silent', async () => {
    const { voice, frames, peers, track } = fakeEngine();
    await voice.join('v1');
    await voice.onFrame(joined('sfu', [['7', 'u7']], 'relay'));
    await settle();
    expect(peers, 'one connection, to the SFU only').toHaveLength(1);
    const pc = peers[0];
    // Relay-only must hold through the SFU too: it is then reached through TURN.
    expect(pc.config).toEqual({ iceServers: [{ urls: ['turn:t'], username: 'u', credential: 'c' }], iceTransportPolicy: 'relay' });
    expect(pc.transceivers.map((t) => t.direction)).toEqual(['sendonly']);
    expect(frames.at(-1)).toEqual({ type: 'sdp_offer', to: SFU, sdp: 'client-offer-1' });

    const sender = pc.transceivers[0].sender;
    expect(sender.track, 'no track on the sender while the key is up: not even silence goes out').toBeNull();
    voice.pttDown();
    expect(sender.track).toBe(track);
    voice.pttUp();
    expect(sender.track).toBeNull();

    pc.onicecandidate?.({ candidate: { toJSON: () => ({ candidate: 'c-local' }) } });
    expect(frames.at(-1), 'our candidates trickle to the SFU').toEqual({ type: 'ice_candidate', to: SFU, candidate: { candidate: 'c-local' } });
  });

  it('applies the SFU answer, with its candidates that came before it', async () => {
    const { voice, peers } = fakeEngine();
    await voice.join('v1');
    await voice.onFrame(joined('sfu', []));
    await voice.onFrame({ seq: ++seq, type: 'ice_candidate', from: SFU, from_user_id: '0', candidate: { candidate: 'c-sfu' } });
    const pc = peers[0];
    expect(pc.added, 'a candidate before the answer waits').toEqual([]);
    await voice.onFrame(fromSfu('sdp_answer', 'sfu-answer'));
    expect(pc.remoteDescription).toEqual({ type: 'answer', sdp: 'sfu-answer' });
    expect(pc.added).toEqual([{ candidate: 'c-sfu' }]);
    expect(pc.signalingState).toBe('stable');
  });

  it('answers the SFU offer and plays each track as the participant its stream id names', async () => {
    const { voice, frames, sfu, live } = await inSfuRoom();
    voice.setVolume('u7', 0.3);
    await voice.onFrame(fromSfu('sdp_offer', 'sfu-offer tracks=7,9'));
    expect(frames.at(-1)).toEqual({ type: 'sdp_answer', to: SFU, sdp: 'answer-to sfu-offer tracks=7,9' });
    expect(live('7').map((s) => s.volume), "user u7's volume follows their session's track").toEqual([0.3]);
    expect(live('9').map((s) => s.volume)).toEqual([1]);
    voice.setVolume('u9', 0.5);
    expect(live('9')[0].volume).toBe(0.5);
    voice.setDeafened(true);
    expect([...live('7'), ...live('9')].every((s) => s.muted), 'deafen mutes every track').toBe(true);
    voice.setDeafened(false);

    sfu.receiverOf('7').packets = 50;
    sfu.setState('connected');
    const stats = await voice.stats();
    expect(stats.mode).toBe('sfu');
    expect(stats.connected, 'both participants reachable over the connected SFU').toBe(2);
    expect(stats.peers['7']?.packetsReceived, 'per-peer counters key on the session id').toBe(50);
    expect(stats.peers['9']?.packetsReceived).toBe(0);
    expect(stats.packetsSent).toBe(7);
    expect(stats.codecs).toContain('audio/opus');
    expect(stats.localCandidates, 'the candidate of the nominated pair only').toEqual(['host']);
    expect(voice.peerStates).toEqual({ '7': 'connected', '9': 'connected' });

    // 9's m-line stopped: their track stops playing, 7's goes on untouched.
    const seven = live('7')[0];
    await voice.onFrame(fromSfu('sdp_offer', 'sfu-offer tracks=7'));
    expect(live('9')).toEqual([]);
    expect(live('7')).toEqual([seven]);
    // Leaving stops the track at once, before the server's next offer.
    await voice.onFrame({ seq: ++seq, type: 'peer_left', channel_id: 'v1', session_id: '7', user_id: 'u7' });
    expect(live('7')).toEqual([]);
  });

  it('as the polite peer rolls back its pending ICE restart for the SFU offer, then offers again', async () => {
    const { voice, frames, sfu } = await inSfuRoom();
    sfu.setState('failed');
    await settle();
    expect(frames.at(-1)).toEqual({ type: 'sdp_offer', to: SFU, sdp: 'client-offer-2' });
    expect(sfu.offerOptions.at(-1), 'a failed connection restarts ICE').toEqual({ iceRestart: true });
    expect(sfu.signalingState).toBe('have-local-offer');

    const before = frames.length;
    // The fake throws, as a browser does, if an offer were applied over our pending one.
    await voice.onFrame(fromSfu('sdp_offer', 'sfu-offer tracks=7'));
    await settle();
    expect(frames.slice(before)).toEqual([
      { type: 'sdp_answer', to: SFU, sdp: 'answer-to sfu-offer tracks=7' },
      { type: 'sdp_offer', to: SFU, sdp: 'client-offer-3' },
    ]);
    expect(sfu.offerOptions.at(-1), 'the offer made again still restarts ICE').toEqual({ iceRestart: true });
    await voice.onFrame(fromSfu('sdp_answer', 'answer-3'));
    expect(sfu.signalingState).toBe('stable');
    // A late answer to nothing (an offer rolled back) is dropped, not applied.
    await voice.onFrame(fromSfu('sdp_answer', 'stale'));
    expect(sfu.remoteDescription).toEqual({ type: 'answer', sdp: 'answer-3' });
  });

  it('neither offers to peers nor answers them', async () => {
    const { voice, frames, peers } = await inSfuRoom([]);
    const before = frames.length;
    await voice.onFrame({ seq: ++seq, type: 'peer_joined', channel_id: 'v1', participant: participant('11', 'u11') });
    await voice.onFrame(offerFrom('11', 'mesh-offer'));
    await voice.onFrame({ seq: ++seq, type: 'ice_candidate', from: '11', from_user_id: 'u11', candidate: { candidate: 'x' } });
    expect(peers, 'still only the SFU connection').toHaveLength(1);
    expect(frames.slice(before)).toEqual([]);
  });

  it('closes the SFU connection on leave', async () => {
    const { voice, frames, sfu } = await inSfuRoom();
    voice.leave();
    expect(frames.at(-1)).toEqual({ type: 'voice_leave' });
    expect(sfu.closed).toBe(true);
  });
});

describe('moving a room between mesh and SFU', () => {
  afterEach(() => vi.useRealTimers());

  /** Exactly one path of this participant is heard. */
  const heardOnce = (live: (id: string) => { muted: boolean }[], id: string) => live(id).filter((s) => !s.muted).length === 1;

  it('to the SFU: each mesh peer closes when its SFU track plays, the rest 2 s after the SFU connects', async () => {
    vi.useFakeTimers();
    const { voice, frames, peers, live, track } = fakeEngine();
    await voice.join('v1');
    await voice.onFrame(joined('mesh', [['7', 'u7'], ['9', 'u9']]));
    await voice.onFrame(offerFrom('7', 'mesh-offer'));
    await voice.onFrame(offerFrom('9', 'mesh-offer'));
    const [mesh7, mesh9] = peers;
    mesh7.deliverMeshTrack('7');
    mesh9.deliverMeshTrack('9');
    voice.pttDown();

    await voice.onFrame(modeChanged('sfu'));
    await vi.advanceTimersByTimeAsync(0);
    const sfu = peers[2];
    expect(frames.at(-1)).toEqual({ type: 'sdp_offer', to: SFU, sdp: 'client-offer-1' });
    expect(voice.mode).toBe('sfu');
    expect(sfu.transceivers[0].sender.track, 'we talk into both paths during the move').toBe(track);
    expect(mesh7.transceivers[0].sender.track).toBe(track);
    await voice.onFrame(fromSfu('sdp_answer', 'sfu-answer'));
    await voice.onFrame(fromSfu('sdp_offer', 'sfu-offer tracks=7,9'));
    expect(live('7')).toHaveLength(2);
    expect(heardOnce(live, '7') && heardOnce(live, '9'), 'nobody heard twice: the mesh plays until the SFU track does').toBe(true);
    expect(live('7').find((s) => !s.muted)).toBe(live('7')[0]);

    sfu.receiverOf('7').packets = 3;
    await vi.advanceTimersByTimeAsync(150);
    expect(mesh7.closed, "7's first SFU packet closes the mesh peer to 7").toBe(true);
    expect(live('7')).toHaveLength(1);
    expect(live('7')[0].muted).toBe(false);
    expect(mesh9.closed, '9 sent nothing through the SFU yet: the mesh stays').toBe(false);

    sfu.setState('connected');
    await vi.advanceTimersByTimeAsync(HANDOVER_DEADLINE_MS - 100);
    expect(mesh9.closed).toBe(false);
    expect((await voice.stats()).moving).toBe(true);
    await vi.advanceTimersByTimeAsync(200);
    expect(mesh9.closed, '2 s after the SFU connected the mesh is gone').toBe(true);
    expect((await voice.stats()).moving).toBe(false);
    expect(live('9').map((s) => s.muted)).toEqual([false]);
    expect(voice.peerStates).toEqual({ '7': 'connected', '9': 'connected' });
  });

  it('to the mesh: the smaller id offers, the SFU track plays until the mesh one does, the SFU closes 2 s after all peers connect', async () => {
    vi.useFakeTimers();
    const { voice, frames, peers, live } = await inSfuRoom([['3', 'u3'], ['17', 'u17']]);
    const sfu = peers[0];
    await voice.onFrame(fromSfu('sdp_offer', 'sfu-offer tracks=3,17'));
    sfu.setState('connected');
    const before = frames.length;

    await voice.onFrame(modeChanged('mesh'));
    await vi.advanceTimersByTimeAsync(0);
    // 5 < 17 numerically (not as text): we offer to 17 and wait for 3's offer.
    expect(frames.slice(before)).toEqual([{ type: 'sdp_offer', to: '17', sdp: 'client-offer-1' }]);
    const mesh17 = peers[1];
    await voice.onFrame(offerFrom('3', 'mesh-offer'));
    expect(frames.at(-1)).toEqual({ type: 'sdp_answer', to: '3', sdp: 'answer-to mesh-offer' });
    const mesh3 = peers[2];
    mesh17.deliverMeshTrack('17');
    mesh3.deliverMeshTrack('3');
    expect(heardOnce(live, '17') && heardOnce(live, '3'), 'nobody heard twice').toBe(true);
    expect(live('17')[0].muted, 'the SFU track still plays').toBe(false);

    mesh17.receiverOf('17').packets = 2;
    await vi.advanceTimersByTimeAsync(150);
    expect(live('17').map((s) => s.muted), "17's first mesh packet silences their SFU track").toEqual([true, false]);
    expect(sfu.closed, 'the SFU still carries 3').toBe(false);

    mesh17.setState('connected');
    await vi.advanceTimersByTimeAsync(HANDOVER_DEADLINE_MS + 500);
    expect(sfu.closed, 'not before every mesh peer is connected').toBe(false);
    mesh3.setState('connected');
    await vi.advanceTimersByTimeAsync(HANDOVER_DEADLINE_MS + 100);
    expect(sfu.closed).toBe(true);
    expect(live('3').map((s) => s.muted)).toEqual([false]);
    expect(live('17').map((s) => s.muted)).toEqual([false]);
    expect((await voice.stats()).mode).toBe('mesh');
  });

  it('ignores a mode change for another room, or to the mode it is in', async () => {
    const { voice, peers } = await inSfuRoom();
    await voice.onFrame(modeChanged('mesh', 'other-room'));
    await voice.onFrame(modeChanged('sfu'));
    expect(voice.mode).toBe('sfu');
    expect(peers).toHaveLength(1);
    expect(peers[0].closed).toBe(false);
  });

  it('ignores a mode change while not in a room', async () => {
    const { voice, peers } = fakeEngine();
    await voice.onFrame(modeChanged('sfu'));
    expect(peers).toHaveLength(0);
  });
});

describe('compareIds', () => {
  it('orders decimal ids as numbers', () => {
    expect(compareIds('10', '9')).toBeGreaterThan(0);
    expect(compareIds('9', '10')).toBeLessThan(0);
    expect(compareIds('123456789012345678', '123456789012345679')).toBeLessThan(0);
    expect(compareIds('42', '42')).toBe(0);
  });
});
