import { describe, expect, it } from 'vitest';
import { BackendError } from '../src/backend';
import { WebBackend } from '../src/backend/web';
import { fakeFetch, location } from './fake-fetch';

const dee = {
  id: '7', username: 'dee', display_name: null, avatar_url: null, role: 'member', created_at: 1,
  email: 'dee@example.test', email_confirmed: false, voice_mode: 'ptt', vad_threshold_db: -40,
};

describe('admin-created users', () => {
  it('post to /api/admin/users, leaving the password out when the user is to be mailed a link', async () => {
    const f = fakeFetch(dee, 201);
    const b = new WebBackend({ fetch: f.fetch, location });
    const made = await b.createUser({ email: 'dee@example.test', username: 'dee', role: 'member' });
    expect(`${f.calls[0].init.method} ${f.calls[0].url}`).toBe('POST /api/admin/users');
    // No password key at all: the server then mails a link instead of refusing an empty one.
    expect(JSON.parse(String(f.calls[0].init.body))).toEqual({ email: 'dee@example.test', username: 'dee', role: 'member' });
    expect(made.email).toBe('dee@example.test');
  });

  it('surface a taken address as a typed error the form can show', async () => {
    const f = fakeFetch({ code: 'email_taken', message: 'that email address is already registered', field: null }, 409);
    const b = new WebBackend({ fetch: f.fetch, location });
    const failure = await b.createUser({ email: 'dee@example.test', username: 'dee', role: 'admin', password: 'long enough pw' }).catch((e: unknown) => e);
    // The form shows describeError(e), which reads these fields.
    expect(failure).toBeInstanceOf(BackendError);
    expect((failure as BackendError).code).toBe('email_taken');
    expect((failure as BackendError).status).toBe(409);
  });
});
