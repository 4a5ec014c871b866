// The desktop app's Backend. REST, the gateway, tokens and voice run natively in the
// app (`desktop/app`, over `cromulent-client`); this file only invokes its commands and
// listens to its events. Tokens never come here: login returns the user, REST calls
// are made by the app with the access token attached.
//
// REST paths are the web backend's: `TauriBackend` extends `WebBackend` with a `fetch`
// that goes through the app's `api` command, and replaces what differs — login, logout,
// automatic login and the gateway.
//
// Files: the app opens the native file dialog (`pickFiles`), uploads the bytes it is
// handed with its token (`uploadAttachment`) and fetches attachments, which an <img>
// here could not (no cookie, no token), into blob: URLs (`attachmentSrc`).
//
// What crosses the bridge is generated from the app's Rust (`generated/bridge/`): the
// payload types, the argument and failure types of `api` and `config`, and the event
// names with their payloads (`BridgeEvents`).

import type { Attachment } from '../generated/Attachment';
import type { ClientFrame } from '../generated/ClientFrame';
import type { OwnUser } from '../generated/OwnUser';
import type { SessionLoginRequest } from '../generated/SessionLoginRequest';
import type { VoiceMode } from '../generated/VoiceMode';
import type { ApiCall } from '../generated/bridge/ApiCall';
import type { CallFailure } from '../generated/bridge/CallFailure';
import type { DesktopConfig } from '../generated/bridge/DesktopConfig';
import type { NativeVoiceState } from '../generated/bridge/NativeVoiceState';
import type { PickedFile } from '../generated/bridge/PickedFile';
import type { PttStatus } from '../generated/bridge/PttStatus';
import type { SoundDevices } from '../generated/bridge/SoundDevices';
import type { SoundSettings } from '../generated/bridge/SoundSettings';
import type { SoundStatus } from '../generated/bridge/SoundStatus';
import type { UpdateOffer } from '../generated/bridge/UpdateOffer';
import {
  GATEWAY_FRAME,
  GATEWAY_RESYNC,
  GATEWAY_SIGNED_OUT,
  GATEWAY_STATUS,
  PTT_CAPTURED,
  PTT_STATUS,
  VOICE_STATE,
  type BridgeEvents,
} from '../generated/bridge/events';
import { backoffMs } from './gateway';
import { BackendError, type DesktopSettings, type DesktopUpdates, type Gateway, type GatewayHandlers, type NativeSound, type UploadOptions } from './index';
import { contentTypeOf } from '../lib/attachments';
import { WebBackend } from './web';
import type { AudioSink, MediaDeps } from '../voice/engine.svelte';

/**
 * `invoke` from `@tauri-apps/api/core`, injectable for tests. Bytes go as the raw body
 * (a file to upload), with what describes them in `options.headers`.
 */
export type Invoke = <T>(cmd: string, args?: Record<string, unknown> | Uint8Array, options?: { headers: Record<string, string> }) => Promise<T>;
/**
 * `listen` from `@tauri-apps/api/event`, reduced to the payload and typed by the event's
 * name; resolves to an unlisten.
 */
export type Listen = <E extends keyof BridgeEvents>(event: E, handler: (payload: BridgeEvents[E]) => void) => Promise<() => void>;

export interface TauriDeps {
  // A method, so a fake that takes only argument objects still passes for one.
  invoke<T>(...call: Parameters<Invoke>): Promise<T>;
  listen: Listen;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  random?: () => number;
}

export type { NativeVoiceState, PttStatus };

/** The real `invoke`/`listen`, loaded only inside the app. */
export async function tauriDeps(): Promise<TauriDeps> {
  const [{ invoke }, { listen }] = await Promise.all([import('@tauri-apps/api/core'), import('@tauri-apps/api/event')]);
  return {
    invoke: (cmd, args, options) => invoke(cmd, args, options),
    listen: (event, handler) => listen(event, (e) => handler(e.payload as never)),
  };
}

function failure(e: unknown): BackendError {
  if (e && typeof e === 'object' && 'status' in e && 'message' in e) {
    const f = e as CallFailure;
    return new BackendError(f.status, f.body, f.message);
  }
  return new BackendError(0, null, typeof e === 'string' ? e : 'the app could not do that');
}

export class TauriBackend extends WebBackend {
  private readonly deps: TauriDeps;
  readonly desktop: DesktopSettings;
  readonly updates: DesktopUpdates;
  readonly sound: NativeSound;

