// The controller reaches components through Svelte context, set once by App.
import { getContext, setContext } from 'svelte';
import type { AppController } from '../stores/app.svelte';

const KEY = Symbol('cromulent-app');

export function provideApp(app: AppController): void {
  setContext(KEY, app);
}

export function useApp(): AppController {
  return getContext<AppController>(KEY);
}
