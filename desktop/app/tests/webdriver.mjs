// The desktop app end to end, driven over W3C WebDriver (tauri-driver in front of
// WebKitWebDriver) with plain fetch — no client library, nothing downloaded.
//
// Run by scripts/test-desktop.sh, which starts Xvfb, a private D-Bus session with an
// unlocked gnome-keyring, the server, tauri-driver, and registers the users. Checks:
//   1. the window is titled "Cromulent";
//   2. log in through the UI; the channels appear;
//   3. a message typed in the app is stored (read back over REST by another user);
//   4. joining a voice room in the app is seen by another user's gateway session;
//   5. with the app unfocused, holding Left Ctrl (xdotool) is push-to-talk: the other
//      user sees ptt_state on then off; another key produces nothing; `cromulent ptt
//      down|up` (the Wayland fallback) does the same through the app's socket;
//   6. a restarted app logs in by itself from the keyring;
//   7. the page runs under the app's Content-Security-Policy: it is in the page, and
//      eval and an injected inline script are refused while the app works;
//   8. the `api` command makes calls to the logged-in server only: another port, user
//      info and backslash tricks are refused as `other_server`, and a listening decoy
//      server receives nothing (so never the token);
//   9. an image pasted into the composer goes up through the app's Rust side (the page
//      holds no token), is stored as a PNG of its size, and shows inline from the blob:
//      URL the app fetched it into;
//  10. the server offers a newer release (UPDATE_VERSION): the app shows its version and
//      notes with "Install and restart"; the bundle was changed after it was signed, so
//      installing is refused with the reason, and the app goes on working;
//  11. the sound settings card lists the native engine's microphones; the one chosen and
//      noise suppression switched off are kept in the app's config, and the mic test's
//      level meter follows a tone played into the sound server (paplay).
//
// Environment: APP, DRIVER (tauri-driver URL), SERVER, ALICE and BOB (email:password),
// UPDATE_VERSION (the release the server offers, its bundle tampered with),
// TEXT_CHANNEL, VOICE_CHANNEL, SHOTS (directory for failure screenshots), CROMULENT (the
// `cromulent` command), and
// EXPECT_NATIVE_AUDIO=1 when a sound server is up for the native voice engine.

import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';

// The web client's browser tests write their tones the same way.
import { toneWav } from '../../../desktop-ui/e2e/chromium.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const APP = env('APP');
const DRIVER = env('DRIVER');
const SERVER = env('SERVER');
const [aliceEmail, alicePassword] = env('ALICE').split(':');
const [bobEmail, bobPassword] = env('BOB').split(':');
const TEXT_CHANNEL = env('TEXT_CHANNEL');
const UPDATE_VERSION = env('UPDATE_VERSION');
const VOICE_CHANNEL = env('VOICE_CHANNEL');
const SHOTS = env('SHOTS');
/** Set when the test provides a sound server: the native voice engine must run. */
const NATIVE_AUDIO = process.env.EXPECT_NATIVE_AUDIO === '1';
const CROMULENT = env('CROMULENT');
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';
const ENTER = '\uE007';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A `width`×`height` PNG of one colour, as a screenshot tool would put on the clipboard. */
function solidPng(width, height, [r, g, b]) {
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'ascii');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  // Each row: filter type 0, then its pixels.
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: width }, () => [r, g, b]).flat())]);
  const pixels = deflateSync(Buffer.concat(Array.from({ length: height }, () => row)));
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', pixels), chunk('IEND', Buffer.alloc(0))]);
}

