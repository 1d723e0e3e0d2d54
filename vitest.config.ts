import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Adapters import the core by its package name (so the published adapters share the core's
    // module, not a copy); in tests that name is the source.
    alias: [
      { find: /^chat-identity$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
      { find: /^chat-identity\/adapter$/, replacement: fileURLToPath(new URL('./adapters/adapter.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
  },
});
