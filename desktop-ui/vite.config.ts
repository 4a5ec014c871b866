import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The dev server proxies the API and gateway to a local cromulent-server, so
// `npm run dev` behaves like the UI served by the server itself.
const server = process.env.CROMULENT_SERVER ?? 'http://127.0.0.1:4000';

export default defineConfig({
  plugins: [svelte()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
  server: {
    proxy: {
      '/api/gateway': { target: server, ws: true },
      '/api': server,
      '/dev': server,
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});