/** Polls `check` until it returns something truthy; `what` names it in the failure. */
async function until(what, check, ms = 20_000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

// ---- WebDriver ------------------------------------------------------------------

class Session {
  static async start() {
    const capabilities = { alwaysMatch: { 'tauri:options': { application: APP } } };
    // tauri-driver forwards over a pooled connection to WebKitWebDriver, which may close
    // it when the previous session ends; a request sent on it then fails before reaching
    // the native driver, and tauri-driver drops ours without an answer. No session was
    // made, so asking again is safe; any answer (even a refusal) is final.
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await wd('POST', '/session', { capabilities });
        return new Session(res.sessionId);
      } catch (e) {
        if (!(e instanceof DriverUnreachable) || attempt === 3) throw e;
        console.log(`# new session, attempt ${attempt}: ${e.message}; asking again`);
        await sleep(1000);
      }
    }
  }

  constructor(id) {
    this.id = id;
  }

  cmd(method, path, body) {
    return wd(method, `/session/${this.id}${path}`, body);
  }

  title() {
    return this.cmd('GET', '/title');
  }

  async find(css) {
    const found = await this.cmd('POST', '/element', { using: 'css selector', value: css });
    return found[ELEMENT];
  }

  /** Waits for `css` to exist and returns it. */
  waitFor(css, ms) {
    return until(`element ${css}`, () => this.find(css), ms);
  }

  async type(css, text) {
    const el = await this.waitFor(css);
    await this.cmd('POST', `/element/${el}/clear`, {});
    await this.cmd('POST', `/element/${el}/value`, { text });
  }

  async click(css) {
    const el = await this.waitFor(css);
    await this.cmd('POST', `/element/${el}/click`, {});
  }

  run(script, ...args) {
    return this.cmd('POST', '/execute/sync', { script, args });
  }

  /** Invokes one of the app's commands from inside its webview. */
  invoke(command, args = {}) {
    const script = 'const done = arguments[arguments.length - 1];' +
      'window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1]).then(done, (e) => done({ failed: String(e) }));';
    return this.cmd('POST', '/execute/async', { script, args: [command, args] });
  }

  async screenshot(name) {
    try {
      const png = await this.cmd('GET', '/screenshot');
      writeFileSync(join(SHOTS, `${name}.png`), Buffer.from(png, 'base64'));
    } catch {
      // A screenshot is a diagnostic; the failure that asked for it matters more.
    }
  }

  end() {
    return this.cmd('DELETE', '').catch(() => undefined);
  }
}

/** The driver closed the connection or could not be reached: no answer at all. */
class DriverUnreachable extends Error {}

