import { describe, expect, it } from 'vitest';
import { render } from 'svelte/server';
import VoiceTransport, { VOICE_TRANSPORTS, transportMode, transportValue } from '../src/components/VoiceTransport.svelte';
import { TauriBackend, type TauriDeps } from '../src/backend/tauri';
import { WebBackend } from '../src/backend/web';
import type { RoomMode } from '../src/generated/RoomMode';
import { fakeFetch, location } from './fake-fetch';

const hangout = {
  id: '5', name: 'hangout', kind: 'voice', topic: null, is_default: false, is_private: false,
  write_permission: 'everyone', voice_mode: null, created_at: 1,
};

function menu(mode: RoomMode | null, hideLabel = false) {
  const props = { id: 'a-vt-5', label: 'Voice transport of hangout', hideLabel, mode, describedby: 'a-vt-help', onchange: async () => undefined };
  return render(VoiceTransport, { props }).body;
}

/** The options as rendered, each as "value=label", the selected one marked with a star. */
function options(html: string): string[] {
  return [...html.matchAll(/<option value="([^"]*)"( selected="")?>([^<]*)<\/option>/g)].map(([, value, selected, label]) => `${selected ? '*' : ''}${value}=${label}`);
}

describe('the Admin screen’s voice transport menu', () => {
  it('offers the server default, the mesh and the SFU, showing the room’s pin as chosen', () => {
    expect(options(menu(null))).toEqual(['*=Server default', 'mesh=Peer to peer (mesh)', 'sfu=Through the server (SFU)']);
    expect(options(menu('mesh'))).toEqual(['=Server default', '*mesh=Peer to peer (mesh)', 'sfu=Through the server (SFU)']);
    expect(options(menu('sfu'))).toEqual(['=Server default', 'mesh=Peer to peer (mesh)', '*sfu=Through the server (SFU)']);
  });

  it('is labelled for screen readers and points at its help text', () => {
    const html = menu('sfu', true);
    // The row shows the room's name beside the menu, so the label is for screen readers only.
    expect(html).toContain('<label for="a-vt-5" class="sr-only">Voice transport of hangout</label>');
    expect(html).toMatch(/<select id="a-vt-5" aria-describedby="a-vt-help"/);
    expect(menu(null)).toContain('<label for="a-vt-5">Voice transport of hangout</label>');
  });

  it('maps each choice to the pin the server stores, the default to no pin', () => {
    for (const { mode } of VOICE_TRANSPORTS) expect(transportMode(transportValue(mode))).toBe(mode);
    // A select's value is a string; nothing but the two modes may reach the server as a pin.
    expect(transportMode('')).toBeNull();
    expect(transportMode('auto')).toBeNull();
  });
});

describe('saving a voice room’s transport', () => {
  it('patches the channel with the pin, and with an explicit null to follow the server again', async () => {
    const f = fakeFetch(hangout);
    const b = new WebBackend({ fetch: f.fetch, location });
    await b.updateChannel('5', { voice_mode: 'sfu' });
    await b.updateChannel('5', { voice_mode: null });
    expect(f.calls.map((c) => `${c.init.method} ${c.url}`)).toEqual(['PATCH /api/channels/5', 'PATCH /api/channels/5']);
    expect(JSON.parse(String(f.calls[0].init.body))).toEqual({ voice_mode: 'sfu' });
    // An absent field leaves the pin as it is: "Server default" must send the null itself.
    expect(String(f.calls[1].init.body)).toBe('{"voice_mode":null}');
  });

  it('goes through the desktop app’s api command with the null intact', async () => {
    const calls: unknown[] = [];
    const deps: TauriDeps = {
      invoke: async <T>(cmd: string, args?: Record<string, unknown>) => {
        calls.push({ cmd, args });
        return hangout as T;
      },
      listen: async () => () => undefined,
    };
    const saved = await new TauriBackend(deps, 'http://127.0.0.1:4000').updateChannel('5', { voice_mode: null });
    expect(saved.voice_mode).toBeNull();
    expect(calls).toEqual([
      { cmd: 'api', args: { server: 'http://127.0.0.1:4000', call: { method: 'PATCH', path: '/api/channels/5', body: { voice_mode: null } } } },
    ]);
  });
});
