// Browser voice: the gate (push-to-talk or voice activity, mute wins), deafen, per-user
// volume and the room's roster, over one transport chosen by the server: the mesh (one
// peer connection per participant, mesh.ts) or the forwarding unit (one connection to
// the server, sfu.ts). When the room changes mode both run for a moment (handover.ts).
// The microphone track is on the senders only while transmitting, so a closed gate
// sends not even silence.

import type { ClientFrame } from '../generated/ClientFrame';
import type { Id } from '../generated/Id';
import type { IceServer } from '../generated/IceServer';
import type { RoomMode } from '../generated/RoomMode';
import type { ServerFrame } from '../generated/ServerFrame';
import { Handover } from './handover';
import { MeshTransport } from './mesh';
import { loadPrefs, savePrefs, type VoicePrefs } from './prefs';
import { SfuTransport } from './sfu';
import type { MediaDeps, PeerCounters, Remote, StatsTotals, Transport, TransportHost } from './transport';

export type { AudioSink, MediaDeps } from './transport';

const VAD_HANGOVER_MS = 400;

export interface VoiceStats {
  mode: RoomMode;
  /** A move between mesh and SFU is under way: both paths are open. */
  moving: boolean;
  packetsReceived: number;
  packetsSent: number;
  energy: number;
  codecs: string[];
  /** Participants reachable over a connected path. */
  connected: number;
  /** Inbound audio per participant's session id. */
  peers: Record<Id, PeerCounters>;
  /** Candidate types of our end of the connections in use (`relay` when relay-only). */
  localCandidates: string[];
}

export class VoiceEngine {
  channelId = $state<Id | null>(null);
  selfSessionId = $state<Id | null>(null);
  /** How the room's audio travels now (during a move: where it is going). */
  mode = $state<RoomMode>('mesh');
  muted = $state(false);
  deafened = $state(false);
  pttHeld = $state(false);
  vadOpen = $state(false);
  /** What the UI shows as "you are talking". */
  transmitting = $state(false);
  error = $state<string | null>(null);
  /** Participant session → state of the best connection to them, for the UI and tests. */
  peerStates = $state<Record<Id, string>>({});
  prefs = $state<VoicePrefs>(loadPrefs());

  /** The transport new participants are reached through. */
  private transport: Transport | null = null;
  /** While the room moves between modes: the old transport and who moved off it. */
  private handover: Handover | null = null;
  /** The other participants in the room: session → user. */
  private readonly roster = new Map<Id, Id>();
  /** SFU peer ids of this stay in the room, so their late frames never open a mesh peer. */
  private readonly sfuIds = new Set<Id>();
  private local: MediaStream | null = null;
  private iceServers: RTCIceServer[] = [];
  private iceTransportPolicy: RTCIceTransportPolicy = 'all';
  private vadTimer: ReturnType<typeof setInterval> | null = null;
  private lastLoud = 0;
  private sentActive = false;
  /** When this session joined its room, to tell its own leave from an older one. */
  private joinedAt: number | null = null;
  private readonly host: TransportHost;

