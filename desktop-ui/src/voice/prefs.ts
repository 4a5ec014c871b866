// Voice preferences remembered in this browser: mode, push-to-talk key, devices,
// per-user volume. Mode and threshold are also saved to the account by Settings.

export interface VoicePrefs {
  mode: 'ptt' | 'vad';
  /** `KeyboardEvent.code` of the push-to-talk key. */
  pttKey: string;
  /** dBFS above which voice activity opens the microphone. */
  vadThresholdDb: number;
  inputId: string | null;
  outputId: string | null;
  /** user id → 0..1 */
  volumes: Record<string, number>;
}

const KEY = 'cromulent.voice';

export const DEFAULT_PREFS: VoicePrefs = {
  mode: 'ptt',
  pttKey: 'F8',
  vadThresholdDb: -45,
  inputId: null,
  outputId: null,
  volumes: {},
};

export function loadPrefs(storage: Pick<Storage, 'getItem'> | undefined = globalThis.localStorage): VoicePrefs {
  try {
    const raw = storage?.getItem(KEY);
    if (!raw) return { ...DEFAULT_PREFS, volumes: {} };
    const saved = JSON.parse(raw) as Partial<VoicePrefs>;
    return { ...DEFAULT_PREFS, ...saved, volumes: { ...(saved.volumes ?? {}) } };
  } catch {
    return { ...DEFAULT_PREFS, volumes: {} };
  }
}

export function savePrefs(prefs: VoicePrefs, storage: Pick<Storage, 'setItem'> | undefined = globalThis.localStorage): void {
  storage?.setItem(KEY, JSON.stringify(prefs));
}
