import { describe, expect, it } from 'vitest';
import { BackendError, type Backend, type DesktopUpdates, type UpdateOffer } from '../src/backend/index';
import { WebBackend } from '../src/backend/web';
import { CHECK_EVERY_MS, UpdateState, type Timers } from '../src/stores/updates.svelte';

const offer: UpdateOffer = { version: '0.3.0', current_version: '0.2.0', notes: 'Faster voice' };

/** The app's updater as the prompt sees it, and a clock that only moves when told. */
function fakes(answers: Array<UpdateOffer | null | Error>, installError?: Error) {
  const calls: string[] = [];
  const updates: DesktopUpdates = {
    check: async () => {
      calls.push('check');
      const next = answers.shift() ?? null;
      if (next instanceof Error) throw next;
      return next;
    },
    install: async () => {
      calls.push('install');
      if (installError) throw installError;
    },
  };
  const ticks: Array<{ fn: () => void; ms: number }> = [];
  const timers: Timers = {
    setInterval: (fn, ms) => ticks.push({ fn, ms }) - 1,
    clearInterval: (id) => ticks.splice(id as number, 1),
  };
  return { updates, timers, calls, ticks };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('Update prompt', () => {
  it('asks at start and once a day, and shows what the server offers', async () => {
    const f = fakes([null, offer]);
    const state = new UpdateState(f.updates, f.timers);
    const stop = state.start();
    await settle();
    expect(state.offer).toBeNull();
    expect(f.ticks.map((t) => t.ms)).toEqual([CHECK_EVERY_MS]);
    f.ticks[0].fn();
    await settle();
    expect(state.offer).toEqual(offer);
    expect(f.calls).toEqual(['check', 'check']);
    stop();
    expect(f.ticks).toEqual([]);
  });

  it('installs only when asked, and shows why a refused update was not installed', async () => {
    const refusal = new BackendError(0, null, 'The update was refused: its signature does not match this app\'s signing key.');
    const f = fakes([offer], refusal);
    const state = new UpdateState(f.updates, f.timers);
    await state.check();
    expect(f.calls).toEqual(['check']);
    await state.install();
    expect(f.calls).toEqual(['check', 'install']);
    expect(state.message).toContain('signature does not match');
    expect(state.installing).toBe(false);
    expect(state.offer).toEqual(offer);
  });

  it('keeps quiet when the server cannot be asked', async () => {
    const f = fakes([new BackendError(0, null, 'could not check for updates')]);
    const state = new UpdateState(f.updates, f.timers);
    await state.check();
    expect(state.offer).toBeNull();
    expect(state.message).toBe('');
  });

  it('does not exist in a browser, so the web client shows no prompt', () => {
    const web: Backend = new WebBackend({ serverUrl: '', location: { protocol: 'https:', host: 'chat.example.test' }, fetch: async () => new Response('{}') });
    expect(web.updates).toBeUndefined();
  });
});
