// End to end: builds and starts a real cromulent-server serving desktop-ui/dist,
// then drives Debian's Chromium (playwright-core, no downloaded browser) through
// register → confirm → log in → chat live between two browsers → inbox → unread,
// and voice between two browsers with fake audio.
//
// Env: CARGO_TARGET_DIR (default ~/.cache/cromulent/target), CHROMIUM (default
// /usr/bin/chromium), E2E_SKIP_BUILD=1 to reuse a built server,
// UPDATE_SCREENSHOTS=1 to write screenshots to docs/screenshots/ (else e2e/out/).

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, createWriteStream, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { chromiumArgs } from './chromium.mjs';
import { suites as mainSuites, toneWav } from './suites.mjs';
import { inviteSuites } from './invites.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const uiDir = resolve(here, '..');
const repo = resolve(uiDir, '..');
const out = join(here, 'out');
const shots = process.env.UPDATE_SCREENSHOTS ? join(repo, 'docs', 'screenshots') : join(out, 'screenshots');
const targetDir = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'cromulent', 'target');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
// Later files' steps reuse the users and pages the earlier ones made.
const suites = [...mainSuites, ...inviteSuites];

mkdirSync(out, { recursive: true });
mkdirSync(shots, { recursive: true });

/** A port below the kernel's ephemeral range, so outgoing connections (load tests on
 * the same machine) cannot take it between this check and the server's bind. */
function freePort() {
  const port = 20_000 + Math.floor(Math.random() * 12_000);
  return new Promise((ok) => {
    const srv = createServer();
    srv.once('error', () => ok(freePort()));
    srv.listen(port, '127.0.0.1', () => srv.close(() => ok(port)));
  });
}

async function waitReady(base, ms) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const r = await fetch(`${base}/readyz`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`server not ready after ${ms} ms (see ${join(out, 'server.log')})`);
}

async function main() {
  if (!existsSync(join(uiDir, 'dist', 'index.html'))) {
    throw new Error('desktop-ui/dist is missing: run `npm run build` first');
  }
  if (!existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath}: apt-get install -y chromium`);
  }
  if (!process.env.E2E_SKIP_BUILD) {
    console.log('building cromulent-server…');
    const build = spawnSync('cargo', ['build', '-p', 'cromulent-server'], {
      cwd: repo,
      stdio: 'inherit',
      env: { ...process.env, CARGO_TARGET_DIR: targetDir },
    });
    if (build.status !== 0) throw new Error('cargo build failed');
  }

  const dataDir = mkdtempSync(join(tmpdir(), 'cromulent-e2e-'));
  const log = createWriteStream(join(out, 'server.log'));
  // The embedded SQLite database in the scratch directory, whatever the caller's shell has.
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  let server = null;
  let base = '';
  /** Starts the server on `port`; resolves to the child once /readyz answers, else null. */
  async function start(port) {
    const url = `http://127.0.0.1:${port}`;
    const child = spawn(join(targetDir, 'debug', 'cromulent-server'), ['serve'], {
      cwd: repo,
      env: {
        ...inherited,
        PORT: String(port),
        BIND: '127.0.0.1',
        DATA_DIR: dataDir,
        WEB_DIR: join(uiDir, 'dist'),
        PUBLIC_URL: url,
        DEV_MAILBOX: 'true',
        // The built-in TURN relay on free ports, so runs side by side do not collide.
        TURN_PORT: '0',
        // The link preview suite serves its page on 127.0.0.1.
        LINK_PREVIEW_ALLOW_LOOPBACK: 'true',
        RUST_LOG: process.env.RUST_LOG || 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    const exited = new Promise((r) => child.once('exit', () => r('exited')));
    const ready = waitReady(url, 60_000).then(
      () => 'ready',
      () => 'timeout',
    );
    if ((await Promise.race([ready, exited])) === 'ready') return child;
    child.kill('SIGTERM');
    return null;
  }
  for (let attempt = 0; attempt < 5 && !server; attempt++) {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = await start(port);
    if (!server) console.log(`server on ${base} did not start; trying another port`);
  }
  if (!server) throw new Error(`the server did not start (see ${join(out, 'server.log')})`);

  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: chromiumArgs(toneWav()),
  });

  let passed = 0;
  let failed = 0;
  try {
    const ctx = {
      base,
      browser,
      shots,
      state: {},
      /** Stops the server (SIGTERM) and starts it again on the same port and data. */
      async restartServer(downMs = 1500) {
        const stopped = new Promise((r) => server.once('exit', r));
        server.kill('SIGTERM');
        await stopped;
        await new Promise((r) => setTimeout(r, downMs));
        server = await start(Number(new URL(base).port));
        if (!server) throw new Error('the server did not come back');
      },
    };
    for (const [name, run] of suites) {
      const started = Date.now();
      try {
        await run(ctx);
        passed += 1;
        console.log(`ok   ${name} (${Date.now() - started} ms)`);
      } catch (e) {
        failed += 1;
        console.log(`FAIL ${name}\n     ${(e && e.stack) || e}`);
        for (const key of ['a', 'b']) {
          const page = ctx.state[key];
          if (page) await page.screenshot({ path: join(out, `failure-${key}.png`) }).catch(() => undefined);
        }
        // Later steps may still pass on the pages earlier ones left; keep going.
      }
    }
  } finally {
    await browser.close().catch(() => undefined);
    server.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed === suites.length ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
