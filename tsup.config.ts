import { defineConfig } from 'tsup';

// One CommonJS bundle per public entry point (.cjs, declarations .d.cts); scripts/esm-entries.mjs
// then writes each one's ESM face (.js: `export * from './<entry>.cjs'`, declarations .d.ts), Node's
// answer to the dual package hazard. The adapters import the core by the package's own name and
// keep that import, so an app loads one copy of the core (one IdentityError class, one record of
// the results verifiers issued, which the guards trust) whichever entry points it imports or requires.
export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      adapter: 'adapters/adapter.ts',
      express: 'adapters/express.ts',
      koa: 'adapters/koa.ts',
      passport: 'adapters/passport.ts',
      fastify: 'adapters/fastify.ts',
      fetch: 'adapters/fetch.ts',
      prometheus: 'src/stats/prometheus.ts',
      opentelemetry: 'src/stats/opentelemetry.ts',
    },
    format: ['cjs'],
    dts: true,
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    splitting: false,
    // Peers stay imports (fastify and hono only as types: dist/fetch.js loads nothing of Hono's); so
    // does fastify-plugin, a dependency of this package, shared with the app's other plugins.
    external: [
      'chat-identity',
      'chat-identity/adapter',
      'express',
      'koa',
      'passport',
      'passport-custom',
      'prom-client',
      '@opentelemetry/api',
      'fastify',
      'fastify-plugin',
      'hono',
    ],
  },
  {
    // The `chat-identity` bin (package.json "bin": dist/cli.js): a program, not an entry point,
    // so ESM only and no declarations. It bundles the core it uses, diagnosis table included.
    entry: { cli: 'cli/bin.ts' },
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    sourcemap: true,
    splitting: false,
  },
]);
