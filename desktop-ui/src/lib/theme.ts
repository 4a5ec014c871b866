// Light, dark or the system's choice, remembered in this browser.
export type Theme = 'system' | 'light' | 'dark';

const KEY = 'cromulent.theme';

export function loadTheme(): Theme {
  const saved = globalThis.localStorage?.getItem(KEY);
  return saved === 'light' || saved === 'dark' ? saved : 'system';
}

export function applyTheme(theme: Theme): void {
  globalThis.localStorage?.setItem(KEY, theme);
  const root = document.documentElement;
  if (theme === 'system') delete root.dataset.theme;
  else root.dataset.theme = theme;
}
