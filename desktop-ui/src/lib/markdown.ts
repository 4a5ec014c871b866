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
  /** Lower-cased usernames and group names that count as mentions of the reader. */
  selfNames?: string[];
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

// `@name`, `@here`, `@everyone` become highlighted spans.
md.inline.ruler.before('emphasis', 'mention', (state: StateInline, silent: boolean) => {
  const start = state.pos;
  if (state.src.charCodeAt(start) !== 0x40 /* @ */) return false;
  const prev = start > 0 ? state.src[start - 1] : ' ';
  if (/[\w.]/.test(prev)) return false; // part of an email address
  const match = /^@([A-Za-z0-9_][A-Za-z0-9_.-]{0,31})/.exec(state.src.slice(start));
  if (!match) return false;
  if (!silent) {
    const token = state.push('mention', '', 0);
    token.content = match[1];
  }
  state.pos += match[0].length;
  return true;
});

md.renderer.rules.mention = (tokens, idx, _options, env: RenderOptions) => {
  const name = tokens[idx].content;
  const lower = name.toLowerCase();
  const self = lower === 'here' || lower === 'everyone' || (env.selfNames ?? []).includes(lower);
  const cls = self ? 'mention mention-self' : 'mention';
  return `<span class="${cls}">@${md.utils.escapeHtml(name)}</span>`;
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
