import { describe, expect, it } from 'vitest';
import { BackendError, inTauri, type Backend, type GatewayStatus } from '../src/backend/index';
import { attachNativeVoice, TauriBackend, type NativeVoiceState, type TauriDeps } from '../src/backend/tauri';
import type { ServerFrame } from '../src/generated/ServerFrame';

type Call = { cmd: string; args?: Record<string, unknown> };

/** The app's side of invoke/listen, answering from `reply` and recording everything. */
function fakeApp(reply: (call: Call) => unknown = () => null) {
  const calls: Call[] = [];
  const handlers = new Map<string, Array<(payload: unknown) => void>>();
  const deps: TauriDeps = {
    invoke: async <T>(cmd: string, args?: Record<string, unknown>) => {
      calls.push({ cmd, args });
      const answer = reply({ cmd, args });
      if (answer instanceof Error) throw (answer as Error & { payload: unknown }).payload ?? answer.message;
      return answer as T;
    },
    listen: async <T>(event: string, handler: (payload: T) => void) => {
      const list = handlers.get(event) ?? [];
      list.push(handler as (p: unknown) => void);
      handlers.set(event, list);
      return () => handlers.set(event, (handlers.get(event) ?? []).filter((h) => h !== handler));
    },
    setTimeout: () => 0,
    random: () => 0.5,
  };
  const emit = (event: string, payload: unknown) => handlers.get(event)?.forEach((h) => h(payload));
  return { calls, deps, emit, listeners: (event: string) => handlers.get(event)?.length ?? 0 };
}

function refusal(payload: unknown): Error {
  return Object.assign(new Error('refused'), { payload });
}

const flush = () => new Promise((r) => setTimeout(r, 0));
const SERVER = 'http://127.0.0.1:4000';

