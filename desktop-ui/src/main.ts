import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { WebBackend } from './backend/web';
import { AppController } from './stores/app.svelte';
import { browserMedia } from './voice/browser';
import { savedServerAddress } from './lib/server-address';
import { notifyMention } from './lib/os-notify';

const app = new AppController(new WebBackend({ serverUrl: savedServerAddress() }), browserMedia());

// A handle for diagnostics from the console and for the end-to-end tests.
(window as unknown as { cromulent: AppController }).cromulent = app;

app.onFrame((frame) => {
  if ('seq' in frame && frame.type === 'notification_create') notifyMention(app, frame.notification);
});

mount(App, { target: document.getElementById('app')!, props: { app } });
