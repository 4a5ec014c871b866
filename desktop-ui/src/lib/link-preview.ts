// Link previews in messages: which link a message previews, and one request per link
// however many messages show it.

import type { Backend } from '../backend';
import type { LinkPreview } from '../generated/LinkPreview';

const URL_IN_TEXT = /\bhttps?:\/\/[^\s<>"'`]+/i;
/** Previews kept per page load; the server caches too, this only saves round trips. */
const MEMO_MAX = 500;

/** The first http(s) address in a message body, without trailing punctuation. */
export function firstLink(body: string): string | null {
  const match = URL_IN_TEXT.exec(body);
  if (!match) return null;
  let url = match[0].replace(/[.,;:!?*_~]+$/, '');
  // `(see https://x)` and Markdown's `[text](https://x)` end in a bracket that is not
  // part of the address unless the address opened one itself.
  while (/[)\]]$/.test(url) && !url.includes(url.endsWith(')') ? '(' : '[')) url = url.slice(0, -1);
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? url : null;
  } catch {
    return null;
  }
}

/** Whether a preview has anything worth a card. */
export function hasContent(p: LinkPreview): boolean {
  return Boolean(p.title || p.description || p.site_name || p.image_url);
}

/** Remembers previews (and failures, as null) by address, sharing requests in flight. */
export class LinkPreviewMemo {
  private readonly entries = new Map<string, Promise<LinkPreview | null>>();

  constructor(private readonly backend: Pick<Backend, 'linkPreview'>) {}

  get(url: string): Promise<LinkPreview | null> {
    let entry = this.entries.get(url);
    if (!entry) {
      // A page with no preview (refused, not HTML, unreachable) shows no card; it is not
      // asked about again until the page is reloaded.
      entry = this.backend.linkPreview({ url }).catch(() => null);
      if (this.entries.size >= MEMO_MAX) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
      this.entries.set(url, entry);
    }
    return entry;
  }
}
