// The browser's mic test for the Settings card: the chosen microphone, with the same
// processing a call asks for, played back on the chosen speaker, and its level for the
// meter. The desktop app's test runs in the native engine instead (`Backend.sound`).

import { browserMedia } from './browser';

export interface MicCheck {
  /** dBFS of the last few milliseconds. */
  level(): number;
  stop(): void;
}

/** What the mic test needs from the browser; tests hand in fakes. */
export interface MicCheckDeps {
  getUserMedia(constraints: MediaStreamConstraints): Promise<MediaStream>;
  meter(stream: MediaStream): (() => number) | null;
  /** Plays the stream on `outputId` (null: the default speaker); returns how to stop it. */
  play(stream: MediaStream, outputId: string | null): () => void;
}

/** The processing a call's microphone gets (see the voice engine). */
export const CALL_PROCESSING = { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 };

export function browserMicCheckDeps(): MicCheckDeps {
  const media = browserMedia();
  return {
    getUserMedia: (c) => navigator.mediaDevices.getUserMedia(c),
    meter: (stream) => media.meter(stream),
    play(stream, outputId) {
      const sink = media.play(stream, 'mic-test');
      sink.setOutput(outputId);
      return () => sink.stop();
    },
  };
}

/** Opens the microphone (falling back to the default when the chosen one is gone). */
export async function startMicCheck(inputId: string | null, outputId: string | null, deps: MicCheckDeps = browserMicCheckDeps()): Promise<MicCheck> {
  let stream: MediaStream;
  try {
    stream = await deps.getUserMedia({ audio: inputId ? { ...CALL_PROCESSING, deviceId: { exact: inputId } } : CALL_PROCESSING });
  } catch (e) {
    if (!inputId) throw e;
    stream = await deps.getUserMedia({ audio: CALL_PROCESSING });
  }
  const meter = deps.meter(stream);
  const stopPlaying = deps.play(stream, outputId);
  return {
    level: () => (meter ? meter() : -120),
    stop() {
      stopPlaying();
      for (const track of stream.getTracks()) track.stop();
    },
  };
}
