// What a way of carrying the room's audio (the mesh of peer connections, or one
// connection to the server's forwarding unit) offers the engine, and what the engine
// offers it. The engine keeps the gate, volumes and deafen; a transport only moves
// audio and reports which participant each remote stream belongs to.

import type { ClientFrame } from '../generated/ClientFrame';
import type { Id } from '../generated/Id';
import type { RoomMode } from '../generated/RoomMode';
import type { ServerFrame } from '../generated/ServerFrame';

/** Browser media, injectable so the negotiation logic runs in tests without a browser. */
export interface MediaDeps {
  getUserMedia(constraints: MediaStreamConstraints): Promise<MediaStream>;
  createPeer(config: RTCConfiguration): RTCPeerConnection;
  /** Plays one participant's stream; returns a handle to change volume, output and muting. */
  play(stream: MediaStream, sessionId: Id): AudioSink;
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

/** One participant's audio as one transport plays it. */
export interface Remote {
  sessionId: Id;
  userId: Id;
  sink: AudioSink;
}

/** The gateway frames a transport negotiates with. */
export type SignalFrame = Extract<ServerFrame, { type: 'sdp_offer' | 'sdp_answer' | 'ice_candidate' }>;

/** Audio counters of one participant's inbound stream. */
export interface PeerCounters {
  packetsReceived: number;
  energy: number;
}

/** What `stats()` adds up over every transport. */
export interface StatsTotals {
  packetsReceived: number;
  packetsSent: number;
  energy: number;
  codecs: Set<string>;
  peers: Record<Id, PeerCounters>;
  /** Candidate types (`host`, `srflx`, `relay`) of our end of every connection in use. */
  localCandidates: Set<string>;
}

export interface TransportHost {
  signal(frame: ClientFrame): void;
  media: MediaDeps;
  rtcConfig(): RTCConfiguration;
  /** The microphone stream (its id names our outgoing stream), null before it opens. */
  localStream(): MediaStream | null;
  /** The microphone track while transmitting, null while the gate is closed. */
  outgoingTrack(): MediaStreamTrack | null;
  /** The user behind a participant of the room, when the roster knows it. */
  userOf(sessionId: Id): Id | undefined;
  /** A remote stream started playing: the host sets its volume, output and muting. */
  started(transport: Transport, remote: Remote): void;
  /** Connection states or the set of remotes changed. */
  changed(transport: Transport): void;
}

export interface Transport {
  readonly mode: RoomMode;
  /** The participants this transport plays now, by session id. */
  readonly remotes: ReadonlyMap<Id, Remote>;
  /** Handles a signaling frame; false when it is not this transport's to answer. */
  onSignal(frame: SignalFrame): Promise<boolean>;
  /** Puts the microphone track (or null: send nothing at all) on every sender. */
  setOutgoing(track: MediaStreamTrack | null): void;
  /** Connection state per participant reachable through this transport. */
  states(): Record<Id, RTCPeerConnectionState>;
  /** Whether the connections this transport needs for everyone in the room are up. */
  connected(others: Iterable<Id>): boolean;
  /** RTP packets received so far from one participant (0 when none or unknown). */
  packetsFrom(sessionId: Id): Promise<number>;
  /** Stops playing a participant (and, in a mesh, closes the connection to them). */
  drop(sessionId: Id): void;
  addStats(totals: StatsTotals): Promise<void>;
  close(): void;
}

interface StatsEntry {
  type: string;
  id?: string;
  kind?: string;
  packetsReceived?: number;
  packetsSent?: number;
  mimeType?: string;
  totalAudioEnergy?: number;
  trackIdentifier?: string;
  state?: string;
  nominated?: boolean;
  localCandidateId?: string;
  candidateType?: string;
}

/** The audio RTP counters, codecs and the candidate pair in use of a report, added to
 * `totals`; `peerOf` names the participant an inbound track (by its id) belongs to. */
export function addReport(report: RTCStatsReport, totals: StatsTotals, peerOf: (trackId: string | undefined) => Id | undefined): void {
  const candidateTypes = new Map<string, string>();
  const inUse: string[] = [];
  report.forEach((s: StatsEntry) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      totals.packetsReceived += s.packetsReceived ?? 0;
      totals.energy += s.totalAudioEnergy ?? 0;
      const peer = peerOf(s.trackIdentifier);
      if (peer !== undefined) {
        const c = (totals.peers[peer] ??= { packetsReceived: 0, energy: 0 });
        c.packetsReceived += s.packetsReceived ?? 0;
        c.energy += s.totalAudioEnergy ?? 0;
      }
    }
    if (s.type === 'outbound-rtp' && s.kind === 'audio') totals.packetsSent += s.packetsSent ?? 0;
    if (s.type === 'codec' && s.mimeType) totals.codecs.add(s.mimeType.toLowerCase());
    if (s.type === 'local-candidate' && s.id && s.candidateType) candidateTypes.set(s.id, s.candidateType);
    if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' && s.localCandidateId) inUse.push(s.localCandidateId);
  });
  for (const id of inUse) {
    const type = candidateTypes.get(id);
    if (type) totals.localCandidates.add(type);
  }
}

/** Inbound RTP packets in a report (one receiver's). */
export function inboundPackets(report: RTCStatsReport): number {
  let n = 0;
  report.forEach((s: { type: string; packetsReceived?: number }) => {
    if (s.type === 'inbound-rtp') n += s.packetsReceived ?? 0;
  });
  return n;
}

/** Opus first in the transceiver's codec list (Chromium offers it first anyway; others may not). */
export function preferOpus(transceiver: RTCRtpTransceiver | undefined): void {
  const caps = typeof RTCRtpSender !== 'undefined' ? RTCRtpSender.getCapabilities?.('audio') : null;
  if (!caps || !transceiver?.setCodecPreferences) return;
  const opus = caps.codecs.filter((c) => c.mimeType.toLowerCase() === 'audio/opus');
  const rest = caps.codecs.filter((c) => c.mimeType.toLowerCase() !== 'audio/opus');
  try {
    if (opus.length) transceiver.setCodecPreferences([...opus, ...rest]);
  } catch {
    // A browser that refuses the list keeps its own order, where Opus is still offered.
  }
}
