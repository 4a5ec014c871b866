import { describe, expect, it } from 'vitest';
import { needsServerAddress, saveServerAddress, serverOrigin } from '../src/lib/server-address';
// The rule's answers, shared with the desktop app's Rust tests (`ServerOrigin::from_typed`).
import vectors from '../../desktop/core/src/api/server_address_vectors.json';

describe('server address', () => {
  it('is asked for only when the UI was not served over http(s)', () => {
    expect(needsServerAddress({ protocol: 'https:' })).toBe(false);
    expect(needsServerAddress({ protocol: 'tauri:' })).toBe(true);
  });

  it('is always asked for inside the app, even where its page is http (Windows)', () => {
    const app = { __TAURI_INTERNALS__: {} };
    expect(needsServerAddress({ protocol: 'http:' }, app)).toBe(true);
    expect(needsServerAddress({ protocol: 'https:' }, {})).toBe(false);
  });

  it('normalises to an origin and refuses other schemes', () => {
    expect(saveServerAddress('chat.example.org/some/path')).toBe('https://chat.example.org');
    expect(saveServerAddress('http://10.0.0.2:4000/')).toBe('http://10.0.0.2:4000');
    expect(saveServerAddress('javascript:alert(1)')).toBeNull();
  });

  it('follows the vectors the desktop app is tested with', () => {
    expect(vectors.length).toBeGreaterThan(10);
    for (const { typed, origin, why } of vectors) {
      expect(serverOrigin(typed), `${JSON.stringify(typed)}: ${why}`).toBe(origin);
    }
  });
});
