// End to end: builds and starts a real cromulent-server serving desktop-ui/dist,
// then drives Debian's Chromium (playwright-core, no downloaded browser) through
// register → confirm → log in → chat live between two browsers → inbox → unread,
// and voice between two browsers with fake audio.
//
// Env: CARGO_TARGET_DIR (default ~/.cache/cromulent/target), CHROMIUM (default
// /usr/bin/chromium), E2E_SKIP_BUILD=1 to reuse a built server, E2E_ONLY=<text> to run
// only the steps whose name holds it,
// UPDATE_SCREENSHOTS=1 to write screenshots to docs/screenshots/ (else e2e/out/).

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, createWriteStream, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { chromiumArgs } from './chromium.mjs';
import { launchServer, targetDir } from './harness.mjs';
import { suites as mainSuites, toneWav } from './suites.mjs';
import { inviteSuites } from './invites.mjs';
import { moderationSuites } from './moderation.mjs';
import { accountSuites } from './account.mjs';
import { memberSuites } from './members.mjs';
import { dmSuites } from './dms.mjs';
import { messagingSuites } from './messaging.mjs';
import { attachmentSuites } from './attachments.mjs';
import { searchSuites } from './search.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const uiDir = resolve(here, '..');
const repo = resolve(uiDir, '..');
const out = join(here, 'out');
const shots = process.env.UPDATE_SCREENSHOTS ? join(repo, 'docs', 'screenshots') : join(out, 'screenshots');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
// Later files' steps reuse the users and pages the earlier ones made, so a filter
// (E2E_ONLY=<part of a name>) suits the steps that make their own, like the SFU ones.
const only = process.env.E2E_ONLY;
const suites = [...mainSuites, ...moderationSuites, ...accountSuites, ...inviteSuites, ...memberSuites, ...dmSuites, ...messagingSuites, ...attachmentSuites, ...searchSuites].filter(([name]) => !only || name.includes(only));

mkdirSync(out, { recursive: true });
mkdirSync(shots, { recursive: true });

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
  const server = await launchServer({
    dataDir,
    log,
    cwd: repo,
    env: {
      WEB_DIR: join(uiDir, 'dist'),
      // The link preview suite serves its page on 127.0.0.1.
      LINK_PREVIEW_ALLOW_LOOPBACK: 'true',
    },
  }).catch((e) => {
    throw new Error(`${e.message} (see ${join(out, 'server.log')})`);
  });
  const base = server.base;

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
      restartServer: (downMs) => server.restart(downMs),
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
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(`e2e: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed === suites.length ? 0 : 1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
