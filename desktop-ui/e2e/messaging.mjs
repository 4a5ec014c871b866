// End-to-end steps for replies, reactions and pins between two browsers of their own:
// one answers the other's question and the asker jumps from the reply to the original
// (scrolled out of the loaded history, so it is fetched `around`); a reaction chosen
// in the emoji picker shows its count at the other; the author pins their message and
// the other sees it in the pins panel.

import {
  assert,
  messageItem as message,
  openChannel,
  registerConfirmed,
  sendMessage as send,
  signedInPage,
  until,
} from './harness.mjs';

/** A page signed in as `email`, showing #general. */
async function atGeneral(browser, base, email) {
  const signedIn = await signedInPage(browser, base, email);
  await openChannel(signedIn.page, 'general');
  return signedIn;
}

const WAIT = { timeout: 10_000 };

/** Posts through the API with the page's own login, faster than typing each one. */
async function postMany(page, channelId, bodies) {
  await page.evaluate(
    async ({ channelId, bodies }) => {
      for (const body of bodies) {
        const r = await fetch(`/api/channels/${channelId}/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ body }),
        });
        if (!r.ok) throw new Error(`posting ${body}: ${r.status}`);
      }
    },
    { channelId, bodies },
  );
}

export const messagingSuites = [
  [
    'messaging: reply and jump to the original, react through the picker, pin and see it in the pins panel',
    async ({ base, browser, shots }) => {
      const opened = [];
      const pages = [];
      try {
        const stamp = Date.now();
        const asker = await atGeneral(browser, base, await registerConfirmed(base, `asker${stamp % 100000}`));
        opened.push(asker.context);
        const helper = await atGeneral(browser, base, await registerConfirmed(base, `helper${stamp % 100000}`));
        opened.push(helper.context);
        const a = asker.page;
        const h = helper.page;
        pages.push(a, h);

        const question = `where is the release checklist? ${stamp}`;
        await send(a, question);
        const original = message(h, question);
        await original.waitFor(WAIT);
        const originalId = await original.getAttribute('data-message-id');

        // Reply through the UI: the bar names the author; cancel works; then send.
        await original.hover();
        await original.getByRole('button', { name: 'Reply' }).click();
        const bar = h.getByRole('group', { name: 'Replying' });
        await bar.waitFor(WAIT);
        assert((await bar.textContent()).includes('asker'), 'the reply bar names whom it answers');
        await bar.getByRole('button', { name: 'Cancel reply' }).click();
        await bar.waitFor({ state: 'detached', ...WAIT });
        await original.hover();
        await original.getByRole('button', { name: 'Reply' }).click();
        await bar.getByLabel('Mention').waitFor(WAIT);
        assert(await bar.getByLabel('Mention').isChecked(), 'a reply notifies its author unless unticked');
        await send(h, `on it ${stamp}`);
        const firstReply = message(a, `on it ${stamp}`);
        await firstReply.waitFor(WAIT);
        assert((await firstReply.getByTestId('reply-reference').textContent()).includes(question), 'the reply shows what it answers');

        // Push the question out of the history a fresh page loads (50 messages), then
        // answer it again the way another client (the CLI) would.
        const channelId = await a.evaluate(
          async () => (await (await fetch('/api/channels')).json()).find((c) => c.name === 'general').id,
        );
        await postMany(h, channelId, Array.from({ length: 60 }, (_, i) => `filler ${i} ${stamp}`));
        await h.evaluate(
          async ({ channelId, originalId, stamp }) => {
            const r = await fetch(`/api/channels/${channelId}/messages`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ body: `it is in docs/RELEASE.md ${stamp}`, reply_to: originalId }),
            });
            if (!r.ok) throw new Error(`reply ${r.status}`);
          },
          { channelId, originalId, stamp },
        );
        await a.reload();
        await a.locator('a[data-channel="general"]').click();
        const answer = message(a, `it is in docs/RELEASE.md ${stamp}`);
        await answer.waitFor(WAIT);
        // By id: the replies' references quote the question too.
        const jumped = a.locator(`article[data-message-id="${originalId}"]`);
        assert((await jumped.count()) === 0, 'the question is outside the loaded history');
        await answer.getByTestId('reply-reference').click();
        await jumped.waitFor(WAIT);
        await until('the original to be highlighted', async () => (await jumped.getAttribute('class')).includes('highlighted'));
        assert(await jumped.isVisible(), 'the original is scrolled into view');

        // React through the picker; the helper sees the count.
        await answer.scrollIntoViewIfNeeded();
        await answer.hover();
        await answer.getByRole('button', { name: 'Add reaction' }).click();
        const picker = a.getByTestId('emoji-picker');
        await picker.locator('input.search').fill('thumbs up');
        await picker.getByRole('option', { name: /thumbs up/i }).first().click();
        const chipAtHelper = message(h, `it is in docs/RELEASE.md ${stamp}`).getByRole('button', { name: '👍 1' });
        await chipAtHelper.waitFor(WAIT);
        await chipAtHelper.click();
        await message(a, `it is in docs/RELEASE.md ${stamp}`).getByRole('button', { name: '👍 2' }).waitFor(WAIT);

        // The helper pins their own answer; the asker sees it in the pins panel.
        const own = message(h, `it is in docs/RELEASE.md ${stamp}`);
        await own.hover();
        await own.getByRole('button', { name: 'Pin message' }).click();
        await a.getByRole('button', { name: 'Pins' }).click();
        const panel = a.getByRole('complementary', { name: 'Pinned messages' });
        await panel.getByText(`it is in docs/RELEASE.md ${stamp}`).waitFor(WAIT);
        await own.hover();
        await own.getByRole('button', { name: 'Unpin message' }).waitFor(WAIT);
      } catch (e) {
        // What each person saw when it failed, next to the run's other screenshots.
        for (const [i, page] of pages.entries()) {
          await page.screenshot({ path: `${shots}/messaging-failure-${i}.png` }).catch(() => undefined);
        }
        throw e;
      } finally {
        for (const context of opened) await context.close();
      }
    },
  ],
];
