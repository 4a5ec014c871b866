import { describe, expect, it } from 'vitest';
import { BackendError, type DesktopSettings, type PttStatus } from '../src/backend/index';
import { DesktopState } from '../src/stores/desktop.svelte';

const globalStatus: PttStatus = { backend: 'global', reason: 'X11: XRecord', key: 'ControlLeft', error: null, command_socket: null };

/** The app's side, as the Desktop card sees it through the backend. */
function fakeDesktop(opts: { status?: PttStatus | null; canCapture?: boolean; refuse?: boolean } = {}) {
  const calls: string[] = [];
  const listeners: Record<string, (payload: never) => void> = {};
  const desktop: DesktopSettings = {
    pttStatus: async () => opts.status ?? null,
    onPttStatus: async (h) => ((listeners.status = h), () => delete listeners.status),
    capturePttKey: async () => (calls.push('capture'), opts.canCapture ?? true),
    onPttKeyCaptured: async (h) => ((listeners.captured = h), () => delete listeners.captured),
    setPttKey: async (key) => void calls.push(`key ${key}`),
    evdevOptIn: async () => false,
    setEvdevOptIn: async (on) => {
      if (opts.refuse) throw new BackendError(0, null, 'config not writable');
      calls.push(`evdev ${on}`);
    },
    startAtLogin: async () => true,
    setStartAtLogin: async (on) => void calls.push(`autostart ${on}`),
  };
  const voice = {
    prefs: { pttKey: 'ControlLeft' },
    updatePrefs(change: { pttKey: string }) {
      calls.push(`prefs ${change.pttKey}`);
      this.prefs.pttKey = change.pttKey;
    },
  };
  const emit = (name: 'status' | 'captured', payload: unknown) => listeners[name]?.(payload as never);
  return { desktop, voice, calls, emit, listening: () => Object.keys(listeners) };
}

describe('Desktop settings card', () => {
  it('shows the backend and its reason, also when the app reports it after loading', async () => {
    const app = fakeDesktop();
    const state = new DesktopState(app.desktop, app.voice);
    const stop = await state.load();
    expect(state.status).toBeNull();
    expect(state.startAtLogin).toBe(true);
    app.emit('status', globalStatus);
    expect(state.status?.reason).toBe('X11: XRecord');
    stop();
    expect(app.listening()).toEqual([]);
  });

  it('takes the key the app captured, a lone modifier included, and hands it to the voice engine', async () => {
    const app = fakeDesktop({ status: globalStatus });
    const state = new DesktopState(app.desktop, app.voice);
    await state.load();
    await state.startCapture();
    expect(state.capturing).toBe(true);
    app.emit('captured', 'ShiftRight');
    expect(state.capturing).toBe(false);
    expect(state.key).toBe('ShiftRight');
    expect(app.calls).toEqual(['capture', 'prefs ShiftRight']);
  });

  it('falls back to the window where the app cannot capture, and only while capturing', async () => {
    const app = fakeDesktop({ status: { ...globalStatus, backend: 'command' }, canCapture: false });
    const state = new DesktopState(app.desktop, app.voice);
    await state.load();
    expect(state.keydown('KeyV')).toBe(false);
    await state.startCapture();
    expect(state.keydown('AltLeft')).toBe(true);
    expect(app.voice.prefs.pttKey).toBe('AltLeft');
    expect(state.keydown('KeyV')).toBe(false);
  });

  it('takes a mouse side button only where the backend can report it', async () => {
    const command = fakeDesktop({ status: { ...globalStatus, backend: 'command' } });
    const onWayland = new DesktopState(command.desktop, command.voice);
    await onWayland.load();
    await onWayland.startCapture();
    expect(onWayland.mousedown(3)).toBe(false);

    const app = fakeDesktop({ status: globalStatus });
    const state = new DesktopState(app.desktop, app.voice);
    await state.load();
    await state.startCapture();
    expect(state.mousedown(0)).toBe(false);
    expect(state.mousedown(4)).toBe(true);
    expect(state.key).toBe('MouseForward');
  });

  it('offers the evdev opt-in only where it could be chosen, and says when it applies', async () => {
    const x11 = fakeDesktop({ status: globalStatus });
    const onX11 = new DesktopState(x11.desktop, x11.voice);
    await onX11.load();
    expect(onX11.evdevRelevant).toBe(false);

    const app = fakeDesktop({ status: { ...globalStatus, backend: 'command' } });
    const state = new DesktopState(app.desktop, app.voice);
    await state.load();
    expect(state.evdevRelevant).toBe(true);
    await state.setEvdevOptIn(true);
    expect(state.evdevOptIn).toBe(true);
    expect(state.message).toMatch(/next time/);
    await state.setStartAtLogin(false);
    expect(state.startAtLogin).toBe(false);
    expect(app.calls).toEqual(['evdev true', 'autostart false']);
  });

  it('keeps the switch as it was when the app refuses', async () => {
    const app = fakeDesktop({ status: { ...globalStatus, backend: 'command' }, refuse: true });
    const state = new DesktopState(app.desktop, app.voice);
    await state.load();
    await state.setEvdevOptIn(true);
    expect(state.evdevOptIn).toBe(false);
    expect(state.message).not.toBe('');
  });
});