async function wd(method, path, body) {
  let res;
  try {
    res = await fetch(DRIVER + path, {
      method,
      headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    const cause = e.cause?.code ?? e.cause?.message ?? 'no cause given';
    throw new DriverUnreachable(`${method} ${path}: no answer from the driver (${e.message}: ${cause})`);
  }
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${json.value?.error} ${json.value?.message}`);
  return json.value;
}

// ---- the other user: REST and a gateway session -----------------------------------

async function rest(method, path, token, body) {
  const res = await fetch(SERVER + path, {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function accessToken(email, password) {
  const login = await rest('POST', '/api/auth/login', null, { email, password, device_name: 'webdriver test', device_type: 'bot' });
  const refreshed = await rest('POST', '/api/auth/refresh', null, { refresh_token: login.refresh_token });
  return refreshed.access_token;
}

/** Bob's gateway session: every event frame is kept in `events`. */
function gateway(token) {
  const ws = new WebSocket(SERVER.replace(/^http/, 'ws') + '/api/gateway');
  const events = [];
  let ready = null;
  const opened = new Promise((resolve, reject) => {
    ws.onerror = () => reject(new Error('gateway socket failed'));
    ws.onmessage = (ev) => {
      const frame = JSON.parse(ev.data);
      if (frame.type === 'hello') {
        ws.send(JSON.stringify({ type: 'identify', token }));
        setInterval(() => ws.readyState === 1 && ws.send(JSON.stringify({ type: 'heartbeat' })), frame.heartbeat_interval_ms / 2).unref();
      } else if (frame.type === 'ready') {
        ready = frame;
        resolve();
      } else {
        events.push(frame);
      }
    };
  });
  return { ws, events, opened, get ready() { return ready; }, send: (f) => ws.send(JSON.stringify(f)) };
}

function xdotool(...args) {
  return execFileSync('xdotool', args, { encoding: 'utf8' }).trim();
}

// ---- the run ------------------------------------------------------------------------

async function main() {
  const bobToken = await accessToken(bobEmail, bobPassword);
  const channels = await rest('GET', '/api/channels', bobToken);
  const text = channels.find((c) => c.name === TEXT_CHANNEL);
  const voice = channels.find((c) => c.name === VOICE_CHANNEL);
  for (const ch of [text, voice]) await rest('POST', `/api/channels/${ch.id}/join`, bobToken);
  const bob = gateway(bobToken);
  await bob.opened;
  // Bob waits in the voice room: push-to-talk state goes to the room's members.
  bob.send({ type: 'voice_join', channel_id: voice.id });
  await until('bob in the voice room', () => bob.events.find((f) => f.type === 'voice_joined'));
  const aliceId = (await rest('GET', '/api/users', bobToken)).find((u) => u.username === 'alice').id;

  let app = await Session.start();
  try {
    const title = await until('the window title', async () => ((await app.title()) === 'Cromulent' ? 'ok' : null));
    console.log(`ok 1 - the window is titled "Cromulent" (${title})`);

    // A fresh app asks for the server; choosing one reloads the UI against it.
    await app.type('#login-server', SERVER);
    await app.type('#login-email', aliceEmail);
    await app.type('#login-password', alicePassword);
    await app.click('button[type=submit]');
    await until('the reload against the chosen server', async () => {
      const v = await app.run('return document.querySelector("#login-server")?.value ?? ""');
      return v.startsWith(SERVER) && !(await app.run('return document.querySelector("#login-email").value'));
    });
    await app.type('#login-email', aliceEmail);
    await app.type('#login-password', alicePassword);
    await app.click('button[type=submit]');
    await app.waitFor(`[data-channel="${TEXT_CHANNEL}"]`, 30_000);
    console.log('ok 2 - logged in through the app; the channels are listed');

    await app.click(`[data-channel="${TEXT_CHANNEL}"]`);
    const body = `hello from the desktop app ${Date.now()}`;
    await app.type('[data-testid="composer"]', body + ENTER);
    await until('the message stored on the server', async () => {
      const messages = await rest('GET', `/api/channels/${text.id}/messages?limit=20`, bobToken);
      return messages.some((m) => m.body === body && m.author_id === aliceId);
    });
    console.log('ok 3 - a message sent in the app is stored on the server');

    await app.click(`[data-voice-channel="${VOICE_CHANNEL}"]`);
    const joined = await until('alice joining the voice room, seen by bob', () =>
      bob.events.find((f) => f.type === 'peer_joined' && f.participant.user_id === aliceId),
    );
    const aliceSession = joined.participant.session_id;
    const state = await until('the app in the voice room', async () => {
      const s = await app.invoke('voice_state');
      return s.channel_id === voice.id && (s.native_audio || s.error) ? s : null;
    });
    if (NATIVE_AUDIO && !state.native_audio) throw new Error(`native audio did not start: ${state.error}`);
    console.log(`ok 4 - joining a voice room in the app is seen by another user (native audio: ${state.native_audio})`);

    // Push-to-talk from outside the app: another window gets the keyboard focus.
    const other = spawn('xmessage', ['-geometry', '300x100+700+600', 'another application'], { stdio: 'ignore' });
    try {
      const otherId = await until('the other window', () => xdotool('search', '--name', '^xmessage$').split('\n')[0]);
      xdotool('windowfocus', '--sync', otherId);
      const focused = xdotool('getwindowfocus');
      if (focused !== otherId) throw new Error(`focus is on ${focused}, not on the other window ${otherId}`);

      const ptt = () => bob.events.filter((f) => f.type === 'ptt_state' && f.session_id === aliceSession);
      const before = ptt().length;
      // A key that is not the push-to-talk key first, then Left Ctrl.
      xdotool('keydown', 'a');
      xdotool('keyup', 'a');
      xdotool('keydown', 'Control_L');
      const on = await until('ptt_state on after Left Ctrl went down', () => ptt()[before]);
      if (on.active !== true) throw new Error(`expected ptt_state on, got ${JSON.stringify(on)}`);
      xdotool('keyup', 'Control_L');
      const off = await until('ptt_state off after Left Ctrl came up', () => ptt()[before + 1]);
      if (off.active !== false) throw new Error(`expected ptt_state off, got ${JSON.stringify(off)}`);
      // A marker on the same ordered path (app -> gateway -> server -> bob): a mute sent
      // after every key above was handled. Whatever the keys caused arrives before it,
      // so exactly the two Left Ctrl transitions must precede it.
      await app.run('window.cromulent.voice.setMuted(true)');
      const marker = await until('the mute marker', () =>
        bob.events.findIndex((f) => f.type === 'voice_state_update' && f.participant.session_id === aliceSession && f.participant.muted) + 1,
      );
      const caused = bob.events.slice(0, marker - 1).filter((f) => f.type === 'ptt_state' && f.session_id === aliceSession);
      if (caused.length !== before + 2) {
        throw new Error(`the keys caused ${caused.length - before} ptt_state events, expected 2 (the "a" key must do nothing)`);
      }
      await app.run('window.cromulent.voice.setMuted(false)');

      // The same through the local command Wayland users bind in their compositor.
      const sent = ptt().length;
      execFileSync(CROMULENT, ['ptt', 'down']);
      const cmdOn = await until('ptt_state on after `cromulent ptt down`', () => ptt()[sent]);
      execFileSync(CROMULENT, ['ptt', 'up']);
      const cmdOff = await until('ptt_state off after `cromulent ptt up`', () => ptt()[sent + 1]);
      if (cmdOn.active !== true || cmdOff.active !== false) {
        throw new Error(`the command gave ${JSON.stringify([cmdOn, cmdOff])}`);
      }
      console.log('ok 5 - with the app unfocused, Left Ctrl starts and stops transmission; "a" does nothing;');
      console.log('       `cromulent ptt down|up` does the same through the app\'s socket');
    } finally {
      other.kill();
    }

    // Quit and start again: the refresh token in the keyring logs in without a form.
    await app.end();
    app = await Session.start();
    await app.waitFor(`[data-channel="${TEXT_CHANNEL}"]`, 30_000);
    const form = await app.run('return document.querySelector("#login-password") !== null');
    if (form) throw new Error('the restarted app shows the login form');
    console.log('ok 6 - the restarted app logs in by itself (refresh token from the keyring)');

    // The policy comes as a response header, so the page learns it from a violation:
    // eval must be refused and reported with the whole policy.
    const violation = await app.cmd('POST', '/execute/async', {
      script: `const done = arguments[arguments.length - 1];
        document.addEventListener('securitypolicyviolation',
          (e) => done({ policy: e.originalPolicy, directive: e.effectiveDirective }), { once: true });
        try { eval('6 * 7'); done({ ran: true }); } catch (e) { setTimeout(() => done({ error: e.name }), 2000); }`,
      args: [],
    });
    if (!violation?.policy) throw new Error(`eval was not refused by a policy: ${JSON.stringify(violation)}`);
    const csp = violation.policy;
    for (const part of ["script-src 'self'", "object-src 'none'", 'connect-src']) {
      if (!csp.includes(part)) throw new Error(`the page's policy lacks ${part}: ${csp}`);
    }
    if (csp.includes('unsafe-eval')) throw new Error(`the page's policy allows eval: ${csp}`);
    const inline = await app.run(`
      const s = document.createElement('script');
      s.textContent = 'window.__inlineRan = true';
      document.body.appendChild(s);
      return window.__inlineRan === true;`);
    if (inline) throw new Error('an injected inline script ran');
    console.log(`ok 7 - the page runs under the app's policy; eval (${violation.directive}) and inline scripts are refused`);
    console.log(`       ${csp}`);

    // A decoy on another port of the same host: the app must never call it.
    const seen = [];
    const decoy = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} auth=${req.headers.authorization ?? 'none'}`);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
    await new Promise((r) => decoy.listen(0, '127.0.0.1', r));
    try {
      const decoyUrl = `http://127.0.0.1:${decoy.address().port}`;
      // The UI's own REST path, with the failure object kept whole (`invoke` above
      // keeps only its text).
      const getMe = (server) => app.cmd('POST', '/execute/async', {
        script: 'const done = arguments[arguments.length - 1];' +
          'window.__TAURI_INTERNALS__.invoke("api", { server: arguments[0], call: { method: "GET", path: "/api/users/me" } })' +
          '.then((ok) => done({ ok }), (err) => done({ err }));',
        args: [server],
      });
      const me = await getMe(SERVER);
      if (me?.ok?.username !== 'alice') throw new Error(`the api command does not reach the server: ${JSON.stringify(me)}`);
      const port = decoy.address().port;
      const host = new URL(SERVER).host;
      for (const server of [decoyUrl, `http://${host}@127.0.0.1:${port}`, `http:\\\\127.0.0.1:${port}`, `//127.0.0.1:${port}`]) {
        const answer = await getMe(server);
        if (answer?.err?.refused !== 'other_server') {
          throw new Error(`a call to ${server} was not refused as another server: ${JSON.stringify(answer)}`);
        }
      }
      await sleep(500);
      if (seen.length) throw new Error(`the decoy server was called: ${seen.join(', ')}`);
    } finally {
      decoy.close();
    }
    console.log('ok 8 - the api command refuses calls to other origins (port, user info, backslashes); the decoy saw nothing');

    // The clipboard's screenshot arrives as a paste event carrying a file, as WebKitGTK
    // gives it; the app uploads it through its Rust side and shows it from a blob: URL.
    await app.click(`[data-channel="${TEXT_CHANNEL}"]`);
    const pasted = await app.cmd('POST', '/execute/async', {
      script: `const done = arguments[arguments.length - 1];
        try {
          const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
          const data = new DataTransfer();
          data.items.add(new File([bytes], 'image.png', { type: 'image/png' }));
          const composer = document.querySelector('[data-testid="composer"]');
          composer.focus();
          composer.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
          done({ pasted: data.files.length });
        } catch (e) { done({ failed: String(e) }); }`,
      args: [solidPng(40, 30, [200, 40, 90]).toString('base64')],
    });
    if (pasted?.pasted !== 1) throw new Error(`the paste event could not carry a file: ${JSON.stringify(pasted)}`);
    await until('the pasted image uploaded', () =>
      app.run('return document.querySelector(\'[data-testid="upload-chip"]\')?.dataset.status === "done"'), 30_000);
    const caption = `a pasted screenshot ${Date.now()}`;
    await app.type('[data-testid="composer"]', caption + ENTER);
    const sent = await until('the message with the pasted image on the server', async () => {
      const messages = await rest('GET', `/api/channels/${text.id}/messages?limit=20`, bobToken);
      return messages.find((m) => m.body === caption && m.author_id === aliceId);
    });
    const [file] = sent.attachments;
    if (sent.attachments.length !== 1 || file.content_type !== 'image/png' || file.width !== 40 || file.height !== 30) {
      throw new Error(`the pasted image was stored as ${JSON.stringify(sent.attachments)}`);
    }
    const shown = await until('the pasted image drawn in the app', () =>
      app.run(
        `const img = document.querySelector('[data-message-id="' + arguments[0] + '"] [data-testid="attachment-image"] img');
         return img && img.complete && img.naturalWidth > 0 ? { src: img.src.slice(0, 5), width: img.naturalWidth } : null;`,
        sent.id,
      ), 30_000);
    if (shown.src !== 'blob:') throw new Error(`the image is not drawn from the app's blob: URL: ${JSON.stringify(shown)}`);
    console.log(`ok 9 - a pasted image is uploaded through the app (${file.filename}, 40×30 PNG) and drawn inline from a blob: URL`);

    // Checked when the signed-in UI started; nothing is installed until the click.
    await app.waitFor(`[data-update-offer="${UPDATE_VERSION}"]`, 30_000);
    const prompt = await app.run(
      'const p = document.querySelector("[data-update-offer]"); return p ? p.innerText : "";',
    );
    for (const part of [`Cromulent ${UPDATE_VERSION} is available`, `Release notes of ${UPDATE_VERSION}`, 'Install and restart']) {
      if (!prompt.includes(part)) throw new Error(`the update prompt lacks "${part}": ${prompt}`);
    }
    await app.click('[data-update-install]');
    const refusal = await until('the refusal of the tampered update', () =>
      app.run('return document.querySelector("[data-update-error]")?.innerText ?? ""'), 60_000);
    if (!refusal.includes('signature does not match')) throw new Error(`unexpected refusal: ${refusal}`);
    // Still this version, still working: a message sent now is stored.
    const after = `still working after a refused update ${Date.now()}`;
    await app.click(`[data-channel="${TEXT_CHANNEL}"]`);
    await app.type('[data-testid="composer"]', after + ENTER);
    await until('the message sent after the refusal', async () => {
      const messages = await rest('GET', `/api/channels/${text.id}/messages?limit=20`, bobToken);
      return messages.some((m) => m.body === after && m.author_id === aliceId);
    });
    console.log(`ok 10 - the update to ${UPDATE_VERSION} is offered (version, notes, Install and restart); its tampered`);
    console.log(`       bundle is refused ("${refusal.split('.')[0]}") and the app keeps working`);

    await soundSettings(app);
  } catch (e) {
    await app.screenshot('failure');
    throw e;
  } finally {
    await app.end();
    bob.ws.close();
  }
}

