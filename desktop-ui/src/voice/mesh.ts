// The mesh: one RTCPeerConnection per other participant, negotiated over the gateway.
// Whoever offers first drives ICE restarts when the connection fails; candidates that
// arrive before the remote description wait in a queue. A retiring mesh (the room moved
// to the forwarding unit) still answers the peers it has but takes on no new ones.

import type { Id } from '../generated/Id';
import { addReport, inboundPackets, preferOpus, type Remote, type SignalFrame, type StatsTotals, type Transport, type TransportHost } from './transport';

interface Peer {
  sessionId: Id;
  userId: Id;
  pc: RTCPeerConnection;
  sender: RTCRtpSender | null;
  queued: RTCIceCandidateInit[];
  /** We made the first offer, so we drive ICE restarts. */
  offerer: boolean;
}

export class MeshTransport implements Transport {
  readonly mode = 'mesh' as const;
  readonly remotes = new Map<Id, Remote>();
  private readonly peers = new Map<Id, Peer>();
  /** False once the room left the mesh: offers from new peers are not ours to answer. */
  private accepting = true;

  constructor(private readonly host: TransportHost) {}

  /** Offers to a participant (a newcomer, or a peer after a move back to the mesh). */
  async offerTo(sessionId: Id, userId: Id): Promise<void> {
    await this.offer(this.ensurePeer(sessionId, userId, true), false);
  }

  retire(): void {
    this.accepting = false;
  }

  has(sessionId: Id): boolean {
    return this.peers.has(sessionId);
  }

  async onSignal(frame: SignalFrame): Promise<boolean> {
    const known = this.peers.get(frame.from);
    if (!known && (!this.accepting || frame.type === 'sdp_answer')) return false;
    const peer = known ?? this.ensurePeer(frame.from, frame.from_user_id, false);
    switch (frame.type) {
      case 'sdp_offer': {
        await peer.pc.setRemoteDescription({ type: 'offer', sdp: frame.sdp });
        await this.flush(peer);
        const answer = await peer.pc.createAnswer();
        await peer.pc.setLocalDescription(answer);
        this.host.signal({ type: 'sdp_answer', to: peer.sessionId, sdp: peer.pc.localDescription?.sdp ?? answer.sdp ?? '' });
        break;
      }
      case 'sdp_answer':
        await peer.pc.setRemoteDescription({ type: 'answer', sdp: frame.sdp });
        await this.flush(peer);
        break;
      case 'ice_candidate': {
        const candidate = frame.candidate as RTCIceCandidateInit;
        if (peer.pc.remoteDescription) await peer.pc.addIceCandidate(candidate).catch(() => undefined);
        else peer.queued.push(candidate);
        break;
      }
    }
    return true;
  }

  setOutgoing(track: MediaStreamTrack | null): void {
    for (const peer of this.peers.values()) {
      if (peer.sender && peer.sender.track !== track) void peer.sender.replaceTrack(track).catch(() => undefined);
    }
  }

  states(): Record<Id, RTCPeerConnectionState> {
    const out: Record<Id, RTCPeerConnectionState> = {};
    for (const p of this.peers.values()) out[p.sessionId] = p.pc.connectionState;
    return out;
  }

  connected(others: Iterable<Id>): boolean {
    for (const id of others) if (this.peers.get(id)?.pc.connectionState !== 'connected') return false;
    return true;
  }

  async packetsFrom(sessionId: Id): Promise<number> {
    const peer = this.peers.get(sessionId);
    if (!peer) return 0;
    return inboundPackets(await peer.pc.getStats());
  }

  drop(sessionId: Id): void {
    const peer = this.peers.get(sessionId);
    if (!peer) return;
    this.remotes.get(sessionId)?.sink.stop();
    this.remotes.delete(sessionId);
    peer.pc.close();
    this.peers.delete(sessionId);
    this.host.changed(this);
  }

  async addStats(totals: StatsTotals): Promise<void> {
    for (const p of this.peers.values()) addReport(await p.pc.getStats(), totals, () => p.sessionId);
  }

  close(): void {
    for (const id of [...this.peers.keys()]) this.drop(id);
  }

  /** For tests: how many candidates wait for a peer's remote description. */
  queuedFor(sessionId: Id): number {
    return this.peers.get(sessionId)?.queued.length ?? 0;
  }

  private ensurePeer(sessionId: Id, userId: Id, offerer: boolean): Peer {
    const existing = this.peers.get(sessionId);
    if (existing) return existing;
    const pc = this.host.media.createPeer(this.host.rtcConfig());
    const peer: Peer = { sessionId, userId, pc, sender: null, queued: [], offerer };
    this.peers.set(sessionId, peer);
    const local = this.host.localStream();
    const track = local?.getAudioTracks()[0];
    if (track && local) {
      peer.sender = pc.addTrack(track, local);
      preferOpus(pc.getTransceivers?.().find((t) => t.sender === peer.sender));
      // A closed gate detaches the track from the sender, so not even silence is sent.
      const outgoing = this.host.outgoingTrack();
      if (outgoing !== track) void peer.sender.replaceTrack(outgoing).catch(() => undefined);
    }
    pc.onicecandidate = (ev) => {
      if (ev.candidate) this.host.signal({ type: 'ice_candidate', to: sessionId, candidate: ev.candidate.toJSON() as never });
    };
    pc.ontrack = (ev) => {
      const stream = ev.streams[0] ?? new MediaStream([ev.track]);
      this.remotes.get(sessionId)?.sink.stop();
      const remote: Remote = { sessionId, userId: peer.userId, sink: this.host.media.play(stream, sessionId) };
      this.remotes.set(sessionId, remote);
      this.host.started(this, remote);
      this.host.changed(this);
    };
    pc.onconnectionstatechange = () => {
      this.host.changed(this);
      if (pc.connectionState === 'failed' && peer.offerer && this.peers.get(sessionId) === peer) void this.offer(peer, true);
    };
    return peer;
  }

  private async offer(peer: Peer, iceRestart: boolean): Promise<void> {
    const offer = await peer.pc.createOffer({ iceRestart });
    await peer.pc.setLocalDescription(offer);
    this.host.signal({ type: 'sdp_offer', to: peer.sessionId, sdp: peer.pc.localDescription?.sdp ?? offer.sdp ?? '' });
  }

  private async flush(peer: Peer): Promise<void> {
    const queued = peer.queued.splice(0);
    for (const c of queued) await peer.pc.addIceCandidate(c).catch(() => undefined);
  }
}
