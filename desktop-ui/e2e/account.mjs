// End-to-end steps for the account lifecycle and moderation from the profile popover,
// run after moderation.mjs (while anyone may register): a user downloads their data and
// deletes their account, and the others then see their message by "Deleted user"; an
// admin times a user out from the popover on that user's message and lifts it again.
// Run alone (E2E_ONLY=account), the first account it registers is the server's admin.

import { readFileSync } from 'node:fs';

import {
  PASSWORD,
  assert,
  openChannel,
  registerConfirmed,
  sendMessage as send,
  signedInPage,
} from './harness.mjs';

const WAIT = { timeout: 10_000 };
/** Pages that may download (the data export). */
const DOWNLOADS = { contextOptions: { acceptDownloads: true } };

/** The admin's page: the main suites' when they ran, else a first account's, made once
 * and kept for both steps (it lives until the browser closes). */
async function adminPage(browser, base, state) {
  if (state.a) return state.a;
  if (!state.accountAdmin) {
    state.accountAdmin = (await signedInPage(browser, base, await registerConfirmed(base, 'chief'), DOWNLOADS)).page;
  }
  return state.accountAdmin;
}

export const accountSuites = [
  [
    'account: a user exports their data and deletes their account; others see their message by "Deleted user"',
    async ({ base, browser, state }) => {
      const opened = [];
      try {
        const a = await adminPage(browser, base, state);
        const leaverEmail = await registerConfirmed(base, 'leaver');
        const leaver = await signedInPage(browser, base, leaverEmail, DOWNLOADS);
        opened.push(leaver.context);
        const l = leaver.page;
        await openChannel(l, 'general');
        await send(l, 'goodbye, all of you');
        await openChannel(a, 'general');
        const farewell = a.locator('article[data-message-id]', { hasText: 'goodbye, all of you' });
        await farewell.waitFor(WAIT);
        assert((await farewell.getAttribute('aria-label')) === 'Message from leaver', 'first shown by its author');

        await l.goto(`${base}/settings`);
        const card = l.getByTestId('account-card');
        const [download] = await Promise.all([
          l.waitForEvent('download', WAIT),
          card.getByRole('button', { name: 'Export my data' }).click(),
        ]);
        assert(download.suggestedFilename() === 'cromulent-export-leaver.json', `the file is named for the user, not ${download.suggestedFilename()}`);
        const archive = JSON.parse(readFileSync(await download.path(), 'utf8'));
        assert(archive.profile.email === leaverEmail.toLowerCase(), 'the archive holds the profile');
        assert(archive.messages.some((m) => m.body === 'goodbye, all of you'), 'and the messages the user wrote');

        await card.getByRole('button', { name: 'Delete my account…' }).click();
        const dialog = l.getByRole('dialog', { name: 'Delete my account' });
        await dialog.getByLabel('Your password').fill('not my password at all');
        await dialog.getByRole('button', { name: 'Delete my account' }).click();
        await dialog.getByRole('alert').waitFor(WAIT);
        await dialog.getByLabel('Your password').fill(PASSWORD);
        await dialog.getByRole('button', { name: 'Delete my account' }).click();
        await l.getByRole('heading', { name: 'Log in' }).waitFor(WAIT);
        await l.getByTestId('login-notice').getByText('Your account was deleted.').waitFor(WAIT);

        await a.locator('article[data-message-id][aria-label="Message from Deleted user"]', { hasText: 'goodbye, all of you' }).waitFor(WAIT);
        await l.getByLabel('Email').fill(leaverEmail);
        await l.getByLabel('Password').fill(PASSWORD);
        await l.getByRole('button', { name: 'Log in' }).click();
        await l.getByRole('alert').waitFor(WAIT);
      } finally {
        for (const context of opened) await context.close();
      }
    },
  ],
  [
    'account: an admin times a user out from the profile popover and lifts it',
    async ({ base, browser, state }) => {
      const opened = [];
      try {
        const a = await adminPage(browser, base, state);
        const rowdy = await signedInPage(browser, base, await registerConfirmed(base, 'rowdy'), DOWNLOADS);
        opened.push(rowdy.context);
        const r = rowdy.page;
        await openChannel(r, 'general');
        await send(r, 'rowdy says hello');
        await openChannel(a, 'general');
        const said = a.locator('article[data-message-id]', { hasText: 'rowdy says hello' });
        await said.waitFor(WAIT);
        await said.getByRole('button', { name: 'rowdy', exact: true }).click();
        const profile = a.getByRole('dialog', { name: 'Profile of rowdy' });
        await profile.getByRole('button', { name: 'Time out…' }).click();
        await profile.getByLabel('Time out for').selectOption({ label: '10 minutes' });
        await profile.getByLabel('Reason').fill('shouting');
        await profile.getByRole('button', { name: 'Time out', exact: true }).click();
        await profile.getByText('Timed out until').waitFor(WAIT);

        await send(r, 'still here');
        await r.getByTestId('pending-message').getByText('timed you out').waitFor(WAIT);

        await profile.getByRole('button', { name: 'Lift timeout' }).click();
        await profile.getByText('Timeout lifted.').waitFor(WAIT);
        await send(r, 'sorry about that');
        await a.locator('article[data-message-id]', { hasText: 'sorry about that' }).waitFor(WAIT);
      } finally {
        for (const context of opened) await context.close();
      }
    },
  ],
];
