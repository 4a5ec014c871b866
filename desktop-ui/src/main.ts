import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { inTauri, type Backend } from './backend/index';
import { WebBackend } from './backend/web';
import { AppController } from './stores/app.svelte';
import { browserMedia } from './voice/browser';
import type { MediaDeps } from './voice/engine.svelte';
import { savedServerAddress } from './lib/server-address';
import { notifyMention, notifyMessage } from './lib/os-notify';

function start(backend: Backend, media: MediaDeps): AppController {
  const app = new AppController(backend, media);

  // A handle for diagnostics from the console and for the end-to-end tests.
  (window as unknown as { cromulent: AppController }).cromulent = app;

  app.onFrame((frame) => {
    if ('seq' in frame && frame.type === 'notification_create') notifyMention(app, frame.notification);
    if ('seq' in frame && frame.type === 'message_create') notifyMessage(app, frame.message);
  });

  mount(App, { target: document.getElementById('app')!, props: { app } });
  return app;
}

// The desktop app runs REST, the gateway and voice natively (backend/tauri.ts); the
// browser part of this bundle never loads the Tauri code.
async function startInApp(): Promise<void> {
  const tauri = await import('./backend/tauri');
  const backend = await tauri.createTauriBackend(savedServerAddress());
  const app = start(backend, tauri.nativeVoiceMedia(browserMedia().chime));
  await tauri.attachNativeVoice(backend, app.voice);
}

if (inTauri()) void startInApp();
else start(new WebBackend({ serverUrl: savedServerAddress() }), browserMedia());
