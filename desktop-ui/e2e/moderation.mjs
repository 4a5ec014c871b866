// End-to-end steps for moderation, run after suites.mjs and before invites.mjs (while
// anyone may register): the admin times a user out from the Admin screen, the user's
// message is refused with the reason, the admin bans them, their open page is signed
// out and their login refused, and the audit log shows both actions. Run alone
// (E2E_ONLY=moderation), the first account it registers is the server's admin.

import { PASSWORD, assert, registerConfirmed, signedInPage, until } from './harness.mjs';

const WAIT = { timeout: 10_000 };

export const moderationSuites = [
  [
    'moderation: an admin times a user out and bans them from the Admin screen; the audit log shows both',
    async ({ base, browser, state }) => {
      const opened = [];
      try {
        let a = state.a;
        if (!a) {
          const admin = await signedInPage(browser, base, await registerConfirmed(base, 'boss'));
          opened.push(admin.context);
          a = admin.page;
        }
        const trollEmail = await registerConfirmed(base, 'troll');
        const troll = await signedInPage(browser, base, trollEmail);
        opened.push(troll.context);
        const t = troll.page;

        await a.goto(`${base}/admin`);
        const picker = a.getByLabel('User', { exact: true });
        await picker.waitFor(WAIT);
        await until('troll to be offered', async () => (await picker.locator('option', { hasText: 'troll' }).count()) === 1);
        await picker.selectOption({ label: 'troll' });
        await a.getByLabel('Reason').fill('flooding');
        await a.getByLabel('Timeout').selectOption({ label: '10 minutes' });
        await a.getByRole('button', { name: 'Time out' }).click();
        await a.getByRole('list', { name: 'Timed out users' }).getByText('@troll').waitFor(WAIT);

        await t.locator('a[data-channel="general"]').click();
        const box = t.getByTestId('composer');
        await box.fill('let me spam');
        await box.press('Enter');
        await t.getByTestId('pending-message').getByText('timed you out').waitFor(WAIT);

        a.once('dialog', (d) => d.accept());
        await picker.selectOption({ label: 'troll' });
        await a.getByRole('button', { name: 'Ban' }).click();
        await a.getByRole('list', { name: 'Banned users' }).getByText('@troll').waitFor(WAIT);
        await t.getByRole('heading', { name: 'Log in' }).waitFor({ timeout: 15_000 });
        await t.getByLabel('Email').fill(trollEmail);
        await t.getByLabel('Password').fill(PASSWORD);
        await t.getByRole('button', { name: 'Log in' }).click();
        await t.getByText('This account is banned from this server.').waitFor(WAIT);

        await a.reload();
        const log = a.getByRole('list', { name: 'Audit log entries' });
        await log.locator('li', { hasText: 'banned @troll' }).waitFor(WAIT);
        const timedOut = log.locator('li', { hasText: 'timed out @troll' });
        await timedOut.waitFor(WAIT);
        assert((await timedOut.textContent()).includes('flooding'), 'the entry shows the reason given');
      } finally {
        for (const context of opened) await context.close();
      }
    },
  ],
];
