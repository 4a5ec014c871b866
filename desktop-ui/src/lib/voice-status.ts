// The voice bar's headline: how the call's connections stand, in a person's words.

export type VoiceStatusKind = 'connecting' | 'connected' | 'reconnecting' | 'failed';

export interface VoiceStatus {
  kind: VoiceStatusKind;
  label: string;
  /** Why, when it failed. */
  reason?: string;
}

/**
 * Sums up the WebRTC connection states of a call (per peer in a mesh, the one SFU
 * connection otherwise): the worst one decides, so a single broken path shows. Alone in
 * a room there is nothing to connect to yet, which counts as connected.
 */
export function voiceStatus(states: Record<string, string>): VoiceStatus {
  const all = Object.values(states);
  const failed = all.filter((s) => s === 'failed').length;
  if (failed) {
    const who = all.length === 1 ? 'the connection' : `${failed} of ${all.length} connections`;
    return { kind: 'failed', label: 'Voice connection failed', reason: `No audio path: ${who} failed; trying again.` };
  }
  if (all.some((s) => s === 'disconnected')) return { kind: 'reconnecting', label: 'Reconnecting…' };
  if (all.some((s) => s === 'new' || s === 'connecting' || s === 'checking')) return { kind: 'connecting', label: 'Connecting…' };
  return { kind: 'connected', label: 'Voice connected' };
}
