// End-to-end steps for search: a user types an old word into the search box, sees the
// hit with the word marked, clicks it and lands on the message (far back in history,
// so it is fetched `around`); a `from:` filter narrows the hits to one author, and a
// private channel the searcher is not in never shows up.

import { apiUser, assert, messageItem as message, openChannel, post, signedInPage, until } from './harness.mjs';

const WAIT = { timeout: 10_000 };

/** Sends through the API as the user with `token`. */
async function postAs(base, token, channelId, body) {
  return post(`${base}/api/channels/${channelId}/messages`, { body }, token);
}

async function channelIdOf(base, token, name) {
  const r = await fetch(`${base}/api/channels`, { headers: { authorization: `Bearer ${token}` } });
  assert(r.ok, `listing channels: ${r.status}`);
  return (await r.json()).find((c) => c.name === name).id;
}

export const searchSuites = [
  [
    'search: find an old word, see it marked, jump to the message; from: narrows the hits',
    async ({ base, browser, shots }) => {
      const opened = [];
      let page;
      try {
        const stamp = Date.now() % 100000;
        const finder = await apiUser(base, `finder${stamp}`);
        const other = await apiUser(base, `other${stamp}`);
        const general = await channelIdOf(base, finder.token, 'general');
        const random = await channelIdOf(base, other.token, 'random');
        const word = `zanzibar${stamp}`;
        const old = `the offsite is in ${word} this year`;
        await postAs(base, finder.token, general, old);
        await postAs(base, other.token, random, `flights to ${word} are booked`);
        // Push the old message out of the page a fresh history loads.
        for (let i = 0; i < 60; i++) await postAs(base, other.token, general, `filler ${i} ${stamp}`);

        ({ page } = await signedInPage(browser, base, finder.email, { contexts: opened }));
        await openChannel(page, 'random');
        const box = page.getByRole('searchbox', { name: 'Search messages' });
        await box.fill(word);
        await box.press('Enter');
        const panel = page.getByRole('complementary', { name: 'Search results' });
        const hits = panel.locator('li[data-hit-id]');
        await until('both hits to show', async () => (await hits.count()) === 2);
        const mark = panel.locator('mark', { hasText: word });
        assert((await mark.count()) === 2, 'the word is marked in each snippet');
        assert(!(await panel.innerHTML()).includes('<b>the offsite'), 'snippets are text, not markup');

        const hit = panel.locator('li[data-hit-id]', { hasText: 'offsite' });
        const id = await hit.getAttribute('data-hit-id');
        await hit.getByRole('button').click();
        await page.getByRole('heading', { name: '#general', exact: true }).waitFor(WAIT);
        const target = page.locator(`article[data-message-id="${id}"]`);
        await target.waitFor(WAIT);
        await until('the message to be highlighted', async () => (await target.getAttribute('class')).includes('highlighted'));
        assert(await target.isVisible(), 'the message is scrolled into view');
        assert((await message(page, old).count()) === 1, 'the old message is in the history now');

        // from: narrows the hits to one author.
        await box.fill(`from:other${stamp} ${word}`);
        await box.press('Enter');
        await until('one hit to stay', async () => (await hits.count()) === 1);
        assert((await hits.first().textContent()).includes('flights'), 'only the other user’s message is left');
        // A filter naming nobody says so instead of searching everything.
        await box.fill(`from:nobody${stamp} ${word}`);
        await box.press('Enter');
        await panel.getByText(`No user called “nobody${stamp}”.`).waitFor(WAIT);
      } catch (e) {
        await page?.screenshot({ path: `${shots}/search-failure.png` }).catch(() => undefined);
        throw e;
      } finally {
        for (const context of opened) await context.close();
      }
    },
  ],
];
