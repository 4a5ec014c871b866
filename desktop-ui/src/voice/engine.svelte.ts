// Browser voice: one RTCPeerConnection per peer in the room (mesh), negotiated over
// the gateway. Existing members offer to a newcomer (`peer_joined`); candidates that
// arrive before the remote description wait in a queue; a failed connection restarts
// ICE from the side that made the first offer. The microphone track is enabled only
// while transmitting: push-to-talk held (or voice activity) and not muted — mute wins.

import type { ClientFrame } from '../generated/ClientFrame';
import type { Id } from '../generated/Id';
import type { IceServer } from '../generated/IceServer';
import type { ServerFrame } from '../generated/ServerFrame';
import { loadPrefs, savePrefs, type VoicePrefs } from './prefs';

/** Browser media, injectable so the negotiation logic runs in tests without a browser. */
export interface MediaDeps {
  getUserMedia(constraints: MediaStreamConstraints): Promise<MediaStream>;
  createPeer(config: RTCConfiguration): RTCPeerConnection;
  /** Plays a peer's stream; returns a handle to change volume, output and muting. */
  play(stream: MediaStream): AudioSink;
  /** Level of the local microphone in dBFS, sampled by VAD; null when unsupported. */
  meter(stream: MediaStream): (() => number) | null;
  chime(kind: 'join' | 'leave'): void;
}

export interface AudioSink {
  setVolume(v: number): void;
  setMuted(muted: boolean): void;
  setOutput(deviceId: string | null): void;
  stop(): void;
}

interface Peer {
  sessionId: Id;
  userId: Id;
  pc: RTCPeerConnection;
  queued: RTCIceCandidateInit[];
  /** We made the first offer, so we drive ICE restarts. */
  offerer: boolean;
  sink: AudioSink | null;
}

const VAD_HANGOVER_MS = 400;

export class VoiceEngine {
  channelId = $state<Id | null>(null);
  selfSessionId = $state<Id | null>(null);
  muted = $state(false);
  deafened = $state(false);
  pttHeld = $state(false);
  vadOpen = $state(false);
  /** What the UI shows as "you are talking". */
  transmitting = $state(false);
  error = $state<string | null>(null);
  /** Peer session → connection state, for the UI and tests. */
  peerStates = $state<Record<Id, string>>({});
  prefs = $state<VoicePrefs>(loadPrefs());

  private peers = new Map<Id, Peer>();
  private local: MediaStream | null = null;
  private iceServers: RTCIceServer[] = [];
  private iceTransportPolicy: RTCIceTransportPolicy = 'all';
  private vadTimer: ReturnType<typeof setInterval> | null = null;
  private lastLoud = 0;
  private sentActive = false;
  /** When this session joined its room, to tell its own leave from an older one. */
  private joinedAt: number | null = null;

  constructor(
    private readonly signal: (frame: ClientFrame) => void,
    private readonly media: MediaDeps,
  ) {}

  async join(channelId: Id): Promise<void> {
    if (this.channelId === channelId) return;
    if (this.channelId) this.leave();
    this.error = null;
    try {
      this.local = await this.openMicrophone();
    } catch (e) {
      this.error = e instanceof Error ? `Microphone unavailable: ${e.message}` : 'Microphone unavailable';
      return;
    }
    this.channelId = channelId;
    this.applyGate();
    this.startVad();
    this.signal({ type: 'voice_join', channel_id: channelId });
  }

  leave(): void {
    if (!this.channelId) return;
    this.signal({ type: 'voice_leave' });
    this.hangUp();
  }

  /** Closes everything locally; the server already knows we are not in the room. */
  private hangUp(): void {
    if (!this.channelId) return;
    for (const id of [...this.peers.keys()]) this.dropPeer(id);
    this.local?.getTracks().forEach((t) => t.stop());
    this.local = null;
    if (this.vadTimer) clearInterval(this.vadTimer);
    this.vadTimer = null;
    this.channelId = null;
    this.selfSessionId = null;
    this.joinedAt = null;
    this.pttHeld = false;
    this.vadOpen = false;
    this.transmitting = false;
    this.sentActive = false;
    this.media.chime('leave');
  }

