// The browser's media for the voice engine: getUserMedia, RTCPeerConnection,
// <audio> playback (WebAudio only hears a remote stream that an element plays),
// a microphone level meter and short join/leave chimes.

import type { AudioSink, MediaDeps } from './transport';

let context: AudioContext | null = null;
function audioContext(): AudioContext {
  context ??= new AudioContext();
  if (context.state === 'suspended') void context.resume();
  return context;
}

export function browserMedia(): MediaDeps {
  return {
    getUserMedia: (c) => navigator.mediaDevices.getUserMedia(c),
    createPeer: (config) => new RTCPeerConnection(config),
    play(stream, sessionId): AudioSink {
      const el = new Audio();
      el.autoplay = true;
      el.srcObject = stream;
      // Keyed by the participant's session id, the same in a mesh and through the SFU.
      el.dataset.voicePeer = sessionId;
      document.body.appendChild(el);
      void el.play().catch(() => undefined);
      return {
        setVolume: (v) => (el.volume = Math.max(0, Math.min(1, v))),
        setMuted: (m) => (el.muted = m),
        setOutput: (id) => {
          const withSink = el as HTMLAudioElement & { setSinkId?: (id: string) => Promise<void> };
          if (withSink.setSinkId) void withSink.setSinkId(id ?? '').catch(() => withSink.setSinkId?.(''));
        },
        stop: () => {
          el.srcObject = null;
          el.remove();
        },
      };
    },
    meter(stream) {
      try {
        const ctx = audioContext();
        const analyser = ctx.createAnalyser();
        analyser.fftSize = 1024;
        ctx.createMediaStreamSource(stream).connect(analyser);
        const buf = new Float32Array(analyser.fftSize);
        return () => {
          analyser.getFloatTimeDomainData(buf);
          let sum = 0;
          for (const x of buf) sum += x * x;
          const rms = Math.sqrt(sum / buf.length);
          return rms > 0 ? 20 * Math.log10(rms) : -120;
        };
      } catch {
        return null;
      }
    },
    chime(kind) {
      try {
        const ctx = audioContext();
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.frequency.value = kind === 'join' ? 880 : 440;
        gain.gain.setValueAtTime(0.06, ctx.currentTime);
        gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.18);
        osc.connect(gain).connect(ctx.destination);
        osc.start();
        osc.stop(ctx.currentTime + 0.2);
      } catch {
        // No audio output: chimes are a nicety.
      }
    },
  };
}

export async function listDevices(): Promise<MediaDeviceInfo[]> {
  if (!navigator.mediaDevices?.enumerateDevices) return [];
  return navigator.mediaDevices.enumerateDevices();
}
