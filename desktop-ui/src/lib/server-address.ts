// Which server the UI talks to. In a browser the UI comes from the server itself
// (same origin, no choice). Loaded any other way (the desktop webview, a file, a dev
// build with VITE_SERVER_PICKER=true) the user names the server, remembered here.

import { inTauri } from '../backend/index';

const KEY = 'cromulent.server';

// The app's own page is not the server even when its scheme is http: on Windows the
// webview serves it from http://tauri.localhost, so the protocol alone cannot tell.
export function needsServerAddress(loc: { protocol: string } = location, w: object = globalThis): boolean {
  return import.meta.env.VITE_SERVER_PICKER === 'true' || inTauri(w) || !/^https?:$/.test(loc.protocol);
}

export function savedServerAddress(): string {
  return needsServerAddress() ? (globalThis.localStorage?.getItem(KEY) ?? '') : '';
}

/**
 * What a person typed, reduced to the server's origin: `https://` unless `http://` or
 * `https://` is given, whatever follows the host dropped; any other scheme, user info
 * (`name@host`) or no host at all is refused (null). The desktop app's
 * `ServerOrigin::from_typed` applies the same rule to what it is handed, and both are
 * pinned to the same answers by `desktop/core/src/api/server_address_vectors.json`.
 */
export function serverOrigin(typed: string): string | null {
  const trimmed = typed.trim();
  const schemeEnd = trimmed.indexOf('://');
  if (schemeEnd >= 0 && !['http', 'https'].includes(trimmed.slice(0, schemeEnd).toLowerCase())) return null;
  let url: URL;
  try {
    url = new URL(schemeEnd >= 0 ? trimmed : `https://${trimmed}`);
  } catch {
    return null;
  }
  if (url.username || url.password || !url.hostname) return null;
  return url.origin;
}

/** Normalises and remembers an address; returns it, or null when it names no server. */
export function saveServerAddress(raw: string): string | null {
  const origin = serverOrigin(raw);
  if (origin) globalThis.localStorage?.setItem(KEY, origin);
  return origin;
}
