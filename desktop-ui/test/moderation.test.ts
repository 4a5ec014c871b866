import { describe, expect, it } from 'vitest';
import { BackendError } from '../src/backend';
import { WebBackend } from '../src/backend/web';
import { describeError } from '../src/stores/app.svelte';
import { fakeFetch, location } from './fake-fetch';

describe('moderation', () => {
  it('times out, bans and lifts through the admin user paths', async () => {
    const f = fakeFetch({ user_id: '7', ends_at: 2, reason: 'spam', created_by: '1', created_at: 1 });
    const b = new WebBackend({ fetch: f.fetch, location });
    await b.timeoutUser('7', { duration_secs: 600, reason: 'spam' });
    await b.banUser('7', { delete_messages_hours: 24 });
    await b.liftTimeout('7');
    await b.unbanUser('7');
    expect(f.calls.map((c) => `${c.init.method} ${c.url}`)).toEqual([
      'POST /api/admin/users/7/timeout',
      'POST /api/admin/users/7/ban',
      'DELETE /api/admin/users/7/timeout',
      'DELETE /api/admin/users/7/ban',
    ]);
    expect(JSON.parse(String(f.calls[0].init.body))).toEqual({ duration_secs: 600, reason: 'spam' });
  });

  it('pages the audit log back with before', async () => {
    const f = fakeFetch([]);
    const b = new WebBackend({ fetch: f.fetch, location });
    await b.auditLog();
    await b.auditLog({ before: '42', limit: 50 });
    expect(f.calls.map((c) => c.url)).toEqual(['/api/admin/audit_log', '/api/admin/audit_log?before=42&limit=50']);
  });

  it('tells a timed-out user why their message was refused', async () => {
    const f = fakeFetch({ code: 'timed_out', message: 'you are timed out', retry_after_secs: 60 }, 403);
    const b = new WebBackend({ fetch: f.fetch, location });
    const failure = await b.sendMessage('3', { body: 'hi' }).catch((e: unknown) => e);
    expect((failure as BackendError).code).toBe('timed_out');
    expect(describeError(failure)).toMatch(/timed you out/);
  });
});