  constructor(deps: TauriDeps, serverUrl: string) {
    // `this` does not exist until super() returns; the fetch only runs after that.
    const self: { backend: TauriBackend | null } = { backend: null };
    super({
      serverUrl,
      // `location` only matters for same-origin gateway URLs, which the app never uses.
      location: { protocol: 'https:', host: 'localhost' },
      fetch: (url, init) => (self.backend as TauriBackend).proxy(url, init),
    });
    self.backend = this;
    this.deps = deps;
    this.desktop = new NativeDesktop(<T>(cmd: string, args?: Record<string, unknown>) => this.call<T>(cmd, args), deps.listen);
    this.updates = {
      check: () => this.call<UpdateOffer | null>('update_check'),
      install: () => this.call<void>('update_install'),
    };
    this.sound = {
      devices: () => this.call<SoundDevices>('sound_devices'),
      settings: () => this.call<DesktopConfig>('config').then((c) => c.sound),
      update: (settings) => this.call<SoundSettings>('sound_settings_set', { settings }),
      status: () => this.call<SoundStatus>('sound_status'),
      micTest: (on) => this.call<void>('mic_test', { on }),
    };
  }

  /** A fetch that the app performs: same answers as the server's, no token in sight. */
  private async proxy(url: string, init: RequestInit = {}): Promise<Response> {
    const path = url.startsWith(this.serverUrl) ? url.slice(this.serverUrl.length) : url;
    const body = typeof init.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined;
    const call: ApiCall = { method: init.method ?? 'GET', path, body };
    try {
      const value = await this.deps.invoke<unknown>('api', { server: this.serverUrl, call });
      return new Response(JSON.stringify(value ?? null), { status: 200 });
    } catch (e) {
      const f = failure(e);
      // Status 0: not reached. WebBackend turns a thrown fetch into its network error.
      if (f.status === 0) throw f;
      return new Response(JSON.stringify({ code: f.code, message: f.message, field: f.field }), { status: f.status });
    }
  }

  private async call<T>(cmd: string, args?: Record<string, unknown> | Uint8Array, options?: { headers: Record<string, string> }): Promise<T> {
    try {
      return await this.deps.invoke<T>(cmd, args, options);
    } catch (e) {
      throw failure(e);
    }
  }

  /**
   * The app sends the bytes in one request, so progress shows only start and end;
   * cancelling stops waiting for the answer (a file uploaded but never sent is the
   * server's to clean up).
   */
  override async uploadAttachment(channelId: string, file: File, opts: UploadOptions = {}): Promise<Attachment> {
    const cancelled = () => new BackendError(0, null, 'upload cancelled');
    if (opts.signal?.aborted) throw cancelled();
    const meta = new URLSearchParams({
      server: this.serverUrl,
      path: `/api/channels/${encodeURIComponent(channelId)}/attachments`,
      filename: file.name,
      content_type: file.type,
    });
    opts.onProgress?.(0, file.size);
    const bytes = new Uint8Array(await file.arrayBuffer());
    const upload = this.call<Attachment>('attachment_upload', bytes, { headers: { upload: meta.toString() } });
    const abort = new Promise<never>((_, reject) => opts.signal?.addEventListener('abort', () => reject(cancelled()), { once: true }));
    const attachment = await Promise.race([upload, abort]);
    opts.onProgress?.(file.size, file.size);
    return attachment;
  }

  // One blob: URL per address for the window's life: history re-renders reuse it.
  private readonly blobs = new Map<string, Promise<string>>();

  override attachmentSrc(url: string): Promise<string> {
    const path = url.startsWith(this.serverUrl) ? url.slice(this.serverUrl.length) : url;
    let src = this.blobs.get(path);
    if (!src) {
      src = this.call<ArrayBuffer>('attachment_fetch', { server: this.serverUrl, path }).then((bytes) => URL.createObjectURL(new Blob([bytes])));
      // A failure is not kept: the next render asks again.
      src.catch(() => this.blobs.delete(path));
      this.blobs.set(path, src);
    }
    return src;
  }

  /** The app's native file dialog; the chosen files' bytes come from the app, once each. */
  override async pickFiles(): Promise<File[]> {
    const picked = await this.call<PickedFile[]>('attachment_pick');
    return Promise.all(
      picked.map(async (p) => {
        const bytes = await this.call<ArrayBuffer>('attachment_read', { id: p.id });
        return new File([bytes], p.name, { type: contentTypeOf(p.name) });
      }),
    );
  }