  constructor(
    private readonly signal: (frame: ClientFrame) => void,
    private readonly media: MediaDeps,
  ) {
    this.host = {
      signal: (frame) => this.signal(frame),
      media,
      rtcConfig: () => ({ iceServers: this.iceServers, iceTransportPolicy: this.iceTransportPolicy }),
      localStream: () => this.local,
      outgoingTrack: () => (this.transmitting ? (this.local?.getAudioTracks()[0] ?? null) : null),
      userOf: (sessionId) => this.roster.get(sessionId),
      started: (transport, remote) => this.startedPlaying(transport, remote),
      changed: () => this.connectionsChanged(),
    };
  }

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
    // The mesh until `voice_joined` says otherwise: peers' frames may come first.
    this.mode = 'mesh';
    this.transport = new MeshTransport(this.host);
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
    this.handover?.cancel();
    for (const t of this.transports()) t.close();
    this.handover = null;
    this.transport = null;
    this.roster.clear();
    this.sfuIds.clear();
    this.peerStates = {};
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
    this.eachRemote((t, r) => this.applyMuting(t, r));
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
    if (change.outputId !== undefined) this.eachRemote((_, r) => r.sink.setOutput(this.prefs.outputId));
    if (deviceChanged && this.channelId) void this.switchMicrophone();
    this.applyGate();
  }

  setVolume(userId: Id, volume: number): void {
    this.prefs.volumes[userId] = volume;
    savePrefs(this.prefs);
    this.eachRemote((_, r) => {
      if (r.userId === userId) r.sink.setVolume(volume);
    });
  }

  volumeOf(userId: Id): number {
    return this.prefs.volumes[userId] ?? 1;
  }

  /** Gateway frames: voice answers and signaling. */
  async onFrame(frame: ServerFrame): Promise<void> {
    if (!('seq' in frame)) {
      if (frame.type === 'voice_joined') this.joined(frame);
      else if (frame.type === 'error' && frame.op.startsWith('voice')) {
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
        const { session_id: id, user_id: userId } = frame.participant;
        if (frame.channel_id !== this.channelId || id === this.selfSessionId) return;
        this.roster.set(id, userId);
        this.eachRemote((_, r) => {
          if (r.sessionId === id && r.userId !== userId) {
            r.userId = userId;
            r.sink.setVolume(this.volumeOf(userId));
          }
        });
        this.media.chime('join');
        // In a mesh the members offer to the newcomer; through the SFU nobody offers to peers.
        if (this.transport instanceof MeshTransport) await this.transport.offerTo(id, userId);
        return;
      }
      case 'sdp_offer':
      case 'sdp_answer':
      case 'ice_candidate': {
        const sfu = this.transports().find((t) => t instanceof SfuTransport && t.peerId === frame.from);
        if (sfu) await sfu.onSignal(frame);
        else if (this.sfuIds.has(frame.from)) return;
        else for (const t of this.transports()) if (t instanceof MeshTransport && (await t.onSignal(frame))) return;
        return;
      }
      case 'voice_mode_changed':
        if (frame.channel_id === this.channelId && this.selfSessionId) this.moveTo(frame.mode, frame.sfu_session_id ?? null);
        return;
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
      case 'peer_left': {
        if (frame.channel_id !== this.channelId) return;
        const known = this.roster.delete(frame.session_id);
        let heard = false;
        for (const t of this.transports()) {
          heard ||= t.remotes.has(frame.session_id) || (t instanceof MeshTransport && t.has(frame.session_id));
          t.drop(frame.session_id);
        }
        if (known || heard) this.media.chime('leave');
        return;
      }
      default:
        return;
    }
  }

  /** Inbound and outbound audio counters over every connection, from `getStats` (diagnostics, tests). */
  async stats(): Promise<VoiceStats> {
    const totals: StatsTotals = { packetsReceived: 0, packetsSent: 0, energy: 0, codecs: new Set(), peers: {}, localCandidates: new Set() };
    for (const t of this.transports()) await t.addStats(totals);
    const connected = Object.values(this.peerStates).filter((s) => s === 'connected').length;
    const { packetsReceived, packetsSent, energy, codecs, peers, localCandidates } = totals;
    return { mode: this.mode, moving: this.handover !== null, packetsReceived, packetsSent, energy, codecs: [...codecs], connected, peers, localCandidates: [...localCandidates] };
  }

  /** For tests: how many candidates wait for a mesh peer's remote description. */
  queuedFor(sessionId: Id): number {
    for (const t of this.transports()) if (t instanceof MeshTransport && t.has(sessionId)) return t.queuedFor(sessionId);
    return 0;
  }

  private joined(frame: Extract<ServerFrame, { type: 'voice_joined' }>): void {
    this.selfSessionId = frame.self_session_id;
    this.joinedAt = frame.room.participants.find((p) => p.session_id === frame.self_session_id)?.joined_at ?? null;
    this.iceServers = frame.ice_servers.map(toRtcIceServer);
    // `relay` keeps our address from peers (and from the SFU): only TURN candidates are gathered.
    this.iceTransportPolicy = frame.ice_transport_policy;
    this.media.chime('join');
    if (this.channelId !== frame.room.channel_id) return;
    this.roster.clear();
    for (const p of frame.room.participants) if (p.session_id !== frame.self_session_id) this.roster.set(p.session_id, p.user_id);
    if (frame.mode === 'sfu' && frame.sfu_session_id) {
      this.transport?.close();
      this.mode = 'sfu';
      void this.openSfu(frame.sfu_session_id).start().catch(() => undefined);
    }
  }

  private openSfu(peerId: Id): SfuTransport {
    this.sfuIds.add(peerId);
    const sfu = new SfuTransport(peerId, this.host);
    this.transport = sfu;
    return sfu;
  }

  /** Starts moving the room's audio to `mode`, keeping the old path until the new one plays. */
  private moveTo(mode: RoomMode, sfuId: Id | null): void {
    const from = this.transport;
    if (!from || !this.selfSessionId) return;
    if (mode === from.mode && (mode === 'mesh' || (from instanceof SfuTransport && from.peerId === sfuId))) return;
    if (mode === 'sfu' && !sfuId) return;
    // A move still under way ends at once: two at a time would leave three paths.
    this.handover?.finish();
    if (from instanceof MeshTransport) from.retire();
    this.mode = mode;
    const to = mode === 'sfu' && sfuId ? this.openSfu(sfuId) : (this.transport = new MeshTransport(this.host));
    this.handover = new Handover(from, to, {
      others: () => [...this.roster.keys()],
      moved: (id) => this.eachRemote((t, r) => r.sessionId === id && this.applyMuting(t, r)),
      finished: () => {
        this.handover = null;
        this.eachRemote((t, r) => this.applyMuting(t, r));
        this.connectionsChanged();
      },
    });
    if (to instanceof SfuTransport) void to.start().catch(() => undefined);
    else if (to instanceof MeshTransport) {
      // Back to a mesh, each pair needs exactly one offerer: the smaller session id.
      const self = this.selfSessionId;
      for (const [id, userId] of this.roster) if (compareIds(id, self) > 0) void to.offerTo(id, userId).catch(() => undefined);
    }
    this.handover.changed();
  }

  /** The transport in use, then the one a move is leaving. */
  private transports(): Transport[] {
    const out: Transport[] = [];
    if (this.transport) out.push(this.transport);
    if (this.handover && this.handover.from !== this.transport) out.push(this.handover.from);
    return out;
  }

  private eachRemote(visit: (t: Transport, r: Remote) => void): void {
    for (const t of this.transports()) for (const r of t.remotes.values()) visit(t, r);
  }

  private startedPlaying(transport: Transport, remote: Remote): void {
    remote.sink.setVolume(this.volumeOf(remote.userId));
    remote.sink.setOutput(this.prefs.outputId);
    this.handover?.started(transport, remote.sessionId);
    this.applyMuting(transport, remote);
  }

  /** Deafened, or not the path this participant is heard through during a move: muted. */
  private applyMuting(transport: Transport, remote: Remote): void {
    const audible = this.handover ? this.handover.audible(transport, remote.sessionId) : true;
    remote.sink.setMuted(this.deafened || !audible);
  }

  private connectionsChanged(): void {
    const states: Record<Id, string> = {};
    for (const t of this.transports()) {
      for (const [id, state] of Object.entries(t.states())) if (states[id] !== 'connected') states[id] = state;
    }
    this.peerStates = states;
    this.handover?.changed();
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
    const old = this.local;
    this.local = next;
    this.startVad();
    // The senders take the new track before the old one stops, so there is no gap.
    this.applyGate();
    old?.getTracks().forEach((t) => t.stop());
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
    const track = on ? (this.local?.getAudioTracks()[0] ?? null) : null;
    for (const t of this.transports()) t.setOutgoing(track);
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

/** Orders decimal ids as the numbers they are (no leading zeros: longer is larger). */
export function compareIds(a: Id, b: Id): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
