// Message Markdown → HTML that is safe to insert: raw HTML in the source is shown as
// text (markdown-it with `html: false` escapes it), link targets are checked against
// an allow-list of schemes, and every attribute we emit is built by us, so neither
// `<script>`, `javascript:` links nor `onerror=` attributes can reach the DOM.

import MarkdownIt from 'markdown-it';
import type StateInline from 'markdown-it/lib/rules_inline/state_inline.mjs';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import css from 'highlight.js/lib/languages/css';
import go from 'highlight.js/lib/languages/go';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import { mentionAt, type MentionTarget } from './mentions';

for (const [name, lang] of Object.entries({ bash, css, go, javascript, json, python, rust, sql, typescript, xml, yaml })) {
  hljs.registerLanguage(name, lang);
}
hljs.registerAliases(['sh', 'shell'], { languageName: 'bash' });
hljs.registerAliases(['js'], { languageName: 'javascript' });
hljs.registerAliases(['ts'], { languageName: 'typescript' });
hljs.registerAliases(['html', 'svg'], { languageName: 'xml' });
hljs.registerAliases(['rs'], { languageName: 'rust' });
hljs.registerAliases(['py'], { languageName: 'python' });

const SAFE_SCHEMES = /^(https?:|mailto:)/i;
const IMAGE_URL = /^https:\/\/[^\s<>"']+\.(png|jpe?g|gif|webp|avif)(\?[^\s<>"']*)?$/i;

export interface RenderOptions {
  /**
   * What an `@name` in this message stands for, by its lower-cased name (see
   * `mentionResolver`). Without one, no name is highlighted.
   */
  mentions?: (name: string) => MentionTarget;
}

const md: MarkdownIt = new MarkdownIt({
  html: false,
  linkify: true,
  breaks: true,
  typographer: false,
  highlight(code, lang) {
    const language = lang && hljs.getLanguage(lang) ? lang : null;
    if (!language) return ''; // markdown-it escapes it
    return hljs.highlight(code, { language, ignoreIllegals: true }).value;
  },
});

// Only http(s) and mailto links; everything else (javascript:, data:, vbscript:,
// relative paths that could hit our own API) renders as plain text.
md.validateLink = (url: string) => SAFE_SCHEMES.test(url.trim());

md.renderer.rules.link_open = (tokens, idx, options, _env, self) => {
  const token = tokens[idx];
  token.attrSet('target', '_blank');
  token.attrSet('rel', 'noopener noreferrer nofollow ugc');
  return self.renderToken(tokens, idx, options);
};

// Markdown image syntax shows as a link: embeds come only from bare image URLs, below.
md.renderer.rules.image = (tokens, idx) => {
  const token = tokens[idx];
  const src = token.attrGet('src') ?? '';
  const alt = md.utils.escapeHtml(token.content || src);
  if (!SAFE_SCHEMES.test(src)) return alt;
  return `<a href="${md.utils.escapeHtml(src)}" target="_blank" rel="noopener noreferrer nofollow ugc">${alt}</a>`;
};

// `@name`, `@here` and `@everyone` as the server finds them (`mentionAt`; markdown-it
// itself keeps code spans, fenced code and `\@` away from this rule). Whether one is
// highlighted is the server's answer in `Message.mentions`, not the text's.
md.inline.ruler.before('emphasis', 'mention', (state: StateInline, silent: boolean) => {
  const name = mentionAt(state.src, state.pos);
  if (name === null) return false;
  if (!silent) {
    const token = state.push('mention', '', 0);
    token.content = name;
  }
  // A trailing full stop stays text: it ends the sentence.
  state.pos += 1 + name.length;
  return true;
});

md.renderer.rules.mention = (tokens, idx, _options, env: RenderOptions) => {
  const name = tokens[idx].content;
  const text = `@${md.utils.escapeHtml(name)}`;
  const target = env.mentions?.(name.toLowerCase()) ?? null;
  if (target === null) return text;
  return `<span class="${target === 'self' ? 'mention mention-self' : 'mention'}">${text}</span>`;
};

/** Renders a message body to HTML safe for `{@html}`. */
export function renderMarkdown(source: string, options: RenderOptions = {}): string {
  return md.render(source, { ...options });
}

/** Bare image URLs in a message, shown as embeds under it. */
export function imageEmbeds(source: string): string[] {
  const found: string[] = [];
  for (const word of source.split(/\s+/)) {
    if (IMAGE_URL.test(word) && !found.includes(word)) found.push(word);
    if (found.length === 4) break;
  }
  return found;
}
