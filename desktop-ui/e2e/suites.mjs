// The end-to-end steps, in order; later steps use the users and pages earlier ones made.
// Each step throws on failure with a message saying what a person would have seen.

import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

import { toneWav as sineWav } from './chromium.mjs';
import {
  PASSWORD,
  assert,
  mailedLink,
  messageItem as message,
  nativeVoice,
  openChannel,
  readWav,
  registerConfirmed,
  runsOf,
  sendMessage as send,
  onServerOfItsOwn,
  serverOfItsOwn,
  soxTone,
  toneShares,
  until,
} from './harness.mjs';

const WAIT = { timeout: 10_000 };

async function register(page, base, who) {
  await page.goto(`${base}/register`);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Username').fill(who.username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  // Registration ends signed in, or asking to confirm first: wait for either, so
  // leaving the page cannot cut the login short.
  await page.locator('a[data-channel="general"]').or(page.getByText('Check your inbox')).first().waitFor(WAIT);
}

async function logIn(page, who) {
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
}

/** How far the 440 Hz tone (or one at `hz`) stands out (dB over a quiet band at 2.5 kHz)
 * in what this page plays from its voice peers (or from the one with session id `peer`),
 * at best over `ms`. 0 when nothing is playing. */
function toneHeard(page, ms, peer = null, hz = 440) {
  return page.evaluate(async ({ ms, peer, hz: tone }) => {
    const playing = [...document.querySelectorAll(peer ? `audio[data-voice-peer="${peer}"]` : 'audio[data-voice-peer]')].filter((e) => e.srcObject);
    const el = playing.find((e) => !e.muted) ?? playing[0];
    if (!el) return 0;
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 4096;
    ctx.createMediaStreamSource(el.srcObject).connect(analyser);
    const bins = new Float32Array(analyser.frequencyBinCount);
    const hz = ctx.sampleRate / analyser.fftSize;
    // Silence reads as -Infinity dB.
    const at = (f) => (Number.isFinite(bins[Math.round(f / hz)]) ? bins[Math.round(f / hz)] : -200);
    let best = 0;
    // A clear tone ends the wait early; a silent line is listened to for all of `ms`.
    for (const end = Date.now() + ms; Date.now() < end && best <= 40; ) {
      await new Promise((r) => setTimeout(r, 100));
      analyser.getFloatFrequencyData(bins);
      best = Math.max(best, at(tone) - at(2500));
    }
    await ctx.close();
    return best;
  }, { ms, peer, hz });
}

/** A 440 Hz tone as a WAV file, the fake microphone for the voice steps. */
export function toneWav() {
  const path = join(tmpdir(), 'cromulent-e2e-tone.wav');
  writeFileSync(path, sineWav(440, 6, 12_000));
  return path;
}

/** A browser context of its own for `who` (cookies apart), its page reporting script errors. */
async function ownBrowser(browser, who) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`  [${who} page error]`, e.message));
  return { context, page };
}

/** Registers `who` in `page` and follows the confirmation link mailed to them. */
async function registerAndConfirm(page, base, who) {
  await register(page, base, who);
  await page.goto(await mailedLink(base, who.email, 'confirm'));
  await page.getByText('Your account is confirmed.').waitFor(WAIT);
}

