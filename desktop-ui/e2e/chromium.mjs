// What every browser test here shares: Debian's Chromium started headless, offline,
// with a fake microphone playing a WAV file, and the tone that file holds.

/** Flags for Debian's Chromium: no network chatter, no GPU, fake media devices. */
export function chromiumArgs(fakeAudioFile) {
  return [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
    `--use-file-for-fake-audio-capture=${fakeAudioFile}`,
  ];
}

/** A 48 kHz mono 16-bit PCM WAV of a sine at `hz` with peak `amplitude` (of 32767). */
export function toneWav(hz, seconds, amplitude) {
  return pcmWav(seconds, (i, rate) => Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate)));
}

/** A 48 kHz mono 16-bit PCM WAV of `seconds`, sample `i` being `sample(i, rate)` (an integer). */
export function pcmWav(seconds, sample) {
  const rate = 48_000;
  const samples = rate * seconds;
  const wav = Buffer.alloc(44 + samples * 2);
  wav.write('RIFF', 0);
  wav.writeUInt32LE(36 + samples * 2, 4);
  wav.write('WAVEfmt ', 8);
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(rate, 24);
  wav.writeUInt32LE(rate * 2, 28);
  wav.writeUInt16LE(2, 32);
  wav.writeUInt16LE(16, 34);
  wav.write('data', 36);
  wav.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i++) wav.writeInt16LE(sample(i, rate), 44 + i * 2);
  return wav;
}