describe('TauriBackend', () => {
  it('knows when it runs inside the app', () => {
    expect(inTauri({ __TAURI_INTERNALS__: {} })).toBe(true);
    expect(inTauri({})).toBe(false);
  });

  it('asks the app for updates and passes on why an install was refused, word for word', async () => {
    const offer = { version: '0.3.0', current_version: '0.2.0', notes: 'n' };
    const why = "The update was refused: its signature does not match this app's signing key.";
    const app = fakeApp(({ cmd }) => (cmd === 'update_check' ? offer : refusal(why)));
    const b = new TauriBackend(app.deps, SERVER);
    expect(await b.updates.check()).toEqual(offer);
    await expect(b.updates.install()).rejects.toThrow(why);
    expect(app.calls.map((c) => c.cmd)).toEqual(['update_check', 'update_install']);
  });

  it('reads, saves and tests the native sound settings through the app', async () => {
    const settings = {
      input_device: 'alsa:pulse',
      output_device: null,
      input_volume: 120,
      output_volume: 100,
      vad_threshold_db: -45,
      echo_cancellation: true,
      noise_suppression: true,
      gain_control: false,
    };
    const status = { level_dbfs: -20, input_device: 'alsa:default', output_device: 'alsa:default', device_error: null, mic_test: true };
    const app = fakeApp(({ cmd, args }) => {
      if (cmd === 'config') return { sound: settings };
      if (cmd === 'sound_settings_set') return (args as { settings: unknown }).settings;
      if (cmd === 'sound_status') return status;
      if (cmd === 'sound_devices') return { inputs: [], outputs: [] };
      return null;
    });
    const b = new TauriBackend(app.deps, SERVER);
    expect(await b.sound.settings()).toEqual(settings);
    expect(await b.sound.update({ ...settings, gain_control: true })).toEqual({ ...settings, gain_control: true });
    expect(await b.sound.status()).toEqual(status);
    expect(await b.sound.devices()).toEqual({ inputs: [], outputs: [] });
    await b.sound.micTest(true);
    expect(app.calls.map((c) => c.cmd)).toEqual(['config', 'sound_settings_set', 'sound_status', 'sound_devices', 'mic_test']);
    expect(app.calls[4].args).toEqual({ on: true });
  });

  it('sends REST calls through the app, which attaches the token', async () => {
    const app = fakeApp(({ cmd }) => (cmd === 'api' ? [{ channel: { id: '1', name: 'general' } }] : null));
    const b = new TauriBackend(app.deps, SERVER);
    const list = await b.listChannels();
    expect(list).toHaveLength(1);
    expect(app.calls).toEqual([{ cmd: 'api', args: { server: SERVER, call: { method: 'GET', path: '/api/channels', body: undefined } } }]);
  });

  it('passes request bodies as JSON values, not strings', async () => {
    const app = fakeApp(() => ({ id: '9', body: 'hi' }));
    const b = new TauriBackend(app.deps, SERVER);
    await b.sendMessage('5', { body: 'hi', nonce: 'n1' });
    const call = app.calls[0].args?.call as { method: string; path: string; body: unknown };
    expect(call).toEqual({ method: 'POST', path: '/api/channels/5/messages', body: { body: 'hi', nonce: 'n1' } });
  });

  it('turns the app-reported server refusal into a BackendError with the stable code', async () => {
    const app = fakeApp(() => refusal({ status: 403, body: { code: 'forbidden', message: 'not yours' }, message: 'not yours' }));
    const b = new TauriBackend(app.deps, SERVER);
    const err = await b.deleteChannel('5').catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(403);
    expect(err.code).toBe('forbidden');
  });

  it('reports an unreachable server as a retryable network error', async () => {
    const app = fakeApp(() => refusal({ status: 0, body: null, message: 'cannot reach the server' }));
    const err = await new TauriBackend(app.deps, SERVER).listChannels().catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.retryable).toBe(true);
  });

  it('logs in natively and gets only the user back', async () => {
    const app = fakeApp(({ cmd }) => (cmd === 'login' ? { id: '1', username: 'ada' } : null));
    const me = await new TauriBackend(app.deps, SERVER).logIn({ email: 'ada@example.test', password: 'pw' });
    expect(me).toEqual({ id: '1', username: 'ada' });
    expect(app.calls[0]).toEqual({ cmd: 'login', args: { server: SERVER, email: 'ada@example.test', password: 'pw' } });
  });

  it('keeps the login refusal code so the login screen can explain it', async () => {
    const app = fakeApp(() => refusal({ status: 401, body: { code: 'invalid_credentials', message: 'wrong' }, message: 'wrong' }));
    const err = await new TauriBackend(app.deps, SERVER).logIn({ email: 'a', password: 'b' }).catch((e) => e);
    expect(err.code).toBe('invalid_credentials');
  });

  it('logs in automatically from the keyring, and not at all without a server', async () => {
    const app = fakeApp(({ cmd }) => (cmd === 'resume' ? { id: '1' } : null));
    expect(await new TauriBackend(app.deps, SERVER).me()).toEqual({ id: '1' });
    expect(await new TauriBackend(app.deps, '').me()).toBeNull();
    expect(app.calls.filter((c) => c.cmd === 'resume')).toHaveLength(1);
  });
});

