import { describe, expect, it } from 'vitest';
import { BackendError } from '../src/backend/index';
import { WebBackend } from '../src/backend/web';
import { fakeFetch, location } from './fake-fetch';


describe('WebBackend', () => {
  it('logs in with the cookie session endpoint, same-origin credentials only', async () => {
    const f = fakeFetch({ user: { id: '1', username: 'a' } });
    const b = new WebBackend({ fetch: f.fetch, location });
    const me = await b.logIn({ email: 'a@example.com', password: 'pw' });
    expect(me.id).toBe('1');
    expect(f.calls[0].url).toBe('/api/auth/session');
    expect(f.calls[0].init.method).toBe('POST');
    expect(f.calls[0].init.credentials).toBe('same-origin');
    expect(JSON.parse(String(f.calls[0].init.body))).toEqual({ email: 'a@example.com', password: 'pw' });
  });

  it('turns error bodies into BackendError with the stable code', async () => {
    const f = fakeFetch({ code: 'invalid_credentials', message: 'wrong' }, 401);
    const b = new WebBackend({ fetch: f.fetch, location });
    const err = await b.logIn({ email: 'a', password: 'b' }).catch((e) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err.code).toBe('invalid_credentials');
    expect(err.status).toBe(401);
    expect(err.retryable).toBe(false);
  });

  it('reports an unreachable server as a retryable network error', async () => {
    const b = new WebBackend({ fetch: () => Promise.reject(new TypeError('failed')), location });
    const err = await b.listChannels().catch((e) => e);
    expect(err.code).toBe('network');
    expect(err.retryable).toBe(true);
  });

  it('answers null for me() without a session instead of throwing', async () => {
    const f = fakeFetch({ code: 'unauthorized', message: 'no' }, 401);
    expect(await new WebBackend({ fetch: f.fetch, location }).me()).toBeNull();
  });

  it('sends the nonce with a message and pages history with query parameters', async () => {
    const f = fakeFetch([]);
    const b = new WebBackend({ fetch: f.fetch, location });
    await b.sendMessage('7', { body: 'hi', nonce: 'n1' });
    expect(JSON.parse(String(f.calls[0].init.body))).toEqual({ body: 'hi', nonce: 'n1' });
    await b.listMessages('7', { before: '99', limit: 50 });
    expect(f.calls[1].url).toBe('/api/channels/7/messages?before=99&limit=50');
  });

  it('downloads the data export under the name the server gives it, and types its refusals', async () => {
    const fetch = async () =>
      new Response('{"messages":[]}', { status: 200, headers: { 'Content-Disposition': 'attachment; filename="cromulent-export-ann.json"' } });
    const file = await new WebBackend({ fetch, location }).exportData();
    expect(file.filename).toBe('cromulent-export-ann.json');
    expect(await file.blob.text()).toBe('{"messages":[]}');
    const limited = fakeFetch({ code: 'rate_limited', message: 'later' }, 429);
    const err = await new WebBackend({ fetch: limited.fetch, location }).exportData().catch((e) => e);
    expect([err.status, err.code]).toEqual([429, 'rate_limited']);
  });

  it('deletes the account with the password in the body', async () => {
    const f = fakeFetch({ user_id: '1', deleted_messages: 0 });
    await new WebBackend({ fetch: f.fetch, location }).deleteAccount({ password: 'pw', delete_messages: true });
    expect([f.calls[0].url, f.calls[0].init.method]).toEqual(['/api/users/me', 'DELETE']);
    expect(JSON.parse(String(f.calls[0].init.body))).toEqual({ password: 'pw', delete_messages: true });
  });

  it('accepts empty 204 bodies', async () => {
    const f = fakeFetch(undefined, 204);
    await expect(new WebBackend({ fetch: f.fetch, location }).deleteMessage('5')).resolves.toBeUndefined();
    expect(f.calls[0].init.method).toBe('DELETE');
  });

  it('builds the gateway URL from the page origin', () => {
    expect(new WebBackend({ location }).gatewayUrl()).toBe('wss://chat.example/api/gateway');
    expect(new WebBackend({ location: { protocol: 'http:', host: 'localhost:4000' } }).gatewayUrl()).toBe('ws://localhost:4000/api/gateway');
    expect(new WebBackend({ serverUrl: 'https://other.example/', location }).gatewayUrl()).toBe('wss://other.example/api/gateway');
  });
});
