// Client-side routes on the History API. The server answers every such path with
// index.html, so a reload or a mailed link (/confirm/<token>) or an invite link
// (/invite/<code>) lands here.

export type Route =
  | { name: 'login' }
  | { name: 'register' }
  | { name: 'invite'; code: string }
  | { name: 'forgot' }
  | { name: 'confirm'; token: string }
  | { name: 'reset'; token: string }
  | { name: 'confirm_email'; token: string }
  | { name: 'channel'; id: string | null }
  | { name: 'inbox' }
  | { name: 'settings' }
  | { name: 'admin' };

export function parseRoute(path: string): Route {
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const [first, second] = parts;
  switch (first) {
    case 'login':
      return { name: 'login' };
    case 'register':
      return { name: 'register' };
    case 'invite':
      return second ? { name: 'invite', code: second } : { name: 'register' };
    case 'forgot':
      return { name: 'forgot' };
    case 'confirm':
      return second ? { name: 'confirm', token: second } : { name: 'login' };
    case 'reset':
      return second ? { name: 'reset', token: second } : { name: 'forgot' };
    case 'confirm-email':
      return second ? { name: 'confirm_email', token: second } : { name: 'settings' };
    case 'channels':
      return { name: 'channel', id: second ?? null };
    case 'inbox':
      return { name: 'inbox' };
    case 'settings':
      return { name: 'settings' };
    case 'admin':
      return { name: 'admin' };
    default:
      return { name: 'channel', id: null };
  }
}

class Router {
  path = $state(typeof location === 'undefined' ? '/' : location.pathname);
  route = $derived(parseRoute(this.path));

  constructor() {
    if (typeof window !== 'undefined') {
      window.addEventListener('popstate', () => (this.path = location.pathname));
    }
  }

  go(path: string, replace = false): void {
    if (path === this.path) return;
    if (replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
    this.path = path;
  }
}

export const router = new Router();
