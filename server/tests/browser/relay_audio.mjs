// Voice through the built-in TURN relay only: two RTCPeerConnections in headless
// Chromium, each with the ICE servers and credentials its own user gets from
// GET /api/voice/ice-servers and iceTransportPolicy "relay", send a 440 Hz tone from a
// fake microphone. Passes when the receiver hears the tone, the selected candidate pair
// is relay on both ends, and the server's /metrics counted the relayed bytes.
// A second run with loopback peers denied has the receiver offer only its host
// candidates (no ICE servers): the relay must refuse to send to them (loopback, private
// and the server's own addresses are denied peers), so the call must not connect and
// nothing is relayed (the peer filter works for real WebRTC traffic too). Relay to relay
// would connect: the relay's own live allocations are always reachable peers, since two
// clients of one relay talk through them.
//
// Self-contained: starts its own cromulent-server (built binary), needs Debian's
// chromium, and playwright-core from desktop-ui/node_modules (npm ci there).
//   node server/tests/browser/relay_audio.mjs [path/to/cromulent-server]
// Env: CARGO_TARGET_DIR (default ~/.cache/cromulent/target), CHROMIUM (/usr/bin/chromium).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromiumArgs, toneWav } from '../../../desktop-ui/e2e/chromium.mjs';
import { assert, builtBinary, launchServer, signIn } from '../../../desktop-ui/e2e/harness.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const { chromium } = createRequire(join(repo, 'desktop-ui', 'package.json'))('playwright-core');
const binary = process.argv[2] || builtBinary('cromulent-server');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';

async function iceFor(base, token) {
  const r = await fetch(`${base}/api/voice/ice-servers`, { headers: { authorization: `Bearer ${token}` } });
  assert(r.ok, `ice-servers: ${r.status}`);
  return r.json();
}

/**
 * Runs in the page: a sender with the fake microphone, relay only, and a receiver,
 * relay only too unless `hostOnlyB` (then it has no ICE servers and offers only its
 * host candidates).
 */
async function callInPage({ iceA, iceB, waitMs, hostOnlyB }) {
  const config = (ice) => ({
    iceServers: ice.ice_servers.map((s) => ({ urls: s.urls, username: s.username, credential: s.credential })),
    iceTransportPolicy: 'relay',
  });
  const a = new RTCPeerConnection(config(iceA));
  const b = new RTCPeerConnection(hostOnlyB ? { iceServers: [] } : config(iceB));
  const gathered = { a: [], b: [] };
  a.onicecandidate = (e) => e.candidate && (gathered.a.push(e.candidate.type), b.addIceCandidate(e.candidate));
  b.onicecandidate = (e) => e.candidate && (gathered.b.push(e.candidate.type), a.addIceCandidate(e.candidate));
  const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
  a.addTrack(mic.getAudioTracks()[0], mic);
  const received = new Promise((ok) => (b.ontrack = (e) => ok(e.streams[0] || new MediaStream([e.track]))));
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);

  const connected = await new Promise((ok) => {
    const check = () => {
      if (b.iceConnectionState === 'connected' || b.iceConnectionState === 'completed') ok(true);
      if (b.iceConnectionState === 'failed') ok(false);
    };
    b.oniceconnectionstatechange = check;
    setTimeout(() => ok(false), waitMs);
    check();
  });
  const result = { connected, gathered, pair: null, toneRatio: 0 };
  if (!connected) return result;

  const stream = await received;
  // Received audio reaches WebAudio only when also attached to a media element.
  const audio = new Audio();
  audio.muted = true;
  audio.srcObject = stream;
  await audio.play().catch(() => {});
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 4096;
  ctx.createMediaStreamSource(stream).connect(analyser);
  const bins = new Float32Array(analyser.frequencyBinCount);
  const hz = ctx.sampleRate / analyser.fftSize;
  let best = 0;
  // Audio may take a few seconds to flow on a busy machine: listen up to 10 s.
  for (let i = 0; i < 100 && best <= 40; i++) {
    await new Promise((r) => setTimeout(r, 100));
    analyser.getFloatFrequencyData(bins);
    // Silence reads as -Infinity dB.
    const at = (f) => (Number.isFinite(bins[Math.round(f / hz)]) ? bins[Math.round(f / hz)] : -200);
    // dB at 440 Hz against a quiet band far from it.
    best = Math.max(best, at(440) - at(2500));
  }
  result.toneRatio = best;

  const stats = await b.getStats();
  // The pair the transport uses; any succeeded pair when the browser does not say.
  let pairId = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
  });
  stats.forEach((s) => {
    if (!pairId && s.type === 'candidate-pair' && s.state === 'succeeded') pairId = s.id;
  });
  const pair = pairId && stats.get(pairId);
  if (pair) {
    result.pair = {
      local: stats.get(pair.localCandidateId)?.candidateType,
      remote: stats.get(pair.remoteCandidateId)?.candidateType,
    };
  }
  a.close();
  b.close();
  return result;
}

async function metric(base, series) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  assert(line, `no ${series} in /metrics`);
  return Number(line.split(' ')[1]);
}

async function run(browser, scratch, allowLoopback) {
  const server = await launchServer({
    binary,
    dataDir: mkdtempSync(join(scratch, 'data-')),
    env: {
      TURN_BIND: '127.0.0.1',
      TURN_PUBLIC_IP: '127.0.0.1',
      TURN_RELAY_PORT_MIN: '0',
      TURN_ALLOW_LOOPBACK_PEERS: String(allowLoopback),
    },
  });
  const base = server.base;
  try {
    const annToken = await signIn(base, 'ann', 'relay test');
    const bobToken = await signIn(base, 'bob', 'relay test');
    const [iceA, iceB] = [await iceFor(base, annToken), await iceFor(base, bobToken)];
    const page = await browser.newPage();
    await page.goto(`${base}/healthz`);
    const result = await page.evaluate(callInPage, {
      iceA,
      iceB,
      waitMs: allowLoopback ? 15_000 : 6_000,
      hostOnlyB: !allowLoopback,
    });
    await page.close();
    result.relayedBytes = await metric(base, 'cromulent_turn_relayed_bytes_total{direction="to_peer"}');
    return result;
  } finally {
    await server.stop();
  }
}

async function main() {
  const scratch = mkdtempSync(join(tmpdir(), 'cromulent-relay-'));
  const tone = join(scratch, 'tone.wav');
  writeFileSync(tone, toneWav(440, 30, 16_000));
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    ignoreDefaultArgs: ['--mute-audio'],
    args: chromiumArgs(tone),
  });
  try {
    const ok = await run(browser, scratch, true);
    console.log('relay allowed:', JSON.stringify(ok));
    assert(ok.connected, 'ICE must connect through the relay');
    assert(ok.gathered.a.every((t) => t === 'relay') && ok.gathered.a.length > 0, 'only relay candidates');
    assert(ok.pair && ok.pair.local === 'relay' && ok.pair.remote === 'relay', 'the selected pair is relay/relay');
    assert(ok.toneRatio > 20, `the 440 Hz tone must be heard (got ${ok.toneRatio.toFixed(1)} dB over the noise)`);
    assert(ok.relayedBytes > 2_000, `the server relayed the audio (${ok.relayedBytes} bytes)`);

    const denied = await run(browser, scratch, false);
    console.log('loopback peers denied:', JSON.stringify(denied));
    assert(!denied.connected, 'the relay must not reach the host candidates of a peer on a denied address');
    assert(denied.relayedBytes === 0, 'nothing was relayed to a denied peer');
    console.log('relay audio: passed');
  } finally {
    await browser.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
