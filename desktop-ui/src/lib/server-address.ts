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

/** Normalises and remembers an address; returns it, or null when it is not an http(s) URL. */
export function saveServerAddress(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(/^https?:\/\//i.test(raw.trim()) ? raw.trim() : `https://${raw.trim()}`);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  const origin = url.origin;
  globalThis.localStorage?.setItem(KEY, origin);
  return origin;
}
