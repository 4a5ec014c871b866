// End-to-end steps for invites, run after suites.mjs (they use its admin, alice, on
// page `state.a`): the admin makes registration invite-only and creates an invite in
// the Admin screen; a stranger is told registration needs an invite, then opens the
// link and joins; the admin sees the use counted and revokes the invite.

import { PASSWORD, assert, mailedLink, until } from './harness.mjs';

const WAIT = { timeout: 10_000 };

export const inviteSuites = [
  [
    'invite only: a stranger is told to get an invite, joins through the admin\'s invite link, and the admin revokes it',
    async ({ base, browser, state }) => {
      const a = state.a;
      await a.goto(`${base}/admin`);
      const mode = a.getByLabel('Who may register');
      await mode.waitFor(WAIT);
      await mode.selectOption('invite_only');
      await until('invite-only saved', async () => (await a.evaluate(() => window.cromulent.chat.flags)).registration === 'invite_only');
      await a.getByLabel('Uses').fill('1');
      const created = a.waitForResponse((r) => r.url().endsWith('/api/invites') && r.request().method() === 'POST');
      await a.getByRole('button', { name: 'Create invite link' }).click();
      const invite = await (await created).json();
      assert(invite.url === `${base}/invite/${invite.code}`, `the link points at this server's invite route: ${invite.url}`);
      const row = a.getByRole('list', { name: 'Invites' }).locator('li', { hasText: `${invite.code.slice(0, 6)}…` });
      await row.getByText('0/1 used').waitFor(WAIT);
      await row.getByRole('button', { name: 'Copy link' }).waitFor(WAIT);

      const dana = { email: `dana-${Date.now()}@example.com`, username: 'dana' };
      const ctx = await browser.newContext();
      ctx.setDefaultTimeout(10_000);
      const d = await ctx.newPage();
      try {
        await d.goto(`${base}/register`);
        await d.getByText('needs an invite').waitFor(WAIT);
        await d.goto(invite.url);
        await d.getByRole('heading', { name: `You're invited to ${new URL(base).host}` }).waitFor(WAIT);
        await d.getByLabel('Email').fill(dana.email);
        await d.getByLabel('Username').fill(dana.username);
        await d.getByLabel('Password').fill(PASSWORD);
        await d.getByRole('button', { name: 'Accept invite' }).click();
        const arrived = d.locator('a[data-channel="general"]');
        await arrived.or(d.getByText('Check your inbox')).first().waitFor(WAIT);
        if (!(await arrived.isVisible())) {
          // Earlier steps may have turned email confirmation on: confirm, then log in.
          await d.goto(await mailedLink(base, dana.email, 'confirm'));
          await d.getByRole('link', { name: 'Continue to log in' }).click();
          await d.getByLabel('Email').fill(dana.email);
          await d.getByLabel('Password').fill(PASSWORD);
          await d.getByRole('button', { name: 'Log in' }).click();
          await arrived.waitFor(WAIT);
        }
      } finally {
        await ctx.close();
      }

      await a.reload();
      await row.getByText('1/1 used').waitFor(WAIT);
      await row.getByRole('button', { name: 'Revoke' }).click();
      await row.getByText('revoked').waitFor(WAIT);
      await mode.selectOption('open');
      await until('open registration restored', async () => (await a.evaluate(() => window.cromulent.chat.flags)).registration === 'open');
    },
  ],
];