describe('the app gateway', () => {
  function connect(reply?: (call: Call) => unknown) {
    const app = fakeApp(reply);
    const seen: { frames: ServerFrame[]; status: GatewayStatus[]; resync: number; signedOut: number } = {
      frames: [],
      status: [],
      resync: 0,
      signedOut: 0,
    };
    const gw = new TauriBackend(app.deps, SERVER).connect({
      frame: (f) => seen.frames.push(f),
      status: (s) => seen.status.push(s),
      resync: () => (seen.resync += 1),
      signedOut: () => (seen.signedOut += 1),
    });
    return { app, gw, seen };
  }

  it('listens before connecting, so the ready frame cannot be missed', async () => {
    const { app } = connect();
    await flush();
    const connectAt = app.calls.findIndex((c) => c.cmd === 'gateway_connect');
    expect(connectAt).toBe(0);
    expect(app.listeners('gateway://frame')).toBe(1);
  });

  it('forwards frames and connection changes to the handlers', async () => {
    const { app, seen } = connect();
    await flush();
    app.emit('gateway://status', 'ready');
    app.emit('gateway://frame', { type: 'heartbeat_ack' });
    app.emit('gateway://resync', null);
    app.emit('gateway://signed_out', null);
    expect(seen.status).toEqual(['connecting', 'ready']);
    expect(seen.frames).toEqual([{ type: 'heartbeat_ack' }]);
    expect(seen.resync).toBe(1);
    expect(seen.signedOut).toBe(1);
  });

  it('holds frames sent before the connection is up, then sends them in order', async () => {
    let release: () => void = () => undefined;
    const { app, gw } = connect(({ cmd }) => (cmd === 'gateway_connect' ? new Promise<void>((r) => (release = r)) : null));
    gw.send({ type: 'voice_join', channel_id: '3' });
    gw.send({ type: 'set_mute', muted: true });
    await flush();
    expect(app.calls.filter((c) => c.cmd === 'gateway_send')).toHaveLength(0);
    release();
    await flush();
    const sent = app.calls.filter((c) => c.cmd === 'gateway_send').map((c) => c.args?.frame);
    expect(sent).toEqual([{ type: 'voice_join', channel_id: '3' }, { type: 'set_mute', muted: true }]);
  });

  it('retries when the server cannot be reached yet', async () => {
    let attempts = 0;
    const { seen } = connect(({ cmd }) => {
      if (cmd === 'gateway_connect') attempts += 1;
      return cmd === 'gateway_connect' ? refusal('could not connect') : null;
    });
    await flush();
    expect(attempts).toBe(1);
    expect(seen.status).toContain('reconnecting');
  });

  it('stops listening when closed', async () => {
    const { app, gw, seen } = connect();
    await flush();
    gw.close();
    app.emit('gateway://frame', { type: 'heartbeat_ack' });
    expect(seen.frames).toHaveLength(0);
    expect(app.calls.some((c) => c.cmd === 'gateway_close')).toBe(true);
    expect(seen.status.at(-1)).toBe('closed');
  });
});

describe('native voice mirror', () => {
  it('follows the tray and global push-to-talk, and hands key, mode, threshold and volume changes to the app', async () => {
    let sound = { input_device: null, output_device: null, input_volume: 100, output_volume: 100, vad_threshold_db: -50, echo_cancellation: true, noise_suppression: true, gain_control: true };
    const app = fakeApp(({ cmd, args }) => {
      if (cmd === 'ptt_status') return { backend: 'global', reason: 'X11', key: 'ControlLeft', error: null, command_socket: null };
      if (cmd === 'config') return { sound };
      if (cmd === 'sound_settings_set') return (sound = (args as { settings: typeof sound }).settings);
      return null;
    });
    const backend = new TauriBackend(app.deps, SERVER);
    const voice = {
      muted: false,
      deafened: false,
      pttHeld: false,
      transmitting: false,
      prefs: { pttKey: 'F8', mode: 'ptt' as 'ptt' | 'vad', vadThresholdDb: -45 },
      setMuted(m: boolean) {
        this.muted = m;
      },
      setDeafened(d: boolean) {
        this.deafened = d;
      },
      updatePrefs(change: { pttKey?: string; mode?: 'ptt' | 'vad'; vadThresholdDb?: number }) {
        if (change.pttKey) this.prefs.pttKey = change.pttKey;
        if (change.mode) this.prefs.mode = change.mode;
        if (change.vadThresholdDb !== undefined) this.prefs.vadThresholdDb = change.vadThresholdDb;
      },
      peerStates: {} as Record<string, string>,
      volumes: {} as Record<string, number>,
      setVolume(userId: string, volume: number) {
        this.volumes[userId] = volume;
      },
    };
    await attachNativeVoice(backend, voice);
    expect(voice.prefs.pttKey).toBe('ControlLeft');
    await flush();
    expect(sound.vad_threshold_db).toBe(-45);

    const state: NativeVoiceState = {
      channel_id: '3',
      muted: true,
      deafened: false,
      ptt_held: true,
      transmitting: false,
      native_audio: false,
      error: null,
      connections: { '77': 'connecting' },
    };
    app.emit('voice://state', state);
    expect(voice.muted).toBe(true);
    expect(voice.pttHeld).toBe(true);
    expect(voice.transmitting).toBe(false);
    expect(voice.peerStates).toEqual({ '77': 'connecting' });

    expect(app.calls).toContainEqual({ cmd: 'voice_set_mode', args: { mode: 'ptt' } });

    voice.updatePrefs({ pttKey: 'F9' });
    await flush();
    expect(app.calls.at(-1)).toEqual({ cmd: 'ptt_set_key', args: { key: 'F9' } });

    voice.updatePrefs({ mode: 'vad' });
    voice.setVolume('42', 0.5);
    await flush();
    expect(voice.prefs.mode).toBe('vad');
    expect(voice.volumes['42']).toBe(0.5);
    expect(app.calls.slice(-2)).toEqual([
      { cmd: 'voice_set_mode', args: { mode: 'vad' } },
      { cmd: 'voice_set_volume', args: { userId: '42', volume: 0.5 } },
    ]);

    voice.updatePrefs({ vadThresholdDb: -30 });
    await flush();
    expect(sound.vad_threshold_db).toBe(-30);
    expect(sound.echo_cancellation).toBe(true);
  });
});

