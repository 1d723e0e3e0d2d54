import { defineConfig } from 'tsup';

// One bundle per public entry point, as ESM (.js) and CommonJS (.cjs), each with its own
// declarations (.d.ts / .d.cts) so both resolution modes get types that match.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
  splitting: false,
});