  setMuted(muted: boolean): void {
    this.muted = muted;
    if (!muted && this.deafened) this.setDeafened(false);
    this.signal({ type: 'set_mute', muted });
    this.applyGate();
  }

  /** Deafening also mutes; undeafening leaves mute as the user had it before. */
  setDeafened(deafened: boolean): void {
    this.deafened = deafened;
    this.signal({ type: 'set_deafen', deafened });
    for (const p of this.peers.values()) p.sink?.setMuted(deafened);
    this.applyGate();
  }

  pttDown(): void {
    if (this.pttHeld) return;
    this.pttHeld = true;
    this.applyGate();
  }

  pttUp(): void {
    if (!this.pttHeld) return;
    this.pttHeld = false;
    this.applyGate();
  }

  updatePrefs(change: Partial<VoicePrefs>): void {
    const deviceChanged = change.inputId !== undefined && change.inputId !== this.prefs.inputId;
    this.prefs = { ...this.prefs, ...change };
    savePrefs(this.prefs);
    if (change.outputId !== undefined) for (const p of this.peers.values()) p.sink?.setOutput(this.prefs.outputId);
    if (deviceChanged && this.channelId) void this.switchMicrophone();
    this.applyGate();
  }

  setVolume(userId: Id, volume: number): void {
    this.prefs.volumes[userId] = volume;
    savePrefs(this.prefs);
    for (const p of this.peers.values()) if (p.userId === userId) p.sink?.setVolume(volume);
  }

  volumeOf(userId: Id): number {
    return this.prefs.volumes[userId] ?? 1;
  }

  /** Gateway frames: voice answers and signaling. */
  async onFrame(frame: ServerFrame): Promise<void> {
    if (!('seq' in frame)) {
      if (frame.type === 'voice_joined') {
        this.selfSessionId = frame.self_session_id;
        this.joinedAt = frame.room.participants.find((p) => p.session_id === frame.self_session_id)?.joined_at ?? null;
        this.iceServers = frame.ice_servers.map(toRtcIceServer);
        // `relay` keeps our address from peers: only TURN candidates are gathered.
        this.iceTransportPolicy = frame.ice_transport_policy;
        this.media.chime('join');
      } else if (frame.type === 'error' && frame.op.startsWith('voice')) {
        this.error = frame.message;
        // A refused join never entered the room: nothing to tell the server, and a
        // `voice_leave` would only replace the reason with "not in a voice room".
        if (frame.op === 'voice_join') this.hangUp();
      }
      return;
    }
    if (!this.channelId) return;
    switch (frame.type) {
      case 'peer_joined': {
        if (frame.channel_id !== this.channelId || frame.participant.session_id === this.selfSessionId) return;
        const peer = this.ensurePeer(frame.participant.session_id, frame.participant.user_id, true);
        this.media.chime('join');
        await this.offer(peer, false);
        return;
      }
      case 'sdp_offer': {
        const peer = this.ensurePeer(frame.from, frame.from_user_id, false);
        await peer.pc.setRemoteDescription({ type: 'offer', sdp: frame.sdp });
        await this.flush(peer);
        const answer = await peer.pc.createAnswer();
        await peer.pc.setLocalDescription(answer);
        this.signal({ type: 'sdp_answer', to: peer.sessionId, sdp: peer.pc.localDescription?.sdp ?? answer.sdp ?? '' });
        return;
      }
      case 'sdp_answer': {
        const peer = this.peers.get(frame.from);
        if (!peer) return;
        await peer.pc.setRemoteDescription({ type: 'answer', sdp: frame.sdp });
        await this.flush(peer);
        return;
      }
      case 'ice_candidate': {
        const peer = this.peers.get(frame.from) ?? this.ensurePeer(frame.from, frame.from_user_id, false);
        const candidate = frame.candidate as RTCIceCandidateInit;
        if (peer.pc.remoteDescription) await peer.pc.addIceCandidate(candidate).catch(() => undefined);
        else peer.queued.push(candidate);
        return;
      }
      case 'voice_state_update':
        // The server took this session out of the room: its right to be there ended
        // (removed from a private channel, the channel deleted) or the user joined
        // from another device. An older leave of ours (leave, then rejoin) has another
        // `joined_at`.
        if (
          frame.left &&
          frame.channel_id === this.channelId &&
          frame.participant.session_id === this.selfSessionId &&
          frame.participant.joined_at === this.joinedAt
        ) {
          this.hangUp();
          this.error = 'You are no longer in this voice room.';
        }
        return;
      case 'peer_left':
        if (this.peers.has(frame.session_id)) {
          this.dropPeer(frame.session_id);
          this.media.chime('leave');
        }
        return;
      default:
        return;
    }
  }