export const suites = [
  [
    'register, confirm through the dev mailbox, arrive signed in',
    async ({ base, browser, state }) => {
      state.alice = { email: `alice-${Date.now()}@example.com`, username: 'alice' };
      ({ context: state.ctxA, page: state.a } = await ownBrowser(browser, 'alice'));
      await registerAndConfirm(state.a, base, state.alice);
      await state.a.getByRole('link', { name: 'Continue to log in' }).click();
      await state.a.locator('a[data-channel="general"]').waitFor(WAIT);
    },
  ],
  [
    'a second user registers, logs out and logs in with the form',
    async ({ base, browser, state }) => {
      state.bob = { email: `bob-${Date.now()}@example.com`, username: 'bob' };
      ({ context: state.ctxB, page: state.b } = await ownBrowser(browser, 'bob'));
      await registerAndConfirm(state.b, base, state.bob);
      await state.b.goto(`${base}/settings`);
      await state.b.getByRole('button', { name: 'Log out' }).click();
      await state.b.getByRole('heading', { name: 'Log in' }).waitFor(WAIT);
      await logIn(state.b, state.bob);
      await state.b.locator('a[data-channel="general"]').waitFor(WAIT);
    },
  ],
  [
    'a message sent in one browser appears live in the other',
    async ({ state }) => {
      await openChannel(state.a, 'general');
      await openChannel(state.b, 'general');
      await send(state.a, 'hello from **alice**');
      await message(state.a, 'hello from alice').waitFor(WAIT);
      await message(state.b, 'hello from alice').waitFor(WAIT);
      const bold = await message(state.b, 'hello from alice').locator('strong').textContent();
      assert(bold === 'alice', `Markdown bold should render, got ${bold}`);
    },
  ],
  [
    'an edit shows live, with the edited marker',
    async ({ state }) => {
      const mine = message(state.a, 'hello from alice');
      await mine.hover();
      await mine.getByRole('button', { name: 'Edit message' }).click();
      const box = state.a.getByLabel('Edit message');
      await box.fill('hello again from alice');
      await box.press('Enter');
      await message(state.b, 'hello again from alice').getByText('(edited)').waitFor(WAIT);
    },
  ],
  [
    'a delete disappears live',
    async ({ state }) => {
      state.a.once('dialog', (d) => d.accept());
      const mine = message(state.a, 'hello again from alice');
      await mine.hover();
      await mine.getByRole('button', { name: 'Delete message' }).click();
      await message(state.b, 'hello again from alice').waitFor({ state: 'detached', timeout: 10_000 });
    },
  ],
  [
    'typing shows in the other browser',
    async ({ state }) => {
      await state.b.getByTestId('composer').pressSequentially('thinking');
      await state.a.getByText('bob is typing…').waitFor(WAIT);
      await state.b.getByTestId('composer').fill('');
    },
  ],
  [
    'hostile Markdown stays inert',
    async ({ state }) => {
      await send(state.b, '<img src=x onerror="window.__pwned=1"> [click](javascript:window.__pwned=1) <script>window.__pwned=1</script>');
      const shown = message(state.a, 'onerror');
      await shown.waitFor(WAIT);
      assert((await shown.locator('img[src="x"]').count()) === 0, 'raw <img> must render as text');
      assert((await shown.locator('script').count()) === 0, 'raw <script> must render as text');
      assert((await shown.locator('a[href^="javascript"]').count()) === 0, 'javascript: links must not be links');
      const pwned = await state.a.evaluate(() => window.__pwned);
      assert(pwned === undefined, 'no injected code ran');
    },
  ],
  [
    'a mention lands in the inbox',
    async ({ state }) => {
      await state.b.getByTestId('composer').fill('@ali');
      // The autocomplete offers alice; Enter picks her, a second Enter sends.
      await state.b.getByRole('option', { name: /@alice/ }).waitFor(WAIT);
      await state.b.getByTestId('composer').press('Enter');
      await state.b.getByTestId('composer').pressSequentially('look at this');
      await state.b.getByTestId('composer').press('Enter');
      await message(state.a, 'look at this').waitFor(WAIT);
      await state.a.getByTestId('inbox-count').waitFor(WAIT);
      await state.a.getByRole('link', { name: 'Inbox' }).click();
      const note = state.a.getByTestId('notification').first();
      await note.waitFor(WAIT);
      const text = await note.textContent();
      assert(text.includes('bob') && text.includes('look at this'), `inbox entry names the actor and excerpt: ${text}`);
      await note.click();
      await state.a.getByRole('heading', { name: '#general', exact: true }).waitFor(WAIT);
    },
  ],
  [
    'the unread badge appears on another channel and clears on read',
    async ({ state }) => {
      await openChannel(state.a, 'random');
      await send(state.b, 'news in general');
      const badge = state.a.locator('a[data-channel="general"] [data-testid="unread-badge"]');
      await badge.waitFor(WAIT);
      await openChannel(state.a, 'general');
      await message(state.a, 'news in general').waitFor(WAIT);
      await badge.waitFor({ state: 'detached', timeout: 10_000 });
      // The read marker reached the server: a fresh load shows no badge either.
      await until('the server to count general as read', () =>
        state.a.evaluate(async () => {
          const list = await (await fetch('/api/channels')).json();
          return list.find((c) => c.name === 'general').unread_count === 0;
        }),
      );
      await state.a.reload();
      await openChannel(state.a, 'random');
      await state.a.waitForTimeout(500);
      assert((await badge.count()) === 0, 'read state survives a reload');
    },
  ],
  [
    'history pages back when scrolling up, with the new-messages divider',
    async ({ shots, state }) => {
      const total = await state.a.evaluate(async () => {
        const channels = await (await fetch('/api/channels')).json();
        const random = channels.find((c) => c.name === 'random');
        let sent = 0;
        for (let i = 0; i < 130; i++) {
          const r = await fetch(`/api/channels/${random.id}/messages`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ body: `history ${i}`, nonce: `hist-${i}` }),
          });
          if (r.ok) sent++;
          else if (r.status === 429) await new Promise((res) => setTimeout(res, 1000 * Number(r.headers.get('Retry-After') ?? 1)));
        }
        return sent;
      });
      assert(total >= 120, `only ${total} history messages were accepted`);
      await openChannel(state.b, 'random');
      await message(state.b, `history ${total - 1}`).waitFor(WAIT);
      // The divider sits above the first unread message, far up: only rows near the
      // viewport are rendered, so it shows up on the way up.
      let divider = false;
      // Scroll up the way a reader does: the message at the top of the view moves
      // back steadily, with no jump when an older page is prepended above it.
      const topMessage = () =>
        state.b.locator('[role="log"]').evaluate((list) => {
          const top = list.getBoundingClientRect().top;
          for (const el of list.querySelectorAll('article[data-message-id]')) {
            if (el.getBoundingClientRect().bottom > top + 1) return Number(/history (\d+)/.exec(el.textContent ?? '')?.[1] ?? -1);
          }
          return -1;
        });
      let last = await topMessage();
      for (let step = 0; step < 200 && last !== 0; step++) {
        await state.b.locator('[role="log"]').evaluate((el) => el.scrollBy(0, -300));
        await state.b.waitForTimeout(60);
        const now = await topMessage();
        divider ||= (await state.b.getByTestId('new-divider').count()) > 0;
        if (now < 0) break;
        assert(now <= last && last - now <= 25, `the top message went from history ${last} to history ${now} on one 300 px step`);
        last = now;
      }
      await until('the start of #random after scrolling up', async () => {
        await state.b.locator('[role="log"]').evaluate((el) => (el.scrollTop = 0));
        divider ||= (await state.b.getByTestId('new-divider').count()) > 0;
        return (await state.b.getByText('This is the start of the channel.').count()) > 0;
      });
      await message(state.b, 'history 0').first().waitFor(WAIT);
      if (!divider) await state.b.getByTestId('new-divider').waitFor(WAIT);
      // The list is windowed: all the history is loaded, but only the rows near the
      // viewport are in the DOM.
      const rendered = await state.b.locator('article[data-message-id]').count();
      assert(rendered > 0 && rendered < total / 2, `${rendered} message rows rendered for ${total} messages`);
      await state.b.screenshot({ path: join(shots, 'history-top-light.png') });
      await state.b.locator('[role="log"]').evaluate((el) => (el.scrollTop = el.scrollHeight));
      await message(state.b, `history ${total - 1}`).waitFor(WAIT);
    },
  ],
  [
    'a reload keeps the session',
    async ({ base, state }) => {
      await state.a.goto(`${base}/channels`);
      await state.a.reload();
      await state.a.locator('a[data-channel="general"]').waitFor(WAIT);
      assert(!(await state.a.getByRole('heading', { name: 'Log in' }).count()), 'no login screen after reload');
    },
  ],
  [
    'after a server restart both browsers reconnect and chat goes on live',
    async ({ state, restartServer }) => {
      await openChannel(state.a, 'general');
      await openChannel(state.b, 'general');
      await restartServer();
      // The old sessions are gone with the process: identify afresh, refetch, carry on.
      await until('both gateways ready again', async () =>
        (await state.a.evaluate(() => window.cromulent.status)) === 'ready' && (await state.b.evaluate(() => window.cromulent.status)) === 'ready',
        30_000,
      );
      await send(state.b, 'back after the restart');
      await message(state.a, 'back after the restart').waitFor(WAIT);
    },
  ],
  [
    'screenshots of the main screens, light and dark',
    async ({ base, shots, state }) => {
      const page = state.a;
      await openChannel(page, 'general');
      await send(page, 'Here is some code:\n```rust\nfn main() {\n    println!("hi");\n}\n```');
      await page.waitForTimeout(400);
      for (const scheme of ['light', 'dark']) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.waitForTimeout(150);
        await page.screenshot({ path: join(shots, `main-${scheme}.png`) });
      }
      await page.emulateMedia({ colorScheme: 'light' });
      await page.goto(`${base}/inbox`);
      await page.getByTestId('notification').first().waitFor(WAIT);
      await page.screenshot({ path: join(shots, 'inbox-light.png') });
      await page.goto(`${base}/admin`);
      await page.getByLabel('Email confirmation required').waitFor(WAIT);
      await page.getByRole('button', { name: 'Run relay self-test' }).click();
      await page.getByText(/Relay works|Relay problem/).waitFor({ timeout: 20_000 });
      await page.screenshot({ path: join(shots, 'admin-light.png') });
      await page.goto(`${base}/settings`);
      await page.getByLabel('Voice mode').waitFor(WAIT);
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.screenshot({ path: join(shots, 'settings-dark.png') });
      await page.emulateMedia({ colorScheme: 'light' });
      const anon = await state.ctxA.browser().newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'dark' });
      const login = await anon.newPage();
      await login.goto(`${base}/login`);
      await login.getByLabel('Email').waitFor(WAIT);
      await login.screenshot({ path: join(shots, 'login-dark.png') });
      await anon.close();
      await page.goto(`${base}/channels`);
      await page.locator('a[data-channel="general"]').waitFor(WAIT);
    },
  ],
  [
    'settings: the mic test plays the microphone back and the level meter follows it; stopping frees the microphone',
    async ({ base, state }) => {
      const page = state.a;
      await page.goto(`${base}/settings`);
      const meter = page.locator('#s-level');
      await meter.waitFor(WAIT);
      assert((await meter.getAttribute('data-level')) === '', 'the meter shows no level before the test');
      await page.getByRole('button', { name: 'Test my microphone' }).click();
      await page.locator('audio[data-voice-peer="mic-test"]').waitFor({ state: 'attached', ...WAIT });
      const levels = [];
      await until('the meter following the fake microphone', async () => {
        const level = await meter.getAttribute('data-level');
        if (level) levels.push(Number(level));
        return levels.filter((l) => l > -60).length >= 3;
      }, 15_000);
      await page.getByRole('button', { name: 'Stop the test' }).click();
      await until('the playback element removed', async () => (await page.locator('audio[data-voice-peer="mic-test"]').count()) === 0, 5_000);
      await until('the meter empty again', async () => (await meter.getAttribute('data-level')) === '', 5_000);
      await page.goto(`${base}/channels`);
      await page.locator('a[data-channel="general"]').waitFor(WAIT);
    },
  ],
  [
    'voice: two browsers hear each other while the key is held, nothing while released, mute beats the key',
    async ({ shots, state }) => {
      const { a, b } = state;
      const stats = (page) => page.evaluate(() => window.cromulent.voice.stats());
      await a.locator('[data-voice-channel="voice-main"]').click();
      await a.getByText('Voice connected').waitFor(WAIT);
      await b.locator('[data-voice-channel="voice-main"]').click();
      await b.getByText('Voice connected').waitFor(WAIT);
      await until('both peers connected', async () => (await stats(a)).connected >= 1 && (await stats(b)).connected >= 1, 20_000);

      // Released: nothing leaves alice's browser.
      const idle0 = await stats(b);
      await a.waitForTimeout(1500);
      const idle1 = await stats(b);
      assert(idle1.packetsReceived - idle0.packetsReceived < 5, `bob received ${idle1.packetsReceived - idle0.packetsReceived} packets while alice was silent`);

      // Held: bob receives Opus audio with energy, and sees alice speaking.
      await a.locator('body').click({ position: { x: 700, y: 300 } });
      await a.keyboard.down('F8');
      await b.locator('li.speaking[data-voice-user="alice"]').waitFor(WAIT);
      const talk0 = await stats(b);
      await a.waitForTimeout(2000);
      const talk1 = await stats(b);
      await a.keyboard.up('F8');
      assert(talk1.packetsReceived - talk0.packetsReceived > 40, `bob received only ${talk1.packetsReceived - talk0.packetsReceived} packets in 2 s of talk`);
      assert(talk1.energy > talk0.energy, 'the received audio has energy (the tone), not silence');
      assert(talk1.codecs.includes('audio/opus'), `Opus negotiated: ${talk1.codecs}`);

      // Muted: holding the key sends nothing.
      await a.getByRole('button', { name: 'Mute' }).click();
      await a.locator('body').click({ position: { x: 700, y: 300 } });
      await a.keyboard.down('F8');
      const mute0 = await stats(b);
      await a.waitForTimeout(1500);
      const mute1 = await stats(b);
      await a.keyboard.up('F8');
      assert(mute1.packetsReceived - mute0.packetsReceived < 5, 'mute wins over push-to-talk');

      // And the other way round, with the on-screen button.
      const hold = b.getByRole('button', { name: 'Hold to talk' });
      const box = await hold.boundingBox();
      const heard0 = await stats(a);
      await b.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await b.mouse.down();
      await b.waitForTimeout(1500);
      const heard1 = await stats(a);
      await b.mouse.up();
      assert(heard1.packetsReceived - heard0.packetsReceived > 30, 'alice hears bob while he holds the on-screen button');
      await a.screenshot({ path: join(shots, 'voice-light.png') });
    },
  ],
  [
    'a voice room an admin creates in the Admin screen: a regular user clicks it and is heard',
    async ({ base, state }) => {
      const { a, b } = state;
      // Alice is the admin (the first user); bob is a regular user. Neither becomes a
      // member of the new room: a public voice room needs none.
      await a.goto(`${base}/admin`);
      await a.getByLabel('Channel name').fill('hangout');
      await a.getByLabel('Kind').selectOption('voice');
      await a.getByRole('button', { name: 'Create channel' }).click();
      // The form empties once the server created the room; leaving the page before that
      // could abort the request.
      await until('the room is created', async () => (await a.getByLabel('Channel name').inputValue()) === '', 10_000);
      await a.goto(`${base}/channels`);
      const room = (page) => page.locator('li', { has: page.locator('[data-voice-channel="hangout"]') });
      const inRoom = (page, who) => room(page).locator(`li[data-voice-user="${who}"]`);

      // The room reaches bob's sidebar live; he clicks it and the server lets him in.
      await b.locator('[data-voice-channel="hangout"]').click();
      // A refusal shows under the room list (before the fix: "join the channel first").
      await inRoom(b, 'bob').or(b.getByRole('alert')).first().waitFor(WAIT);
      const refused = await b.getByRole('alert').allTextContents();
      assert(refused.length === 0, `bob was refused: ${refused.join(' ')}`);
      await a.locator('[data-voice-channel="hangout"]').click();
      await inRoom(a, 'alice').waitFor(WAIT);
      await inRoom(b, 'alice').waitFor(WAIT);
      const stats = (page) => page.evaluate(() => window.cromulent.voice.stats());
      await until('alice and bob connected', async () => (await stats(a)).connected >= 1 && (await stats(b)).connected >= 1, 20_000);

      // Silent while bob's key is up (the negative control), the tone while he holds it.
      const quiet = await toneHeard(a, 1500);
      assert(quiet < 10, `alice hears a tone while bob is silent (${quiet.toFixed(1)} dB)`);
      await b.locator('body').click({ position: { x: 700, y: 300 } });
      await b.keyboard.down('F8');
      await a.locator('li.speaking[data-voice-user="bob"]').waitFor(WAIT);
      const heard = await toneHeard(a, 10_000);
      await b.keyboard.up('F8');
      assert(heard > 20, `alice hears bob's 440 Hz tone (${heard.toFixed(1)} dB over the noise)`);

      for (const page of [a, b]) await page.getByRole('button', { name: 'Leave voice' }).click();
      await room(a).locator('li[data-voice-user]').first().waitFor({ state: 'detached', timeout: 10_000 });
    },
  ],
  [
    'an admin requires email confirmation; a new user must confirm before logging in',
    async ({ base, browser, state }) => {
      await state.a.goto(`${base}/admin`);
      const flag = state.a.getByLabel('Email confirmation required');
      await flag.waitFor(WAIT);
      if (!(await flag.isChecked())) await flag.click();
      await until('the flag to be saved', async () => (await (await state.a.evaluate(() => window.cromulent.chat.flags)).email_confirmation) === true);
      const carol = { email: `carol-${Date.now()}@example.com`, username: 'carol' };
      const ctx = await browser.newContext();
      ctx.setDefaultTimeout(10_000);
      const c = await ctx.newPage();
      await register(c, base, carol);
      await c.getByText('Check your inbox').waitFor(WAIT);
      await c.goto(`${base}/login`);
      await logIn(c, carol);
      await c.getByText('Confirm your email first').waitFor(WAIT);
      await c.goto(await mailedLink(base, carol.email, 'confirm'));
      await c.getByText('Your account is confirmed.').waitFor(WAIT);
      await c.getByRole('link', { name: 'Continue to log in' }).click();
      await logIn(c, carol);
      await c.locator('a[data-channel="general"]').waitFor(WAIT);
      state.carol = { ctx, page: c };
    },
  ],
  [
    'link previews: the admin turns them on and a link in a message gets a text-only card',
    async ({ base, shots, state }) => {
      const page = `<html><head><title>Fallback</title>
        <meta property="og:title" content="Cromulent &lt;img src=x onerror=alert(1)&gt; news">
        <meta property="og:description" content="Embiggens the smallest man">
        <meta property="og:site_name" content="Springfield Shopper"></head><body></body></html>`;
      const site = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(page);
      });
      await new Promise((ok) => site.listen(0, '127.0.0.1', ok));
      const url = `http://127.0.0.1:${site.address().port}/article`;
      try {
        const { a, b } = state;
        await a.goto(`${base}/admin`);
        const toggle = a.getByLabel('Link previews');
        await toggle.waitFor(WAIT);
        if (!(await toggle.isChecked())) {
          // The box is ticked at once; the server has the flag once its PATCH is answered,
          // and leaving the page before that could abort it (then no preview is fetched).
          await Promise.all([
            a.waitForResponse((r) => r.url().endsWith('/api/admin/feature_flags') && r.request().method() === 'PATCH' && r.ok()),
            toggle.click(),
          ]);
        }
        await until('the flag saved', async () => toggle.isChecked());
        await a.goto(`${base}/channels`);
        await openChannel(a, 'general');
        await openChannel(b, 'general');
        await send(a, `worth a read ${url}`);
        const card = message(b, 'worth a read').locator('a.link-preview');
        await card.waitFor(WAIT);
        const text = await card.innerText();
        assert(text.includes('Springfield Shopper') && text.includes('Embiggens the smallest man'), `card shows site and description: ${text}`);
        assert(text.includes('Cromulent <img src=x onerror=alert(1)> news'), `the title is shown as text: ${text}`);
        assert((await card.locator('img').count()) === 0, 'markup in a title never becomes an element (and there is no og:image)');
        assert((await card.getAttribute('href')) === url, 'the card links to the page');
        assert((await card.getAttribute('rel')) === 'noopener noreferrer' && (await card.getAttribute('target')) === '_blank', 'the page opens in a new tab without an opener');
        await b.screenshot({ path: join(shots, 'link-preview-light.png') });
      } finally {
        site.close();
      }
    },
  ],
  [
    'settings list sessions, and revoking one signs that browser out',
    async ({ base, browser, state }) => {
      const other = await browser.newContext();
      other.setDefaultTimeout(10_000);
      const o = await other.newPage();
      await o.goto(`${base}/login`);
      await logIn(o, state.bob);
      await o.locator('a[data-channel="general"]').waitFor(WAIT);
      await state.b.goto(`${base}/settings`);
      const rows = state.b.getByTestId('session-row');
      await until('two sessions listed', async () => (await rows.count()) >= 2);
      const notCurrent = rows.filter({ hasNotText: 'this one' }).first();
      await notCurrent.getByRole('button', { name: 'Revoke' }).click();
      await o.getByRole('heading', { name: 'Log in' }).waitFor({ timeout: 15_000 });
      await other.close();
      await state.b.goto(`${base}/channels`);
    },
  ],
  [
    'voice through the SFU: two browsers hear each other both ways while the key is held, nothing while released, mute beats the key',
    async ({ browser }) => {
      await onServerOfItsOwn('sfu', { VOICE_MODE: 'sfu' }, async (server, contexts) => {
        const ann = await voiceUser(browser, server.base, 'ann', contexts);
        const ben = await voiceUser(browser, server.base, 'ben', contexts);
        for (const page of [ann, ben]) await joinVoice(page);
        await settledIn('sfu', [ann, ben], 1);
        const annId = await sessionOf(ann);
        const benId = await sessionOf(ben);

        // Released: nothing leaves ann's browser, and ben hears nothing.
        const idle0 = await voiceStats(ben);
        await ben.waitForTimeout(1500);
        const idle1 = await voiceStats(ben);
        assert(idle1.packetsReceived - idle0.packetsReceived < 5, `ben received ${idle1.packetsReceived - idle0.packetsReceived} packets while nobody talked`);
        const quiet = await toneHeard(ben, 1500, annId);
        assert(quiet < 10, `ben hears a tone while ann is silent (${quiet.toFixed(1)} dB)`);

        const annToBen = await talkThrough(ann, 'ann', ben, annId);
        assert(annToBen.packets > 40, `ben received only ${annToBen.packets} of ann's packets in 2 s of talk`);
        assert(annToBen.energy > 0, "ann's audio reaches ben with energy (the tone), not silence");
        assert(annToBen.tone > 20, `ben hears ann's 440 Hz tone (${annToBen.tone.toFixed(1)} dB over the noise)`);
        assert((await voiceStats(ben)).codecs.includes('audio/opus'), 'Opus through the SFU');

        const benToAnn = await talkThrough(ben, 'ben', ann, benId);
        assert(benToAnn.packets > 40, `ann received only ${benToAnn.packets} of ben's packets in 2 s of talk`);
        assert(benToAnn.energy > 0, "ben's audio reaches ann with energy");
        assert(benToAnn.tone > 20, `ann hears ben's 440 Hz tone (${benToAnn.tone.toFixed(1)} dB over the noise)`);

        // Mute beats the key through the SFU too.
        await ann.getByRole('button', { name: 'Mute' }).click();
        await ann.locator('body').click({ position: { x: 700, y: 300 } });
        await ann.keyboard.down('F8');
        const mute0 = await voiceStats(ben);
        await ann.waitForTimeout(1500);
        const mute1 = await voiceStats(ben);
        await ann.keyboard.up('F8');
        assert(mute1.packetsReceived - mute0.packetsReceived < 5, 'mute wins over push-to-talk through the SFU');
        await ann.getByRole('button', { name: 'Unmute' }).click();

        // Ben's volume for ann and his deafen reach the audio element of ann's SFU track.
        const annAudio = ben.locator(`audio[data-voice-peer="${annId}"]`);
        await ben.getByRole('button', { name: 'ann', exact: true }).click();
        await ben.getByLabel('Volume').evaluate((input) => {
          input.value = '0.25';
          input.dispatchEvent(new Event('input', { bubbles: true }));
        });
        await until("ann's track at the volume ben chose", async () => (await annAudio.evaluate((el) => el.volume)) === 0.25);
        await ben.getByRole('button', { name: 'Deafen' }).click();
        await until("ann's track muted while ben is deafened", () => annAudio.evaluate((el) => el.muted));
        await ben.getByRole('button', { name: 'Undeafen' }).click();
        await until("ann's track heard again", async () => !(await annAudio.evaluate((el) => el.muted)));

        for (const page of [ann, ben]) await page.getByRole('button', { name: 'Leave voice' }).click();
        await ann.locator('audio[data-voice-peer]').first().waitFor({ state: 'detached', timeout: 10_000 });
      });
    },
  ],
  [
    'voice through the SFU, relay-only: a browser that may use only the relay reaches the SFU through TURN, hears and is heard',
    async ({ browser }) => {
      // The relay on loopback, naming the address it relays from, as the SFU sees it.
      await onServerOfItsOwn('sfu-relay', { VOICE_MODE: 'sfu', TURN_BIND: '127.0.0.1', TURN_PUBLIC_IP: '127.0.0.1' }, async (server, contexts) => {
        const ann = await voiceUser(browser, server.base, 'ann', contexts);
        const ben = await voiceUser(browser, server.base, 'ben', contexts);
        const prefs = await ben.evaluate(async () => {
          const r = await fetch('/api/voice/preferences', { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ relay_only: true }) });
          return r.json();
        });
        assert(prefs.relay_only === true, `ben's relay-only preference saved: ${JSON.stringify(prefs)}`);
        for (const page of [ann, ben]) await joinVoice(page);
        await settledIn('sfu', [ann, ben], 1);
        // Chromium reports the nominated pair in its stats a moment after the connection is up.
        let paths = [];
        await until("ben's stats name the candidate pair in use", async () => (paths = (await voiceStats(ben)).localCandidates).length > 0, 10_000);
        assert(paths.every((t) => t === 'relay'), `ben's end of the SFU connection is a relay candidate: ${paths}`);
        const annToBen = await talkThrough(ann, 'ann', ben, await sessionOf(ann));
        assert(annToBen.packets > 40 && annToBen.tone > 20, `ben hears ann through the relay: ${JSON.stringify(annToBen)}`);
        const relayed0 = await relayedBytes(server.base);
        const benToAnn = await talkThrough(ben, 'ben', ann, await sessionOf(ben));
        assert(benToAnn.packets > 40 && benToAnn.tone > 20, `ann hears ben, who sends through the relay: ${JSON.stringify(benToAnn)}`);
        const relayed = (await relayedBytes(server.base)) - relayed0;
        assert(relayed > 10_000, `the relay carried ben's audio to the SFU (${relayed} bytes)`);
      });
    },
  ],
  [
    'voice in auto mode: a room grows onto the SFU and shrinks back to a mesh; ben hears ann throughout, never twice',
    async ({ browser }) => {
      // Above 3 participants the room moves to the SFU, below 3 back to a mesh.
      await onServerOfItsOwn('auto', { VOICE_MODE: 'auto', VOICE_SFU_ABOVE: '3' }, async (server, contexts) => {
        const ann = await voiceUser(browser, server.base, 'ann', contexts);
        const ben = await voiceUser(browser, server.base, 'ben', contexts);
        const cat = await voiceUser(browser, server.base, 'cat', contexts);
        const dan = await voiceUser(browser, server.base, 'dan', contexts);
        for (const page of [ann, ben, cat]) await joinVoice(page);
        await settledIn('mesh', [ann, ben, cat], 2);
        const annId = await sessionOf(ann);
        await startListening(ben, annId);
        await ann.locator('body').click({ position: { x: 700, y: 300 } });
        await ann.keyboard.down('F8');
        let heard;
        try {
          await until('ben to hear ann through the mesh', async () => (await listened(ben)).some((s) => s.level > SOUND_DB), 10_000);
          await joinVoice(dan);
          await settledIn('sfu', [ann, ben, cat, dan], 3);
          await ben.waitForTimeout(1500);
          const movedUp = (await listened(ben)).length;
          for (const page of [dan, cat]) await page.getByRole('button', { name: 'Leave voice' }).click();
          await settledIn('mesh', [ann, ben], 1);
          await ben.waitForTimeout(1500);
          heard = await listened(ben);
          assert(heard.slice(movedUp).some((s) => s.level > SOUND_DB), 'ben hears ann again once back in a mesh');
        } finally {
          await ann.keyboard.up('F8');
        }
        const twice = heard.filter((s) => s.playing > 1);
        assert(twice.length === 0, `ann was heard through two paths at once in ${twice.length} samples of ben's`);
        const first = heard.findIndex((s) => s.level > SOUND_DB);
        let gap = 0;
        let longest = 0;
        for (const s of heard.slice(first).filter((s) => s.level !== null)) {
          gap = s.level > SOUND_DB ? 0 : gap + 1;
          longest = Math.max(longest, gap);
        }
        assert(longest * LISTEN_EVERY_MS <= 600, `ben heard nothing from ann for ${longest * LISTEN_EVERY_MS} ms across the moves`);
      });
    },
  ],
  [
    'voice: the admin pins voice-main to the SFU in the Admin screen while two browsers talk in it; both keep hearing each other',
    async ({ browser }) => {
      // The server's own choice is the mesh: only the pin can move the room.
      await onServerOfItsOwn('pin', { VOICE_MODE: 'mesh' }, async (server, contexts) => {
        // Ann registers first and so is the admin; she stays in the room throughout.
        const ann = await voiceUser(browser, server.base, 'ann', contexts);
        const ben = await voiceUser(browser, server.base, 'ben', contexts);
        for (const page of [ann, ben]) await joinVoice(page);
        await settledIn('mesh', [ann, ben], 1);
        const annId = await sessionOf(ann);
        const benId = await sessionOf(ben);

        // Ben talks from before the pin until after the move; ann listens all along, on the
        // Admin screen she reaches through the sidebar (no page load: the call goes on).
        await startListening(ann, benId);
        await ben.locator('body').click({ position: { x: 700, y: 300 } });
        await ben.keyboard.down('F8');
        let heard;
        try {
          await until('ann to hear ben through the mesh', async () => (await listened(ann)).some((s) => s.level > SOUND_DB), 10_000);
          await ann.getByRole('link', { name: 'Administration' }).click();
          const menu = ann.getByLabel('Voice transport of voice-main');
          assert((await menu.inputValue()) === '', `voice-main starts on the server default, not ${await menu.inputValue()}`);
          const help = await ann.locator(`#${await menu.getAttribute('aria-describedby')}`).textContent();
          assert(/lowest latency/.test(help) && /sends once/.test(help), `the menu's help says what each transport is for: ${help}`);
          await menu.selectOption({ label: 'Through the server (SFU)' });
          await settledIn('sfu', [ann, ben], 1);
          await ann.waitForTimeout(1500);
          heard = await listened(ann);
        } finally {
          await ben.keyboard.up('F8');
        }
        const first = heard.findIndex((s) => s.level > SOUND_DB);
        const twice = heard.slice(first).filter((s) => s.playing > 1);
        assert(twice.length === 0, `ben was heard through two paths at once in ${twice.length} of ann's samples`);
        const gap = longestSilence(heard.slice(first));
        assert(gap <= 600, `ann heard nothing from ben for ${gap} ms across the move to the SFU`);

        // The pin is saved and reached ben's client live; the menu shows it.
        const pins = await Promise.all([ann, ben].map((page) => page.evaluate(() => window.cromulent.chat.channels.find((c) => c.name === 'voice-main').voice_mode)));
        assert(pins.every((p) => p === 'sfu'), `both clients know voice-main is pinned to the SFU: ${pins}`);
        assert((await ann.getByLabel('Voice transport of voice-main').inputValue()) === 'sfu', 'the menu shows the saved pin');

        // Through the SFU now, both ways, the tone clear (ann back in a channel to talk).
        await openChannel(ann, 'general');
        const annToBen = await talkThrough(ann, 'ann', ben, annId);
        assert(annToBen.packets > 40 && annToBen.tone > 20, `ben hears ann through the SFU: ${JSON.stringify(annToBen)}`);
        const benToAnn = await talkThrough(ben, 'ben', ann, benId);
        assert(benToAnn.packets > 40 && benToAnn.tone > 20, `ann hears ben through the SFU: ${JSON.stringify(benToAnn)}`);

        // "Server default" removes the pin: the room follows VOICE_MODE back to a mesh.
        await ann.getByRole('link', { name: 'Administration' }).click();
        await ann.getByLabel('Voice transport of voice-main').selectOption({ label: 'Server default' });
        await settledIn('mesh', [ann, ben], 1);
        await openChannel(ann, 'general');
        const back = await talkThrough(ben, 'ben', ann, benId);
        assert(back.packets > 40 && back.tone > 20, `ann hears ben through the mesh again: ${JSON.stringify(back)}`);
      });
    },
  ],
  [
    'voice through the SFU with native clients: two browsers and two `cromulent voice join` in one room hear each other, both ways',
    async ({ browser }) => {
      const server = await serverOfItsOwn('sfu-native', { VOICE_MODE: 'sfu' });
      const dir = mkdtempSync(join(tmpdir(), 'cromulent-e2e-native-'));
      const log = createWriteStream(join(e2eDir, 'out', 'native-clients.log'));
      const contexts = [];
      const natives = [];
      try {
        const ann = await voiceUser(browser, server.base, 'ann', contexts);
        const ben = await voiceUser(browser, server.base, 'ben', contexts);
        for (const page of [ann, ben]) await joinVoice(page);
        // Each native client sends a tone of its own, the whole time, and records the room;
        // quiet, so that the browsers' tone stands out beside it in the recordings.
        for (const [name, hz] of Object.entries(NATIVE_TONES)) {
          const email = await registerConfirmed(server.base, name);
          const home = join(dir, name);
          mkdirSync(home);
          const input = soxTone(join(dir, `${name}-says.wav`), hz, 120, 0.05);
          natives.push({ hz, voice: nativeVoice({ base: server.base, email, dir: home, name, input, output: join(dir, `${name}-heard.wav`), ptt: 'always', log }) });
        }
        await until(
          'both native clients connected to the three others',
          async () => {
            const ended = natives.find((n) => n.voice.ended());
            assert(!ended, `${ended?.voice.name}'s cromulent ended early: ${ended?.voice.tail()}`);
            return natives.every((n) => n.voice.connectedPeers() >= 3);
          },
          60_000,
        ).catch((e) => {
          throw new Error(`${e.message}; ${natives.map((n) => `${n.voice.name}: ${n.voice.tail()}`).join('; ')}`);
        });
        await settledIn('sfu', [ann, ben], 3);

        // Each browser hears each native's tone on that native's SFU track.
        for (const [page, who] of [[ann, 'ann'], [ben, 'ben']]) {
          for (const { hz, voice } of natives) {
            const session = await until(`${who} to see ${voice.name} in the room`, () => sessionOfUser(page, voice.name));
            const level = await toneHeard(page, 10_000, session, hz);
            assert(level > 20, `${who} hears ${voice.name}'s ${hz} Hz tone (${level.toFixed(1)} dB over the noise)`);
          }
        }

        // The browsers' tone (440 Hz) reaches the natives only while a key is held: ann
        // talks, then ben, with silence around; each also hears the other meanwhile.
        await ann.waitForTimeout(BROWSER_QUIET_MS);
        const annToBen = await talkThrough(ann, 'ann', ben, await sessionOf(ann));
        assert(annToBen.packets > 40 && annToBen.tone > 20, `ben hears ann in the room with the natives: ${JSON.stringify(annToBen)}`);
        await ann.waitForTimeout(BROWSER_QUIET_MS);
        const benToAnn = await talkThrough(ben, 'ben', ann, await sessionOf(ben));
        assert(benToAnn.packets > 40 && benToAnn.tone > 20, `ann hears ben in the room with the natives: ${JSON.stringify(benToAnn)}`);
        await ann.waitForTimeout(1000);

        for (const { voice } of natives) {
          const how = await voice.leave();
          assert(how.code === 0, `${voice.name}'s cromulent leaves cleanly on Ctrl-C: ${JSON.stringify(how)}; ${voice.tail()}`);
        }
        for (const { voice } of natives) {
          const { rate, samples } = readWav(voice.output);
          const chunks = Math.floor(samples.length / (rate / 10));
          assert(chunks >= 100, `${voice.name} recorded at least 10 s (${chunks / 10} s)`);
          // Two bursts of the browsers' tone, ann's then ben's, each as long as the key was
          // held (2 s at least), and none of it before, between or after.
          const bursts = runsOf(toneShares(samples, rate, 440).map((share) => share > HEARD_SHARE));
          const long = bursts.filter(([first, last]) => last - first + 1 >= 15);
          assert(
            long.length === 2 && bursts.length === 2,
            `${voice.name}'s recording holds the browsers' 440 Hz tone in two bursts, ann's and ben's, and nowhere else: ${JSON.stringify(bursts.map(([a, b]) => [a / 10, (b + 1) / 10]))} (s)`,
          );
          // The other native's tone throughout its last 8 s in the room.
          const other = natives.find((n) => n.voice !== voice);
          const tail = toneShares(samples, rate, other.hz).slice(chunks - 85, chunks - 5);
          const present = tail.filter((share) => share > HEARD_SHARE).length;
          assert(present * 10 >= tail.length * 9, `${voice.name} hears ${other.voice.name}'s ${other.hz} Hz tone in ${present} of the last ${tail.length} tenths of a second`);
        }
      } finally {
        for (const { voice } of natives) await voice.leave(5_000).catch(() => undefined);
        for (const context of contexts) await context.close().catch(() => undefined);
        await server.stop();
        log.end();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  ],
];

// ---- Voice through the server's forwarding unit: a server of its own per voice mode ----

const e2eDir = dirname(fileURLToPath(import.meta.url));

/** A new user on `base`, registered, confirmed and signed in, in a browser context of their
 * own (pushed onto `contexts` to close later); resolves to their page. */
async function voiceUser(browser, base, username, contexts) {
  const { context, page } = await ownBrowser(browser, username);
  contexts.push(context);
  await registerAndConfirm(page, base, { email: `${username}-${Date.now()}@example.com`, username });
  await page.getByRole('link', { name: 'Continue to log in' }).click();
  await page.locator('a[data-channel="general"]').waitFor(WAIT);
  return page;
}

async function joinVoice(page, room = 'voice-main') {
  await page.locator(`[data-voice-channel="${room}"]`).click();
  await page.getByText('Voice connected').waitFor(WAIT);
  await until('the server to place this page in the room', () => sessionOf(page));
}

function voiceStats(page) {
  return page.evaluate(() => window.cromulent.voice.stats());
}

function sessionOf(page) {
  return page.evaluate(() => window.cromulent.voice.selfSessionId);
}

/** `speaker` holds the push-to-talk key for 2 s; what `listener` got from the speaker's
 * session `speakerId` meanwhile: packets, audio energy and how clear the tone is. */
async function talkThrough(speaker, speakerName, listener, speakerId) {
  const from = async () => (await voiceStats(listener)).peers[speakerId] ?? { packetsReceived: 0, energy: 0 };
  await speaker.locator('body').click({ position: { x: 700, y: 300 } });
  await speaker.keyboard.down('F8');
  try {
    await listener.locator(`li.speaking[data-voice-user="${speakerName}"]`).waitFor(WAIT);
    const before = await from();
    await listener.waitForTimeout(2000);
    const after = await from();
    const tone = await toneHeard(listener, 10_000, speakerId);
    return { packets: after.packetsReceived - before.packetsReceived, energy: after.energy - before.energy, tone };
  } finally {
    await speaker.keyboard.up('F8');
  }
}

/** Waits until every page is in `mode` with no move under way and reaches `others` participants. */
async function settledIn(mode, pages, others) {
  let seen = [];
  try {
    await until(
      `every page in ${mode} mode, each reaching ${others} others`,
      async () => {
        seen = await Promise.all(pages.map(async (page) => ({ ...(await voiceStats(page)), states: await page.evaluate(() => window.cromulent.voice.peerStates) })));
        return seen.every((s) => s.mode === mode && !s.moving && s.connected >= others);
      },
      20_000,
    );
  } catch (e) {
    throw new Error(`${e.message}; the pages' voice: ${JSON.stringify(seen)}`);
  }
}

const LISTEN_EVERY_MS = 100;
/** dBFS above which a sample counts as hearing someone (silence reads far below). */
const SOUND_DB = -60;

/** Starts sampling, every 100 ms, what `page` plays from the participant `peer`: how many of
 * its audio elements play unmuted, and the level of the one heard (dBFS; null while its
 * meter is new). */
function startListening(page, peer) {
  return page.evaluate(
    ({ peer, every }) => {
      const ctx = new AudioContext();
      const meters = new Map();
      const samples = [];
      // A meter made this instant has heard nothing yet: it reads null, not silence.
      const meter = (el) => {
        if (!meters.has(el)) {
          const analyser = ctx.createAnalyser();
          analyser.fftSize = 2048;
          ctx.createMediaStreamSource(el.srcObject).connect(analyser);
          meters.set(el, { analyser, buf: new Float32Array(analyser.fftSize) });
          return null;
        }
        const { analyser, buf } = meters.get(el);
        analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (const x of buf) sum += x * x;
        const rms = Math.sqrt(sum / buf.length);
        return rms > 0 ? 20 * Math.log10(rms) : -120;
      };
      setInterval(() => {
        // Muted elements are metered too, so a path's meter is warm when it becomes the one heard.
        const all = [...document.querySelectorAll(`audio[data-voice-peer="${peer}"]`)].filter((e) => e.srcObject);
        const levels = all.map((e) => ({ heard: !e.muted, level: meter(e) })).filter((l) => l.heard);
        const known = levels.filter((l) => l.level !== null).map((l) => l.level);
        samples.push({ playing: levels.length, level: levels.length === 0 ? -120 : known.length ? Math.max(...known) : null });
      }, every);
      window.__listened = samples;
    },
    { peer, every: LISTEN_EVERY_MS },
  );
}

function listened(page) {
  return page.evaluate(() => window.__listened);
}

/** What the built-in TURN relay sent on to peers so far, from the server's /metrics. */
async function relayedBytes(base) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('cromulent_turn_relayed_bytes_total{direction="to_peer"} '));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** The longest run of silent samples (from startListening) in `samples`, in ms. */
function longestSilence(samples) {
  let gap = 0;
  let longest = 0;
  for (const s of samples.filter((s) => s.level !== null)) {
    gap = s.level > SOUND_DB ? 0 : gap + 1;
    longest = Math.max(longest, gap);
  }
  return longest * LISTEN_EVERY_MS;
}

// ---- Native clients beside the browsers ----

/** The tone each native client sends: apart from the browsers' 440 Hz and its harmonics,
 * multiples of 10 Hz so each keeps a Goertzel bin of its own in 100 ms chunks. */
const NATIVE_TONES = { cal: 700, dee: 1100 };
/** A tone counts as heard in a 100 ms chunk of a recording when it carries this share of
 * the chunk's energy: the browsers' tone beside the other native's (0.05 peak) carries
 * about 0.4, the other native's about 0.6 to 1, an absent one next to nothing. */
const HEARD_SHARE = 0.1;
/** Silence in the room from the browsers before and after each one talks. */
const BROWSER_QUIET_MS = 3000;

/** The voice session of `username` in the room `page` is in, from the page's roster. */
function sessionOfUser(page, username) {
  return page.evaluate(async (username) => {
    const users = await (await fetch('/api/users')).json();
    const user = users.find((u) => u.username === username);
    const { chat, voice } = window.cromulent;
    return (chat.voiceRooms[voice.channelId] ?? []).find((p) => user && p.user_id === user.id)?.session_id ?? null;
  }, username);
}