describe('desktop settings', () => {
  const status = { backend: 'command', reason: 'Wayland without a portal', key: 'ControlLeft', error: null, command_socket: '/run/user/1000/cromulent-ptt.sock' };

  it('exist only in the app', async () => {
    const { WebBackend } = await import('../src/backend/web');
    const web: Backend = new WebBackend({ serverUrl: '' });
    expect(web.desktop).toBeUndefined();
    expect(new TauriBackend(fakeApp().deps, SERVER).desktop).toBeDefined();
  });

  it('show the push-to-talk backend and follow it once the app has started it', async () => {
    const app = fakeApp(({ cmd }) => (cmd === 'ptt_status' ? null : undefined));
    const desktop = new TauriBackend(app.deps, SERVER).desktop;
    expect(await desktop.pttStatus()).toBeNull();
    const seen: unknown[] = [];
    await desktop.onPttStatus((s) => seen.push(s));
    app.emit('ptt://status', status);
    expect(seen).toEqual([status]);
  });

  it('capture the next key through the app and hear which one it was', async () => {
    const app = fakeApp(({ cmd }) => (cmd === 'ptt_capture' ? true : null));
    const desktop = new TauriBackend(app.deps, SERVER).desktop;
    const keys: string[] = [];
    await desktop.onPttKeyCaptured((k) => keys.push(k));
    expect(await desktop.capturePttKey()).toBe(true);
    app.emit('ptt://captured', 'ShiftLeft');
    expect(keys).toEqual(['ShiftLeft']);
    await desktop.setPttKey('MouseBack');
    expect(app.calls.map((c) => c.cmd)).toEqual(['ptt_capture', 'ptt_set_key']);
    expect(app.calls[1].args).toEqual({ key: 'MouseBack' });
  });

  it('read the evdev opt-in from the config and set it and start at login', async () => {
    const app = fakeApp(({ cmd }) => (cmd === 'config' ? { servers: [], current: null, evdev_opt_in: true } : cmd === 'autostart' ? false : null));
    const desktop = new TauriBackend(app.deps, SERVER).desktop;
    expect(await desktop.evdevOptIn()).toBe(true);
    expect(await desktop.startAtLogin()).toBe(false);
    await desktop.setEvdevOptIn(false);
    await desktop.setStartAtLogin(true);
    expect(app.calls.slice(-2)).toEqual([
      { cmd: 'set_evdev_opt_in', args: { enabled: false } },
      { cmd: 'set_autostart', args: { enabled: true } },
    ]);
  });

  it('report a refused setting as a BackendError', async () => {
    const app = fakeApp(() => refusal('the login item could not be written'));
    const err = await new TauriBackend(app.deps, SERVER).desktop.setStartAtLogin(true).catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toBe('the login item could not be written');
  });
});