  /** Inbound and outbound audio counters over all peers, from `getStats` (diagnostics, tests). */
  async stats(): Promise<{ packetsReceived: number; packetsSent: number; energy: number; codecs: string[]; connected: number }> {
    let energy = 0;
    let packetsReceived = 0;
    let packetsSent = 0;
    const codecs = new Set<string>();
    let connected = 0;
    for (const p of this.peers.values()) {
      if (p.pc.connectionState === 'connected') connected += 1;
      const report = await p.pc.getStats();
      report.forEach((s: { type: string; kind?: string; packetsReceived?: number; packetsSent?: number; mimeType?: string; totalAudioEnergy?: number }) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          packetsReceived += s.packetsReceived ?? 0;
          energy += s.totalAudioEnergy ?? 0;
        }
        if (s.type === 'outbound-rtp' && s.kind === 'audio') packetsSent += s.packetsSent ?? 0;
        if (s.type === 'codec' && s.mimeType) codecs.add(s.mimeType.toLowerCase());
      });
    }
    return { packetsReceived, packetsSent, energy, codecs: [...codecs], connected };
  }

  /** For tests: how many candidates wait for a peer's remote description. */
  queuedFor(sessionId: Id): number {
    return this.peers.get(sessionId)?.queued.length ?? 0;
  }

  private ensurePeer(sessionId: Id, userId: Id, offerer: boolean): Peer {
    const existing = this.peers.get(sessionId);
    if (existing) return existing;
    const pc = this.media.createPeer({ iceServers: this.iceServers, iceTransportPolicy: this.iceTransportPolicy });
    const peer: Peer = { sessionId, userId, pc, queued: [], offerer, sink: null };
    this.peers.set(sessionId, peer);
    const track = this.local?.getAudioTracks()[0];
    if (track && this.local) {
      const sender = pc.addTrack(track, this.local);
      preferOpus(pc, sender);
      this.gatePeer(peer);
    }
    pc.onicecandidate = (ev) => {
      if (ev.candidate) this.signal({ type: 'ice_candidate', to: sessionId, candidate: ev.candidate.toJSON() as never });
    };
    pc.ontrack = (ev) => {
      const stream = ev.streams[0] ?? new MediaStream([ev.track]);
      peer.sink?.stop();
      peer.sink = this.media.play(stream);
      peer.sink.setVolume(this.volumeOf(userId));
      peer.sink.setMuted(this.deafened);
      peer.sink.setOutput(this.prefs.outputId);
    };
    pc.onconnectionstatechange = () => {
      this.peerStates[sessionId] = pc.connectionState;
      if (pc.connectionState === 'failed' && peer.offerer) void this.offer(peer, true);
    };
    return peer;
  }

  /** A closed gate detaches the track from the sender, so not even silence is sent. */
  private gatePeer(peer: Peer): void {
    const sender = peer.pc.getSenders().find((s) => s.track?.kind === 'audio' || s.track === null);
    const track = this.transmitting ? (this.local?.getAudioTracks()[0] ?? null) : null;
    if (sender && sender.track !== track) void sender.replaceTrack(track).catch(() => undefined);
  }

  private async offer(peer: Peer, iceRestart: boolean): Promise<void> {
    const offer = await peer.pc.createOffer({ iceRestart });
    await peer.pc.setLocalDescription(offer);
    this.signal({ type: 'sdp_offer', to: peer.sessionId, sdp: peer.pc.localDescription?.sdp ?? offer.sdp ?? '' });
  }

  private async flush(peer: Peer): Promise<void> {
    const queued = peer.queued.splice(0);
    for (const c of queued) await peer.pc.addIceCandidate(c).catch(() => undefined);
  }

  private dropPeer(sessionId: Id): void {
    const peer = this.peers.get(sessionId);
    if (!peer) return;
    peer.sink?.stop();
    peer.pc.close();
    this.peers.delete(sessionId);
    delete this.peerStates[sessionId];
  }

  private async openMicrophone(): Promise<MediaStream> {
    const processing = { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 };
    const saved = this.prefs.inputId;
    if (saved) {
      try {
        return await this.media.getUserMedia({ audio: { ...processing, deviceId: { exact: saved } } });
      } catch {
        // The remembered device is gone: fall back to the default one.
      }
    }
    return this.media.getUserMedia({ audio: processing });
  }

  private async switchMicrophone(): Promise<void> {
    const next = await this.openMicrophone();
    const track = next.getAudioTracks()[0];
    for (const p of this.peers.values()) {
      const sender = p.pc.getSenders().find((s) => s.track?.kind === 'audio' || s.track === null);
      await sender?.replaceTrack(this.transmitting ? track : null);
    }
    this.local?.getTracks().forEach((t) => t.stop());
    this.local = next;
    this.startVad();
    this.applyGate();
  }

  private startVad(): void {
    if (this.vadTimer) clearInterval(this.vadTimer);
    this.vadTimer = null;
    if (!this.local) return;
    const level = this.media.meter(this.local);
    if (!level) return;
    this.vadTimer = setInterval(() => {
      if (this.prefs.mode !== 'vad') {
        if (this.vadOpen) {
          this.vadOpen = false;
          this.applyGate();
        }
        return;
      }
      const now = Date.now();
      if (level() > this.prefs.vadThresholdDb) this.lastLoud = now;
      const open = now - this.lastLoud < VAD_HANGOVER_MS;
      if (open !== this.vadOpen) {
        this.vadOpen = open;
        this.applyGate();
      }
    }, 50);
  }

  /** The one place that decides whether the microphone sends. */
  private applyGate(): void {
    const on =
      !!this.channelId &&
      shouldTransmit({ mode: this.prefs.mode, pttHeld: this.pttHeld, vadOpen: this.vadOpen, muted: this.muted, deafened: this.deafened });
    this.transmitting = on;
    for (const track of this.local?.getAudioTracks() ?? []) track.enabled = on;
    for (const peer of this.peers.values()) this.gatePeer(peer);
    if (this.channelId && on !== this.sentActive) {
      this.sentActive = on;
      this.signal({ type: 'ptt_state', active: on });
    }
  }
}

/** Transmission rule in one pure function, for tests and the UI. */
export function shouldTransmit(s: { mode: 'ptt' | 'vad'; pttHeld: boolean; vadOpen: boolean; muted: boolean; deafened: boolean }): boolean {
  return (s.mode === 'ptt' ? s.pttHeld : s.vadOpen) && !s.muted && !s.deafened;
}

function toRtcIceServer(s: IceServer): RTCIceServer {
  const out: RTCIceServer = { urls: s.urls };
  if (s.username) out.username = s.username;
  if (s.credential) out.credential = s.credential;
  return out;
}

function preferOpus(pc: RTCPeerConnection, sender: RTCRtpSender): void {
  const caps = typeof RTCRtpSender !== 'undefined' ? RTCRtpSender.getCapabilities?.('audio') : null;
  const transceiver = pc.getTransceivers?.().find((t) => t.sender === sender);
  if (!caps || !transceiver?.setCodecPreferences) return;
  const opus = caps.codecs.filter((c) => c.mimeType.toLowerCase() === 'audio/opus');
  const rest = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== 'audio/opus');
  if (opus.length) transceiver.setCodecPreferences([...opus, ...rest]);
}
