// Benchmark (not a test): one-way voice latency, native → native and browser → browser,
// in one run, with the same click train and the same click detection.
//
// - Native: runs the `voice_latency` example of cromulent-e2e (two voice engines through
//   a real server on loopback, WAV in, WAV out; see e2e/examples/voice_latency.rs).
// - Browser: headless Chromium, two RTCPeerConnections in one page on loopback. The fake
//   microphone plays the click train; the page records the local microphone track and
//   the received remote track side by side in one AudioContext (a two-channel
//   ScriptProcessor), so each click's delay is the time between its onset in the two
//   channels: encoder, network, NetEQ and playout, without sound-card buffers — the same
//   span the native WAV-to-WAV number covers.
//
//   cargo build -p cromulent-e2e --example voice_latency
//   node e2e/browser/voice_latency.mjs [seconds]
// Prints a Markdown table for docs/BENCHMARKS.md.
// Env: CARGO_TARGET_DIR (default ~/.cache/cromulent/target), CHROMIUM (/usr/bin/chromium).

import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromiumArgs, pcmWav } from '../../desktop-ui/e2e/chromium.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { chromium } = createRequire(join(repo, 'desktop-ui', 'package.json'))('playwright-core');
const targetDir = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'cromulent', 'target');
const example = join(targetDir, 'debug', 'examples', 'voice_latency');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const seconds = Number(process.argv[2] || 12);
const PERIOD_MS = 400;
const CLICK_MS = 4;

/** The native example's click train: 4 ms of 2 kHz at 0.8 every 400 ms, 48 kHz mono. */
function clickWav(totalSeconds) {
  return pcmWav(totalSeconds, (i, rate) => {
    const period = (rate * PERIOD_MS) / 1000;
    const click = (rate * CLICK_MS) / 1000;
    return i % period < click ? Math.round(0.8 * 32767 * Math.sin((2 * Math.PI * 2000 * (i % period)) / rate)) : 0;
  });
}

/** Runs in the page: a → b on loopback, both tracks recorded in one clock. */
async function measureInPage({ recordMs }) {
  const constraints = { audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } };
  const mic = await navigator.mediaDevices.getUserMedia(constraints);
  const a = new RTCPeerConnection();
  const b = new RTCPeerConnection();
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  a.addTrack(mic.getAudioTracks()[0], mic);
  const remote = new Promise((ok) => (b.ontrack = (e) => ok(e.streams[0] || new MediaStream([e.track]))));
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
  const stream = await remote;
  // Received audio reaches WebAudio only when also attached to a media element.
  const audio = new Audio();
  audio.muted = true;
  audio.srcObject = stream;
  await audio.play().catch(() => {});
  const ctx = new AudioContext({ sampleRate: 48_000 });
  const merger = ctx.createChannelMerger(2);
  ctx.createMediaStreamSource(mic).connect(merger, 0, 0);
  ctx.createMediaStreamSource(stream).connect(merger, 0, 1);
  const recorder = ctx.createScriptProcessor(1024, 2, 2);
  const local = [];
  const received = [];
  recorder.onaudioprocess = (e) => {
    local.push(Float32Array.from(e.inputBuffer.getChannelData(0)));
    received.push(Float32Array.from(e.inputBuffer.getChannelData(1)));
  };
  merger.connect(recorder);
  const sink = ctx.createGain();
  sink.gain.value = 0;
  recorder.connect(sink).connect(ctx.destination);
  // Let the connection settle before recording, as the native run starts after connecting.
  await new Promise((r) => setTimeout(r, 2000));
  local.length = 0;
  received.length = 0;
  await new Promise((r) => setTimeout(r, recordMs));
  const flat = (chunks) => {
    const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return Array.from(out);
  };
  const codecs = [];
  (await b.getStats()).forEach((s) => s.type === 'codec' && codecs.push(s.mimeType));
  a.close();
  b.close();
  return { rate: ctx.sampleRate, local: flat(local), received: flat(received), codecs };
}

/** The native example's detector: 1 ms windows over -30 dBFS after ≥ 100 ms of quiet. */
function onsets(samples, rate) {
  const window = rate / 1000;
  const found = [];
  let quiet = 100;
  for (let i = 0; i + window <= samples.length; i += window) {
    let power = 0;
    for (let j = i; j < i + window; j++) power += samples[j] * samples[j];
    const db = 10 * Math.log10(power / window + 1e-20);
    if (db >= -30) {
      if (quiet >= 100) found.push(i / window);
      quiet = 0;
    } else quiet += 1;
  }
  return found;
}

function stats(values) {
  const sorted = [...values].sort((x, y) => x - y);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.round((p / 100) * (sorted.length - 1)))];
  return { n: sorted.length, median: at(50), p95: at(95) };
}

async function browserLatency(scratch) {
  const clicks = join(scratch, 'clicks.wav');
  writeFileSync(clicks, clickWav(seconds + 10));
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs(clicks) });
  try {
    // Media capture needs a secure context: a page from loopback is one.
    const server = createServer((_, res) => res.end('<!doctype html><title>latency</title>'));
    await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    server.close();
    const r = await page.evaluate(measureInPage, { recordMs: seconds * 1000 });
    const sent = onsets(r.local, r.rate);
    const heard = onsets(r.received, r.rate);
    const latencies = [];
    for (const h of heard) {
      const before = sent.filter((s) => s <= h).pop();
      if (before !== undefined && h - before < PERIOD_MS) latencies.push(h - before);
    }
    return { ...stats(latencies), codecs: r.codecs, sent: sent.length };
  } finally {
    await browser.close();
  }
}

function row(name, s, notes) {
  return `| ${name} | ${s.n} | ${s.median.toFixed(1)} | ${s.p95.toFixed(1)} | ${notes} |`;
}

async function main() {
  const scratch = mkdtempSync(join(tmpdir(), 'cromulent-latency-'));
  try {
    const native = JSON.parse(execFileSync(example, [String(seconds)], { encoding: 'utf8' }).trim().split('\n').pop());
    const web = await browserLatency(scratch);
    const b = native.budget_ms;
    const parts = b.frame + b.codec_lookahead + b.jitter_buffer_target + b.playout_block + b.device_buffer;
    console.log('| Path | Clicks | Median (ms) | p95 (ms) | Budget / notes |');
    console.log('|---|---|---|---|---|');
    console.log(
      row(
        'native → native (cromulent-client, WAV in/out)',
        { n: native.clicks, median: native.median_ms, p95: native.p95_ms },
        `frame ${b.frame} + Opus look-ahead ${b.codec_lookahead} + jitter buffer target ${b.jitter_buffer_target} (median) + playout block ${b.playout_block} + device buffer ${b.device_buffer} (WAV) = ${parts.toFixed(1)}; the jitter buffer often plays a packet before its target fills, and network + threads add the rest`,
      ),
    );
    console.log(row('browser → browser (Chromium, one page)', web, `codecs ${[...new Set(web.codecs)].join(', ')}; no device buffers`));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
