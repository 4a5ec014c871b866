// What the browser tests share besides Chromium (chromium.mjs): a real cromulent-server
// started from the built binary on a free port with its own SQLite data, and the small
// waits and requests the tests make against it.

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

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
