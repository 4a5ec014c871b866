// The forwarding unit: one RTCPeerConnection to the server's SFU peer. The microphone
// goes out once, on a sendonly transceiver; every other participant comes back as one
// track whose stream id is their session id. The server offers again whenever the set
// of tracks changes. We are the polite side: an offer of ours still waiting for its
// answer is rolled back, the server's answered, and ours made again afterwards.

import type { Id } from '../generated/Id';
import { addReport, inboundPackets, preferOpus, type Remote, type SignalFrame, type StatsTotals, type Transport, type TransportHost } from './transport';

export class SfuTransport implements Transport {
  readonly mode = 'sfu' as const;
  readonly remotes = new Map<Id, Remote>();
  private readonly pc: RTCPeerConnection;
  private readonly sender: RTCRtpSender;
  /** The transceiver each participant's track arrived on, to count its packets and see it stop. */
  private readonly receivers = new Map<Id, RTCRtpTransceiver>();
  private queued: RTCIceCandidateInit[] = [];
  /** Signaling steps run one at a time in the order their frames came: a server offer
   * must not be answered while our own offer is half made, nor two offers interleave. */
  private chain: Promise<void> = Promise.resolve();
  /** Whether the offer we last made restarts ICE, so a rolled-back one is made alike again. */
  private lastOfferRestarts = false;
  private closed = false;

  constructor(
    /** The SFU's peer id in the room, the `to` and `from` of its signaling. */
    readonly peerId: Id,
    private readonly host: TransportHost,
  ) {
    const pc = host.media.createPeer(host.rtcConfig());
    this.pc = pc;
    const local = host.localStream();
    const transceiver = pc.addTransceiver('audio', { direction: 'sendonly', streams: local ? [local] : [] });
    preferOpus(transceiver);
    this.sender = transceiver.sender;
    this.setOutgoing(host.outgoingTrack());
    pc.onicecandidate = (ev) => {
      if (ev.candidate) host.signal({ type: 'ice_candidate', to: peerId, candidate: ev.candidate.toJSON() as never });
    };
    pc.ontrack = (ev) => this.onTrack(ev);
    pc.onconnectionstatechange = () => {
      host.changed(this);
      if (pc.connectionState === 'failed') void this.step(() => this.offer(true)).catch(() => undefined);
    };
  }

  /** Makes the first offer. */
  start(): Promise<void> {
    return this.step(() => this.offer(false));
  }

  async onSignal(frame: SignalFrame): Promise<boolean> {
    if (frame.from !== this.peerId) return false;
    switch (frame.type) {
      case 'sdp_offer':
        await this.step(() => this.answer(frame.sdp));
        break;
      case 'sdp_answer':
        await this.step(() => this.accept(frame.sdp));
        break;
      case 'ice_candidate': {
        const candidate = frame.candidate as RTCIceCandidateInit;
        await this.step(async () => {
          if (this.pc.remoteDescription) await this.pc.addIceCandidate(candidate).catch(() => undefined);
          else this.queued.push(candidate);
        });
        break;
      }
    }
    return true;
  }

  setOutgoing(track: MediaStreamTrack | null): void {
    if (this.closed || this.sender.track === track) return;
    void this.sender.replaceTrack(track).catch(() => undefined);
  }

  states(): Record<Id, RTCPeerConnectionState> {
    const out: Record<Id, RTCPeerConnectionState> = {};
    for (const id of this.remotes.keys()) out[id] = this.pc.connectionState;
    return out;
  }

  connected(): boolean {
    return this.pc.connectionState === 'connected';
  }

  async packetsFrom(sessionId: Id): Promise<number> {
    const transceiver = this.receivers.get(sessionId);
    if (!transceiver) return 0;
    return inboundPackets(await transceiver.receiver.getStats());
  }

  drop(sessionId: Id): void {
    // The server stops that m-line in its next offer; until then the track stays silent.
    this.receivers.delete(sessionId);
    const remote = this.remotes.get(sessionId);
    if (!remote) return;
    remote.sink.stop();
    this.remotes.delete(sessionId);
    this.host.changed(this);
  }

  async addStats(totals: StatsTotals): Promise<void> {
    const byTrack = new Map<string, Id>();
    for (const [id, t] of this.receivers) byTrack.set(t.receiver.track.id, id);
    addReport(await this.pc.getStats(), totals, (trackId) => (trackId === undefined ? undefined : byTrack.get(trackId)));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const remote of this.remotes.values()) remote.sink.stop();
    this.remotes.clear();
    this.receivers.clear();
    this.pc.close();
    this.host.changed(this);
  }

  private step(work: () => Promise<void>): Promise<void> {
    const run = this.chain.then(() => (this.closed ? undefined : work()));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async offer(iceRestart: boolean): Promise<void> {
    const offer = await this.pc.createOffer({ iceRestart });
    await this.pc.setLocalDescription(offer);
    this.lastOfferRestarts = iceRestart;
    this.host.signal({ type: 'sdp_offer', to: this.peerId, sdp: this.pc.localDescription?.sdp ?? offer.sdp ?? '' });
  }

  private async answer(sdp: string): Promise<void> {
    const displaced = this.pc.signalingState === 'have-local-offer';
    if (displaced) await this.pc.setLocalDescription({ type: 'rollback' });
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    await this.flush();
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    this.host.signal({ type: 'sdp_answer', to: this.peerId, sdp: this.pc.localDescription?.sdp ?? answer.sdp ?? '' });
    this.forgetStopped();
    if (displaced) await this.offer(this.lastOfferRestarts);
  }

  private async accept(sdp: string): Promise<void> {
    // An answer to an offer we rolled back: the offer made again gets its own.
    if (this.pc.signalingState !== 'have-local-offer') return;
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
    await this.flush();
  }

  private async flush(): Promise<void> {
    for (const c of this.queued.splice(0)) await this.pc.addIceCandidate(c).catch(() => undefined);
  }

  private onTrack(ev: RTCTrackEvent): void {
    const stream = ev.streams[0];
    // The stream id is how the server names whose track this is; without it the audio
    // could not follow that user's volume, nor be kept from playing twice in a move.
    if (!stream) return;
    const sessionId = stream.id;
    this.receivers.set(sessionId, ev.transceiver);
    this.remotes.get(sessionId)?.sink.stop();
    const remote: Remote = { sessionId, userId: this.host.userOf(sessionId) ?? '', sink: this.host.media.play(stream, sessionId) };
    this.remotes.set(sessionId, remote);
    this.host.started(this, remote);
    this.host.changed(this);
  }

  /** Participants whose m-line the server stopped (they left) stop playing. */
  private forgetStopped(): void {
    for (const [id, t] of [...this.receivers]) {
      const gone = t.currentDirection === 'stopped' || t.currentDirection === 'inactive' || t.direction === 'stopped' || t.receiver.track.readyState === 'ended';
      if (gone) this.drop(id);
    }
  }
}
