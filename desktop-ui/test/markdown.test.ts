import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { imageEmbeds, renderMarkdown } from '../src/lib/markdown';

/** The cases the server's mention parser runs too (server/src/mention.rs). */
const mentionVectors: { cases: { source: string; names: string[]; here: boolean; everyone: boolean; why: string }[] } = JSON.parse(
  readFileSync(new URL('../../shared-protocol/tests/vectors/mentions.json', import.meta.url), 'utf8'),
);

describe('renderMarkdown', () => {
  it('shows raw HTML as text, so <script> never becomes an element', () => {
    const html = renderMarkdown('<script>alert(1)</script>');
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;script&gt;');
  });

  it('keeps event-handler attributes inert', () => {
    const html = renderMarkdown('<img src=x onerror="alert(1)"> and <a href="#" onclick="x()">a</a>');
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/<a [^>]*onclick/i);
    expect(html).toContain('&lt;img');
  });

  it('renders javascript:, data: and vbscript: links as plain text', () => {
    for (const url of ['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,<b>x</b>', 'vbscript:msgbox(1)', ' javascript:alert(1)']) {
      const html = renderMarkdown(`[click](${url})`);
      expect(html, url).not.toMatch(/href=/i);
    }
    expect(renderMarkdown('<javascript:alert(1)>')).not.toMatch(/href=/i);
  });

  it('makes safe links open in a new tab without an opener', () => {
    const html = renderMarkdown('[docs](https://example.com/a?b=1)');
    expect(html).toContain('href="https://example.com/a?b=1"');
    expect(html).toContain('rel="noopener noreferrer nofollow ugc"');
    expect(html).toContain('target="_blank"');
  });

  it('turns Markdown images into links instead of loading them', () => {
    const html = renderMarkdown('![alt](https://example.com/x.png)');
    expect(html).not.toMatch(/<img/);
    expect(html).toContain('href="https://example.com/x.png"');
    expect(renderMarkdown('![alt](javascript:alert(1))')).not.toMatch(/href=/);
  });

  it('highlights fenced code and escapes it', () => {
    const html = renderMarkdown('```rust\nfn main() { let x = "<b>"; }\n```');
    expect(html).toContain('hljs-keyword');
    expect(html).not.toContain('<b>');
    expect(renderMarkdown('```\n<i>x</i>\n```')).toContain('&lt;i&gt;');
  });

  it('highlights mentions, and the reader’s own more strongly', () => {
    const mentions = (name: string) => (name === 'alice' || name === 'everyone' ? 'self' : name === 'bob' ? 'other' : null);
    const html = renderMarkdown('hi @alice and @bob, @everyone', { mentions });
    expect(html).toContain('<span class="mention mention-self">@alice</span>');
    expect(html).toContain('<span class="mention">@bob</span>');
    expect(html).toContain('<span class="mention mention-self">@everyone</span>');
    expect(renderMarkdown('mail me at a@b.example', { mentions: () => 'other' })).not.toContain('mention');
  });

  it('highlights only what the server resolved: an unknown @name stays text', () => {
    const html = renderMarkdown('@nobody and @here', { mentions: () => null });
    expect(html).not.toContain('mention');
    expect(html).toContain('@nobody and @here');
  });

  it('finds mentions where the server does (shared vectors)', () => {
    for (const c of mentionVectors.cases) {
      const html = renderMarkdown(c.source, { mentions: () => 'other' });
      const found = [...html.matchAll(/<span class="mention">@([^<]*)<\/span>/g)].map((m) => m[1].toLowerCase());
      const names = [...new Set(found.filter((n) => n !== 'here' && n !== 'everyone'))];
      expect({ names, here: found.includes('here'), everyone: found.includes('everyone') }, `${JSON.stringify(c.source)}: ${c.why}`).toEqual({
        names: c.names,
        here: c.here,
        everyone: c.everyone,
      });
    }
  });
});

describe('imageEmbeds', () => {
  it('embeds bare https image URLs only', () => {
    expect(imageEmbeds('look https://example.com/cat.png and http://example.com/dog.png')).toEqual(['https://example.com/cat.png']);
    expect(imageEmbeds('https://example.com/page.html')).toEqual([]);
    expect(imageEmbeds('https://e.com/a.gif"onerror="x.gif')).toEqual([]);
  });
});
