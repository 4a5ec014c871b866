// The message search behind the search box: what was typed, the hits, and the panel
// that shows them. One search for the whole app, so the results stay while the user
// jumps from channel to channel through them.

import type { Backend } from '../backend/index';
import type { SearchHit } from '../generated/SearchHit';
import { SEARCH_RESULTS_DEFAULT } from '../generated/constants';
import { parseSearch, type Named } from '../lib/search-query';
import { describeError } from './app.svelte';
import type { ChatState } from './chat.svelte';

export class SearchState {
  /** The text the results are for. */
  text = $state('');
  open = $state(false);
  hits = $state<SearchHit[] | null>(null);
  error = $state('');
  loading = $state(false);
  /** Answers to older searches arriving late are dropped. */
  private seq = 0;

  constructor(
    private readonly backend: Backend,
    private readonly chat: ChatState,
  ) {}

  async run(text: string): Promise<void> {
    const seq = ++this.seq;
    this.text = text;
    this.open = true;
    this.error = '';
    this.hits = null;
    const parsed = parseSearch(text, this.people(), this.places());
    if (!parsed.ok) {
      this.error = parsed.error;
      return;
    }
    this.loading = true;
    try {
      const hits = await this.backend.searchMessages({ ...parsed.query, limit: SEARCH_RESULTS_DEFAULT });
      if (seq === this.seq) this.hits = hits;
    } catch (e) {
      if (seq === this.seq) this.error = describeError(e);
    } finally {
      if (seq === this.seq) this.loading = false;
    }
  }

  close(): void {
    this.seq++;
    this.open = false;
    this.loading = false;
  }

  /** Users by username and by display name, for `from:`. */
  private people(): Named[] {
    return Object.values(this.chat.users).flatMap((u) => [
      { id: u.id, name: u.username },
      ...(u.display_name ? [{ id: u.id, name: u.display_name }] : []),
    ]);
  }

  /** Channels by name, for `in:`; direct messages have none to type. */
  private places(): Named[] {
    return this.chat.channels.filter((c) => c.kind !== 'dm').map((c) => ({ id: c.id, name: c.name }));
  }
}