/**
 * Check 11: the sound settings card lists the native engine's devices; choosing one is
 * kept in the app's config and used by the mic test, whose meter follows a tone played
 * into the sound server (the default source is the null sink's monitor).
 */
async function soundSettings(app) {
  const tone = join(SHOTS, 'tone.wav');
  writeFileSync(tone, toneWav(440, 60, 0.3 * 32_767));
  const player = spawn('paplay', ['-d', 'v', tone], { stdio: 'ignore' });
  try {
    const before = await app.invoke('voice_state');
    if (before.channel_id) await app.invoke('gateway_send', { frame: { type: 'voice_leave' } });
    await app.click('a[href="/settings"]');
    const options = await until('the native microphones listed', async () => {
      const list = await app.run(
        'return [...document.querySelectorAll("#s-native-mic option")].map((o) => o.value).filter(Boolean);',
      );
      return list.length ? list : null;
    });
    // A device by its id rather than the default: through ALSA's pulse plugin it records
    // the default source all the same.
    const chosen = options.find((id) => id.endsWith(':pulse')) ?? options[0];
    await app.run(
      `const select = document.querySelector('#s-native-mic');
       select.value = arguments[0];
       select.dispatchEvent(new Event('change', { bubbles: true }));`,
      chosen,
    );
    await until('the chosen microphone kept in the config', async () => (await app.invoke('config')).sound.input_device === chosen);
    // RNNoise takes a steady tone for noise (rightly): the meter shows what others would hear.
    await app.click('#s-ns');
    await until('noise suppression off in the config', async () => (await app.invoke('config')).sound.noise_suppression === false);
    const idle = await app.run('return document.querySelector("#s-level").dataset.level');
    if (idle !== '') throw new Error(`the meter shows a level with no microphone open: ${idle}`);
    await app.click('#s-mic-test');
    const levels = [];
    await until('the meter following the tone', async () => {
      const level = await app.run('return document.querySelector("#s-level").dataset.level');
      if (level !== '') levels.push(Number(level));
      return levels.filter((l) => l > -40).length >= 3 ? levels : null;
    }, 30_000);
    const status = await app.invoke('sound_status');
    if (!status.mic_test || status.input_device !== chosen) {
      throw new Error(`the mic test does not record from the chosen microphone: ${JSON.stringify(status)}`);
    }
    await app.click('#s-mic-test');
    await until('the mic test stopped', async () => !(await app.invoke('sound_status')).mic_test);
    const loudest = Math.max(...levels).toFixed(1);
    console.log(`ok 11 - the sound settings list the engine's microphones; ${chosen} and noise suppression off are kept;`);
    console.log(`       the mic test's meter follows the tone on it (up to ${loudest} dBFS), then stops`);
  } finally {
    player.kill();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`not ok - ${e.message}`);
    process.exit(1);
  },
);
