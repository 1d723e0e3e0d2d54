import { defineConfig, type Options } from 'tsup';

// Every public entry point is a bundle of its own, with declarations for both resolution modes.
// The core (`chat-identity`) is built once, as CommonJS (.cjs, .d.cts); scripts/esm-entries.mjs then
// writes its ESM face (.js: `export * from './index.cjs'`, .d.ts), Node's answer to the dual package
// hazard: an app that imports one entry point and requires another still loads one core (one
// IdentityError class, one record of the results verifiers issued, which the guards trust). The
// other entry points hold no state of their own and import the core by the package's name, keeping
// that import, so they are built as ESM and CommonJS each: an ESM entry that re-exported CommonJS
// would, on Node 20, crash the process when a missing optional peer (prom-client, passport-custom)
// made its import fail, even inside try/catch (nodejs/node#51603).
const forNode: Options = { target: 'node20', platform: 'node', sourcemap: true, splitting: false };
const library: Options = {
  ...forNode,
  dts: true,
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
};

export default defineConfig([
  { ...library, entry: { index: 'src/index.ts' }, format: ['cjs'] },
  {
    ...library,
    entry: {
      adapter: 'adapters/adapter.ts',
      express: 'adapters/express.ts',
      koa: 'adapters/koa.ts',
      passport: 'adapters/passport.ts',
      fastify: 'adapters/fastify.ts',
      fetch: 'adapters/fetch.ts',
      prometheus: 'src/stats/prometheus.ts',
      opentelemetry: 'src/stats/opentelemetry.ts',
    },
    format: ['esm', 'cjs'],
  },
  {
    // The `chat-identity` bin (package.json "bin": dist/cli.js): a program, not an entry point,
    // so ESM only and no declarations. It bundles the core it uses, diagnosis table included.
    ...forNode,
    entry: { cli: 'cli/bin.ts' },
    format: ['esm'],
  },
]);
