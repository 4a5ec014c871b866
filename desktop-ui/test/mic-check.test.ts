import { describe, expect, it } from 'vitest';
import { levelFraction, LEVEL_FLOOR_DB } from '../src/lib/level';
import { CALL_PROCESSING, startMicCheck, type MicCheckDeps } from '../src/voice/mic-check';

/** A browser that records what the mic test asked of it. */
function fakeBrowser(missing: string[] = []) {
  const asked: MediaStreamConstraints[] = [];
  const played: Array<string | null> = [];
  let stoppedTracks = 0;
  let stoppedPlaying = 0;
  const stream = { getTracks: () => [{ stop: () => stoppedTracks++ }] } as unknown as MediaStream;
  const deps: MicCheckDeps = {
    getUserMedia: async (c) => {
      asked.push(c);
      const audio = c.audio as MediaTrackConstraints;
      const exact = (audio.deviceId as { exact?: string } | undefined)?.exact;
      if (exact && missing.includes(exact)) throw new DOMException('gone', 'OverconstrainedError');
      return stream;
    },
    meter: () => () => -23,
    play: (_s, outputId) => {
      played.push(outputId);
      return () => stoppedPlaying++;
    },
  };
  return { deps, asked, played, stopped: () => ({ tracks: stoppedTracks, playing: stoppedPlaying }) };
}

describe('mic test in the browser', () => {
  it('opens the chosen microphone with a call’s processing, plays it on the chosen speaker and meters it', async () => {
    const browser = fakeBrowser();
    const check = await startMicCheck('mic-2', 'speaker-3', browser.deps);
    expect(browser.asked).toEqual([{ audio: { ...CALL_PROCESSING, deviceId: { exact: 'mic-2' } } }]);
    expect(browser.played).toEqual(['speaker-3']);
    expect(check.level()).toBe(-23);
    check.stop();
    expect(browser.stopped()).toEqual({ tracks: 1, playing: 1 });
  });

  it('falls back to the default microphone when the chosen one is gone', async () => {
    const browser = fakeBrowser(['unplugged']);
    await startMicCheck('unplugged', null, browser.deps);
    expect(browser.asked.map((c) => (c.audio as MediaTrackConstraints).deviceId)).toEqual([{ exact: 'unplugged' }, undefined]);
  });

  it('draws levels between the floor and full scale', () => {
    expect(levelFraction(null)).toBe(0);
    expect(levelFraction(-Infinity)).toBe(0);
    expect(levelFraction(LEVEL_FLOOR_DB - 20)).toBe(0);
    expect(levelFraction(-40)).toBeCloseTo(0.5);
    expect(levelFraction(6)).toBe(1);
  });
});
