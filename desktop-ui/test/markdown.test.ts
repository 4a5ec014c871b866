import { describe, expect, it } from 'vitest';
import { imageEmbeds, renderMarkdown } from '../src/lib/markdown';

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
    const html = renderMarkdown('hi @alice and @bob, @everyone', { selfNames: ['alice'] });
    expect(html).toContain('<span class="mention mention-self">@alice</span>');
    expect(html).toContain('<span class="mention">@bob</span>');
    expect(html).toContain('<span class="mention mention-self">@everyone</span>');
    expect(renderMarkdown('mail me at a@b.example')).not.toContain('mention');
  });
});

describe('imageEmbeds', () => {
  it('embeds bare https image URLs only', () => {
    expect(imageEmbeds('look https://example.com/cat.png and http://example.com/dog.png')).toEqual(['https://example.com/cat.png']);
    expect(imageEmbeds('https://example.com/page.html')).toEqual([]);
    expect(imageEmbeds('https://e.com/a.gif"onerror="x.gif')).toEqual([]);
  });
});
