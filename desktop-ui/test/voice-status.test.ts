import { describe, expect, it } from 'vitest';
import { voiceStatus } from '../src/lib/voice-status';

describe('the voice bar status', () => {
  it('is connected alone in a room and when every connection is', () => {
    expect(voiceStatus({}).label).toBe('Voice connected');
    expect(voiceStatus({ a: 'connected', b: 'connected' }).kind).toBe('connected');
  });

  it('lets the worst connection decide', () => {
    expect(voiceStatus({ a: 'connected', b: 'connecting' }).kind).toBe('connecting');
    expect(voiceStatus({ a: 'new' }).label).toBe('Connecting…');
    expect(voiceStatus({ a: 'connecting', b: 'disconnected' }).label).toBe('Reconnecting…');
    const failed = voiceStatus({ a: 'disconnected', b: 'failed', c: 'connected' });
    expect(failed.kind).toBe('failed');
    expect(failed.reason).toBe('No audio path: 1 of 3 connections failed; trying again.');
    expect(voiceStatus({ sfu: 'failed' }).reason).toBe('No audio path: the connection failed; trying again.');
  });
});
