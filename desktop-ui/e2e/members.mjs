// End-to-end steps for the members panel and the Admin screen's channel membership
// controls. Each step starts a server of its own (short heartbeats, so a closed browser
// goes offline within seconds) and registers its own users, so any of them runs alone
// with E2E_ONLY. The first user registered on each server is its admin.

import { apiUser, assert, onServerOfItsOwn, signedInPage, until } from './harness.mjs';

const WAIT = { timeout: 10_000 };

/** Runs steps on a server of their own, with a 1 s heartbeat: a session that ends goes offline
 * after 1.5 s detached instead of 45 s. */
const onOwnServer = (name, steps) => onServerOfItsOwn(name, { GATEWAY_HEARTBEAT_MS: '1000' }, steps);

async function api(base, method, path, token, body) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, body: await r.json().catch(() => null) };
}

function memberRow(page, username, presence) {
  return page.locator(`aside[aria-label="Members"] [data-member="${username}"][data-presence="${presence}"]`);
}

async function groupHeader(page, status) {
  const header = page.locator(`aside[aria-label="Members"] [data-presence-group="${status}"]`);
  return (await header.count()) ? header.textContent() : null;
}

export const memberSuites = [
  [
    'members panel: members grouped by presence, live as another user comes online, goes idle and goes offline; a click opens the profile; the toggle is remembered',
    async ({ browser }) => {
      await onOwnServer('members', async (server, contexts) => {
        const { base } = server;
        const ann = await apiUser(base, 'ann');
        const bob = await apiUser(base, 'bob');
        await apiUser(base, 'cara');
        const { page: a } = await signedInPage(browser, base, ann.email, { contexts });

        // Open by default; ann is online, the others never connected.
        await memberRow(a, 'ann', 'online').waitFor(WAIT);
        await memberRow(a, 'bob', 'offline').waitFor(WAIT);
        await memberRow(a, 'cara', 'offline').waitFor(WAIT);
        assert((await groupHeader(a, 'online')) === 'Online — 1', `one online: ${await groupHeader(a, 'online')}`);
        assert((await groupHeader(a, 'offline')) === 'Offline — 2', `two offline: ${await groupHeader(a, 'offline')}`);
        const annLabel = await a.locator('[data-member="ann"]').getAttribute('aria-label');
        assert(/admin/.test(annLabel), `the admin's role is shown: ${annLabel}`);
        await a.locator('[data-member="ann"] .role').waitFor(WAIT);

        // A group bob is in shows as a chip beside him, delivered live.
        const group = await api(base, 'POST', '/api/groups', ann.token, { name: 'devs', colour: '#336699', member_ids: [] });
        assert(group.status === 201 || group.status === 200, `group created: ${JSON.stringify(group)}`);
        const me = await api(base, 'GET', '/api/users/me', bob.token);
        await api(base, 'PATCH', `/api/groups/${group.body.id}`, ann.token, { member_ids: [me.body.id] });
        await a.locator('[data-member="bob"] .chip', { hasText: 'devs' }).waitFor(WAIT);

        // Bob comes online in a browser of his own: ann's panel moves him without a reload.
        const { context: bobContext, page: b } = await signedInPage(browser, base, bob.email, { contexts });
        await memberRow(a, 'bob', 'online').waitFor(WAIT);
        assert((await groupHeader(a, 'online')) === 'Online — 2', `two online: ${await groupHeader(a, 'online')}`);
        await memberRow(b, 'ann', 'online').waitFor(WAIT);

        // Bob's app reports him away (as it does when his tab is hidden).
        await b.evaluate(() => window.cromulent.setPresence('idle'));
        await memberRow(a, 'bob', 'idle').waitFor(WAIT);
        assert((await groupHeader(a, 'idle')) === 'Idle — 1', `bob idle: ${await groupHeader(a, 'idle')}`);

        // Bob closes his browser: offline once his session has been gone for 1.5 heartbeats.
        await bobContext.close();
        await memberRow(a, 'bob', 'offline').waitFor({ timeout: 15_000 });
        assert((await groupHeader(a, 'idle')) === null, 'nobody idle any more: the group is gone');
        assert((await groupHeader(a, 'offline')) === 'Offline — 2', `bob and cara offline: ${await groupHeader(a, 'offline')}`);

        // A click on a member opens the profile popover.
        await a.locator('[data-member="cara"]').click();
        const profile = a.getByRole('dialog', { name: 'Profile of cara' });
        await profile.waitFor(WAIT);
        assert(/offline/i.test(await profile.textContent()), 'the profile shows the presence');
        await profile.getByRole('button', { name: 'Close' }).click();

        // The toggle hides the panel, and the choice survives a reload.
        const toggle = a.getByRole('button', { name: 'Members', exact: true });
        assert((await toggle.getAttribute('aria-pressed')) === 'true', 'the toggle shows the panel is open');
        await toggle.click();
        await a.locator('aside[aria-label="Members"]').waitFor({ state: 'detached', timeout: 5000 });
        await a.reload();
        await a.getByRole('heading', { name: '#general', exact: true }).waitFor(WAIT);
        await a.waitForTimeout(500);
        assert((await a.locator('aside[aria-label="Members"]').count()) === 0, 'a closed panel stays closed after a reload');
        await a.getByRole('button', { name: 'Members', exact: true }).click();
        await memberRow(a, 'ann', 'online').waitFor(WAIT);
        await a.reload();
        await memberRow(a, 'ann', 'online').waitFor(WAIT);
      });
    },
  ],
  [
    'members panel: a 10,000-member channel puts only a window of rows in the page',
    async ({ browser }) => {
      await onOwnServer('members-10k', async (server, contexts) => {
        const { base } = server;
        const ann = await apiUser(base, 'ann');
        const { page: a } = await signedInPage(browser, base, ann.email, { contexts });
        await memberRow(a, 'ann', 'online').waitFor(WAIT);
        // Ten thousand members (made up in the page's state: registering them would take
        // the server's password hashing an hour), every third one online.
        await a.evaluate(() => {
          const chat = window.cromulent.chat;
          const general = chat.channels.find((c) => c.name === 'general').id;
          const ids = [];
          for (let i = 0; i < 10_000; i++) {
            const id = String(9_000_000_000 + i);
            ids.push(id);
            chat.users[id] = { id, username: `m${String(i).padStart(5, '0')}`, display_name: null, avatar_url: null, role: 'member', created_at: 0 };
            if (i % 3 === 0) chat.presences[id] = 'online';
          }
          chat.members = { ...chat.members, [general]: [...chat.members[general], ...ids] };
        });
        await a.locator('[data-member="m00000"]').waitFor(WAIT);
        const rows = () => a.locator('aside[aria-label="Members"] [data-member]').count();
        const atTop = await rows();
        assert(atTop > 5 && atTop < 60, `only the rows in view (and a few more) are rendered: ${atTop}`);
        const scroller = a.getByTestId('members-scroller');
        const height = await scroller.evaluate((e) => e.scrollHeight);
        // 10,001 members and two headers (nobody idle), 40 px each: the scrollbar is honest.
        assert(height === 10_003 * 40, `the list is as tall as all its rows: ${height}`);

        // Scrolled to the bottom: the last offline member is there, still only a window.
        await scroller.evaluate((e) => (e.scrollTop = e.scrollHeight));
        await a.locator('[data-member="m09998"]').waitFor(WAIT);
        const atBottom = await rows();
        assert(atBottom < 60, `still only a window of rows at the bottom: ${atBottom}`);

        // A presence change regroups the 10,000 at once.
        const took = await a.evaluate(async () => {
          const chat = window.cromulent.chat;
          const started = performance.now();
          chat.applyEvent({ seq: 0, type: 'presence_update', user_id: '9000009998', status: 'online' });
          await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
          return performance.now() - started;
        });
        await scroller.evaluate((e) => (e.scrollTop = 0));
        await a.locator('[data-presence-group="online"]').waitFor(WAIT);
        const online = await groupHeader(a, 'online');
        assert(online === `Online — ${3335 + 1}`, `one more online (3,334 made up, ann, m09998): ${online}`);
        assert(took < 1000, `regrouping 10,000 members took ${Math.round(took)} ms`);
      });
    },
  ],
  [
    'notification settings: a channel set to nothing or muted shows no badges and fills no inbox; the setting is kept by the server',
    async ({ browser }) => {
      await onOwnServer('members-notify', async (server, contexts) => {
        const { base } = server;
        const ann = await apiUser(base, 'ann');
        const bob = await apiUser(base, 'bob');
        const { page: b } = await signedInPage(browser, base, bob.email, { contexts });
        const channels = (await api(base, 'GET', '/api/channels', ann.token)).body;
        const general = channels.find((c) => c.name === 'general').id;
        const say = async (body) => {
          const sent = await api(base, 'POST', `/api/channels/${general}/messages`, ann.token, { body });
          assert(sent.status === 201, `ann's message is sent: ${JSON.stringify(sent)}`);
        };
        const link = b.locator('a[data-channel="general"]');

        // Bob wants nothing from #general, then reads #random.
        await b.getByLabel('Notifications for #general').selectOption('nothing');
        await until('the level saved', async () => (await api(base, 'GET', `/api/channels/${general}`, bob.token)).body.notification_level === 'nothing');
        await b.locator('a[data-channel="random"]').click();
        await b.getByRole('heading', { name: '#random', exact: true }).waitFor(WAIT);
        await say('@bob a question for you');
        await until('the message to reach bob', () => b.evaluate((id) => window.cromulent.chat.channel(id).unread_count === 1, general));
        assert((await link.getAttribute('class')).includes('unread'), 'the channel still shows it has something new');
        assert((await link.getByTestId('mention-badge').count()) === 0 && (await link.getByTestId('unread-badge').count()) === 0, 'but no badge');
        assert((await b.getByTestId('inbox-count').count()) === 0, 'and no inbox entry');

        // Back to mentions only: the next mention counts and reaches the inbox.
        await link.click();
        await b.getByLabel('Notifications for #general').selectOption('mentions');
        await until('the level saved', async () => (await api(base, 'GET', `/api/channels/${general}`, bob.token)).body.notification_level === 'mentions');
        await b.locator('a[data-channel="random"]').click();
        await say('@bob and another');
        await link.getByTestId('mention-badge').waitFor(WAIT);
        await b.getByTestId('inbox-count').waitFor(WAIT);

        // Muted for an hour: badges go, the channel dims, and a mention adds nothing.
        await link.click();
        await b.getByLabel('Mute #general').selectOption({ label: 'For 1 hour' });
        await b.getByTestId('muted-until').waitFor(WAIT);
        await b.locator('a[data-channel="random"]').click();
        await link.getByTestId('muted').waitFor(WAIT);
        const inboxBefore = await b.getByTestId('inbox-count').textContent();
        await say('@bob during the mute');
        await until('the message to reach bob', () => b.evaluate((id) => window.cromulent.chat.channel(id).unread_count === 1, general));
        assert((await link.getByTestId('mention-badge').count()) === 0, 'a muted channel shows no mention badge');
        assert((await b.getByTestId('inbox-count').textContent()) === inboxBefore, 'a muted mention adds nothing to the inbox');
        const stored = (await api(base, 'GET', `/api/channels/${general}`, bob.token)).body;
        assert(stored.muted_until > Date.now() + 3_500_000, `the server keeps the mute for an hour: ${stored.muted_until}`);

        // Kept across a reload (it lives on the server), and unmuted with one click.
        await b.reload();
        await link.getByTestId('muted').waitFor(WAIT);
        await link.click();
        await b.getByRole('button', { name: 'Unmute' }).click();
        await b.getByLabel('Mute #general').waitFor(WAIT);
        assert((await link.getByTestId('muted').count()) === 0, 'unmuted: no muted mark');
      });
    },
  ],
  [
    "admin screen: an admin toggles a channel's default flag and adds and removes a private channel's members",
    async ({ browser }) => {
      await onOwnServer('members-admin', async (server, contexts) => {
        const { base } = server;
        const ann = await apiUser(base, 'ann');
        const bob = await apiUser(base, 'bob');
        const news = await api(base, 'POST', '/api/channels', ann.token, { name: 'news', kind: 'text' });
        const staff = await api(base, 'POST', '/api/channels', ann.token, { name: 'staff', kind: 'text', is_private: true });
        assert(news.status === 201 && staff.status === 201, `channels made: ${news.status} ${staff.status}`);
        const { page: a } = await signedInPage(browser, base, ann.email, { contexts });
        await a.goto(`${base}/admin`);

        // Default: every user becomes a member of news.
        const newsDefault = a.getByLabel('Default channel news');
        await newsDefault.waitFor(WAIT);
        assert(!(await newsDefault.isChecked()), 'news starts as an ordinary channel');
        assert(await a.getByLabel('Default channel staff').isDisabled(), 'a private channel cannot be made default');
        await newsDefault.check();
        await until('news to be default for bob, with bob in it', async () => {
          const seen = await api(base, 'GET', `/api/channels/${news.body.id}`, bob.token);
          return seen.body.is_default && seen.body.is_member;
        });
        await newsDefault.uncheck();
        await until('news to be ordinary again', async () => !(await api(base, 'GET', `/api/channels/${news.body.id}`, bob.token)).body.is_default);

        // Members of the private channel: ann (its creator); bob is added, then removed.
        const staffPath = `/api/channels/${staff.body.id}`;
        assert((await api(base, 'GET', staffPath, bob.token)).status === 404, 'staff is hidden from bob');
        await a.getByRole('button', { name: 'Members of staff' }).click();
        const panel = a.getByRole('group', { name: 'Members of private channel staff' });
        await panel.locator('[data-channel-member="ann"]').waitFor(WAIT);
        await panel.getByLabel('Add a member to staff').selectOption({ label: 'bob' });
        await panel.getByRole('button', { name: 'Add', exact: true }).click();
        await panel.locator('[data-channel-member="bob"]').waitFor(WAIT);
        const asMember = await api(base, 'GET', staffPath, bob.token);
        assert(asMember.status === 200 && asMember.body.is_member, `bob now reads staff: ${JSON.stringify(asMember)}`);
        await panel.getByRole('button', { name: 'Remove bob from staff' }).click();
        await panel.locator('[data-channel-member="bob"]').waitFor({ state: 'detached', timeout: 10_000 });
        assert((await api(base, 'GET', staffPath, bob.token)).status === 404, 'removed, bob no longer sees staff');
      });
    },
  ],
];