  override logIn({ email, password }: SessionLoginRequest): Promise<OwnUser> {
    return this.call<OwnUser>('login', { server: this.serverUrl, email, password });
  }

  override async logOut(): Promise<void> {
    await this.call('logout');
  }

  /** Automatic login: the app trades the refresh token in the OS keyring. */
  override async me(): Promise<OwnUser | null> {
    if (!this.serverUrl) return null;
    return this.call<OwnUser | null>('resume', { server: this.serverUrl });
  }

  override connect(handlers: GatewayHandlers): Gateway {
    return new NativeGateway(this.deps, handlers);
  }

  voiceState(): Promise<NativeVoiceState> {
    return this.call('voice_state');
  }

  pttStatus(): Promise<PttStatus | null> {
    return this.desktop.pttStatus();
  }

  setPttKey(key: string): Promise<void> {
    return this.desktop.setPttKey(key);
  }

  /** Per-user volume in the native mixer (0..1 from the UI's slider). */
  setVolume(userId: string, volume: number): Promise<void> {
    return this.call('voice_set_volume', { userId, volume });
  }

  /** Push-to-talk or voice activity, decided by the native engine. */
  setVoiceMode(mode: VoiceMode): Promise<void> {
    return this.call('voice_set_mode', { mode });
  }

  onVoiceState(handler: (s: NativeVoiceState) => void): Promise<() => void> {
    return this.deps.listen(VOICE_STATE, handler);
  }
}

/** The app's own settings: push-to-talk, the evdev opt-in, start at login. */
class NativeDesktop implements DesktopSettings {
  constructor(
    private readonly call: <T>(cmd: string, args?: Record<string, unknown>) => Promise<T>,
    private readonly listen: Listen,
  ) {}

  pttStatus(): Promise<PttStatus | null> {
    return this.call('ptt_status');
  }

  onPttStatus(handler: (status: PttStatus) => void): Promise<() => void> {
    return this.listen(PTT_STATUS, handler);
  }

  capturePttKey(): Promise<boolean> {
    return this.call('ptt_capture');
  }

  onPttKeyCaptured(handler: (key: string) => void): Promise<() => void> {
    return this.listen(PTT_CAPTURED, handler);
  }

  setPttKey(key: string): Promise<void> {
    return this.call('ptt_set_key', { key });
  }

  async evdevOptIn(): Promise<boolean> {
    const config = await this.call<DesktopConfig | null>('config');
    return config?.evdev_opt_in ?? false;
  }

  setEvdevOptIn(enabled: boolean): Promise<void> {
    return this.call('set_evdev_opt_in', { enabled });
  }

  startAtLogin(): Promise<boolean> {
    return this.call('autostart');
  }

  setStartAtLogin(enabled: boolean): Promise<void> {
    return this.call('set_autostart', { enabled });
  }
}

/** The app's gateway as the UI sees it: frames and states arrive as Tauri events. */
class NativeGateway implements Gateway {
  private unlisten: Array<() => void> = [];
  private closed = false;
  private up = false;
  private attempt = 0;
  private readonly outbox: ClientFrame[] = [];

  constructor(
    private readonly deps: TauriDeps,
    private readonly handlers: GatewayHandlers,
  ) {
    handlers.status('connecting');
    void this.start();
  }

  private async start(): Promise<void> {
    const subscriptions = await Promise.all([
      this.deps.listen(GATEWAY_FRAME, (f) => this.handlers.frame(f)),
      this.deps.listen(GATEWAY_STATUS, (s) => this.handlers.status(s)),
      this.deps.listen(GATEWAY_RESYNC, () => this.handlers.resync()),
      this.deps.listen(GATEWAY_SIGNED_OUT, () => this.handlers.signedOut()),
    ]);
    this.unlisten = subscriptions;
    if (this.closed) return this.dropListeners();
    await this.open();
  }

  /** Listeners first, then connect: the ready frame cannot slip past. */
  private async open(): Promise<void> {
    try {
      await this.deps.invoke('gateway_connect');
    } catch {
      if (this.closed) return;
      // Unreachable for now: try again like the web gateway, with jittered backoff.
      this.handlers.status('reconnecting');
      const delay = backoffMs(this.attempt++, this.deps.random ?? Math.random);
      (this.deps.setTimeout ?? ((fn, ms) => globalThis.setTimeout(fn, ms)))(() => void this.open(), delay);
      return;
    }
    this.up = true;
    this.attempt = 0;
    for (const frame of this.outbox.splice(0)) this.send(frame);
  }