describe('TauriBackend files', () => {
  /** An app that records raw invokes too (bytes and headers), answering from `reply`. */
  function fileApp(reply: (cmd: string, args: unknown) => unknown) {
    const calls: Array<{ cmd: string; args: unknown; headers?: Record<string, string> }> = [];
    const deps: TauriDeps = {
      invoke: async <T>(cmd: string, args?: unknown, options?: { headers: Record<string, string> }) => {
        calls.push({ cmd, args, headers: options?.headers });
        return reply(cmd, args) as T;
      },
      listen: async () => () => undefined,
    };
    return { calls, deps };
  }

  it('uploads through the app as raw bytes, describing the file in a header', async () => {
    const app = fileApp(() => ({ id: '3', filename: 'ünïcode.txt' }));
    const b = new TauriBackend(app.deps, SERVER);
    const progress: number[] = [];
    const a = await b.uploadAttachment('7', new File(['hello'], 'ünïcode.txt', { type: 'text/plain' }), { onProgress: (sent) => progress.push(sent) });
    expect(a.id).toBe('3');
    const call = app.calls[0];
    expect(call.cmd).toBe('attachment_upload');
    expect(new TextDecoder().decode(call.args as Uint8Array)).toBe('hello');
    const meta = new URLSearchParams(call.headers?.upload);
    expect(Object.fromEntries(meta)).toEqual({ server: SERVER, path: '/api/channels/7/attachments', filename: 'ünïcode.txt', content_type: 'text/plain' });
    // Header values must be ASCII: the name travels percent-encoded.
    expect(/^[\x20-\x7e]*$/.test(call.headers?.upload ?? '')).toBe(true);
    expect(progress).toEqual([0, 5]);
  });

  it('stops waiting for an upload that is cancelled', async () => {
    const app = fileApp(() => new Promise(() => undefined));
    const b = new TauriBackend(app.deps, SERVER);
    const abort = new AbortController();
    const pending = b.uploadAttachment('7', new File(['x'], 'x.txt'), { signal: abort.signal });
    await flush();
    abort.abort();
    const err = await pending.catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toBe('upload cancelled');
  });

  it('loads an attachment through the app once, as a blob: URL', async () => {
    const app = fileApp(() => new Uint8Array([1, 2, 3]).buffer);
    const b = new TauriBackend(app.deps, SERVER);
    const first = await b.attachmentSrc(`${SERVER}/api/attachments/5/a.png`);
    const again = await b.attachmentSrc('/api/attachments/5/a.png');
    expect(first.startsWith('blob:')).toBe(true);
    expect(again).toBe(first);
    expect(app.calls).toEqual([{ cmd: 'attachment_fetch', args: { server: SERVER, path: '/api/attachments/5/a.png' }, headers: undefined }]);
  });

  it('turns the files chosen in the native dialog into Files with a type from their names', async () => {
    const app = fileApp((cmd, args) => {
      if (cmd === 'attachment_pick') return [{ id: 1, name: 'shot.PNG', size: 2 }, { id: 2, name: 'notes', size: 1 }];
      return new TextEncoder().encode(String((args as { id: number }).id).repeat(2)).buffer;
    });
    const files = await new TauriBackend(app.deps, SERVER).pickFiles();
    expect(files.map((f) => [f.name, f.type])).toEqual([
      ['shot.PNG', 'image/png'],
      ['notes', ''],
    ]);
    expect(await files[0].text()).toBe('11');
    expect(app.calls.map((c) => c.cmd)).toEqual(['attachment_pick', 'attachment_read', 'attachment_read']);
  });
});
