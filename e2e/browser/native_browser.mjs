// Native ↔ Chromium voice: the real `cromulent voice join` binary and a browser peer in
// the same room of a real cromulent-server hear each other.
//
// The browser side is a page using Chromium's own RTCPeerConnection and the gateway
// WebSocket, signaling exactly like desktop-ui/src/voice/engine.svelte.ts (existing
// members offer to a newcomer, early candidates wait for the remote description). Its
// fake microphone plays 660 Hz; the native client sends a 440 Hz WAV, so each direction
// is told apart. Passes when the page's AnalyserNode finds 440 Hz and the native output
// WAV holds 660 Hz.
//
// Self-contained: starts its own cromulent-server, logs the native client in with the
// kernel keyring inside its own session keyring (`keyctl session -`), needs Debian's
// chromium, and playwright-core from desktop-ui/node_modules (npm ci there).
//   node e2e/browser/native_browser.mjs
// Env: CARGO_TARGET_DIR (default ~/.cache/cromulent/target), CHROMIUM (/usr/bin/chromium).

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromiumArgs, toneWav } from '../../desktop-ui/e2e/chromium.mjs';
import { PASSWORD, assert, builtBinary, launchServer, post, signIn } from '../../desktop-ui/e2e/harness.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { chromium } = createRequire(join(repo, 'desktop-ui', 'package.json'))('playwright-core');
const clientBinary = builtBinary('cromulent');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
/** How long the native client stays in the room. */
const NATIVE_SECONDS = 14;

async function voiceChannel(base, token) {
  const r = await fetch(`${base}/api/channels`, { headers: { authorization: `Bearer ${token}` } });
  const channels = await r.json();
  const voice = channels.find((c) => c.name === 'voice-main');
  assert(voice, 'the seeded voice-main channel');
  return voice.id;
}

