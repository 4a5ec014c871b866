import { describe, expect, it } from 'vitest';
import { WebBackend } from '../src/backend/web';
import { parseRoute } from '../src/lib/router.svelte';
import { fakeFetch, location } from './fake-fetch';


describe('invite links', () => {
  it('route /invite/<code> to registration with the code, and a bare /invite to plain registration', () => {
    // The server's invite URL is `${PUBLIC_URL}/invite/<code>`: the code must survive intact.
    expect(parseRoute('/invite/Ab-9_x')).toEqual({ name: 'invite', code: 'Ab-9_x' });
    expect(parseRoute('/invite')).toEqual({ name: 'register' });
  });

  it('send the code with the registration', async () => {
    const f = fakeFetch({ user: null, confirmation_required: true }, 201);
    const b = new WebBackend({ fetch: f.fetch, location });
    await b.register({ email: 'a@example.com', username: 'a', password: 'pw-pw-pw-pw', invite_code: 'code' });
    expect(f.calls[0].url).toBe('/api/auth/register');
    expect(JSON.parse(String(f.calls[0].init.body)).invite_code).toBe('code');
  });

  it('create, list and revoke invites at the documented paths', async () => {
    const f = fakeFetch({});
    const b = new WebBackend({ fetch: f.fetch, location });
    await b.createInvite({ max_uses: 3, expires_in_secs: 3600 });
    await b.listInvites();
    await b.revokeInvite('42');
    await b.registrationInfo();
    const seen = f.calls.map((c) => `${c.init.method} ${c.url}`);
    expect(seen).toEqual(['POST /api/invites', 'GET /api/invites', 'DELETE /api/invites/42', 'GET /api/registration']);
    expect(JSON.parse(String(f.calls[0].init.body))).toEqual({ max_uses: 3, expires_in_secs: 3600 });
  });
});
