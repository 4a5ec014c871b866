import { describe, expect, it } from 'vitest';
import { render } from 'svelte/server';
import LinkPreviewCard from '../src/components/LinkPreviewCard.svelte';
import { WebBackend } from '../src/backend/web';
import { location } from './fake-fetch';
import { firstLink, hasContent, LinkPreviewMemo } from '../src/lib/link-preview';
import type { LinkPreview } from '../src/generated/LinkPreview';


const preview: LinkPreview = {
  url: 'https://example.com/a',
  title: '<img src=x onerror=alert(1)>',
  description: 'A <b>bold</b> claim',
  image_url: 'https://example.com/cover.png',
  site_name: 'Example',
};

describe('firstLink', () => {
  it('finds the first http(s) address and drops punctuation around it', () => {
    expect(firstLink('see https://example.com/a, then http://b.example')).toBe('https://example.com/a');
    expect(firstLink('(look: https://example.com/x)')).toBe('https://example.com/x');
    expect(firstLink('[docs](https://example.com/d)')).toBe('https://example.com/d');
    expect(firstLink('https://en.wikipedia.org/wiki/Foo_(bar)')).toBe('https://en.wikipedia.org/wiki/Foo_(bar)');
    expect(firstLink('end of sentence https://example.com/p.')).toBe('https://example.com/p');
  });

  it('ignores other schemes and text without links', () => {
    for (const body of ['no links here', 'javascript:alert(1)', 'ftp://example.com/f', 'mailto:a@b.c', 'http://']) {
      expect(firstLink(body), body).toBeNull();
    }
  });
});

describe('LinkPreviewMemo', () => {
  it('asks the backend once per address, and remembers failures as no preview', async () => {
    const asked: string[] = [];
    const memo = new LinkPreviewMemo({
      linkPreview: async ({ url }: { url: string }) => {
        asked.push(url);
        if (url.includes('bad')) throw new Error('refused');
        return { ...preview, url };
      },
    });
    const [a, b] = await Promise.all([memo.get('https://example.com/a'), memo.get('https://example.com/a')]);
    expect(a?.url).toBe('https://example.com/a');
    expect(b).toBe(a);
    expect(await memo.get('https://bad.example/')).toBeNull();
    expect(await memo.get('https://bad.example/')).toBeNull();
    expect(asked).toEqual(['https://example.com/a', 'https://bad.example/']);
  });

  it('treats an empty preview as nothing to show', () => {
    expect(hasContent({ url: 'https://e.x/', title: null, description: null, image_url: null, site_name: null })).toBe(false);
    expect(hasContent(preview)).toBe(true);
  });
});

describe('WebBackend.linkPreview', () => {
  it('sends the address as an encoded query parameter', async () => {
    const urls: string[] = [];
    const fetch = async (url: string) => {
      urls.push(url);
      return new Response(JSON.stringify(preview), { status: 200 });
    };
    const got = await new WebBackend({ fetch, location }).linkPreview({ url: 'https://example.com/a?b=1&c=2#d' });
    expect(got).toEqual(preview);
    expect(urls).toEqual(['/api/link_preview?url=https%3A%2F%2Fexample.com%2Fa%3Fb%3D1%26c%3D2%23d']);
  });
});

describe('LinkPreviewCard', () => {
  it('shows every field as text inside a link that opens without an opener', () => {
    const { body } = render(LinkPreviewCard, { props: { preview } });
    expect(body).toContain('href="https://example.com/a"');
    expect(body).toContain('target="_blank"');
    expect(body).toContain('rel="noopener noreferrer"');
    expect(body).toContain('&lt;img src=x onerror=alert(1)>');
    expect(body).not.toContain('<img src=x');
    expect(body).not.toContain('<b>');
    expect(body).toContain('src="https://example.com/cover.png"');
    expect(body).toContain('Example');
  });

  it('shows no thumbnail without an http(s) image', () => {
    const { body } = render(LinkPreviewCard, { props: { preview: { ...preview, image_url: 'javascript:alert(1)' } } });
    expect(body).not.toContain('<img');
    expect(render(LinkPreviewCard, { props: { preview: { ...preview, image_url: null } } }).body).not.toContain('<img');
  });
});
