// The checks scripts/test-container.sh runs against the server image, as a client would:
//   seed   BASE STATE            register, post a message; remember both in STATE
//   verify BASE STATE            log in again; every remembered message is there, and /
//                                serves the web client
//   stop   BASE STATE CONTAINER  `podman stop` with a gateway client connected and a
//                                message request half sent: the request is answered, the
//                                client gets close code 1001, the container ends within 10 s
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';

const [command, base, statePath, container] = process.argv.slice(2);
const GOING_AWAY = 1001;
const STOP_LIMIT_MS = 10_000;

function fail(message) {
  console.error(`container check failed: ${message}`);
  process.exit(1);
}

async function api(method, path, { token, body } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) fail(`${method} ${path} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

async function signIn(state) {
  const login = await api('POST', '/api/auth/login', {
    body: { email: state.email, password: state.password },
  });
  const tokens = await api('POST', '/api/auth/refresh', { body: { refresh_token: login.refresh_token } });
  return tokens.access_token;
}

async function generalChannel(token) {
  const channels = await api('GET', '/api/channels', { token });
  const general = channels.find((channel) => channel.name === 'general');
  if (!general) fail(`no #general among ${JSON.stringify(channels)}`);
  return general.id;
}

async function post(token, channel, body) {
  const nonce = `container-${Date.now()}-${Math.random()}`;
  const message = await api('POST', `/api/channels/${channel}/messages`, { token, body: { body, nonce } });
  return message.id;
}

async function seed() {
  const suffix = `${process.pid}${Date.now() % 100000}`;
  const state = {
    email: `container${suffix}@example.test`,
    username: `container${suffix}`,
    password: 'a container test password',
    messages: [],
  };
  await api('POST', '/api/auth/register', {
    body: { email: state.email, username: state.username, password: state.password },
  });
  const token = await signIn(state);
  state.channel = await generalChannel(token);
  state.messages.push(await post(token, state.channel, 'written before the restart'));
  writeFileSync(statePath, JSON.stringify(state));
  console.log(`    registered ${state.username}, posted message ${state.messages[0]}`);
}

async function verify() {
  const state = JSON.parse(readFileSync(statePath, 'utf8'));
  const token = await signIn(state);
  const history = await api('GET', `/api/channels/${state.channel}/messages?limit=100`, { token });
  const seen = new Set(history.map((m) => m.id));
  const missing = state.messages.filter((id) => !seen.has(id));
  if (missing.length > 0) fail(`messages ${missing.join(', ')} were acknowledged but are gone`);
  console.log(`    logged in again; all ${state.messages.length} acknowledged messages are there`);

  const page = await fetch(`${base}/`);
  const html = await page.text();
  const script = html.match(/<script[^>]+src="(\/assets\/[^"]+\.js)"/);
  if (!page.ok || !script) fail(`/ is not the web client (${page.status}): ${html.slice(0, 300)}`);
  const asset = await fetch(`${base}${script[1]}`);
  const type = asset.headers.get('content-type') ?? '';
  if (!asset.ok || !type.includes('javascript')) fail(`${script[1]} answered ${asset.status} ${type}`);
  console.log(`    / serves the web client (${script[1]})`);
}

/** A gateway client, identified; resolves with the socket once `ready` arrived. */
function gateway(token) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${base.replace(/^http/, 'ws')}/api/gateway`);
    const timer = setTimeout(() => reject(new Error('no ready within 10 s')), 10_000);
    socket.addEventListener('message', (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === 'hello') socket.send(JSON.stringify({ type: 'identify', token }));
      if (frame.type === 'ready') {
        clearTimeout(timer);
        resolve(socket);
      }
    });
    socket.addEventListener('error', () => reject(new Error('gateway socket error')));
  });
}

/** Opens a raw HTTP request posting a message and sends all but the end of its body. */
function halfSentMessage(token, channel, body) {
  const url = new URL(base);
  const json = JSON.stringify({ body, nonce: `in-flight-${Date.now()}` });
  const half = Math.floor(json.length / 2);
  const socket = net.connect(Number(url.port), url.hostname);
  let response = '';
  const answered = new Promise((resolve, reject) => {
    socket.on('data', (chunk) => (response += chunk));
    socket.on('end', () => resolve(response));
    socket.on('error', reject);
  });
  socket.write(
    `POST /api/channels/${channel}/messages HTTP/1.1\r\nHost: ${url.host}\r\n` +
      `Authorization: Bearer ${token}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json.slice(0, half)}`,
  );
  return { finish: () => socket.write(json.slice(half)), answered };
}

async function stop() {
  const state = JSON.parse(readFileSync(statePath, 'utf8'));
  const token = await signIn(state);
  const socket = await gateway(token);
  const closed = new Promise((resolve) => socket.addEventListener('close', resolve));
  state.messages.push(await post(token, state.channel, 'acknowledged before the stop'));
  const request = halfSentMessage(token, state.channel, 'under way during the stop');
  // Let the server read the request head; its handler then waits for the body.
  await new Promise((resolve) => setTimeout(resolve, 300));

  const started = Date.now();
  const stopping = spawn('podman', ['stop', '-t', '10', container], { stdio: ['ignore', 'ignore', 'pipe'] });
  // Shown only on failure: podman also prints harmless errors about systemd timers here.
  let stopErrors = '';
  stopping.stderr.on('data', (chunk) => (stopErrors += chunk));
  const stopped = new Promise((resolve) => stopping.on('exit', (code) => resolve(code)));
  const close = await Promise.race([
    closed,
    new Promise((resolve) => setTimeout(() => resolve(null), STOP_LIMIT_MS)),
  ]);
  if (!close) fail('the gateway socket got no close frame within 10 s of SIGTERM');
  if (close.code !== GOING_AWAY) fail(`close code ${close.code} (${close.reason}), not 1001`);
  console.log(`    gateway client closed with ${close.code} "${close.reason}"`);

  request.finish();
  const response = await request.answered;
  const status = Number(response.split(' ')[1]);
  if (!(status >= 200 && status < 300)) fail(`the request under way was not answered: ${response}`);
  const message = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
  state.messages.push(message.id);
  console.log(`    the request under way was answered ${status} (message ${message.id})`);

  const code = await stopped;
  const took = Date.now() - started;
  if (code !== 0) fail(`podman stop exited with ${code}: ${stopErrors}`);
  if (took >= STOP_LIMIT_MS) fail(`stopping took ${took} ms`);
  const exit = await new Promise((resolve) => {
    const inspect = spawn('podman', ['inspect', '-f', '{{.State.ExitCode}}', container]);
    let out = '';
    inspect.stdout.on('data', (chunk) => (out += chunk));
    inspect.on('exit', () => resolve(out.trim()));
  });
  // 137 would mean podman gave up waiting and killed it.
  if (exit !== '0') fail(`the server exited with ${exit} on SIGTERM, not 0`);
  console.log(`    stopped in ${took} ms, exit code 0`);
  writeFileSync(statePath, JSON.stringify(state));
}

const commands = { seed, verify, stop };
if (!commands[command]) fail(`usage: container_check.mjs seed|verify|stop BASE STATE [CONTAINER]`);
await commands[command]();
// fetch's idle connections to a server that just stopped hold the event loop open for
// seconds after the work is done.
process.exit(0);
