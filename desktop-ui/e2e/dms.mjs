// End-to-end steps for direct messages, blocking and calls in a direct message. Each step
// starts a server of its own and registers its own users, so any of them runs alone with
// E2E_ONLY. The first user registered on each server is its admin.

import {
  apiUser,
  assert,
  messageItem as message,
  onServerOfItsOwn,
  sendMessage as send,
  signedInPage,
  until,
} from './harness.mjs';

const WAIT = { timeout: 10_000 };

/** Opens `username`'s profile from the members panel of the channel in view. */
async function profileOf(page, username) {
  await page.locator(`aside[aria-label="Members"] [data-member="${username}"]`).click();
  const profile = page.getByRole('dialog', { name: `Profile of ${username}` });
  await profile.waitFor(WAIT);
  return profile;
}

/** Ann and bob, registered on `base`, each signed in in a browser context of their own. */
async function annAndBob(browser, base, contexts) {
  const ann = await apiUser(base, 'ann');
  const bob = await apiUser(base, 'bob');
  const { page: a } = await signedInPage(browser, base, ann.email, { contexts });
  const { page: b } = await signedInPage(browser, base, bob.email, { contexts });
  return { a, b };
}

export const dmSuites = [
  [
    'direct messages: opened from the profile, listed with a badge for the other side who replies; blocking folds messages away and stops the conversation, unblocking from Settings',
    async ({ browser }) => {
      await onServerOfItsOwn('dms', {}, async (server, contexts) => {
        const { base } = server;
        const { a, b } = await annAndBob(browser, base, contexts);
        await b.locator('a[data-channel="random"]').click();
        await b.getByRole('heading', { name: '#random', exact: true }).waitFor(WAIT);

        // Ann opens the conversation from bob's profile and writes.
        await a.locator('a[data-channel="general"]').click();
        await (await profileOf(a, 'bob')).getByRole('button', { name: 'Message' }).click();
        await a.getByRole('heading', { name: 'bob', exact: true }).waitFor(WAIT);
        await send(a, 'hello bob, just you');
        await message(a, 'hello bob, just you').waitFor(WAIT);

        // Bob finds it under Direct messages with a badge, reads and replies.
        const dmLink = b.locator('a[data-dm="ann"]');
        await dmLink.locator('[data-testid="mention-badge"], [data-testid="unread-badge"]').first().waitFor(WAIT);
        assert((await b.getByRole('heading', { name: 'Direct messages' }).count()) === 1, 'the sidebar has a Direct messages section');
        await dmLink.click();
        await b.getByRole('heading', { name: 'ann', exact: true }).waitFor(WAIT);
        await message(b, 'hello bob, just you').waitFor(WAIT);
        await dmLink.locator('.badge').waitFor({ state: 'detached', timeout: 10_000 });
        await send(b, 'hi ann, got it');
        await message(a, 'hi ann, got it').waitFor(WAIT);
        // The same conversation, not a second one, when bob opens it from ann's profile.
        await b.locator('a[data-channel="general"]').click();
        await (await profileOf(b, 'ann')).getByRole('button', { name: 'Message' }).click();
        await message(b, 'hi ann, got it').waitFor(WAIT);
        assert((await b.locator('a[data-dm]').count()) === 1, 'one conversation with ann in the sidebar');
        // Nobody else sees it: an admin's list holds no one else's direct messages.
        const cara = await apiUser(base, 'cara');
        const theirs = await (await fetch(`${base}/api/dms`, { headers: { authorization: `Bearer ${cara.token}` } })).json();
        assert(Array.isArray(theirs) && theirs.length === 0, `cara takes part in none: ${JSON.stringify(theirs)}`);

        // Bob blocks ann from her profile: her messages elsewhere fold away.
        await b.locator('a[data-channel="general"]').click();
        await b.getByRole('heading', { name: '#general', exact: true }).waitFor(WAIT);
        await (await profileOf(b, 'ann')).getByRole('button', { name: 'Block' }).click();
        await b.getByRole('dialog', { name: 'Profile of ann' }).getByRole('button', { name: 'Unblock' }).waitFor(WAIT);
        await b.getByRole('dialog', { name: 'Profile of ann' }).getByRole('button', { name: 'Close' }).click();
        await a.locator('a[data-channel="general"]').click();
        await a.getByRole('heading', { name: '#general', exact: true }).waitFor(WAIT);
        await send(a, 'a word in general from ann');
        await message(a, 'a word in general from ann').waitFor(WAIT);
        const folded = b.locator('article[data-blocked]');
        await folded.first().waitFor(WAIT);
        assert((await message(b, 'a word in general from ann').count()) === 0, 'a blocked user\'s message is folded away');
        await folded.first().getByRole('button', { name: 'show' }).click();
        await message(b, 'a word in general from ann').waitFor(WAIT);

        // Neither writes into the conversation now, and each is told why.
        await a.locator('a[data-dm="bob"]').click();
        await send(a, 'are you still there?');
        await a.getByTestId('pending-message').getByText(/blocked one another/).waitFor(WAIT);
        await a.getByTestId('pending-message').getByRole('button', { name: 'Discard' }).click();
        await b.locator('a[data-dm="ann"]').click();
        await send(b, 'not talking');
        await b.getByTestId('pending-message').getByText(/blocked one another/).waitFor(WAIT);
        await b.getByTestId('pending-message').getByRole('button', { name: 'Discard' }).click();

        // Settings lists the block; unblocking there lets the conversation go on.
        await b.goto(`${base}/settings`);
        const row = b.locator('[data-blocked-user="ann"]');
        await row.waitFor(WAIT);
        await row.getByRole('button', { name: 'Unblock' }).click();
        await row.waitFor({ state: 'detached', timeout: 10_000 });
        const blocks = await b.evaluate(async () => (await fetch('/api/users/me/blocks')).json());
        assert(Array.isArray(blocks) && blocks.length === 0, `the server lifted the block: ${JSON.stringify(blocks)}`);
        await b.locator('a[data-dm="ann"]').click();
        await send(b, 'talking again');
        await message(a, 'talking again').waitFor(WAIT);
      });
    },
  ],
  [
    'direct messages: a call rings the other side, who declines once (the caller is told) and then accepts; both are in the room and hear each other',
    async ({ browser }) => {
      await onServerOfItsOwn('dm-calls', {}, async (server, contexts) => {
        const { base } = server;
        const { a, b } = await annAndBob(browser, base, contexts);
        await (await profileOf(a, 'bob')).getByRole('button', { name: 'Message' }).click();
        await a.getByRole('heading', { name: 'bob', exact: true }).waitFor(WAIT);

        // Ann calls; bob's client rings with an incoming-call card; he declines.
        await a.getByRole('button', { name: 'Call', exact: true }).click();
        await a.getByText('Voice connected').waitFor(WAIT);
        const card = b.locator('[data-incoming-call="ann"]');
        await card.waitFor(WAIT).catch(async (e) => {
          const seen = await b.evaluate(() => JSON.stringify({ ringing: window.cromulent.chat.ringing, rooms: window.cromulent.chat.voiceRooms, channels: window.cromulent.chat.channels.map((c) => [c.id, c.kind]) }));
          const seenA = await a.evaluate(() => JSON.stringify({ voice: window.cromulent.voice.channelId, rooms: window.cromulent.chat.voiceRooms }));
          throw new Error(`${e.message}; bob's page: ${seen}; ann's: ${seenA}`);
        });
        assert(/ann is calling/.test(await card.textContent()), 'the card says who calls');
        await card.getByRole('button', { name: 'Decline' }).click();
        await card.waitFor({ state: 'detached', timeout: 10_000 });
        await a.locator('[data-call-declined]', { hasText: 'bob declined the call' }).waitFor(WAIT);

        // Ann hangs up and calls again; this time bob accepts and lands in the call.
        await a.getByRole('button', { name: 'Hang up' }).click();
        await a.getByRole('button', { name: 'Call', exact: true }).waitFor(WAIT);
        await a.getByRole('button', { name: 'Call', exact: true }).click();
        await a.getByText('Voice connected').waitFor(WAIT);
        await card.waitFor(WAIT);
        await card.getByRole('button', { name: 'Accept' }).click();
        await b.getByText('Voice connected').waitFor(WAIT);
        await b.getByRole('heading', { name: 'ann', exact: true }).waitFor(WAIT);
        const dm = await a.evaluate(() => window.cromulent.voice.channelId);
        await until('both in the conversation\'s room', async () => {
          const rooms = await Promise.all([a, b].map((p) => p.evaluate(() => ({ channel: window.cromulent.voice.channelId, people: (window.cromulent.chat.voiceRooms[window.cromulent.voice.channelId] ?? []).length }))));
          return rooms.every((r) => r.channel === dm && r.people === 2);
        });
        // Connected peer to peer: while ann holds push-to-talk (F8), bob's page receives her
        // audio (the fake microphone's tone).
        await until('bob\'s page connected to ann', async () => (await b.evaluate(() => window.cromulent.voice.stats())).connected >= 1, 20_000);
        await a.locator('body').click({ position: { x: 700, y: 300 } });
        await a.keyboard.down('F8');
        try {
          await until('bob to receive audio from ann', async () => {
            const stats = await b.evaluate(() => window.cromulent.voice.stats());
            return Object.values(stats.peers).some((p) => p.packetsReceived > 40 && p.energy > 0);
          }, 20_000);
        } finally {
          await a.keyboard.up('F8');
        }
        await card.waitFor({ state: 'detached', timeout: 10_000 });
      });
    },
  ],
];
