// What the browser tests share besides Chromium (chromium.mjs): a real cromulent-server
// started from the built binary on a free port with its own SQLite data, and the small
// waits and requests the tests make against it; the native client in a voice room beside
// the browsers, and the reading of its WAV recordings.

import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PASSWORD = 'correct horse battery staple';

/** Where cargo put the binaries (`CARGO_TARGET_DIR`, as scripts/lib.sh sets it). */
export const targetDir = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'cromulent', 'target');

/** The debug build of one of the workspace's binaries. */
export function builtBinary(name) {
  return join(targetDir, 'debug', name);
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** Resolves to `probe()`'s first truthy answer, polling until `ms` have passed. */
export async function until(what, probe, ms = 10_000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await probe();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

/** The newest link to `<base>/<route>/<token>` mailed to `to`, from the dev mailbox. */
export async function mailedLink(base, to, route) {
  const prefix = `${base}/${route}/`.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const link = new RegExp(`${prefix}[A-Za-z0-9_\\-]+`);
  return until(`a ${route} mail to ${to}`, async () => {
    const mails = await (await fetch(`${base}/dev/mailbox.json`)).json();
    for (const mail of mails) {
      const m = mail.to === to && link.exec(mail.body);
      if (m) return m[0];
    }
    return null;
  });
}

/** A port below the kernel's ephemeral range, so outgoing connections (load tests on
 * the same machine) cannot take it between this check and the server's bind. */
export function freePort() {
  const port = 20_000 + Math.floor(Math.random() * 12_000);
  return new Promise((ok) => {
    const srv = createServer();
    srv.once('error', () => ok(freePort()));
    srv.listen(port, '127.0.0.1', () => srv.close(() => ok(port)));
  });
}

export async function waitReady(base, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${base} was not ready after ${ms} ms`);
}

/**
 * Starts `<binary> serve` on loopback with the dev mailbox, the TURN relay on a free
 * port, SQLite in `dataDir` (whatever DATABASE_URL the caller's shell has) and `env` on
 * top. Tries other ports when one is taken meanwhile. `log`, when given, is a stream
 * that receives the server's output; otherwise it goes to this process's.
 * Resolves to { base, child, restart(downMs), stop() }.
 */
export async function launchServer({ binary = builtBinary('cromulent-server'), dataDir, env = {}, log, cwd }) {
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  const server = { base: '', child: null };

  async function startOn(port) {
    const base = `http://127.0.0.1:${port}`;
    const child = spawn(binary, ['serve'], {
      cwd,
      env: {
        ...inherited,
        PORT: String(port),
        BIND: '127.0.0.1',
        DATA_DIR: dataDir,
        PUBLIC_URL: base,
        DEV_MAILBOX: 'true',
        // The built-in TURN relay on a free port, so runs side by side do not collide.
        TURN_PORT: '0',
        // The SFU on loopback, on a free port.
        VOICE_SFU_BIND: '127.0.0.1',
        VOICE_SFU_PORT: '0',
        RUST_LOG: process.env.RUST_LOG || 'warn',
        ...env,
      },
      stdio: log ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
    });
    if (log) {
      child.stdout.pipe(log, { end: false });
      child.stderr.pipe(log, { end: false });
    }
    const exited = new Promise((r) => child.once('exit', () => r('exited')));
    const ready = waitReady(base, 60_000).then(
      () => 'ready',
      () => 'timeout',
    );
    if ((await Promise.race([ready, exited])) === 'ready') {
      Object.assign(server, { base, child });
      return true;
    }
    child.kill('SIGTERM');
    return false;
  }

  for (let attempt = 0; attempt < 5; attempt++) {
    if (await startOn(await freePort())) break;
  }
  if (!server.child) throw new Error(`${binary} did not start`);

  /** Stops the server (SIGTERM) and starts it again on the same port and data. */
  server.restart = async (downMs = 1500) => {
    await server.stop();
    await new Promise((r) => setTimeout(r, downMs));
    if (!(await startOn(Number(new URL(server.base).port)))) throw new Error('the server did not come back');
  };
  server.stop = async () => {
    if (server.child.exitCode !== null || server.child.signalCode !== null) return;
    const stopped = new Promise((r) => server.child.once('exit', r));
    server.child.kill('SIGTERM');
    await stopped;
  };
  return server;
}

/** POSTs JSON (with a bearer token when given) and returns the answer's JSON; throws on an error status. */
const e2eDir = dirname(fileURLToPath(import.meta.url));

/** A cromulent-server of a test's own serving the built client, with `env` on top
 * (VOICE_MODE, GATEWAY_HEARTBEAT_MS…) and fresh SQLite data, removed by `stop`; its log
 * goes to e2e/out/server-<name>.log. */
export async function serverOfItsOwn(name, env = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), `cromulent-e2e-${name}-`));
  mkdirSync(join(e2eDir, 'out'), { recursive: true });
  const log = createWriteStream(join(e2eDir, 'out', `server-${name}.log`));
  const server = await launchServer({ dataDir, log, cwd: resolve(e2eDir, '../..'), env: { WEB_DIR: resolve(e2eDir, '../dist'), ...env } });
  return {
    base: server.base,
    stop: async () => {
      await server.stop();
      log.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs `steps(server, contexts)` against a server of its own started with `env`; the
 * browser contexts the steps put in `contexts` are closed and the server stopped however
 * the steps end. */
export async function onServerOfItsOwn(name, env, steps) {
  const server = await serverOfItsOwn(name, env);
  const contexts = [];
  try {
    return await steps(server, contexts);
  } finally {
    for (const context of contexts) await context.close().catch(() => undefined);
    await server.stop();
  }
}

export async function post(url, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
  const json = await r.json();
  assert(r.ok, `${url}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

/** Registers `name` (`<name>@example.test`), signs in as device `device` and returns an access token. */
export async function signIn(base, name, device = 'browser test') {
  const email = `${name}@example.test`;
  await post(`${base}/api/auth/register`, { email, username: name, password: PASSWORD });
  const login = await post(`${base}/api/auth/login`, { email, password: PASSWORD, device_name: device, device_type: 'test' });
  const refreshed = await post(`${base}/api/auth/refresh`, { refresh_token: login.refresh_token });
  return refreshed.access_token;
}

/** Registers `username` (`<username>-<time>@example.test`) and confirms the address through
 * the dev mailbox, without a browser; resolves to the email. */
export async function registerConfirmed(base, username) {
  const email = `${username}-${Date.now()}@example.test`;
  await post(`${base}/api/auth/register`, { email, username, password: PASSWORD });
  const link = await mailedLink(base, email, 'confirm');
  const r = await fetch(`${base}/api/auth/confirm`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: link.split('/').pop() }),
  });
  assert(r.ok, `confirming ${email}: ${r.status} ${await r.text()}`);
  return email;
}

/** Registers and confirms `username` through the API and signs in; resolves to
 * `{ email, token }`. */
export async function apiUser(base, username) {
  const email = await registerConfirmed(base, username);
  const login = await post(`${base}/api/auth/login`, { email, password: PASSWORD, device_name: 'e2e', device_type: 'test' });
  const { access_token: token } = await post(`${base}/api/auth/refresh`, { refresh_token: login.refresh_token });
  return { email, token };
}

// ---- Pages in Chromium: signing in, moving between channels, writing ----

const PAGE_WAIT = { timeout: 10_000 };

/** A browser context of its own, signed in as `email` through the login form once the
 * channel list shows. Page errors are logged; `contexts` (when given) collects the
 * context for the caller to close; `contextOptions` add to the context's (downloads…). */
export async function signedInPage(browser, base, email, { contexts, contextOptions = {} } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...contextOptions });
  contexts?.push(context);
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log('  [page error]', e.message));
  await page.goto(`${base}/login`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('a[data-channel="general"]').waitFor(PAGE_WAIT);
  return { context, page };
}

/** Opens channel `name` from the sidebar and waits for its heading. */
export async function openChannel(page, name) {
  await page.locator(`a[data-channel="${name}"]`).click();
  await page.getByRole('heading', { name: `#${name}`, exact: true }).waitFor(PAGE_WAIT);
}

/** The messages in view whose text holds `text`. */
export function messageItem(page, text) {
  return page.locator('article[data-message-id]', { hasText: text });
}

/** Sends `text` from the composer of the channel in view. */
export async function sendMessage(page, text) {
  const box = page.getByTestId('composer');
  await box.fill(text);
  await box.press('Enter');
}

// ---- The native client (`cromulent`) beside the browsers ----

/** The `cromulent` command: `CROMULENT_BIN`, else the debug build
 * (`cargo build -p cromulent-client --all-features --bin cromulent`). */
export function cromulentBinary() {
  return process.env.CROMULENT_BIN || builtBinary('cromulent');
}

/** A sine at `hz` written by sox as a 48 kHz mono 16-bit WAV, peak `amplitude` (of 1). */
export function soxTone(path, hz, seconds, amplitude) {
  const sox = spawnSync('sox', ['-n', '-r', '48000', '-c', '1', '-b', '16', path, 'synth', String(seconds), 'sine', String(hz), 'vol', String(amplitude)], { encoding: 'utf8' });
  assert(sox.status === 0, `sox could not write ${path}: ${sox.error?.message ?? sox.stderr}`);
  return path;
}

/**
 * One person in a voice room on the native client: `cromulent login` then `cromulent voice
 * join <room>` sending `input` and recording into `output`, with `ptt` (always, never,
 * key). Both run in one shell inside a kernel session keyring of their own, which holds
 * the login between them and goes away with them; the configuration directory is `dir`.
 * Its stderr lines are kept (and copied to `log` when given).
 */
export function nativeVoice({ base, email, dir, name, room = 'voice-main', input, output, ptt = 'always', log }) {
  const { RUST_LOG: _quiet, ...inherited } = process.env;
  const script = '"$0" login --email "$CROMULENT_E2E_EMAIL" --password-stdin && exec "$0" "$@"';
  const join = ['voice', 'join', room, '--loopback', '--no-noise-suppression', '--input', input, '--output', output, '--ptt', ptt];
  const child = spawn('keyctl', ['session', '-', 'sh', '-c', script, cromulentBinary(), ...join], {
    env: { ...inherited, CROMULENT_SERVER: base, CROMULENT_CONFIG_DIR: dir, CROMULENT_KEYRING: 'keyutils', CROMULENT_E2E_EMAIL: email },
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  child.stdin.end(`${PASSWORD}\n`);
  const lines = [];
  let partial = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text) => {
    const parts = (partial + text).split('\n');
    partial = parts.pop();
    for (const line of parts) {
      lines.push(line);
      log?.write(`[${name}] ${line}\n`);
    }
  });
  const exited = new Promise((ok) => child.once('exit', (code, signal) => ok({ code, signal })));
  return {
    name,
    output,
    /** Resolves to how it ended: { code, signal }. */
    exited,
    /** Whether it has ended already. */
    ended: () => child.exitCode !== null || child.signalCode !== null,
    /** Peers its latest status line shows connected. */
    connectedPeers() {
      const status = [...lines].reverse().find((line) => line.includes('; peers: ') || line.includes('nobody else'));
      return status ? status.split(', ').filter((p) => p.includes(' connected')).length : 0;
    },
    /** Its last lines of its own (not the libraries' log), for a failure's message. */
    tail: () => lines.filter((line) => !line.includes('\u001b[')).slice(-6).join(' | '),
    /** Ctrl-C: it leaves and finishes its recording; resolves to how it exited. */
    async leave(ms = 15_000) {
      // keyctl and then sh exec the command, so the child's pid is cromulent's by now.
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      const how = await exited;
      clearTimeout(timer);
      return how;
    },
  };
}

// ---- WAV recordings ----

/** The samples (-1..1) and rate of a 16-bit PCM WAV file, mixed down to mono. */
export function readWav(path) {
  const wav = readFileSync(path);
  assert(wav.toString('ascii', 0, 4) === 'RIFF' && wav.toString('ascii', 8, 12) === 'WAVE', `${path} is not a WAV file`);
  let format = null;
  for (let at = 12; at + 8 <= wav.length; ) {
    const id = wav.toString('ascii', at, at + 4);
    const size = wav.readUInt32LE(at + 4);
    if (id === 'fmt ') {
      format = { channels: wav.readUInt16LE(at + 10), rate: wav.readUInt32LE(at + 12), bits: wav.readUInt16LE(at + 22) };
    } else if (id === 'data') {
      assert(format && format.bits === 16, `${path}: 16-bit PCM expected, got ${JSON.stringify(format)}`);
      const frames = Math.floor(Math.min(size, wav.length - at - 8) / (2 * format.channels));
      const samples = new Float32Array(frames);
      for (let i = 0; i < frames; i++) {
        let sum = 0;
        for (let c = 0; c < format.channels; c++) sum += wav.readInt16LE(at + 8 + 2 * (i * format.channels + c));
        samples[i] = sum / format.channels / 32_768;
      }
      return { rate: format.rate, samples };
    }
    at += 8 + size + (size % 2);
  }
  throw new Error(`${path} has no data chunk`);
}

/** For each `chunkMs` chunk of `samples`, the share of its energy at `hz` (Goertzel; a
 * pure sine there gives 1, silence 0). A chunk holding a whole number of cycles of the
 * tone keeps it in a bin of its own: use tones that are multiples of 1000 / chunkMs Hz. */
export function toneShares(samples, rate, hz, chunkMs = 100) {
  const size = Math.round((rate * chunkMs) / 1000);
  const coefficient = 2 * Math.cos((2 * Math.PI * hz) / rate);
  const shares = [];
  for (let start = 0; start + size <= samples.length; start += size) {
    let previous = 0;
    let before = 0;
    let total = 0;
    for (let i = start; i < start + size; i++) {
      const current = samples[i] + coefficient * previous - before;
      before = previous;
      previous = current;
      total += samples[i] * samples[i];
    }
    const power = (previous * previous + before * before - coefficient * previous * before) / (size * size);
    // A sine of amplitude A has mean power A²/2 and Goertzel power A²/4.
    shares.push(total > 0 ? Math.min(1, (2 * power) / (total / size)) : 0);
  }
  return shares;
}

/** The runs of consecutive true values in `flags`, as [first, last] indices; runs closer
 * than `bridge` apart are one (a lost packet is not a new burst). */
export function runsOf(flags, bridge = 3) {
  const runs = [];
  flags.forEach((on, i) => {
    if (!on) return;
    const last = runs[runs.length - 1];
    if (last && i - last[1] <= bridge) last[1] = i;
    else runs.push([i, i]);
  });
  return runs;
}