  send(frame: ClientFrame): void {
    if (!this.up) {
      if (this.outbox.length < 100) this.outbox.push(frame);
      return;
    }
    void this.deps.invoke('gateway_send', { frame }).catch(() => undefined);
  }

  close(): void {
    this.closed = true;
    this.up = false;
    this.dropListeners();
    void this.deps.invoke('gateway_close').catch(() => undefined);
    this.handlers.status('closed');
  }

  private dropListeners(): void {
    for (const stop of this.unlisten.splice(0)) stop();
  }
}

/** The voice panel's part of the engine that the app's state is mirrored into. */
export interface VoiceControls {
  muted: boolean;
  deafened: boolean;
  pttHeld: boolean;
  transmitting: boolean;
  /** Connection state per remote session, for the voice bar. */
  peerStates: Record<string, string>;
  prefs: { pttKey: string; mode: VoiceMode; vadThresholdDb: number };
  setMuted(muted: boolean): void;
  setDeafened(deafened: boolean): void;
  updatePrefs(change: { pttKey?: string; mode?: VoiceMode; vadThresholdDb?: number }): void;
  setVolume(userId: string, volume: number): void;
}

/**
 * Voice in the app is native: the window's engine still drives joins, mute and
 * in-window push-to-talk (its frames go to the app, which runs the gate), but it has
 * no microphone or peer connections of its own. This mirrors the app's state — tray
 * mute, global push-to-talk — back into the panel, and hands key, mode and volume
 * changes to the app.
 */
export async function attachNativeVoice(backend: TauriBackend, voice: VoiceControls): Promise<void> {
  const mirror = (s: NativeVoiceState) => {
    if (s.muted !== voice.muted) voice.setMuted(s.muted);
    if (s.deafened !== voice.deafened) voice.setDeafened(s.deafened);
    voice.pttHeld = s.ptt_held;
    voice.transmitting = s.transmitting;
    // The app's connections, for the voice bar's status.
    voice.peerStates = { ...s.connections };
  };
  await backend.onVoiceState(mirror);
  const status = await backend.pttStatus().catch(() => null);
  if (status && status.key !== voice.prefs.pttKey) voice.updatePrefs({ pttKey: status.key });
  void backend.setVoiceMode(voice.prefs.mode).catch(() => undefined);
  // The threshold is the account's; the engine keeps its copy among the sound settings.
  const syncThreshold = async (db: number) => {
    const sound = await backend.sound.settings();
    if (sound.vad_threshold_db !== db) await backend.sound.update({ ...sound, vad_threshold_db: db });
  };
  void syncThreshold(voice.prefs.vadThresholdDb).catch(() => undefined);
  const update = voice.updatePrefs.bind(voice);
  voice.updatePrefs = (change) => {
    update(change);
    if (change.pttKey) void backend.setPttKey(change.pttKey).catch(() => undefined);
    if (change.mode) void backend.setVoiceMode(change.mode).catch(() => undefined);
    if (change.vadThresholdDb !== undefined) void syncThreshold(change.vadThresholdDb).catch(() => undefined);
  };
  const setVolume = voice.setVolume.bind(voice);
  voice.setVolume = (userId, volume) => {
    setVolume(userId, volume);
    void backend.setVolume(userId, volume).catch(() => undefined);
  };
}

/** Media for the window's engine inside the app: audio lives in the app, not here. */
export function nativeVoiceMedia(chime: (kind: 'join' | 'leave') => void): MediaDeps {
  const silent: AudioSink = { setVolume() {}, setMuted() {}, setOutput() {}, stop() {} };
  return {
    getUserMedia: async () =>
      typeof MediaStream === 'undefined' ? ({ getTracks: () => [], getAudioTracks: () => [] } as unknown as MediaStream) : new MediaStream(),
    createPeer: () => {
      throw new Error('voice connections are made by the app');
    },
    play: () => silent,
    meter: () => null,
    chime,
  };
}

/** The backend for the app: the server in use is the last one chosen, in the app's config. */
export async function createTauriBackend(saved: string): Promise<TauriBackend> {
  const deps = await tauriDeps();
  let server = saved;
  if (!server) {
    const config = await deps.invoke<DesktopConfig>('config').catch(() => null);
    server = config?.current ?? '';
  }
  return new TauriBackend(deps, server);
}