/** Runs in the page: joins the room over the gateway and listens for `hz` from peers. */
async function browserPeer({ token, channelId, listenHz, listenMs }) {
  // The microphone first: the socket's hello must find its handler installed.
  const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
  const ws = new WebSocket(`${location.origin.replace('http', 'ws')}/api/gateway`);
  const send = (frame) => ws.send(JSON.stringify(frame));
  const peers = new Map();
  const log = [];
  let selfSession = null;
  let iceServers = [];
  let remoteStream = null;

  function ensurePeer(sessionId) {
    if (peers.has(sessionId)) return peers.get(sessionId);
    const pc = new RTCPeerConnection({ iceServers });
    const peer = { pc, queued: [] };
    peers.set(sessionId, peer);
    pc.addTrack(mic.getAudioTracks()[0], mic);
    pc.onicecandidate = (e) => e.candidate && send({ type: 'ice_candidate', to: sessionId, candidate: e.candidate.toJSON() });
    pc.ontrack = (e) => (remoteStream = e.streams[0] || new MediaStream([e.track]));
    pc.onconnectionstatechange = () => log.push(`pc ${pc.connectionState}`);
    return peer;
  }
  async function flush(peer) {
    for (const c of peer.queued.splice(0)) await peer.pc.addIceCandidate(c).catch((e) => log.push(`cand ${e}`));
  }

  ws.onclose = (e) => log.push(`gateway closed ${e.code} ${e.reason}`);
  ws.onmessage = async (m) => {
    const f = JSON.parse(m.data);
    if (!('seq' in f) && f.type === 'error') log.push(`error ${f.op}: ${f.message}`);
    if (f.type === 'hello') send({ type: 'identify', token });
    else if (f.type === 'ready') send({ type: 'voice_join', channel_id: channelId });
    else if (f.type === 'voice_joined') {
      selfSession = f.self_session_id;
      iceServers = f.ice_servers.map((s) => ({ urls: s.urls, username: s.username, credential: s.credential }));
      log.push('joined');
    } else if (f.type === 'peer_joined' && f.participant.session_id !== selfSession) {
      const peer = ensurePeer(f.participant.session_id);
      await peer.pc.setLocalDescription(await peer.pc.createOffer());
      send({ type: 'sdp_offer', to: f.participant.session_id, sdp: peer.pc.localDescription.sdp });
    } else if (f.type === 'sdp_offer') {
      const peer = ensurePeer(f.from);
      await peer.pc.setRemoteDescription({ type: 'offer', sdp: f.sdp });
      await flush(peer);
      await peer.pc.setLocalDescription(await peer.pc.createAnswer());
      send({ type: 'sdp_answer', to: f.from, sdp: peer.pc.localDescription.sdp });
      log.push('answered');
    } else if (f.type === 'sdp_answer') {
      const peer = peers.get(f.from);
      await peer.pc.setRemoteDescription({ type: 'answer', sdp: f.sdp });
      await flush(peer);
    } else if (f.type === 'ice_candidate') {
      const peer = ensurePeer(f.from);
      if (peer.pc.remoteDescription) await peer.pc.addIceCandidate(f.candidate).catch((e) => log.push(`cand ${e}`));
      else peer.queued.push(f.candidate);
    } else if (f.type === 'ptt_state') log.push(`ptt ${f.active}`);
  };

  // Wait for the native peer's audio, then listen for its tone.
  const until = Date.now() + listenMs;
  while (!remoteStream && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  const result = { log, connected: false, toneDb: 0, codecs: [] };
  if (!remoteStream) return result;
  // Received audio reaches WebAudio only when also attached to a media element.
  const audio = new Audio();
  audio.muted = true;
  audio.srcObject = remoteStream;
  await audio.play().catch(() => {});
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 4096;
  ctx.createMediaStreamSource(remoteStream).connect(analyser);
  const bins = new Float32Array(analyser.frequencyBinCount);
  const hz = ctx.sampleRate / analyser.fftSize;
  const at = (f) => (Number.isFinite(bins[Math.round(f / hz)]) ? bins[Math.round(f / hz)] : -200);
  while (Date.now() < until && result.toneDb <= 40) {
    await new Promise((r) => setTimeout(r, 100));
    analyser.getFloatFrequencyData(bins);
    // dB at the tone against a quiet band far from it.
    result.toneDb = Math.max(result.toneDb, at(listenHz) - at(2500));
  }
  for (const { pc } of peers.values()) {
    if (pc.connectionState === 'connected') result.connected = true;
    (await pc.getStats()).forEach((s) => s.type === 'codec' && result.codecs.push(`${s.mimeType}/${s.clockRate}/${s.channels}`));
  }
  return result;
}

/** The native client: logs in (kernel keyring in its own session keyring), then joins. */
function runNative(base, scratch, input, output) {
  const script = [
    `printf '%s\\n' "$CROMULENT_TEST_PASSWORD" | "$CROMULENT_BIN" login --email native@example.test --password-stdin`,
    `exec "$CROMULENT_BIN" voice join voice-main --input "$IN" --output "$OUT" --duration ${NATIVE_SECONDS} --ptt always`,
  ].join(' && ');
  const child = spawn('keyctl', ['session', '-', 'sh', '-c', script], {
    env: {
      ...process.env,
      CROMULENT_BIN: clientBinary,
      CROMULENT_SERVER: base,
      CROMULENT_CONFIG_DIR: mkdtempSync(join(scratch, 'config-')),
      CROMULENT_KEYRING: 'keyutils',
      CROMULENT_TEST_PASSWORD: PASSWORD,
      IN: input,
      OUT: output,
      RUST_LOG: process.env.RUST_LOG || 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return new Promise((ok) => child.on('exit', (code) => ok(code)));
}

/** Goertzel power at `hz` against the mean power, over a 16-bit mono WAV's samples. */
function toneShare(wavPath, hz) {
  const wav = readFileSync(wavPath);
  const dataAt = wav.indexOf('data') + 8;
  const rate = wav.readUInt32LE(24);
  const samples = [];
  for (let i = dataAt; i + 1 < wav.length; i += 2) samples.push(wav.readInt16LE(i) / 32768);
  let best = 0;
  // The loudest second carries the browser's tone.
  for (let start = 0; start + rate <= samples.length; start += rate / 2) {
    const chunk = samples.slice(start, start + rate);
    const power = chunk.reduce((s, x) => s + x * x, 0) / chunk.length;
    if (power < 1e-6) continue;
    const w = (2 * Math.PI * hz) / rate;
    let s1 = 0;
    let s2 = 0;
    for (const x of chunk) {
      const s0 = x + 2 * Math.cos(w) * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    const goertzel = (s1 * s1 + s2 * s2 - 2 * Math.cos(w) * s1 * s2) / (chunk.length * chunk.length);
    // A sine of amplitude A: mean power A²/2, Goertzel power A²/4.
    best = Math.max(best, Math.min(1, (2 * goertzel) / power));
  }
  return best;
}

async function main() {
  const scratch = mkdtempSync(join(tmpdir(), 'cromulent-native-browser-'));
  const browserTone = join(scratch, 'browser-660.wav');
  const nativeTone = join(scratch, 'native-440.wav');
  const heard = join(scratch, 'native-heard.wav');
  writeFileSync(browserTone, toneWav(660, 30, 16_000));
  writeFileSync(nativeTone, toneWav(440, 30, 16_000));
  const server = await launchServer({
    dataDir: mkdtempSync(join(scratch, 'data-')),
    env: { TURN_BIND: '127.0.0.1', TURN_PUBLIC_IP: '127.0.0.1', TURN_RELAY_PORT_MIN: '0' },
  });
  const base = server.base;
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    ignoreDefaultArgs: ['--mute-audio'],
    args: chromiumArgs(browserTone),
  });
  try {
    await post(`${base}/api/auth/register`, { email: 'native@example.test', username: 'native', password: PASSWORD });
    const token = await signIn(base, 'web', 'browser');
    const channelId = await voiceChannel(base, token);
    const page = await browser.newPage();
    await page.goto(`${base}/healthz`);
    // The browser is in the room first, so it offers to the native newcomer.
    const inPage = page.evaluate(browserPeer, { token, channelId, listenHz: 440, listenMs: 20_000 });
    await new Promise((r) => setTimeout(r, 1500));
    const [result, code] = await Promise.all([inPage, runNative(base, scratch, nativeTone, heard)]);
    console.log('browser:', JSON.stringify(result));
    const share = toneShare(heard, 660);
    const wrongWay = toneShare(heard, 440);
    console.log(`native heard 660 Hz share ${share.toFixed(2)} (440 Hz share ${wrongWay.toFixed(2)}), exit ${code}`);
    assert(code === 0, `cromulent voice join exits 0 after --duration (got ${code})`);
    assert(result.connected, 'the browser peer connection reached connected');
    assert(result.codecs.some((c) => c.toLowerCase().startsWith('audio/opus/48000/2')), `opus/48000/2 negotiated: ${result.codecs}`);
    assert(result.toneDb > 20, `the browser hears the native 440 Hz tone (${result.toneDb.toFixed(1)} dB over the noise)`);
    assert(share > 0.5, `the native client hears the browser's 660 Hz tone (share ${share.toFixed(2)})`);
    console.log('native ↔ browser voice: passed');
  } finally {
    await browser.close();
    await server.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
